/**
 * Build: bundles `src/main.ts` with esbuild into one runtime-neutral ESM
 * file, `dist/modelswap.js` (runs with `bun` or `deno run -A`), stamped with
 * the package version and git commit, then compiles that file with
 * `bun build --compile` into the stand-alone executable `dist/modelswap` for
 * this platform. Everything `src/main.ts` imports (the UI assets included)
 * ends up in both. `scripts/release.ts` uses the same two steps for every
 * release platform.
 *
 *   npm run build                 (bun build.ts)
 *   bun build.ts --target bun-linux-arm64 --outfile dist/modelswap-linux-arm64
 *
 * `--target` is passed through to `bun build --compile`; a target other than
 * this machine's needs that platform's Bun runtime, which Bun downloads once
 * from the npm registry into its install cache (see scripts/release.ts).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

/** The repository root. */
export const ROOT = dirname(fileURLToPath(import.meta.url));
const DIST = join(ROOT, "dist");

/** Where `npm run build` writes the bundle. */
const BUNDLE = join(DIST, "modelswap.js");
/** Default path of the compiled executable. */
const EXECUTABLE = join(DIST, "modelswap");

/** What every build is stamped with; `modelswap --version` prints the version and commit, `/api/version` all three. */
export interface Stamp {
  version: string;
  commit: string;
  /** ISO 8601 UTC, to the second. */
  date: string;
}

/** The short git commit of the working tree, or "unknown" outside a git checkout. */
function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] })
      .toString().trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** Now, or `SOURCE_DATE_EPOCH` (seconds) when set, for reproducible builds. */
function buildDate(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const date = process.env.SOURCE_DATE_EPOCH && Number.isFinite(epoch) ? new Date(epoch * 1000) : new Date();
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The package version, the git commit of this checkout and the build date. */
export function currentStamp(): Stamp {
  const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
  return { version, commit: gitCommit(), date: buildDate() };
}

/** The Bun executable: this process when it is Bun, else the project's own (node_modules/.bin). */
function bunExecutable(): string {
  return process.versions.bun ? process.execPath : join(ROOT, "node_modules", ".bin", "bun");
}

/** Bundle `src/main.ts` into one minified ESM file at `outfile`, stamped with `stamp`. */
export async function bundle(outfile: string, stamp: Stamp): Promise<void> {
  await esbuild.build({
    entryPoints: [join(ROOT, "src/main.ts")],
    outfile,
    bundle: true,
    format: "esm",
    // Neutral: no Node-only shims; node: built-ins exist on both Bun and Deno.
    platform: "neutral",
    mainFields: ["module", "main"],
    external: ["node:*"],
    target: "es2022",
    minify: true,
    legalComments: "none",
    define: {
      __MODELSWAP_VERSION__: JSON.stringify(stamp.version),
      __MODELSWAP_COMMIT__: JSON.stringify(stamp.commit),
      __MODELSWAP_BUILD_DATE__: JSON.stringify(stamp.date),
    },
    logLevel: "warning",
  });
  await esbuild.stop();
}

/**
 * Compile the bundle at `bundlePath` into a stand-alone executable at
 * `outfile` for `target` (a `bun build --compile --target` name), or for
 * this machine when `target` is null.
 */
export function compile(bundlePath: string, outfile: string, target: string | null): void {
  // Precompiled bytecode halves start-up (~50 -> ~25 ms for --version here). It
  // is tied to the exact JavaScriptCore build, so it is only used for this
  // machine's own target, the one the tests run.
  const platform = target ? ["--target", target] : ["--bytecode"];
  execFileSync(
    bunExecutable(),
    ["build", "--compile", "--format=esm", ...platform, bundlePath, "--outfile", outfile],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
}

/** Value of `--name VALUE` on the command line, or `fallback`. */
function option(name: string, fallback: string | null): string | null {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] ?? fallback : fallback;
}

if (import.meta.main) {
  const started = performance.now();
  const stamp = currentStamp();
  const outfile = option("outfile", EXECUTABLE)!;
  await bundle(BUNDLE, stamp);
  compile(BUNDLE, outfile, option("target", null));
  console.log(
    `modelswap ${stamp.version} (${stamp.commit}): ${BUNDLE} and ${outfile} in ${Math.round(performance.now() - started)} ms`,
  );
}
