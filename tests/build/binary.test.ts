/**
 * The stand-alone promise: `dist/modelswap`, copied alone into an empty
 * directory and run with a PATH that has no node, bun or deno and an
 * otherwise empty environment, prints its version, validates and serves the
 * sample config, and runs the demo upstream the sample config starts through
 * the binary itself.
 */
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, pidAlive } from "../helpers/process.ts";
import { ensureDist, EXECUTABLE, pathWithoutJsRuntimes, type Program, ROOT, runProgram, startProgram } from "./dist.ts";

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

describe("the compiled binary on a machine without node, bun or deno", () => {
  let dir: string;
  let env: Record<string, string>;
  const programs: Program[] = [];
  const cleanup: string[] = [];

  before(async () => {
    await ensureDist();
    dir = mkdtempSync(join(tmpdir(), "modelswap-binary-"));
    copyFileSync(EXECUTABLE, join(dir, "modelswap"));
    chmodSync(join(dir, "modelswap"), 0o755);
    const path = pathWithoutJsRuntimes();
    cleanup.push(dir, dirname(path));
    env = { PATH: path, HOME: dir };
    // The sample config as shipped, on ports no other test uses.
    const sample = readFileSync(join(ROOT, "config.sample.yaml"), "utf8");
    const config = sample.replace(/^startPort: \d+/m, `startPort: ${await freePort()}`);
    assert.notEqual(config, sample, "config.sample.yaml sets startPort");
    writeFileSync(join(dir, "x.yaml"), config);
  });

  after(async () => {
    for (const program of programs) await program.kill();
    for (const path of cleanup) rmSync(path, { recursive: true, force: true });
  });

  test("no node, bun or deno can be found on the PATH the binary gets", async () => {
    for (const name of ["node", "bun", "deno"]) {
      const found = await runProgram(["/bin/sh", "-c", `command -v ${name}`], dir, env);
      assert.notEqual(found.code, 0, `${name} is on the stripped PATH at ${found.stdout}`);
    }
    const ls = await runProgram(["/bin/sh", "-c", "command -v sh && command -v sleep"], dir, env);
    assert.equal(ls.code, 0, "the stripped PATH still has the ordinary system tools");
  });

  test("./modelswap --version prints the package version and the commit it was built from", async () => {
    const result = await runProgram(["/bin/sh", "-c", "./modelswap --version"], dir, env);
    assert.equal(result.code, 0, result.stderr);
    const match = /^version: (\S+) \(([^)]+)\), runtime bun$/m.exec(result.stdout);
    assert.ok(match, `unexpected --version output: ${result.stdout}`);
    assert.equal(match[1], PACKAGE_VERSION);
    assert.match(match[2], /^([0-9a-f]{7,}|unknown)$/, "the build stamps the git commit (or 'unknown')");
  });

  test("./modelswap validate accepts the sample config and rejects a broken one with its key path", async () => {
    const ok = await runProgram(["/bin/sh", "-c", "./modelswap validate --config x.yaml"], dir, env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /x\.yaml: OK \(2 models/);
    writeFileSync(join(dir, "bad.yaml"), "models:\n  m:\n    cmd: x\n    ttl: -5\n");
    const bad = await runProgram(["/bin/sh", "-c", "./modelswap validate --config bad.yaml"], dir, env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /models\.m\.ttl/);
  });

  test("./modelswap --config x.yaml serves a chat request through a demo model the binary runs itself", async () => {
    const router = startProgram(["/bin/sh", "-c", "exec ./modelswap --config x.yaml --listen 127.0.0.1:0"], dir, env);
    programs.push(router);
    const [, url] = await router.stdout.match(/listening on (http:\/\/[\d.:]+)/, 20_000);

    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    const body = await response.json();
    assert.equal(body.object, "chat.completion");
    assert.ok(body.choices[0].message.content.length > 0);

    const status = await (await fetch(`${url}/api/status`)).json();
    const pid = status.models.find((m: { model: string }) => m.model === "demo").pid as number;
    assert.equal(readlinkSync(`/proc/${pid}/exe`), join(dir, "modelswap"), "${SELF} is the binary itself");

    assert.equal(await router.kill("SIGTERM"), 0, router.stdout.text + router.stderr.text);
    assert.equal(pidAlive(pid), false, "the demo upstream is stopped with the router");
  });

  test("./modelswap demo-upstream serves the OpenAI API on its own", async () => {
    const port = await freePort();
    const demo = startProgram(["/bin/sh", "-c", `exec ./modelswap demo-upstream --port ${port}`], dir, env);
    programs.push(demo);
    await demo.stdout.match(/demo-upstream pid=\d+ port=\d+/);
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${base}/health`)).status, 200);
    const models = await (await fetch(`${base}/v1/models`)).json();
    assert.ok(models.data.length >= 1);
    const response = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hi" }], stream: true }),
    });
    assert.equal(response.status, 200);
    assert.match(await response.text(), /data: \[DONE\]/);
  });
});
