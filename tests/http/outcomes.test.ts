/**
 * Every request to a model route or `/upstream/…` is recorded once in
 * `/metrics` and `/api/activity` with its status — refusals before a model
 * is known included — under a bounded `model` label, and no refusal echoes
 * a client's huge input back. In-process: `app.request()`, no socket.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_BOUNDARY_CHARS, MAX_JSON_DEPTH, MAX_URL_CHARS } from "../../src/http/bounds.ts";
import { parseExposition, type Sample, sampleValue } from "../observability/exposition.ts";
import { appFor } from "./app.ts";

const CONFIG = `
apiKeys: [sk-test]
maxBodyBytes: 11000000
models:
  alpha: { cmd: "server --port \${PORT}", filters: { setParams: { temperature: 0 } } }
`;
const KEY = { authorization: "Bearer sk-test" };

interface Activity {
  model: string;
  path: string;
  method: string;
  status: number;
  error: string | null;
}

describe("request outcomes are recorded, refusals included", () => {
  const rig = () => {
    const { app, post } = appFor(CONFIG);
    const activity = async (): Promise<Activity[]> => (await (await app.request("/api/activity", { headers: KEY })).json()).data;
    const samples = async (): Promise<Sample[]> => parseExposition(await (await app.request("/metrics", { headers: KEY })).text());
    return { app, post, activity, samples };
  };

  test("refusals before a model is known: one row each, under the empty model label, with status and reason", async () => {
    const { app, post, activity, samples } = rig();
    const cases: Array<[() => Response | Promise<Response>, number, RegExp]> = [
      [() => post("/v1/chat/completions", { model: "nope", messages: [] }, KEY), 404, /"nope" is not configured/],
      [() => post("/v1/chat/completions", { messages: [] }, KEY), 400, /names no model/],
      [() => post("/v1/chat/completions", "{broken", KEY), 400, /not valid JSON/],
      [() => post("/v1/chat/completions", `{"model":"alpha","x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`, KEY), 400, /more than 256 levels deep/],
      [() => post("/v1/embeddings", { model: ["a", "b"] }, KEY), 400, /"model" must be a string \(got an array\)/],
      [() => post("/v1/chat/completions", { model: "alpha", messages: [] }), 401, /missing or invalid API key/],
      [() => post("/v1/chat/completions", { model: "alpha", pad: "x".repeat(11_000_000) }, KEY), 413, /larger than 11000000 bytes \(maxBodyBytes/],
      [() => app.request(`/v1/chat/completions?pad=${"x".repeat(MAX_URL_CHARS)}`, { method: "POST", headers: KEY }), 414, /at most 8192/],
      [() => app.request("/v1/chat/completions", { headers: KEY }), 405, /answers POST/],
      [
        () =>
          app.request("/v1/audio/transcriptions", {
            method: "POST",
            headers: { ...KEY, "content-type": `multipart/form-data; boundary=${"b".repeat(MAX_BOUNDARY_CHARS + 1)}` },
            body: "--",
          }),
        400,
        /RFC 2046 allows at most 70/,
      ],
    ];
    for (const [send, status, message] of cases) {
      const answer = await send();
      assert.equal(answer.status, status, message.source);
      assert.match((await answer.json()).error.message, message);
    }
    const rows = (await activity()).reverse();
    assert.deepEqual(rows.map((row) => [row.model, row.status]), cases.map(([, status]) => ["", status]));
    for (const [i, row] of rows.entries()) assert.match(row.error ?? "", cases[i][2]);
    assert.equal(rows[4].path, "/v1/embeddings");
    assert.equal(rows[8].method, "GET");
    const metrics = await samples();
    assert.equal(sampleValue(metrics, "modelswap_requests_total", { model: "", route: "/v1/chat/completions", status: "400" }), 3);
    assert.equal(sampleValue(metrics, "modelswap_requests_total", { model: "", route: "/v1/chat/completions", status: "414" }), 1);
  });

  test("garbage names share one series, and neither a 10 MB name nor a long path is echoed", async () => {
    const { app, post, activity, samples } = rig();
    const huge = "m".repeat(10 * 1024 * 1024);
    const answer = await post("/v1/chat/completions", { model: huge, messages: [] }, KEY);
    assert.equal(answer.status, 404);
    assert.ok((await answer.text()).length < 1000, "the answer quotes the name cut short");
    for (let i = 0; i < 20; i++) await (await post("/v1/chat/completions", { model: `junk-${i}` }, KEY)).text();
    const series = (await samples()).filter((sample) => sample.name === "modelswap_requests_total");
    assert.deepEqual(series.map((sample) => [sample.labels.model, sample.labels.status, sample.value]), [["", "404", 21]]);
    const rows = await activity();
    assert.ok(JSON.stringify(rows).length < 21 * 1000, "activity keeps the reasons short too");
    const noRoute = await (await app.request(`/${"p".repeat(MAX_URL_CHARS - 100)}`, { headers: KEY })).text();
    assert.ok(noRoute.length < 1000, `the 404 for an unknown route quotes ${noRoute.length} characters`);
  });

  test("/upstream refusals are recorded under /upstream/*; other routes are not recorded", async () => {
    const { app, activity } = rig();
    assert.equal((await app.request("/upstream/nope/x", { headers: KEY })).status, 404);
    assert.equal((await app.request("/upstream/%ff/x", { headers: KEY })).status, 404);
    assert.equal((await app.request("/upstream/alpha/a%2f..%2fb", { headers: KEY })).status, 400);
    assert.equal((await app.request(`/upstream/alpha/${"a/".repeat(8000)}`, { headers: KEY })).status, 414);
    assert.equal((await app.request(`/v1/models?${"x".repeat(MAX_URL_CHARS)}`, { headers: KEY })).status, 414);
    assert.equal((await app.request("/v1/models", { headers: KEY })).status, 200);
    assert.equal((await app.request("/upstream/alpha", { headers: KEY })).status, 301);
    const preflight = await app.request("/v1/chat/completions", {
      method: "OPTIONS",
      headers: { origin: "http://x", "access-control-request-method": "POST" },
    });
    assert.equal(preflight.status, 204);
    const rows = (await activity()).reverse();
    assert.deepEqual(rows.map((row) => [row.model, row.path, row.status]), [
      ["", "/upstream/*", 404],
      ["", "/upstream/*", 404],
      ["alpha", "/upstream/*", 400],
      ["", "/upstream/*", 414],
    ]);
  });

  test("the depth bound is checked before parsing: a body just within it is accepted", async () => {
    const { post, activity } = rig();
    const within = `{"x":${"[".repeat(MAX_JSON_DEPTH - 1)}${"]".repeat(MAX_JSON_DEPTH - 1)}}`;
    // Past the bound checks: the model is unknown, so the request ends at name resolution.
    const answer = await post("/v1/chat/completions", within.replace("{", '{"model":"nope",'), KEY);
    assert.equal(answer.status, 404);
    assert.equal((await activity())[0].status, 404);
  });
});
