import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runtime } from "../helpers/process.ts";

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
