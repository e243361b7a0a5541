/**
 * Release build: everything a user downloads, in `dist/release/`:
 *
 *   modelswap-linux-x64            most x86-64 Linux machines (needs AVX2)
 *   modelswap-linux-x64-baseline   older x86-64 CPUs without AVX2
 *   modelswap-linux-arm64          Raspberry Pi 4/5, other arm64 boards, Graviton
 *   modelswap-darwin-arm64         Apple silicon
 *   modelswap-darwin-x64           Intel Macs
 *   modelswap.js                   the runtime-neutral bundle, for `deno run -A`
 *   install.sh, config.sample.yaml the installer and the starter config it installs
 *   SHA256SUMS                     `sha256sum -c` format, covering every file above
 *
 * Every binary and the bundle are stamped with the package version and git
 * commit (`--version` prints them). Built from one bundle, compiled once per
 * target with `bun build --compile --target`.
 *
 *   npm run release               (bun scripts/release.ts)
 *
 * Where the other platforms' runtimes come from: for a target other than the
 * machine's own, Bun fetches `@oven/bun-<os>-<arch>[-baseline]` at its own
 * version from the npm registry (registry.npmjs.org, through HTTPS_PROXY when
 * set) and keeps the unpacked runtime in its install cache
 * (`~/.bun/install/cache`, or BUN_INSTALL_CACHE_DIR). So the first release
 * build downloads four runtimes (25-50 MB each, compressed) and later ones
 * download nothing. (At Bun 1.4.5 the x64 and x64-baseline runtimes are
 * byte-identical; the baseline file is kept because Bun still offers the
 * split, and the installer picks it on CPUs without AVX2.)
 *
 * The files are built in a fresh directory beside `dist/release/` that
 * replaces it only when complete, so `dist/release/` is never half-built and
 * its SHA256SUMS always describes the files beside it.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { bundle, compile, currentStamp, ROOT } from "../build.ts";

/** Where the release is written. */
export const RELEASE_DIR = join(ROOT, "dist", "release");

/** Each released executable and the `bun build --compile --target` that makes it. */
const BINARIES: { file: string; target: string }[] = [
  { file: "modelswap-linux-x64", target: "bun-linux-x64" },
  { file: "modelswap-linux-x64-baseline", target: "bun-linux-x64-baseline" },
  { file: "modelswap-linux-arm64", target: "bun-linux-arm64" },
  { file: "modelswap-darwin-arm64", target: "bun-darwin-arm64" },
  { file: "modelswap-darwin-x64", target: "bun-darwin-x64" },
];

/** The bundle's name in the release. */
const BUNDLE_FILE = "modelswap.js";
/** Files copied as they are from the repository. */
const COPIED = ["install.sh", "config.sample.yaml"];

/** `sha256sum` output for every file in `dir`, sorted by name. */
function checksums(dir: string): string {
  return readdirSync(dir).sort().map((name) => {
    const hash = createHash("sha256").update(readFileSync(join(dir, name))).digest("hex");
    return `${hash}  ${name}\n`;
  }).join("");
}

/** Build the release into a new directory, then swap it in for `dist/release/`. */
async function release(): Promise<void> {
  const started = performance.now();
  const stamp = currentStamp();
  const staging = `${RELEASE_DIR}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const bundlePath = join(staging, BUNDLE_FILE);
    await bundle(bundlePath, stamp);
    for (const { file, target } of BINARIES) {
      const begun = performance.now();
      compile(bundlePath, join(staging, file), target);
      console.log(`  ${file} (${target}) in ${Math.round(performance.now() - begun)} ms`);
    }
    for (const file of COPIED) copyFileSync(join(ROOT, file), join(staging, file));
    writeFileSync(join(staging, "SHA256SUMS"), checksums(staging));
    rmSync(RELEASE_DIR, { recursive: true, force: true });
    renameSync(staging, RELEASE_DIR);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  console.log(
    `modelswap ${stamp.version} (${stamp.commit}): ${RELEASE_DIR} in ${Math.round(performance.now() - started)} ms`,
  );
}

if (import.meta.main) await release();
