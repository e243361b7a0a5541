/**
 * install.sh end to end, as users run it, against a local HTTP server that
 * serves dist/release/ (and a tampered copy of it): it installs the verified
 * binary for this machine, refuses a checksum mismatch without touching what
 * was installed, refuses an unknown platform before downloading anything,
 * replaces a running binary in one step, works with wget alone, writes the
 * README's systemd unit and a starter config, and passes shellcheck.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { after, before, describe, test } from "node:test";
import type { HttpServer } from "../../src/runtime/runtime.ts";
import { pidAlive, runtime } from "../helpers/process.ts";
import { ensureRelease, pathWithoutJsRuntimes, type Program, RELEASE, ROOT, runProgram, startProgram } from "./dist.ts";

const INSTALLER = join(ROOT, "install.sh");
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** Where .ci/run unpacks Debian's shellcheck. */
const CI_SHELLCHECK = "/tmp/release-tools/usr/bin/shellcheck";

/** The release file install.sh should pick on this machine, by the rules it documents. */
function assetForThisMachine(): string {
  if (process.arch === "arm64") return "modelswap-linux-arm64";
  const avx2 = /\bavx2\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  return avx2 ? "modelswap-linux-x64" : "modelswap-linux-x64-baseline";
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Path of shellcheck, or null. */
function shellcheckPath(): string | null {
  const onPath = SYSTEM_PATH.split(":").map((dir) => join(dir, "shellcheck"));
  return [runtime.env("SHELLCHECK"), CI_SHELLCHECK, ...onPath].find((path) => !!path && existsSync(path)) ?? null;
}

/** Skip reason without shellcheck; in CI the test runs (and fails) instead. */
function shellcheckMissing(): string | false {
  if (shellcheckPath() || runtime.env("CI")) return false;
  return "shellcheck not found: run .ci/run (it unpacks Debian's shellcheck), apt-get install shellcheck, or set SHELLCHECK";
}

/** One request the release server answered. */
interface Hit {
  path: string;
  userAgent: string;
}

/**
 * Serves `/release/NAME` from dist/release/ and `/tampered/NAME`, the same
 * files with the last byte of every binary flipped; anything else is a 404.
 */
async function serveRelease(hits: Hit[]): Promise<HttpServer> {
  const names = new Set(readdirSync(RELEASE));
  return await runtime.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const { pathname } = new URL(request.url);
      hits.push({ path: pathname, userAgent: request.headers.get("user-agent") ?? "" });
      const [, tree, name] = /^\/(release|tampered)\/([\w.-]+)$/.exec(pathname) ?? [];
      if (!name || !names.has(name)) return new Response("not found\n", { status: 404 });
      const bytes = new Uint8Array(readFileSync(join(RELEASE, name)));
      if (tree === "tampered" && name.startsWith("modelswap-")) bytes[bytes.length - 1] ^= 0xff;
      return new Response(bytes);
    },
  });
}

