/**
 * Helpers for the release-artifact tests: make sure `dist/` and
 * `dist/release/` hold a build of the current sources (running `build.ts` or
 * `scripts/release.ts` when they do not), start programs
 * with a clean environment in their own process group, and build a PATH that
 * has every system tool except node, bun and deno.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Output, runtime } from "../helpers/process.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The runtime-neutral bundle. */
export const BUNDLE = join(ROOT, "dist", "modelswap.js");
/** The compiled stand-alone executable. */
export const EXECUTABLE = join(ROOT, "dist", "modelswap");
/** The project's own Bun executable (a devDependency). */
export const BUN = join(ROOT, "node_modules", ".bin", "bun");
/** The project's own Deno executable (a devDependency). */
export const DENO = join(ROOT, "node_modules", ".bin", "deno");

/** Names that must not be reachable on the stripped PATH. */
const JS_RUNTIMES = /^(node|nodejs|npm|npx|corepack|bun|bunx|deno)$/;

function newestMtime(path: string): number {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

function mtimeOrZero(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** A program started by these tests. */
export interface Program {
  pid: number;
  stdout: Output;
  stderr: Output;
  /** Resolves with the exit code (or the signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** Send `signal` to the program's whole process group (SIGKILL by default) and wait for it to end. */
  kill(signal?: "SIGTERM" | "SIGKILL"): Promise<number | string>;
}

/**
 * Start `argv` in `cwd` with exactly the environment `env` (nothing inherited)
 * in a new process group. Tests must `kill()` it (an `after` hook does).
 */
export function startProgram(argv: string[], cwd: string, env: Record<string, string>): Program {
  const child = spawn(argv[0], argv.slice(1), { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<number | string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  // Readable.toWeb yields Uint8Array chunks, which Output decodes as text.
  const web = (stream: Readable) => Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  const pid = child.pid!;
  return {
    pid,
    stdout: new Output(web(child.stdout!)),
    stderr: new Output(web(child.stderr!)),
    exited,
    async kill(signal = "SIGKILL") {
      runtime.killGroup(pid, signal);
      return await exited;
    },
  };
}

/** Run a program to completion; resolves with its exit code and output. */
export async function runProgram(
  argv: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const program = startProgram(argv, cwd, env);
  const code = await program.exited;
  await Promise.all([program.stdout.done, program.stderr.done]);
  return { code, stdout: program.stdout.text, stderr: program.stderr.text };
}

/** Newest modification time of `src/` and of the named files of the repository root. */
function newestSource(files: string[]): number {
  return Math.max(newestMtime(join(ROOT, "src")), ...files.map((name) => mtimeOrZero(join(ROOT, name))));
}

/** Variables a build needs from the caller's environment besides PATH and HOME. */
const BUILD_ENV = ["BUN_INSTALL", "BUN_INSTALL_CACHE_DIR", "XDG_CACHE_HOME", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"];

/** Run `script` with the project's Bun; throws with its output when it fails. */
async function runBuild(script: string): Promise<void> {
  const env: Record<string, string> = { PATH: runtime.env("PATH") ?? "/usr/bin:/bin", HOME: runtime.env("HOME") ?? ROOT };
  // Where Bun caches the other platforms' runtimes, and how it reaches the npm registry.
  for (const name of BUILD_ENV) {
    const value = runtime.env(name);
    if (value !== undefined) env[name] = value;
  }
  const build = await runProgram([BUN, join(ROOT, script)], ROOT, env);
  if (build.code !== 0) throw new Error(`${script} failed (${build.code}):\n${build.stdout}${build.stderr}`);
}

/**
 * Build `dist/` unless both artifacts are newer than every source, the build
 * script and the package manifest (CI runs `npm run build` first, so there
 * this only checks).
 */
export async function ensureDist(): Promise<void> {
  const sources = newestSource(["build.ts", "package.json", "package-lock.json"]);
  if (Math.min(mtimeOrZero(BUNDLE), mtimeOrZero(EXECUTABLE)) > sources) return;
  await runBuild("build.ts");
}

/** The release directory (`npm run release`). */
export const RELEASE = join(ROOT, "dist", "release");

/**
 * Build `dist/release/` unless its SHA256SUMS (written last) is newer than
 * every source, the build scripts, the manifests and the files the release
 * copies. CI runs `npm run release` first, so there this only checks; either
 * way both test runs (Bun and Deno) share one build.
 */
export async function ensureRelease(): Promise<void> {
  const sources = newestSource([
    "build.ts",
    "scripts/release.ts",
    "package.json",
    "package-lock.json",
    "install.sh",
    "config.sample.yaml",
  ]);
  if (mtimeOrZero(join(RELEASE, "SHA256SUMS")) > sources) return;
  await runBuild("scripts/release.ts");
}

/**
 * A PATH of one directory holding a link to every program in /usr/bin and
 * /bin except node, bun, deno and their package managers (and any program
 * `alsoWithout` matches): a machine where none of them is installed, but
 * `sh`, `sleep`, `kill` etc. still are.
 */
export function pathWithoutJsRuntimes(alsoWithout?: RegExp): string {
  const dir = join(mkdtempSync(join(tmpdir(), "modelswap-path-")), "bin");
  mkdirSync(dir);
  for (const source of ["/usr/bin", "/bin"]) {
    for (const name of readdirSync(source)) {
      if (JS_RUNTIMES.test(name) || alsoWithout?.test(name)) continue;
      try {
        symlinkSync(join(source, name), join(dir, name));
      } catch {
        // already linked from the other directory (/bin is often /usr/bin)
      }
    }
  }
  return dir;
}
