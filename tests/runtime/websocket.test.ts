import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { freePort, runtime, scriptArgv, startProcess, type TestProcess, testsPath } from "../helpers/process.ts";
import { isWebSocketUpgrade, relayWebSocket, type WebSocketRelayLimits } from "../../src/http/websocket.ts";
import type { HttpServer } from "../../src/runtime/runtime.ts";

/** `promise`, or a failure naming `what` after `ms`: a guard against hanging, not a synchronisation. */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A running tests/helpers/ws-echo.ts. */
interface Echo extends TestProcess {
  port: number;
}

async function startEcho(): Promise<Echo> {
  const started = startProcess([...scriptArgv(testsPath("helpers/ws-echo.ts")), "--port", "0"]);
  try {
    const ready = await started.stdout.match(/ws-echo pid=\d+ port=(\d+)/);
    return { ...started, port: Number(ready[1]) };
  } catch (error) {
    await started.kill();
    throw new Error(`${(error as Error).message}\nstderr:\n${started.stderr.text}`);
  }
}

/**
 * An in-process relay: upgrades go to `target(url)`, other requests get
 * `plain <path>`. With `holdFor`, the upgrade response is returned only
 * after that many upstream messages have arrived, so they must be queued
 * for the client, which cannot open before it has its response.
 */
interface Relay {
  server: HttpServer;
  /** How often `onClose` was called, and a promise for its first call. */
  closes: number;
  closed: Promise<void>;
  /** How many upstream → client messages `onMessage` saw. */
  messages: number;
}

async function startRelay(
  target: (url: URL) => string,
  { holdFor = 0, limits }: { holdFor?: number; limits?: Partial<WebSocketRelayLimits> } = {},
): Promise<Relay> {
  let closed!: () => void;
  let held!: () => void;
  const heldMessages = new Promise<void>((resolve) => (held = resolve));
  const relay: Omit<Relay, "server"> = { closes: 0, closed: new Promise((resolve) => (closed = resolve)), messages: 0 };
  const server = await runtime.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request, info) {
      const url = new URL(request.url);
      if (!isWebSocketUpgrade(request)) return new Response(`plain ${url.pathname}`);
      const response = await relayWebSocket({
        request,
        upgrade: info.upgradeWebSocket,
        target: target(url),
        limits,
        onClose() {
          relay.closes++;
          closed();
        },
        onMessage() {
          if (++relay.messages >= holdFor) held();
        },
      });
      if (holdFor > 0) await within(heldMessages, `${holdFor} upstream messages`);
      return response;
    },
  });
  return Object.assign(relay, { server });
}

/** A WebSocket client whose messages and close can be awaited in order. */
class Client {
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #messages: (string | ArrayBuffer)[] = [];
  #waiting: ((data: string | ArrayBuffer) => void)[] = [];

  constructor(url: string, protocols: string[] = []) {
    this.ws = new WebSocket(url, protocols);
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve) => this.ws.addEventListener("open", () => resolve(), { once: true }));
    this.closed = new Promise((resolve) => this.ws.addEventListener("close", (e) => resolve(e as CloseEvent)));
    this.ws.addEventListener("message", (event) => {
      const data = (event as MessageEvent<string | ArrayBuffer>).data;
      const waiter = this.#waiting.shift();
      if (waiter) waiter(data);
      else this.#messages.push(data);
    });
  }

  /** The next message, in arrival order. */
  next(): Promise<string | ArrayBuffer> {
    const data = this.#messages.shift();
    if (data !== undefined) return Promise.resolve(data);
    return within(new Promise((resolve) => this.#waiting.push(resolve)), "a message");
  }
}

describe(`ServeInfo.upgradeWebSocket (${runtime.name})`, () => {
  it("gives a standard WebSocket: CONNECTING until returned, on… handlers, close code and reason", async () => {
    const seen: string[] = [];
    let serverClosed!: (event: CloseEvent) => void;
    const closedOnServer = new Promise<CloseEvent>((resolve) => (serverClosed = resolve));
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(_request, info) {
        const { socket, response } = info.upgradeWebSocket({ protocol: "b" });
        seen.push(`state ${socket.readyState}`);
        assert.throws(() => socket.send("too early"), { name: "InvalidStateError" });
        socket.onopen = () => seen.push(`open ${socket.readyState}`);
        socket.onmessage = (event) => {
          const data = event.data as string | ArrayBuffer;
          if (data === "bye") socket.close(1011, "server says bye");
          else socket.send(typeof data === "string" ? data.toUpperCase() : new Uint8Array(data).reverse());
        };
        socket.onclose = (event) => serverClosed(event);
        return response;
      },
    });
    try {
      const client = new Client(`ws://127.0.0.1:${server.port}/`, ["a", "b"]);
      await within(client.opened, "the client to open");
      assert.equal(client.ws.protocol, "b");
      client.ws.send("hi");
      assert.equal(await client.next(), "HI");
      client.ws.send(new Uint8Array([1, 2, 3]));
      assert.deepEqual([...new Uint8Array(await client.next() as ArrayBuffer)], [3, 2, 1]);
      client.ws.send("bye");
      const closed = await within(client.closed, "the client's close");
      assert.deepEqual([closed.code, closed.reason], [1011, "server says bye"]);
      assert.equal((await within(closedOnServer, "the server's close")).code, 1011);
      assert.deepEqual(seen, ["state 0", "open 1"]);
    } finally {
      await server.stop(true);
    }
  });

  it("throws a TypeError for a request that is no upgrade, or a subprotocol the client did not offer", async () => {
    const errors: string[] = [];
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request, info) {
        const protocol = new URL(request.url).searchParams.get("protocol") ?? undefined;
        try {
          return info.upgradeWebSocket({ protocol }).response;
        } catch (error) {
          errors.push((error as Error).name);
          return new Response((error as Error).message, { status: 400 });
        }
      },
    });
    try {
      const plain = await fetch(`http://127.0.0.1:${server.port}/`);
      assert.equal(plain.status, 400);
      await plain.body?.cancel();
      const client = new Client(`ws://127.0.0.1:${server.port}/?protocol=c`, ["a", "b"]);
      const closed = await within(client.closed, "the refused client's close");
      assert.notEqual(closed.code, 1000, "the handshake failed");
      assert.deepEqual(errors, ["TypeError", "TypeError"]);
    } finally {
      await server.stop(true);
    }
  });
});

