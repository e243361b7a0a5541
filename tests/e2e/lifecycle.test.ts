/**
 * The router's own lifecycle: no upstream outlives it (graceful shutdown,
 * a second Ctrl-C, SIGKILL), and config reloads touch only what changed.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { describe, test } from "node:test";
import { chat, demoCmd, eventually, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

interface ModelStatus {
  model: string;
  state: string;
  pid: number | null;
}

async function pidOf(router: RouterProcess, model: string): Promise<number | null> {
  const body = await (await fetch(`${router.url}/api/status`)).json() as { models: ModelStatus[] };
  return body.models.find((m) => m.model === model)?.pid ?? null;
}

async function load(router: RouterProcess, model: string): Promise<number> {
  const response = await postJson(`${router.url}/v1/chat/completions`, chat(model));
  assert.equal(response.status, 200, await response.text());
  return (await pidOf(router, model))!;
}

describe("no upstream outlives the router", () => {
  test("SIGKILL of the router: the watchdog takes every upstream and grandchild down within 5 s", async () => {
    const router = await startRouter(`
logToStdout: both
models:
  a:
    cmd: ${demoCmd("--spawn-grandchild")}
`);
    const pid = await load(router, "a");
    const grandchild = Number((await router.waitForOutput(/grandchild pid (\d+)/))[1]);
    assert.ok(runtime.isAlive(grandchild));
    router.proc.kill("SIGKILL");
    await router.proc.exited;
    await eventually(() => !runtime.isAlive(pid), 5000, `upstream ${pid} to die`);
    await eventually(() => !runtime.isAlive(grandchild), 5000, `grandchild ${grandchild} to die`);
  });

  test("SIGINT while streaming: the stream may finish, then every upstream is stopped and the router exits 0", async () => {
    const router = await startRouter(`
models:
  a:
    cmd: ${demoCmd("--token-ms 30")}
`);
    const pid = await load(router, "a");
    const stream = await postJson(`${router.url}/v1/chat/completions`, chat("a", { stream: true, max_tokens: 10 }));
    router.proc.kill("SIGINT");
    const text = await stream.text();
    assert.match(text, /\[DONE\]/, "the in-flight stream completed");
    const exit = await router.proc.exited;
    assert.equal(exit.code, 0);
    assert.equal(runtime.isAlive(pid), false);
  });

  test("a second Ctrl-C kills an upstream that ignores SIGTERM at once", async () => {
    const router = await startRouter(`
unloadTimeout: 60
models:
  stubborn:
    cmd: ${demoCmd("--ignore-sigterm")}
`);
    const pid = await load(router, "stubborn");
    router.proc.kill("SIGINT");
    await router.waitForOutput(/stubborn: stopping/);
    const started = Date.now();
    router.proc.kill("SIGINT");
    const exit = await router.proc.exited;
    assert.equal(exit.code, 1);
    assert.ok(Date.now() - started < 5000, "the second signal did not wait for unloadTimeout");
    await eventually(() => !runtime.isAlive(pid), 5000, "stubborn upstream killed");
  });
});

describe("config reload", () => {
  // A fixed startPort in every version of the file, so ports (part of a model's settings) stay put.
  const startPort = 30000 + Math.floor(Math.random() * 300) * 100;
  const config = (bReply: string, extra = "") => `
startPort: ${startPort}
routing:
  router:
    use: group
    settings:
      groups:
        all: { swap: false, exclusive: false, members: [a, b${extra ? ", c" : ""}] }
models:
  a:
    cmd: ${demoCmd("--model a")}
  b:
    cmd: ${demoCmd(`--model b --reply "${bReply}"`)}
${extra}`;

  test("only changed models restart; unchanged ones keep serving; new ones appear; removed ones stop", async () => {
    const router = await startRouter(config("first"), ["--watch-config"]);
    try {
      const aPid = await load(router, "a");
      const bPid = await load(router, "b");
      writeFileSync(router.configPath, config("second", `  c:\n    cmd: ${demoCmd("--model c")}\n`));
      await router.waitForOutput(/config reloaded; added: c; changed: b;/, 10_000);
      await eventually(() => !runtime.isAlive(bPid), 5000, "old b process stopped");
      assert.equal(await pidOf(router, "a"), aPid, "a kept its process");
      const b = await postJson(`${router.url}/v1/chat/completions`, chat("b"));
      assert.match((await b.json()).choices[0].message.content, /second/);
      const c = await postJson(`${router.url}/v1/chat/completions`, chat("c"));
      assert.equal(c.status, 200);
      await c.body?.cancel();

      writeFileSync(router.configPath, "models: {a: {cmd: [unclosed\n");
      await router.waitForOutput(/config reload failed; the running config stays in effect/, 10_000);
      const still = await postJson(`${router.url}/v1/chat/completions`, chat("c"));
      assert.equal(still.status, 200, "an invalid file leaves the running config alone");
      await still.body?.cancel();
    } finally {
      await router.stop();
    }
  });

  test("a changed model that is serving finishes its requests; new ones wait and reach the new settings", async () => {
    const slow = (reply: string) => `startPort: ${startPort + 50}\nmodels:\n  b:\n    cmd: ${demoCmd(`--token-ms 40 --reply "${reply}"`)}\n`;
    const router = await startRouter(slow("old reply here"));
    try {
      const stream = await postJson(`${router.url}/v1/chat/completions`, chat("b", { stream: true }));
      const reader = stream.body!.getReader();
      await reader.read();
      writeFileSync(router.configPath, slow("new reply here"));
      router.proc.kill("SIGHUP");
      await router.waitForOutput(/config reloaded; changed: b;/, 10_000);
      const next = postJson(`${router.url}/v1/chat/completions`, chat("b"));
      let old = "";
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) old += new TextDecoder().decode(chunk.value);
      assert.match(old, /\[DONE\]/, "the in-flight stream finished on the old process");
      const answer = await (await next).json();
      assert.equal(answer.choices[0].message.content, "new reply here");
    } finally {
      await router.stop();
    }
  });

  test("SIGHUP reloads too, and a removed model is stopped", async () => {
    const router = await startRouter(config("first"));
    try {
      const bPid = await load(router, "b");
      writeFileSync(router.configPath, `startPort: ${startPort}\nmodels:\n  a:\n    cmd: ${demoCmd("--model a")}\n`);
      router.proc.kill("SIGHUP");
      await router.waitForOutput(/config reloaded; .*removed: b/, 10_000);
      await eventually(() => !runtime.isAlive(bPid), 5000, "removed model stopped");
      const gone = await postJson(`${router.url}/v1/chat/completions`, chat("b"));
      assert.equal(gone.status, 404);
    } finally {
      await router.stop();
    }
  });
});
