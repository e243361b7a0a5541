import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ConnectionLimits, HttpServer } from "../../src/runtime/runtime.ts";
import { runtime, waitFor } from "../helpers/process.ts";
import { RawSocket, responses } from "../hardening/raw-socket.ts";

/** A response body that sends a chunk every 20 ms until cancelled. */
function endlessStream(): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let timer: ReturnType<typeof setInterval> | undefined;
  return new ReadableStream({
    start(controller) {
      timer = setInterval(() => controller.enqueue(encoder.encode("data: tick\n\n")), 20);
    },
    cancel() {
      clearInterval(timer);
    },
  });
}

describe(`runtime.serve (${runtime.name})`, () => {
  it("listens on a free port when asked for port 0 and serves requests", async () => {
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, info) => Response.json({ path: new URL(request.url).pathname, from: info.remoteAddress }),
    });
    try {
      assert.ok(server.port > 0);
      const response = await fetch(`http://127.0.0.1:${server.port}/hello`);
      assert.deepEqual(await response.json(), { path: "/hello", from: "127.0.0.1" });
    } finally {
      await server.stop(true);
    }
  });

  it("fires the request's abort signal when the client disconnects mid-stream", async () => {
    let aborted!: () => void;
    const sawAbort = new Promise<void>((resolve) => (aborted = resolve));
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        request.signal.addEventListener("abort", () => aborted(), { once: true });
        return new Response(endlessStream(), { headers: { "content-type": "text/event-stream" } });
      },
    });
    try {
      const client = new AbortController();
      const response = await fetch(`http://127.0.0.1:${server.port}/stream`, { signal: client.signal });
      const reader = response.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /tick/);
      client.abort();
      await reader.cancel().catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("request.signal did not abort within 2 s")), 2000);
      });
      await Promise.race([sawAbort, timeout]).finally(() => clearTimeout(timer));
    } finally {
      await server.stop(true);
    }
  });

  it("does not abort the request's signal after a response was delivered", async () => {
    const aborted: string[] = [];
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(request) {
        const path = new URL(request.url).pathname;
        request.signal.addEventListener("abort", () => aborted.push(path));
        return new Response(path === "/empty" ? null : `body of ${path}`);
      },
    });
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/full`)).text(), "body of /full");
      await (await fetch(`http://127.0.0.1:${server.port}/empty`)).text();
      await (await fetch(`http://127.0.0.1:${server.port}/later`)).text();
      assert.deepEqual(aborted, []);
    } finally {
      await server.stop(true);
    }
  });

  it("keeps a quiet streaming response open longer than an idle timeout would allow", async () => {
    // Bun's default idle timeout is 10 s; a stream that is silent for a moment must survive.
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () =>
        new Response(
          new ReadableStream({
            async start(controller) {
              await new Promise((resolve) => setTimeout(resolve, 300));
              controller.enqueue(new TextEncoder().encode("late"));
              controller.close();
            },
          }),
        ),
    });
    try {
      assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/`)).text(), "late");
    } finally {
      await server.stop(true);
    }
  });

  it("stop(true) returns even while a stream is open, and the port stops answering", async () => {
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => new Response(endlessStream()),
    });
    const response = await fetch(`http://127.0.0.1:${server.port}/`);
    const reader = response.body!.getReader();
    await reader.read();
    await server.stop(true);
    await reader.cancel().catch(() => {});
    await assert.rejects(fetch(`http://127.0.0.1:${server.port}/`));
  });

  it("rejects request bodies larger than maxRequestBodySize", async () => {
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      maxRequestBodySize: 1024,
      fetch: async (request) => new Response(String((await request.text()).length)),
    });
    try {
      const small = await fetch(`http://127.0.0.1:${server.port}/`, { method: "POST", body: "x".repeat(100) });
      assert.equal(await small.text(), "100");
      const big = await fetch(`http://127.0.0.1:${server.port}/`, { method: "POST", body: "x".repeat(4096) });
      assert.equal(big.status, 413);
      await big.body?.cancel();
    } finally {
      await server.stop(true);
    }
  });

  it("fails with a clear message when the port is taken", async () => {
    const first = await runtime.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    try {
      await assert.rejects(
        runtime.serve({ hostname: "127.0.0.1", port: first.port, fetch: () => new Response("") }),
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}.*pick a free port`),
      );
    } finally {
      await first.stop(true);
    }
  });
});

/** Short bounds so that each test runs in a second or two. */
const LIMITS = { headerTimeout: 1, idleTimeout: 1, bodyTimeout: 1, maxConnections: 100 };

/** A bounded server: `/body` answers with the body's length, `/slow` after 300 ms, `/quiet` streams with a 2.5 s silence, `/ws` upgrades. */
function boundedServer(limits: Partial<ConnectionLimits> = {}): Promise<HttpServer> {
  return runtime.serve({
    hostname: "127.0.0.1",
    port: 0,
    limits: { ...LIMITS, ...limits },
    async fetch(request, info) {
      const path = new URL(request.url).pathname;
      if (path === "/body") return new Response(`got ${(await request.text()).length}`);
      if (path === "/slow") await new Promise((resolve) => setTimeout(resolve, 300));
      if (path === "/quiet") {
        const encoder = new TextEncoder();
        return new Response(
          new ReadableStream({
            async start(controller) {
              controller.enqueue(encoder.encode("data: first\n\n"));
              await new Promise((resolve) => setTimeout(resolve, 2500));
              controller.enqueue(encoder.encode("data: last\n\n"));
              controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        );
      }
      return new Response(`${request.method} ${path} from ${info.remoteAddress}`);
    },
  });
}

const base = (server: HttpServer) => `http://127.0.0.1:${server.port}`;

describe(`runtime.serve with connection limits (${runtime.name})`, () => {
  it("serves through the guard, with the client's own address", async () => {
    const server = await boundedServer();
    try {
      assert.equal(await (await fetch(`${base(server)}/hello`)).text(), "GET /hello from 127.0.0.1");
      const posted = await fetch(`${base(server)}/body`, { method: "POST", body: "x".repeat(100_000) });
      assert.equal(await posted.text(), "got 100000");
    } finally {
      await server.stop(true);
    }
  });

  it("closes an idle keep-alive connection after idleTimeout, sending nothing more", async () => {
    const server = await boundedServer();
    try {
      const client = await RawSocket.open(base(server));
      client.write("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
      await client.waitFor(/GET \/a from/);
      const answered = performance.now();
      const received = client.text;
      await client.waitForClose(5000);
      const idle = client.closedAt! - answered;
      assert.ok(idle > 700 && idle < 3000, `closed ${idle.toFixed(0)} ms after the response`);
      assert.equal(client.text, received);
    } finally {
      await server.stop(true);
    }
  });

  it("answers 408 to a head dribbled one byte a second, closes a connection that sends nothing, each after headerTimeout", async () => {
    const server = await boundedServer({ headerTimeout: 2 });
    try {
      const [dribbler, silent] = await Promise.all([RawSocket.open(base(server)), RawSocket.open(base(server))]);
      void dribbler.dribble(`GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(30)}\r\n\r\n`, 1000);
      await Promise.all([dribbler.waitForClose(6000), silent.waitForClose(6000)]);
      for (const client of [dribbler, silent]) {
        assert.ok(client.lifetimeMs! > 1700 && client.lifetimeMs! < 4500, `closed after ${client.lifetimeMs!.toFixed(0)} ms`);
      }
      const [timeout] = responses(dribbler.text);
      assert.equal(timeout?.status, 408, dribbler.text);
      assert.match(timeout.head, /^connection: close$/im);
      assert.match(JSON.parse(timeout.body).error.message, /server\.headerTimeout/);
      assert.equal(silent.text, "");
    } finally {
      await server.stop(true);
    }
  });

  it("answers 408 to a body that stops arriving, and lets one sent slowly but steadily through", async () => {
    const server = await boundedServer();
    try {
      const [stalled, steady] = await Promise.all([RawSocket.open(base(server)), RawSocket.open(base(server))]);
      stalled.write("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
      steady.write("POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n");
      void steady.dribble("12345678", 400); // 3.2 s in all, never 1 s without a byte
      await stalled.waitForClose(5000);
      const [timeout] = responses(stalled.text);
      assert.equal(timeout?.status, 408, stalled.text);
      assert.match(JSON.parse(timeout.body).error.message, /server\.bodyTimeout/);
      await steady.waitFor(/got 8/, 8000);
      assert.equal(steady.isClosed, false);
      steady.close();
    } finally {
      await server.stop(true);
    }
  });

  it("never cuts a response that is being produced, however quiet", async () => {
    const server = await boundedServer();
    try {
      const client = await RawSocket.open(base(server));
      client.write("GET /quiet HTTP/1.1\r\nHost: x\r\n\r\n");
      await client.waitFor(/data: last/, 8000);
      assert.equal(client.isClosed, false);
      client.close();
    } finally {
      await server.stop(true);
    }
  });

  it("answers both requests of a pipelined pair, in order", async () => {
    const server = await boundedServer();
    try {
      const client = await RawSocket.open(base(server));
      client.write("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /second HTTP/1.1\r\nHost: x\r\n\r\n");
      const answers = await client.waitForResponses(2, 5000);
      assert.deepEqual(answers.map((r) => [r.status, r.body]), [
        [200, "POST /slow from 127.0.0.1"],
        [200, "GET /second from 127.0.0.1"],
      ]);
      client.close();
    } finally {
      await server.stop(true);
    }
  });

  it("refuses connections over maxConnections at once with 503 and Connection: close; the open ones keep working", async () => {
    const server = await boundedServer({ maxConnections: 3, headerTimeout: 30 });
    try {
      const held = await Promise.all([1, 2, 3].map(() => RawSocket.open(base(server))));
      const extra = await Promise.all([1, 2].map(() => RawSocket.open(base(server))));
      for (const client of extra) {
        await client.waitForClose(3000);
        const [refusal] = responses(client.text);
        assert.equal(refusal?.status, 503, client.text);
        assert.match(refusal.head, /^connection: close$/im);
        assert.match(refusal.head, /^retry-after: 1$/im);
        assert.match(JSON.parse(refusal.body).error.message, /server\.maxConnections/);
      }
      held[0].write("GET /still HTTP/1.1\r\nHost: x\r\n\r\n");
      await held[0].waitFor(/GET \/still from/);
      for (const client of held) client.close();
      await waitFor(async () => {
        const response = await fetch(`${base(server)}/after`);
        return response.status === 200 && (await response.text()).startsWith("GET /after");
      }, { what: "room for a new connection once the held ones closed" });
    } finally {
      await server.stop(true);
    }
  });

  it("relays a WebSocket, and never times out a quiet one", async () => {
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      limits: LIMITS,
      fetch(_request, info) {
        const { socket, response } = info.upgradeWebSocket();
        socket.addEventListener("message", (event) => socket.send(`echo ${event.data}`));
        return response;
      },
    });
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/ws`);
    try {
      const messages: string[] = [];
      let wake = () => {};
      client.addEventListener("message", (event) => {
        messages.push(String(event.data));
        wake();
      });
      const next = () => new Promise<string>((resolve) => (wake = () => resolve(messages.at(-1)!)));
      await new Promise((resolve, reject) => {
        client.addEventListener("open", resolve, { once: true });
        client.addEventListener("error", reject, { once: true });
      });
      let reply = next();
      client.send("one");
      assert.equal(await reply, "echo one");
      // Quiet for longer than every timeout (1 s): the connection is a tunnel now, never timed.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(client.readyState, WebSocket.OPEN);
      reply = next();
      client.send("two");
      assert.equal(await reply, "echo two");
    } finally {
      client.close();
      await server.stop(true);
    }
  });

  it("sends a streamed response's headers at once, before its first chunk (a quiet event stream is seen as open)", async () => {
    let release = () => {};
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      limits: LIMITS,
      fetch: () =>
        new Response(
          new ReadableStream({
            start(controller) {
              release = () => {
                controller.enqueue(new TextEncoder().encode("data: first\n\n"));
                controller.close();
              };
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
    });
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const headers = fetch(`${base(server)}/events`);
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no response headers within 3 s while no chunk was sent")), 3000)));
      const response = await Promise.race([headers, late]).finally(() => clearTimeout(timer));
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      release();
      assert.equal(await response.text(), "data: first\n\n");
    } finally {
      await server.stop(true);
    }
  });

  it("serves what it does not frame itself through the runtime's server: a chunked body, Expect: 100-continue, a body over the limit", async () => {
    const server = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      limits: LIMITS,
      maxRequestBodySize: 1000,
      fetch: async (request, info) => new Response(`${request.method} got ${(await request.text()).length} from ${info.remoteAddress}`),
    });
    try {
      const client = await RawSocket.open(base(server));
      client.write("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
      await client.waitFor(/got 8 from 127\.0\.0\.1/);
      // The connection stays usable, now on the runtime's server.
      client.write("POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
      await client.waitFor(/got 2 from 127\.0\.0\.1/);
      client.close();

      const expecting = await RawSocket.open(base(server));
      expecting.write("POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
      await expecting.waitFor(/100 Continue/i);
      expecting.write("abcd");
      await expecting.waitFor(/got 4 from/);
      expecting.close();

      const large = await fetch(`${base(server)}/d`, { method: "POST", body: "x".repeat(5000) });
      assert.equal(large.status, 413);
      await large.arrayBuffer();
      assert.equal(await (await fetch(`${base(server)}/e`, { method: "POST", body: "x".repeat(900) })).text(), "POST got 900 from 127.0.0.1");
    } finally {
      await server.stop(true);
    }
  });

  for (const limits of [undefined, LIMITS]) {
    it(`gives an HTTP/1.0 request without Host its whole path (${limits ? "bounded" : "unbounded"})`, async () => {
      const server = await runtime.serve({
        hostname: "127.0.0.1",
        port: 0,
        limits,
        fetch: (request) => new Response(`${new URL(request.url).pathname}${new URL(request.url).search}`),
      });
      try {
        const client = await RawSocket.open(base(server));
        client.write("GET /first/second/third?x=1 HTTP/1.0\r\n\r\n");
        await client.waitForClose(5000);
        assert.equal(responses(client.text)[0]?.body, "/first/second/third?x=1", client.text);
      } finally {
        await server.stop(true);
      }
    });
  }
});
