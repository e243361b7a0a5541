/**
 * Release build: bundles `src/main.ts` with esbuild into one runtime-neutral
 * ESM file, `dist/modelswap.js` (runs with `bun` or `deno run -A`), stamped
 * with the package version and git commit, then compiles that file with
 * `bun build --compile` into the stand-alone executable `dist/modelswap` for
 * this platform. Everything `src/main.ts` imports (the UI assets included)
 * ends up in both.
 *
 *   npm run build                 (bun build.ts)
 *   bun build.ts --target bun-linux-arm64 --outfile dist/modelswap-linux-arm64
 *
 * `--target` is passed through to `bun build --compile`; a target other than
 * this machine's needs the internet once, to download that platform's runtime.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = dirname(fileURLToPath(import.meta.url));
const DIST = join(ROOT, "dist");

/** Where the bundle and the executable are written. */
const BUNDLE = join(DIST, "modelswap.js");
/** Default path of the compiled executable. */
const EXECUTABLE = join(DIST, "modelswap");

/** The short git commit of the working tree, or "unknown" outside a git checkout. */
function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] })
      .toString().trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** The Bun executable: this process when it is Bun, else the project's own (node_modules/.bin). */
function bunExecutable(): string {
  return process.versions.bun ? process.execPath : join(ROOT, "node_modules", ".bin", "bun");
}

/** Value of `--name VALUE` on the command line, or `fallback`. */
function option(name: string, fallback: string | null): string | null {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] ?? fallback : fallback;
}

const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const commit = gitCommit();
const started = performance.now();

await esbuild.build({
  entryPoints: [join(ROOT, "src/main.ts")],
  outfile: BUNDLE,
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
    __MODELSWAP_VERSION__: JSON.stringify(version),
    __MODELSWAP_COMMIT__: JSON.stringify(commit),
  },
  logLevel: "warning",
});

const outfile = option("outfile", EXECUTABLE)!;
const target = option("target", null);
// Precompiled bytecode halves start-up (~50 -> ~25 ms for --version here). It
// is tied to the exact JavaScriptCore build, so it is only used for this
// machine's own target, the one the tests run.
const platform = target ? ["--target", target] : ["--bytecode"];
execFileSync(
  bunExecutable(),
  ["build", "--compile", "--format=esm", ...platform, BUNDLE, "--outfile", outfile],
  { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
);

console.log(
  `modelswap ${version} (${commit}): ${BUNDLE} and ${outfile} in ${Math.round(performance.now() - started)} ms`,
);