describe(`WebSocket relay through runtime.serve (${runtime.name})`, () => {
  let echo: Echo;
  const relays: Relay[] = [];
  /** A relay to the shared echo server, keeping path and query. */
  const relayToEcho = async () => {
    const relay = await startRelay((url) => `ws://127.0.0.1:${echo.port}${url.pathname}${url.search}`);
    relays.push(relay);
    return relay;
  };

  before(async () => {
    echo = await startEcho();
  });

  after(async () => {
    for (const relay of relays) await relay.server.stop(true);
    await echo?.kill();
  });

  it("relays text and binary both ways, with the upstream's subprotocol and the request path", async () => {
    const relay = await relayToEcho();
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/chat/room?user=1`, ["x-unsupported", "echo.v1"]);
    await within(client.opened, "the client to open");
    assert.equal(client.ws.protocol, "echo.v1", "the upstream's choice, not the client's first offer");
    assert.equal(await client.next(), "path /chat/room?user=1");
    client.ws.send("hello");
    assert.equal(await client.next(), "hello");
    client.ws.send(new Uint8Array([0, 1, 2, 255]));
    const binary = await client.next();
    assert.ok(binary instanceof ArrayBuffer, `binary arrives as binary, got ${typeof binary}`);
    assert.deepEqual([...new Uint8Array(binary)], [0, 1, 2, 255]);
    client.ws.send("é ü 😀");
    assert.equal(await client.next(), "é ü 😀");
    assert.equal(relay.messages, 4, "onMessage sees every upstream → client message");
    client.ws.close();
    await within(relay.closed, "onClose");
  });

  it("closes the upstream side with the client's code and reason when the client closes", async () => {
    const relay = await relayToEcho();
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/client-closes`);
    await within(client.opened, "the client to open");
    assert.equal(await client.next(), "path /client-closes");
    client.ws.close(4001, "client done");
    await echo.stdout.match(/ws-echo closed 4001 client done/);
    assert.equal((await within(client.closed, "the client's close")).code, 4001);
    await within(relay.closed, "onClose");
    assert.equal(relay.closes, 1);
  });

  it("closes the client with the upstream's code and reason when the upstream closes", async () => {
    const relay = await relayToEcho();
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/upstream-closes`);
    await within(client.opened, "the client to open");
    assert.equal(await client.next(), "path /upstream-closes");
    client.ws.send("close 4002 upstream done");
    const closed = await within(client.closed, "the client's close");
    assert.deepEqual([closed.code, closed.reason], [4002, "upstream done"]);
    await within(relay.closed, "onClose");
    assert.equal(relay.closes, 1);
  });

  it("closes the client with 1011 when the upstream process dies", async () => {
    const doomed = await startEcho();
    try {
      const relay = await startRelay((url) => `ws://127.0.0.1:${doomed.port}${url.pathname}`);
      relays.push(relay);
      const client = new Client(`ws://127.0.0.1:${relay.server.port}/doomed`);
      await within(client.opened, "the client to open");
      assert.equal(await client.next(), "path /doomed");
      await doomed.kill();
      const closed = await within(client.closed, "the client's close");
      assert.equal(closed.code, 1011);
      assert.match(closed.reason, new RegExp(`upstream ws://127\\.0\\.0\\.1:${doomed.port}/doomed went away`));
      await within(relay.closed, "onClose");
      assert.equal(relay.closes, 1);
    } finally {
      await doomed.kill();
    }
  });

  it("closes the client with 1011 and a reason naming the target when the upstream is unreachable", async () => {
    const port = await freePort();
    const relay = await startRelay(() => `ws://127.0.0.1:${port}/nowhere`);
    relays.push(relay);
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/`);
    const closed = await within(client.closed, "the client's close");
    assert.equal(closed.code, 1011);
    assert.match(closed.reason, new RegExp(`cannot reach upstream ws://127\\.0\\.0\\.1:${port}/nowhere`));
    await within(relay.closed, "onClose");
    assert.equal(relay.closes, 1);
  });

  it("closes the client with 1011 when the upstream does not answer within connectTimeoutMs", async () => {
    let release!: () => void;
    const held = new Promise<Response>((resolve) => (release = () => resolve(new Response("too late"))));
    const silent = await runtime.serve({ hostname: "127.0.0.1", port: 0, fetch: () => held });
    try {
      const limits = { connectTimeoutMs: 200 };
      const relay = await startRelay(() => `ws://127.0.0.1:${silent.port}/silent`, { limits });
      relays.push(relay);
      const client = new Client(`ws://127.0.0.1:${relay.server.port}/`);
      const closed = await within(client.closed, "the client's close");
      assert.equal(closed.code, 1011);
      assert.match(closed.reason, /did not accept the WebSocket within 200 ms/);
      await within(relay.closed, "onClose");
      assert.equal(relay.closes, 1);
    } finally {
      release();
      await silent.stop(true);
    }
  });

  it("calls onClose once when the client leaves while the upstream is still being reached", async () => {
    let release!: () => void;
    let reached!: () => void;
    const upstreamReached = new Promise<void>((resolve) => (reached = resolve));
    const held = new Promise<Response>((resolve) => (release = () => resolve(new Response("too late"))));
    const silent = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => {
        reached();
        return held;
      },
    });
    try {
      const relay = await startRelay(() => `ws://127.0.0.1:${silent.port}/silent`);
      relays.push(relay);
      const client = new Client(`ws://127.0.0.1:${relay.server.port}/`);
      await within(upstreamReached, "the upstream to be reached");
      client.ws.close();
      await within(client.closed, "the client's close");
      await within(relay.closed, "onClose");
      assert.equal(relay.closes, 1);
    } finally {
      release();
      await silent.stop(true);
    }
  });

  it("holds upstream messages that arrive before the client has opened, and delivers them in order", async () => {
    const relay = await startRelay((url) => `ws://127.0.0.1:${echo.port}${url.pathname}${url.search}`, { holdFor: 4 });
    relays.push(relay);
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/early?burst=3`);
    await within(client.opened, "the client to open");
    const received = [await client.next(), await client.next(), await client.next(), await client.next()];
    assert.deepEqual(received, ["path /early?burst=3", "burst 1", "burst 2", "burst 3"]);
    client.ws.send("after the queue");
    assert.equal(await client.next(), "after the queue");
    client.ws.close();
    await within(relay.closed, "onClose");
  });

  it("closes both sides with 1009 when more arrives before the client opens than the queue may hold", async () => {
    const relay = await startRelay((url) => `ws://127.0.0.1:${echo.port}${url.pathname}${url.search}`, {
      holdFor: 3,
      limits: { maxQueuedMessages: 2 },
    });
    relays.push(relay);
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/flood?burst=5`);
    const closed = await within(client.closed, "the client's close");
    assert.equal(closed.code, 1009);
    assert.match(closed.reason, /over 2 messages/);
    await echo.stdout.match(/ws-echo closed 1000 over 2 messages/);
    await within(relay.closed, "onClose");
    assert.equal(relay.closes, 1);
  });

  it("stop(true) closes open WebSockets, and the relay closes the upstream side", async () => {
    const relay = await relayToEcho();
    const client = new Client(`ws://127.0.0.1:${relay.server.port}/server-stops`);
    await within(client.opened, "the client to open");
    assert.equal(await client.next(), "path /server-stops");
    await within(relay.server.stop(true), "stop(true)");
    assert.equal((await within(client.closed, "the client's close")).code, 1001);
    await within(relay.closed, "onClose");
    assert.equal(relay.closes, 1);
  });

  it("still serves plain HTTP on the same server, and refuses a relay of a request that is no upgrade", async () => {
    const relay = await relayToEcho();
    const response = await fetch(`http://127.0.0.1:${relay.server.port}/plain`);
    assert.equal(await response.text(), "plain /plain");
    const health = await fetch(`http://127.0.0.1:${echo.port}/health`);
    assert.equal(health.status, 200);
    await health.body?.cancel();

    let closes = 0;
    const refused = await relayWebSocket({
      request: new Request("http://127.0.0.1/not-an-upgrade"),
      upgrade: () => assert.fail("no upgrade for a plain request"),
      target: `ws://127.0.0.1:${echo.port}/`,
      onClose: () => closes++,
    });
    assert.equal(refused.status, 400);
    await refused.body?.cancel();
    assert.equal(closes, 1);
  });
});
