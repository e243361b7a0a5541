/**
 * Memory sizes as people write them in a config: a number of bytes, or a
 * number with a unit (`512MiB`, `24GiB`, `1.5GB`, `2 TiB`). Binary units
 * (KiB, MiB, GiB, TiB, or Ki/Mi/Gi/Ti) are powers of 1024, decimal ones (kB,
 * MB, GB, TB) powers of 1000, as on a GPU's data sheet versus `nvidia-smi`.
 * A bare `G` or `M` is refused: it is ambiguous, and a wrong guess is off by 7%.
 */

/** Largest size accepted (1 PiB): beyond any machine this router plans for, and exact as a double. */
export const MAX_SIZE_BYTES = 1024 ** 5;

/** Longest size text read; anything longer is not a size. */
const MAX_SIZE_CHARS = 40;

const UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  ki: 1024,
  mi: 1024 ** 2,
  gi: 1024 ** 3,
  ti: 1024 ** 4,
};

const SIZE = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/i;

/** What a size may look like, for error messages. */
export const SIZE_RULE = "a size in bytes or with a unit, such as 512MiB, 24GiB or 1.5GB";

/**
 * The size in whole bytes (rounded up), or a message saying why `value` is
 * not a size. Numbers are bytes; text is a number and an optional unit.
 */
export function parseSize(value: unknown): { bytes: number } | { error: string } {
  let bytes: number;
  if (typeof value === "number") {
    bytes = value;
  } else if (typeof value === "string" && value.length <= MAX_SIZE_CHARS) {
    const match = SIZE.exec(value.trim());
    if (!match) return { error: `must be ${SIZE_RULE}` };
    const unit = match[2].toLowerCase();
    const factor = unit === "" ? 1 : UNITS[unit];
    if (factor === undefined) {
      return { error: `has an unknown unit "${match[2]}"; use B, KiB, MiB, GiB, TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000)` };
    }
    bytes = Number(match[1]) * factor;
  } else {
    return { error: `must be ${SIZE_RULE}` };
  }
  if (Number.isNaN(bytes)) return { error: `must be ${SIZE_RULE}` };
  if (bytes < 0) return { error: `must be ${SIZE_RULE}, not negative` };
  if (bytes > MAX_SIZE_BYTES) return { error: "is larger than 1 PiB; check the unit" };
  return { bytes: Math.ceil(bytes) };
}
