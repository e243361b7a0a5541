/**
 * Security: API keys, credentials never forwarded to local upstreams, body
 * limits, the `/upstream` passthrough confined to its model's server,
 * hostile paths rejected cleanly, and secrets kept out of logs.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

const KEY = "sk-test-0123456789";
const SECRET = "hunter2-very-secret-value";

/** Send raw HTTP (paths a fetch client would normalise) and return the status line. */
function rawRequest(url: string, path: string, headers = ""): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${KEY}\r\n${headers}Connection: close\r\n\r\n`);
    });
    let data = "";
    socket.on("data", (chunk) => (data += chunk.toString()));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
}

describe("security", () => {
  let router: RouterProcess;
  let bystander: { port: number; stop(force?: boolean): Promise<void> };
  let bystanderHits = 0;

  before(async () => {
    bystander = await runtime.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => {
        bystanderHits++;
        return new Response("you should never see this");
      },
    });
    router = await startRouter(`
apiKeys: ["${KEY}"]
maxBodyBytes: 4096
models:
  m:
    cmd: ${demoCmd("--reply ${env.DEMO_SECRET}")}
`, [], { DEMO_SECRET: SECRET });
  });

  after(async () => {
    await router.stop();
    await bystander.stop(true);
  });

  const auth = { authorization: `Bearer ${KEY}` };

  test("without a valid key every route but /health is 401 with WWW-Authenticate", async () => {
    assert.equal((await fetch(`${router.url}/health`)).status, 200);
    for (const [path, init] of [
      ["/v1/models", {}],
      ["/running", {}],
      ["/v1/chat/completions", { method: "POST", body: JSON.stringify(chat("m")) }],
      ["/api/models/unload", { method: "POST" }],
    ] as const) {
      const response = await fetch(`${router.url}${path}`, init);
      assert.equal(response.status, 401, path);
      assert.ok(response.headers.get("www-authenticate"), `${path} WWW-Authenticate`);
      assert.equal((await response.json()).error.type, "authentication_error");
    }
    const wrong = await fetch(`${router.url}/v1/models`, { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
  });

  test("Bearer and x-api-key both work; the key is not forwarded to the upstream", async () => {
    assert.equal((await fetch(`${router.url}/v1/models`, { headers: { "x-api-key": KEY } })).status, 200);
    const echoed = await fetch(`${router.url}/upstream/m/echo`, { headers: { ...auth, "x-api-key": KEY, "x-custom": "kept" } });
    assert.equal(echoed.status, 200);
    const body = await echoed.json() as { headers: Record<string, string> };
    const names = Object.keys(body.headers).map((h) => h.toLowerCase());
    assert.ok(!names.includes("authorization"), "Authorization forwarded");
    assert.ok(!names.includes("x-api-key"), "x-api-key forwarded");
    assert.equal(body.headers["x-custom"], "kept");
  });

  test("an oversized body is a 413 in the OpenAI shape, with or without Content-Length", async () => {
    const big = JSON.stringify(chat("m", { padding: "x".repeat(10_000) }));
    const sized = await postJson(`${router.url}/v1/chat/completions`, JSON.parse(big), { headers: auth });
    assert.equal(sized.status, 413);
    assert.match((await sized.json()).error.message, /maxBodyBytes/);
    const chunked = await fetch(`${router.url}/v1/chat/completions`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: new Blob([big]).stream(),
      // @ts-ignore: `duplex` is required for a streamed request body and missing from some lib typings
      duplex: "half",
    });
    assert.equal(chunked.status, 413);
    await chunked.body?.cancel();
  });

  test("/upstream paths cannot leave the model's server", async () => {
    for (const path of [
      "/upstream/m/%2e%2e/%2e%2e/etc/passwd",
      "/upstream/m/a%2F..%2F..%2Fx",
      "/upstream/m/..%5c..%5cx",
      "/upstream/m/x%00y",
    ]) {
      // Either the server normalises the dot segments away (and no /upstream route matches any more)
      // or modelswap refuses the path: never does it reach an upstream.
      const reply = await rawRequest(router.url, path);
      assert.match(reply, /^HTTP\/1\.1 (400|404)/, `${path} → ${reply.split("\r\n")[0]}`);
      assert.match(reply, /"error"/);
      assert.doesNotMatch(reply, /demo-upstream|"method"/);
    }
    const hostLike = await rawRequest(router.url, `/upstream/m//127.0.0.1:${bystander.port}/`);
    assert.doesNotMatch(hostLike, /you should never see this/);
    assert.equal(bystanderHits, 0, "a //host path reached another server");
  });

  test("values from ${env.X} never appear in logs or in /running", async () => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat("m"), { headers: auth });
    assert.match((await response.json()).choices[0].message.content, new RegExp(SECRET), "the secret reached the upstream");
    const running = await (await fetch(`${router.url}/running`, { headers: auth })).text();
    assert.doesNotMatch(running, new RegExp(SECRET));
    const logs = await (await fetch(`${router.url}/logs`, { headers: auth })).text();
    assert.doesNotMatch(logs, new RegExp(SECRET));
    assert.doesNotMatch(router.output(), new RegExp(SECRET));
    assert.match(router.output(), /--reply \*\*\*/);
  });
});
