/**
 * Routes that never start an upstream, answered in-process by the app
 * (`app.request()`): every refusal in the OpenAI shape with the right
 * status, the model list, auth, CORS and path checks. Fast: no socket and
 * no process.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { appFor } from "./app.ts";

const CONFIG = `
apiKeys: [sk-test]
maxBodyBytes: 1000
models:
  alpha: { cmd: "server --port \${PORT}", aliases: [a1], name: Alpha }
  beta: { cmd: "server --port \${PORT}", unlisted: true }
profiles:
  quiet: { description: quiet, pins: { alpha: null } }
`;
const KEY = { authorization: "Bearer sk-test" };

describe("http routes in-process", () => {
  test("/health answers without a key; everything else needs one, in the OpenAI shape", async () => {
    const { app } = appFor(CONFIG);
    assert.equal(await (await app.request("/health")).text(), "OK");
    const denied = await app.request("/v1/models");
    assert.equal(denied.status, 401);
    assert.match(denied.headers.get("www-authenticate") ?? "", /^Bearer/);
    assert.equal((await denied.json()).error.type, "authentication_error");
    assert.equal((await app.request("/v1/models", { headers: { "x-api-key": "sk-test" } })).status, 200);
    assert.equal((await app.request("/v1/models", { headers: { authorization: "Bearer wrong" } })).status, 401);
  });

  test("an unknown model is a 404 naming it; a very long name is cut short in the message", async () => {
    const { post } = appFor(CONFIG);
    const unknown = await post("/v1/chat/completions", { model: "nope", messages: [] }, KEY);
    assert.equal(unknown.status, 404);
    const body = await unknown.json();
    assert.equal(body.error.code, "model_not_found");
    assert.match(body.error.message, /"nope" is not configured.*\/v1\/models/);
    const long = await post("/v1/chat/completions", { model: "x".repeat(900), messages: [] }, KEY);
    const longBody = await long.json();
    assert.equal(long.status, 404);
    assert.ok(longBody.error.message.length < 500, "the 900-character name is not echoed whole");
  });

  test("bad requests: no model, broken JSON, wrong method, too large a body", async () => {
    const { app, post } = appFor(CONFIG);
    const missing = await post("/v1/chat/completions", { messages: [] }, KEY);
    assert.equal(missing.status, 400);
    assert.equal((await missing.json()).error.code, "model_required");
    const broken = await post("/v1/chat/completions", "{not json", KEY);
    assert.equal(broken.status, 400);
    const wrongMethod = await app.request("/v1/chat/completions", { headers: KEY });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    const large = await post("/v1/chat/completions", { model: "alpha", pad: "x".repeat(2000) }, KEY);
    assert.equal(large.status, 413);
    assert.equal((await large.json()).error.type, "request_too_large");
  });

  test("a name the active profile disables is a 404 for requests and /upstream paths alike", async () => {
    const { app, post } = appFor(CONFIG);
    const activate = await app.request("/api/profiles/active", { method: "PUT", headers: { ...KEY, "content-type": "application/json" }, body: JSON.stringify({ name: "quiet" }) });
    assert.equal(activate.status, 200);
    assert.equal((await post("/v1/chat/completions", { model: "alpha", messages: [] }, KEY)).status, 404);
    assert.equal((await app.request("/upstream/alpha/props", { headers: KEY })).status, 404);
  });

  test("/v1/models lists listed models and their state; aliases resolve to their model", async () => {
    const { app, rig } = appFor(CONFIG);
    const list = await (await app.request("/v1/models", { headers: KEY })).json();
    assert.deepEqual(list.data.map((m: { id: string }) => m.id), ["alpha"]);
    assert.equal(list.data[0].name, "Alpha");
    assert.equal(list.data[0].state, "stopped");
    const load = app.request("/api/models/load/a1", { method: "POST", headers: KEY });
    const alpha = rig.process("alpha");
    await alpha.whenState("starting");
    alpha.ready();
    assert.deepEqual(await (await load).json(), { msg: "ok", model: "alpha" });
    const after = await (await app.request("/v1/models", { headers: KEY })).json();
    assert.equal(after.data[0].state, "ready");
  });

  test("admin routes name what they cannot find", async () => {
    const { app } = appFor(CONFIG);
    const load = await app.request("/api/models/load/nope", { method: "POST", headers: KEY });
    assert.equal(load.status, 404);
    assert.match((await load.json()).error.message, /"nope" is not configured/);
    assert.equal((await app.request("/api/models/unload/nope", { method: "POST", headers: KEY })).status, 404);
    assert.equal((await app.request("/logs/stream/nope", { headers: KEY })).status, 400);
  });

  test("/upstream paths: unknown models 404, dot segments and control characters 400, a bare model redirects", async () => {
    const { app } = appFor(CONFIG);
    assert.equal((await app.request("/upstream/nope/x", { headers: KEY })).status, 404);
    assert.equal((await app.request("/upstream/alpha/a%2f..%2fb", { headers: KEY })).status, 400);
    assert.equal((await app.request("/upstream/alpha/a%01b", { headers: KEY })).status, 400);
    const bare = await app.request("/upstream/alpha", { headers: KEY });
    assert.equal(bare.status, 301);
    assert.equal(bare.headers.get("location"), "/upstream/alpha/");
  });

  test("CORS preflight is answered 204 without a key, echoing the requested headers", async () => {
    const { app } = appFor(CONFIG);
    const preflight = await app.request("/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin: "http://ui.example", "access-control-request-method": "POST", "access-control-request-headers": "x-custom" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "*");
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /x-custom/);
  });
});