describe("install.sh against a local release server", () => {
  let server: HttpServer;
  let base: string;
  let work: string;
  const hits: Hit[] = [];
  const programs: Program[] = [];
  const cleanup: string[] = [];
  /** SHA-256 of every release file, from SHA256SUMS. */
  const sums = new Map<string, string>();

  /** A fresh directory to install into. */
  const freshPrefix = () => mkdtempSync(join(work, "prefix-"));

  /** Run install.sh with `args`, a clean environment plus `env`, and PATH `path`. */
  async function install(args: string[], env: Record<string, string> = {}, path = SYSTEM_PATH) {
    return await runProgram(["/bin/sh", INSTALLER, ...args], work, {
      PATH: path,
      HOME: work,
      MODELSWAP_BASE_URL: `${base}/release`,
      ...env,
    });
  }

  before(async () => {
    await ensureRelease();
    for (const line of readFileSync(join(RELEASE, "SHA256SUMS"), "utf8").trimEnd().split("\n")) {
      const [hash, name] = line.split(/ +/);
      sums.set(name, hash);
    }
    work = mkdtempSync(join(tmpdir(), "modelswap-install-"));
    cleanup.push(work);
    server = await serveRelease(hits);
    base = `http://127.0.0.1:${server.port}`;
  });

  after(async () => {
    for (const program of programs) await program.kill();
    await server?.stop(true);
    for (const path of cleanup) rmSync(path, { recursive: true, force: true });
  });

  test("curl ... | sh installs this machine's verified binary into PREFIX/bin and it runs", async () => {
    const prefix = freshPrefix();
    const asset = assetForThisMachine();
    const first = hits.length;
    const result = await runProgram(
      ["/bin/sh", "-c", 'curl -fsSL "$MODELSWAP_BASE_URL/install.sh" | sh -s -- --prefix "$1"', "sh", prefix],
      work,
      { PATH: SYSTEM_PATH, HOME: work, MODELSWAP_BASE_URL: `${base}/release` },
    );
    assert.equal(result.code, 0, result.stderr);
    const binary = join(prefix, "bin", "modelswap");
    assert.deepEqual(readdirSync(join(prefix, "bin")), ["modelswap"], "no temporary file is left beside it");
    assert.equal(statSync(binary).mode & 0o777, 0o755);
    assert.equal(sha256(binary), sums.get(asset), `the installed file is ${asset}`);
    assert.match(result.stdout, new RegExp(`installed ${binary}: version: ${PACKAGE_VERSION} \\(`));
    assert.deepEqual(
      hits.slice(first).map((hit) => hit.path),
      ["/release/install.sh", "/release/SHA256SUMS", `/release/${asset}`],
    );
    assert.ok(hits.slice(first).every((hit) => hit.userAgent.startsWith("curl/")), "curl downloads when it exists");
    const version = await runProgram([binary, "--version"], work, { PATH: SYSTEM_PATH, HOME: work });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`^version: ${PACKAGE_VERSION} \\(`));
  });

  test("MODELSWAP_ARCH picks another build (arm64, x64-baseline), installed verified but not run", async () => {
    for (const arch of ["arm64", "x64-baseline"]) {
      const prefix = freshPrefix();
      const result = await install(["--prefix", prefix], { MODELSWAP_ARCH: arch });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(sha256(join(prefix, "bin", "modelswap")), sums.get(`modelswap-linux-${arch}`));
      assert.match(result.stdout, /not run: MODELSWAP_OS\/MODELSWAP_ARCH chose another platform/);
    }
  });

  test("a checksum mismatch installs nothing and leaves the installed binary as it was", async () => {
    const prefix = freshPrefix();
    const binary = join(prefix, "bin", "modelswap");
    mkdirSync(dirname(binary));
    writeFileSync(binary, "#!/bin/sh\necho old\n");
    chmodSync(binary, 0o755);
    const before = statSync(binary);

    const result = await install(["--prefix", prefix], { MODELSWAP_BASE_URL: `${base}/tampered` });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /checksum mismatch for modelswap-linux-[\w-]+: SHA256SUMS says [0-9a-f]{64}, the download is [0-9a-f]{64}/);
    assert.match(result.stderr, /nothing was installed/);
    assert.equal(readFileSync(binary, "utf8"), "#!/bin/sh\necho old\n");
    assert.equal(statSync(binary).ino, before.ino, "the same file, not a replacement");
    assert.deepEqual(readdirSync(dirname(binary)), ["modelswap"], "no half-written file is left");

    const empty = freshPrefix();
    const first = await install(["--prefix", empty], { MODELSWAP_BASE_URL: `${base}/tampered` });
    assert.equal(first.code, 1);
    assert.deepEqual(readdirSync(join(empty, "bin")), [], "a first install that fails leaves no binary");
  });

  test("an unknown architecture or OS is refused with a clear message before anything is downloaded", async () => {
    const prefix = join(work, "never-created");
    const first = hits.length;
    const arch = await install(["--prefix", prefix], { MODELSWAP_ARCH: "riscv64" });
    assert.equal(arch.code, 1);
    assert.match(arch.stderr, /no modelswap release for the CPU architecture "riscv64" \(linux\): there are builds for x86-64 \(x64, x64-baseline\) and arm64/);
    assert.match(arch.stderr, /Build it from source/);
    const os = await install(["--prefix", prefix], { MODELSWAP_OS: "FreeBSD" });
    assert.equal(os.code, 1);
    assert.match(os.stderr, /no modelswap release for the operating system "FreeBSD": there are builds for Linux and macOS/);
    const mix = await install(["--prefix", prefix], { MODELSWAP_OS: "darwin", MODELSWAP_ARCH: "x64-baseline" });
    assert.equal(mix.code, 1);
    assert.match(mix.stderr, /no modelswap release for darwin-x64-baseline/);
    assert.equal(hits.length, first, "nothing was requested");
    assert.ok(!existsSync(prefix), "nothing was created");
  });

  test("missing tools, a wrong address, a bad option: each a clear error", async () => {
    const prefix = freshPrefix();
    const noDownloader = pathWithoutJsRuntimes(/^(curl|wget)$/);
    cleanup.push(dirname(noDownloader));
    const tools = await install(["--prefix", prefix], {}, noDownloader);
    assert.equal(tools.code, 1);
    assert.match(tools.stderr, /neither curl nor wget is installed/);

    const nowhere = await install(["--prefix", prefix], { MODELSWAP_BASE_URL: `${base}/nowhere/` });
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.stderr, new RegExp(`could not download ${base}/nowhere/SHA256SUMS .*MODELSWAP_BASE_URL`));
    assert.deepEqual(readdirSync(join(prefix, "bin")), []);

    const option = await install(["--prefx", prefix]);
    assert.equal(option.code, 1);
    assert.match(option.stderr, /unknown option "--prefx" \(see install\.sh --help\)/);
    const help = await install(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--prefix DIR/);
    const mac = await install(["--systemd", "--prefix", prefix], { MODELSWAP_OS: "darwin", MODELSWAP_ARCH: "arm64" });
    assert.equal(mac.code, 1);
    assert.match(mac.stderr, /--systemd is for Linux/);
  });

  test("a user who is not root gets ~/.local/bin by default, and --systemd asks for root", async () => {
    // A stand-in `id` that reports uid 1000, first on the PATH.
    const shims = mkdtempSync(join(work, "shims-"));
    writeFileSync(join(shims, "id"), '#!/bin/sh\nif [ "$1" = -u ]; then echo 1000; else exec /usr/bin/id "$@"; fi\n');
    chmodSync(join(shims, "id"), 0o755);
    const home = mkdtempSync(join(work, "home-"));
    const path = `${shims}:${SYSTEM_PATH}`;
    const result = await install([], { HOME: home }, path);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(join(home, ".local/bin/modelswap")), sums.get(assetForThisMachine()));
    assert.match(result.stdout, /\.local\/bin is not on your PATH/);
    const systemd = await install(["--systemd"], { HOME: home }, path);
    assert.equal(systemd.code, 1);
    assert.match(systemd.stderr, /--systemd writes to \/etc and \/var\/lib: run the installer as root/);
  });

  test("re-installing over a running modelswap (wget only) swaps in a new file and the running one keeps serving", async () => {
    const prefix = freshPrefix();
    const binary = join(prefix, "bin", "modelswap");
    assert.equal((await install(["--prefix", prefix])).code, 0);
    const running = startProgram([binary, "demo-upstream", "--port", "0", "--model", "demo"], work, {
      PATH: SYSTEM_PATH,
      HOME: work,
    });
    programs.push(running);
    const [, port] = await running.stdout.match(/port=(\d+)/, 20_000);
    const oldInode = statSync(binary).ino;

    const wgetOnly = pathWithoutJsRuntimes(/^curl$/);
    cleanup.push(dirname(wgetOnly));
    const first = hits.length;
    const again = await install(["--prefix", prefix], {}, wgetOnly);
    assert.equal(again.code, 0, again.stderr);
    assert.ok(hits.slice(first).every((hit) => /^wget\//i.test(hit.userAgent)), "wget downloads when curl is missing");

    assert.notEqual(statSync(binary).ino, oldInode, "a new file took the name");
    assert.equal(sha256(binary), sums.get(assetForThisMachine()));
    assert.deepEqual(readdirSync(dirname(binary)), ["modelswap"]);
    assert.ok(pidAlive(running.pid), "the running process was not disturbed");
    const models = await fetch(`http://127.0.0.1:${port}/v1/models`);
    assert.equal(models.status, 200, await models.text());
    const version = await runProgram([binary, "--version"], work, { PATH: SYSTEM_PATH, HOME: work });
    assert.equal(version.code, 0, version.stderr);
  });

  test("--systemd writes the README's unit, a starter config once, and the state directory", async () => {
    const prefix = freshPrefix();
    const root = mkdtempSync(join(work, "root-"));
    const user = (await runProgram(["id", "-un"], work, { PATH: SYSTEM_PATH })).stdout.trim();
    const env = { MODELSWAP_ROOT: root };
    const result = await install(["--prefix", prefix, "--systemd", "--user", user], env);
    assert.equal(result.code, 0, result.stderr);

    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const [, readmeUnit] = /```ini\n(# \/etc\/systemd\/system\/modelswap\.service\n[^`]*)```/.exec(readme) ?? [];
    assert.ok(readmeUnit, "README.md shows the unit in an ini block");
    const expected = readmeUnit
      .replace("ExecStart=/usr/local/bin/modelswap ", `ExecStart=${prefix}/bin/modelswap `)
      .replace("User=modelswap\n", `User=${user}\n`);
    const unit = join(root, "etc/systemd/system/modelswap.service");
    assert.equal(readFileSync(unit, "utf8"), expected);
    assert.equal(statSync(unit).mode & 0o777, 0o644);
    const config = join(root, "etc/modelswap/config.yaml");
    assert.equal(readFileSync(config, "utf8"), readFileSync(join(ROOT, "config.sample.yaml"), "utf8"));
    assert.ok(statSync(join(root, "var/lib/modelswap")).isDirectory());
    assert.match(result.stdout, /systemctl daemon-reload && systemctl enable --now modelswap/);
    assert.doesNotMatch(result.stdout + result.stderr, /does not validate/);

    // Run again over a config of the user's own (a broken one): kept, and the user is told.
    const mine = "models:\n  m:\n    cmd: x\n    ttl: -5\n";
    writeFileSync(config, mine);
    const again = await install(["--prefix", prefix, "--systemd", "--user", user], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(config, "utf8"), mine);
    assert.match(again.stdout, /kept the existing .*config\.yaml/);
    assert.match(again.stdout + again.stderr, /does not validate yet[\s\S]*models\.m\.ttl/);
    assert.deepEqual(readdirSync(join(root, "etc/systemd/system")), ["modelswap.service"], "no temporary unit is left");
  });

  test("install.sh is plain POSIX sh that shellcheck accepts", { skip: shellcheckMissing() }, async () => {
    const shellcheck = shellcheckPath();
    assert.ok(shellcheck, "shellcheck not found: run .ci/run, apt-get install shellcheck, or set SHELLCHECK");
    const result = await runProgram([shellcheck, "--shell=sh", "--severity=style", INSTALLER], work, { PATH: SYSTEM_PATH });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(readFileSync(INSTALLER, "utf8"), /^#!\/bin\/sh\n/);
  });
});
