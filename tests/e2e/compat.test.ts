/**
 * What llama-swap configs that used to be refused mean at run time (issue
 * 13, §1): a model without cmd is a server that runs already at its proxy;
 * a unix-socket proxy loads but is answered with a clear 502; the model
 * `comfyui_auto` is served at `/comfyui/` as llama-swap serves it. Each
 * relaxed value is reported once at startup.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { type Demo, pidAlive, scriptArgv, startDemo, testsPath } from "../helpers/process.ts";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

/** A WebSocket that opened, with its messages queued in order. */
async function connect(url: string) {
  const socket = new WebSocket(url);
  const inbox: string[] = [];
  const waiting: Array<(message: string) => void> = [];
  socket.onmessage = (event) => {
    const wake = waiting.shift();
    if (wake) wake(String(event.data));
    else inbox.push(String(event.data));
  };
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`could not open ${url}`)), { once: true });
  });
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()!) : new Promise<string>((resolve) => waiting.push(resolve)));
  return { socket, next };
}

/** The model's entry in /api/status. */
async function statusOf(router: RouterProcess, model: string): Promise<{ state: string; inFlight: number }> {
  const status = await (await fetch(`${router.url}/api/status`)).json();
  return status.models.find((m: { model: string }) => m.model === model);
}

describe(`llama-swap configs at run time (${runtime.name})`, () => {
  let router: RouterProcess;
  let external: Demo;
  const stub = scriptArgv(testsPath("helpers/comfy-stub.ts")).map((word) => `'${word}'`).join(" ");

  before(async () => {
    external = await startDemo(["--model", "ext", "--reply", "from the server modelswap did not start"]);
    router = await startRouter(`
models:
  ext:
    proxy: ${external.url}
  sock:
    cmd: ${demoCmd("--model sock")}
    proxy: unix:///tmp/modelswap-test-no-such.sock
  comfyui_auto:
    cmd: ${JSON.stringify(`${stub} --port \${PORT}`)}
    concurrencyLimit: 2
`);
  });
  after(async () => {
    await router.stop();
    await external.kill();
  });

  test("each relaxed value is reported once at startup, naming the key", () => {
    const lines = (pattern: RegExp) => router.output().split("\n").filter((line) => pattern.test(line));
    assert.equal(lines(/models\.ext\.cmd: none; llama-swap loads the model and fails each start/).length, 1);
    assert.equal(lines(/models\.sock\.proxy: "unix:\/\/\/tmp\/modelswap-test-no-such\.sock" is a unix socket/).length, 1);
    assert.equal(lines(/models\.comfyui_auto\.concurrencyLimit: 2 is below 50/).length, 1);
  });

  test("a model without cmd is served at its proxy, and an unload leaves its server running", async () => {
    const first = await postJson(`${router.url}/v1/chat/completions`, chat("ext"));
    assert.equal(first.status, 200);
    assert.equal((await first.json()).choices[0].message.content, "from the server modelswap did not start");
    assert.equal((await statusOf(router, "ext")).state, "ready");
    const unload = await fetch(`${router.url}/api/models/unload/ext`, { method: "POST" });
    assert.equal(unload.status, 200);
    await unload.body?.cancel();
    assert.equal((await statusOf(router, "ext")).state, "stopped");
    assert.ok(pidAlive(external.proc.pid), "the server modelswap did not start keeps running");
    const again = await postJson(`${router.url}/v1/chat/completions`, chat("ext"));
    assert.equal(again.status, 200);
    await again.body?.cancel();
    assert.doesNotMatch(router.output(), /ext: starting pid=/, "no process was spawned for it");
  });

  test("a unix-socket proxy is answered with a 502 that says why, its cmd never runs and nothing is stopped for it", async () => {
    const warm = await postJson(`${router.url}/v1/chat/completions`, chat("ext"));
    assert.equal(warm.status, 200);
    await warm.body?.cancel();
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("sock"));
    assert.equal(response.status, 502);
    const { error } = await response.json();
    assert.equal(error.code, "upstream_unsupported");
    assert.match(error.message, /model "sock" cannot be reached: its proxy unix:\/\/\/tmp\/modelswap-test-no-such\.sock is a unix socket.*http:\/\/ and https:\/\/ URLs only/);
    assert.doesNotMatch(router.output(), /sock: starting pid=/);
    assert.equal((await statusOf(router, "ext")).state, "ready", "the running model was not evicted for a model that cannot start");
  });

  test("/comfyui redirects to /comfyui/, keeping the query (301 for GET, 308 otherwise)", async () => {
    const get = await fetch(`${router.url}/comfyui?tab=1`, { redirect: "manual" });
    assert.equal(get.status, 301);
    assert.equal(get.headers.get("location"), "/comfyui/?tab=1");
    await get.body?.cancel();
    const post = await fetch(`${router.url}/comfyui`, { method: "POST", body: "{}", redirect: "manual" });
    assert.equal(post.status, 308);
    await post.body?.cancel();
  });

  test("only /comfyui/ loads comfyui_auto; its sub-paths and WebSockets get 409 until then", async () => {
    const early = await fetch(`${router.url}/comfyui/api/queue`);
    assert.equal(early.status, 409);
    assert.match((await early.json()).error.message, /model comfyui_auto is not loaded; only \/comfyui\/ can start it/);
    const refused = new WebSocket(`${router.url.replace(/^http/, "ws")}/comfyui/`);
    const opened = await new Promise<boolean>((resolve) => {
      refused.addEventListener("open", () => resolve(true), { once: true });
      refused.addEventListener("error", () => resolve(false), { once: true });
    });
    assert.equal(opened, false, "a WebSocket does not load comfyui_auto");
    assert.equal((await statusOf(router, "comfyui_auto")).state, "stopped");

    const root = await fetch(`${router.url}/comfyui/?tab=1`);
    assert.equal(root.status, 200);
    assert.equal(await root.text(), "comfy GET /?tab=1");
    assert.equal((await statusOf(router, "comfyui_auto")).state, "ready");
    const api = await fetch(`${router.url}/comfyui/api/queue`, { method: "POST", body: "{}" });
    assert.equal(await api.text(), "comfy POST /api/queue", "once loaded, sub-paths reach ComfyUI without the prefix");
  });

  test("WebSockets pass through /comfyui/ without holding a slot of comfyui_auto", async () => {
    await (await fetch(`${router.url}/comfyui/`)).body?.cancel();
    const { socket, next } = await connect(`${router.url.replace(/^http/, "ws")}/comfyui/ws?clientId=7`);
    assert.equal(await next(), "ws /ws?clientId=7");
    socket.send("prompt");
    assert.equal(await next(), "prompt");
    assert.equal((await statusOf(router, "comfyui_auto")).inFlight, 0, "an open WebSocket is not a request in flight");
    socket.close();
  });

  test("a reload that gives a model without cmd a cmd makes modelswap start it", async () => {
    const config = readFileSync(router.configPath, "utf8");
    writeFileSync(router.configPath, config.replace(`proxy: ${external.url}`, `cmd: ${demoCmd("--model ext --reply started-by-modelswap")}`));
    router.proc.kill("SIGHUP");
    await router.waitForOutput(/config reloaded; changed: ext\b/);
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("ext"));
    assert.equal((await response.json()).choices[0].message.content, "started-by-modelswap");
    assert.match(router.output(), /ext: starting pid=/);
  });
});

describe(`a config with no models (${runtime.name})`, () => {
  test("starts, says so once, and lists nothing", async () => {
    const router = await startRouter("logLevel: Info\n");
    try {
      assert.match(router.output(), /listening on \S+ with 0 models/);
      assert.equal(router.output().split("\n").filter((line) => /config: models: none defined/.test(line)).length, 1);
      assert.equal(router.output().split("\n").filter((line) => /config: logLevel: "Info" is read as "info"/.test(line)).length, 1);
      assert.deepEqual((await (await fetch(`${router.url}/v1/models`)).json()).data, []);
    } finally {
      await router.stop();
    }
  });
});
