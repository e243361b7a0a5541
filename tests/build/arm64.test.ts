/**
 * arm64 proven, not assumed: the release's `modelswap-linux-arm64`, copied
 * alone into an empty directory, runs under Debian's `qemu-aarch64-static`
 * with Debian's arm64 C library (`QEMU_LD_PREFIX`) and a PATH without node,
 * bun or deno. It prints its version, validates the sample config as
 * shipped, and serves a chat answer from a demo model it starts itself. With
 * no binfmt registration a child cannot exec an arm64 program directly, so
 * the model's command names the emulator: `qemu-aarch64-static ${SELF} ...`.
 */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, pidAlive, waitFor } from "../helpers/process.ts";
import { ensureRelease, pathWithoutJsRuntimes, type Program, RELEASE, ROOT, runProgram, startProgram } from "./dist.ts";
import { arm64Emulator, emulatorMissing } from "./qemu.ts";

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
/** Emulated start-up is slow (~3 s for --version); generous on a shared 2-core machine. */
const STARTUP_MS = 60_000;

describe("modelswap-linux-arm64 under qemu-aarch64-static", { skip: emulatorMissing() }, () => {
  let dir: string;
  let qemu: string;
  let env: Record<string, string>;
  const programs: Program[] = [];
  const cleanup: string[] = [];

  /** argv running the arm64 binary under the emulator. */
  const arm64 = (...args: string[]) => [qemu, "./modelswap", ...args];

  before(async () => {
    const emulator = arm64Emulator();
    qemu = emulator.qemu;
    await ensureRelease();
    dir = mkdtempSync(join(tmpdir(), "modelswap-arm64-"));
    copyFileSync(join(RELEASE, "modelswap-linux-arm64"), join(dir, "modelswap"));
    chmodSync(join(dir, "modelswap"), 0o755);
    const path = pathWithoutJsRuntimes();
    const runtimeDir = mkdtempSync(join(tmpdir(), "modelswap-arm64-run-"));
    cleanup.push(dir, dirname(path), runtimeDir);
    env = {
      PATH: `${dirname(qemu)}:${path}`,
      HOME: dir,
      QEMU_LD_PREFIX: emulator.ldPrefix,
      XDG_RUNTIME_DIR: runtimeDir,
    };
  });

  after(async () => {
    for (const program of programs) await program.kill();
    for (const path of cleanup) rmSync(path, { recursive: true, force: true });
  });

  test("--version prints the package version and the commit", async () => {
    const result = await runProgram(arm64("--version"), dir, env);
    assert.equal(result.code, 0, result.stderr);
    const match = /^version: (\S+) \(([^)]+)\), runtime bun$/m.exec(result.stdout);
    assert.ok(match, `unexpected --version output: ${result.stdout}`);
    assert.equal(match[1], PACKAGE_VERSION);
    assert.match(match[2], /^([0-9a-f]{7,}|unknown)$/);
  });

  test("validate accepts the sample config as shipped", async () => {
    copyFileSync(join(RELEASE, "config.sample.yaml"), join(dir, "sample.yaml"));
    const result = await runProgram(arm64("validate", "--config", "sample.yaml"), dir, env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /sample\.yaml: OK \(2 models/);
  });

  test("serves a chat answer from a demo model that runs qemu-aarch64-static ${SELF} demo-upstream", async () => {
    writeFileSync(
      join(dir, "arm64.yaml"),
      [
        `startPort: ${await freePort()}`,
        "healthCheckTimeout: 60",
        "models:",
        "  demo:",
        "    cmd: qemu-aarch64-static ${SELF} demo-upstream --port ${PORT} --model demo",
        "",
      ].join("\n"),
    );
    const router = startProgram(arm64("--config", "arm64.yaml", "--listen", "127.0.0.1:0"), dir, env);
    programs.push(router);
    const [, url] = await router.stdout.match(/listening on (http:\/\/[\d.:]+)/, STARTUP_MS);

    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hi" }] }),
      signal: AbortSignal.timeout(STARTUP_MS),
    });
    const body = await response.text();
    assert.equal(response.status, 200, body);
    const answer = JSON.parse(body) as { model: string; choices: { message: { content: string } }[] };
    assert.equal(answer.model, "demo");
    assert.match(answer.choices[0].message.content, /modelswap demo upstream/);

    const running = await (await fetch(`${url}/running`)).json() as { running: { cmd: string; pid: number; state: string }[] };
    assert.equal(running.running.length, 1);
    const [model] = running.running;
    assert.equal(model.state, "ready");
    assert.match(model.cmd, /^qemu-aarch64-static \/\S+\/modelswap demo-upstream /, "${SELF} is the arm64 binary's own path");

    // A graceful stop takes the emulated model down with the router.
    assert.equal(await router.kill("SIGTERM"), 0);
    await waitFor(() => !pidAlive(model.pid), { timeoutMs: 10_000, what: `model pid ${model.pid} to exit` });
  });
});
