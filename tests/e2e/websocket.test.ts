/**
 * WebSocket upgrades through `/upstream/<model>/…` reach the model's own
 * server, as llama-swap passes them through: the router loads the model
 * for the upgrade, relays text and binary both ways, and the connection
 * holds the model like a request in flight until either side closes.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { scriptArgv, testsPath } from "../helpers/process.ts";
import { type RouterProcess, runtime, startRouter } from "./harness.ts";

/** A connected socket with its messages queued for the test to take in order. */
async function connect(url: string, protocols: string[] = []) {
  const socket = new WebSocket(url, protocols);
  socket.binaryType = "arraybuffer";
  const inbox: Array<string | ArrayBuffer> = [];
  const waiting: Array<(message: string | ArrayBuffer) => void> = [];
  socket.onmessage = (event) => {
    const wake = waiting.shift();
    if (wake) wake(event.data);
    else inbox.push(event.data);
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve, { once: true }));
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", () => reject(new Error(`could not open ${url}`)), { once: true });
  });
  const next = () => (inbox.length ? Promise.resolve(inbox.shift()!) : new Promise<string | ArrayBuffer>((resolve) => waiting.push(resolve)));
  return { socket, next, closed };
}

describe(`WebSocket through /upstream (${runtime.name})`, () => {
  let router: RouterProcess;
  const echo = scriptArgv(testsPath("helpers/ws-echo.ts")).map((word) => `'${word}'`).join(" ");

  before(async () => {
    router = await startRouter(`
logToStdout: both
models:
  echo:
    cmd: ${JSON.stringify(`${echo} --port \${PORT}`)}
    checkEndpoint: /health
`);
  });
  after(() => router.stop());

  test("an upgrade loads the model and relays text and binary both ways, path and subprotocol included", async () => {
    const base = router.url.replace(/^http/, "ws");
    const { socket, next, closed } = await connect(`${base}/upstream/echo/live/chat?room=1`, ["echo.v1"]);
    assert.equal(socket.protocol, "echo.v1");
    assert.equal(await next(), "path /live/chat?room=1", "the rest of the path and the query reach the model's server");
    socket.send("hello");
    assert.equal(await next(), "hello");
    socket.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...new Uint8Array((await next()) as ArrayBuffer)], [1, 2, 3]);
    const status = await (await fetch(`${router.url}/api/status`)).json();
    const model = status.models.find((m: { model: string }) => m.model === "echo");
    assert.equal(model.state, "ready");
    assert.equal(model.inFlight, 1, "an open WebSocket holds the model like a request in flight");
    socket.close(1000, "done");
    await closed;
    await router.waitForOutput(/ws-echo closed 1000 done/);
  });

  test("the model's server closing its side closes the client's with the same code", async () => {
    const base = router.url.replace(/^http/, "ws");
    const { socket, next, closed } = await connect(`${base}/upstream/echo/`);
    await next();
    socket.send("close 4002 bye");
    const event = await closed;
    assert.equal(event.code, 4002);
    assert.equal(event.reason, "bye");
  });
});
