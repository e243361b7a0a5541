/**
 * Sizes written for people in the memory planner's explanations and config
 * messages. Binary units, as `nvidia-smi` and `free -h` count.
 */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** `18 GiB`, `1.5 GiB`, `512 MiB`, `900 B`: binary units, at most one decimal. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 ? String(Math.round(value)) : value.toFixed(1).replace(/\.0$/, "");
  return `${text} ${UNITS[unit]}`;
}
