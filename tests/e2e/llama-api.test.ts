/**
 * The APIs tools written for llama-swap call, on a real router with demo
 * upstreams, read the way those tools read them: `/api/events` in
 * llama-swap's format (parsed as its UI does) beside modelswap's,
 * `/api/version`, `/api/metrics/activity` and `/api/metrics/stats`,
 * captures with every secret masked and within `captureBuffer`, cancelling
 * a request in flight (streaming or still waiting for its model),
 * `/api/performance` (and `performance.disabled`), and `/favicon.ico`
 * without a key.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SseReader } from "../observability/sse.ts";
import { chat, demoCmd, eventually, postJson, type RouterProcess, startRouter } from "./harness.ts";

const KEY = "sk-router-key-0123456789";
const SECRET = "sk-upstream-secret-abcdef123456";
const AUTH = { authorization: `Bearer ${KEY}` };
/** A reply of 2,000 short words: its stream (~400 KB of SSE) is longer than a capture's share of 1 MB. */
const LONG_REPLY = Array.from({ length: 2000 }, (_, i) => `w${i % 10}`).join(" ");

interface LlamaEnvelope {
  type: string;
  data: unknown;
}

/** What llama-swap's UI does with each message: the envelope, then its `data` string parsed again. */
function parseLikeLlamaSwapUI(message: { event: string; data: { type: unknown; data: unknown } }): LlamaEnvelope {
  assert.equal(message.event, "message", "EventSource.onmessage only sees `message` events");
  assert.equal(typeof message.data.type, "string");
  assert.equal(typeof message.data.data, "string", `the ${message.data.type} payload is a JSON string`);
  return { type: message.data.type as string, data: JSON.parse(message.data.data as string) };
}

async function llamaEvents(router: RouterProcess) {
  const response = await fetch(`${router.url}/api/events`, { headers: AUTH });
  assert.equal(response.status, 200);
  const reader = new SseReader(response.body!);
  return {
    reader,
    next: async () => parseLikeLlamaSwapUI(await reader.next()),
    until: async (match: (m: LlamaEnvelope) => boolean) => {
      for (;;) {
        const message = parseLikeLlamaSwapUI(await reader.next());
        if (match(message)) return message;
      }
    },
  };
}

// deno-lint-ignore no-explicit-any
async function getJson(router: RouterProcess, path: string): Promise<any> {
  const response = await fetch(router.url + path, { headers: AUTH });
  assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
  return await response.json();
}

interface StatusModel {
  model: string;
  inFlight: number;
  queued: number;
}

async function assertIdle(router: RouterProcess): Promise<void> {
  await eventually(async () => {
    const { models } = await getJson(router, "/api/status") as { models: StatusModel[] };
    return models.every((m) => m.inFlight === 0 && m.queued === 0);
  }, 5000, "inFlight and queued back to zero in /api/status");
}

describe("llama-swap's APIs", () => {
  let router: RouterProcess;
  const dir = mkdtempSync(join(tmpdir(), "modelswap-llama-api-"));
  const disconnects = join(dir, "disconnects.log");

  before(async () => {
    router = await startRouter(
      `
apiKeys: ["\${env.TEST_ROUTER_KEY}"]
captureBuffer: 1
profiles:
  quick:
    pins: { chat: alpha }
models:
  alpha:
    cmd: ${demoCmd(`--model alpha --token-ms 1 --reply "\${env.TEST_UPSTREAM_SECRET} is the upstream's secret"`)}
  beta:
    cmd: ${demoCmd(`--model beta --token-ms 0 --reply "${LONG_REPLY}"`)}
  slow:
    cmd: ${demoCmd(`--token-ms 100 --record-disconnect ${disconnects}`)}
  cold:
    cmd: ${demoCmd("--startup-ms 4000")}
`,
      [],
      { TEST_ROUTER_KEY: KEY, TEST_UPSTREAM_SECRET: SECRET },
    );
  });

  after(async () => {
    await router.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("/favicon.ico answers without a key; everything else still wants one", async () => {
    const icon = await fetch(`${router.url}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.equal(icon.headers.get("content-type"), "image/x-icon");
    const bytes = new Uint8Array(await icon.arrayBuffer());
    assert.deepEqual([...bytes.slice(0, 4)], [0, 0, 1, 0], "an ICO file");
    assert.deepEqual([...bytes.slice(23, 26)], [0x50, 0x4e, 0x47], "holding a PNG");
    assert.equal((await fetch(`${router.url}/api/version`)).status, 401);
  });

  test("/api/version: version (starting with digits, for Ollama clients), commit and build date", async () => {
    const version = await getJson(router, "/api/version");
    assert.deepEqual(Object.keys(version).sort(), ["build_date", "commit", "version"]);
    assert.match(version.version, /^\d+\.\d+\.\d+/);
    assert.equal(version.commit, "source");
    assert.equal(version.build_date, "unknown", "from source there is no build");
  });

  test("/api/performance: the machine's samples in llama-swap's fields, since startup; after= filters them; a bad one is a 400; the gauges on /metrics", async () => {
    const first = await eventually(async () => {
      const body = await getJson(router, "/api/performance");
      return body.sys_stats.length > 0 ? body : null;
    }, 5000, "a first sample");
    assert.equal(first.enabled, true);
    assert.ok(Array.isArray(first.gpu_stats));
    const [stat] = first.sys_stats;
    assert.ok(stat.mem_total_mb > 0 && stat.mem_used_mb > 0 && stat.mem_free_mb > 0, JSON.stringify(stat));
    assert.ok(stat.cpu_util_per_core.length > 0);
    assert.ok(stat.net_io.some((io: { name: string }) => io.name === "lo"));
    const later = await getJson(router, `/api/performance?after=${encodeURIComponent(stat.timestamp)}`);
    assert.ok(later.sys_stats.every((s: { timestamp: string }) => Date.parse(s.timestamp) > Date.parse(stat.timestamp)));
    const metrics = await (await fetch(`${router.url}/metrics`, { headers: AUTH })).text();
    for (const series of [/^llamaswap_cpu_util_percent\{core="0"\} [\d.]+$/m, /^llamaswap_load_average\{interval="15m"\} [\d.]+$/m, /^llamaswap_swap_total_bytes \d+$/m]) {
      assert.match(metrics, series, "llama-swap's system gauges on /metrics");
    }
    assert.match(metrics, /^# TYPE llamaswap_network_bytes_total counter$/m);
    const bad = await fetch(`${router.url}/api/performance?after=yesterday`, { headers: AUTH });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /invalid 'after' timestamp "yesterday": use RFC 3339/);
  });

  test("/api/events in llama-swap's format: the opening state, then modelStatus, logData, inflight, activity and profileChanged", async () => {
    const events = await llamaEvents(router);
    try {
      const opening: LlamaEnvelope[] = [];
      for (let i = 0; i < 6; i++) opening.push(await events.next());
      assert.deepEqual(opening.map((m) => m.type), ["logData", "logData", "modelStatus", "uiConfig", "profileChanged", "inflight"]);
      assert.deepEqual(opening.slice(0, 2).map((m) => (m.data as { source: string }).source), ["proxy", "upstream"]);
      assert.match((opening[0].data as { data: string }).data, /listening on/, "the proxy log's history");
      const models = opening[2].data as Array<{ id: string; state: string; peerID: string; unlisted: boolean; name: string }>;
      assert.deepEqual(models.map((m) => [m.id, m.state, m.peerID]), [["alpha", "stopped", ""], ["beta", "stopped", ""], ["cold", "stopped", ""], ["slow", "stopped", ""]]);
      assert.deepEqual(opening[3].data, { activity: { session_id: ["X-Session-ID", "X-Litellm-Session-Id"] } });
      assert.deepEqual(opening[4].data, { active: null });
      assert.deepEqual(opening[5].data, { operation: "snapshot", requests: [] });

      const answer = await postJson(`${router.url}/v1/chat/completions`, chat("alpha", { max_tokens: 3 }), { headers: { ...AUTH, "x-session-id": "s-1" } });
      assert.equal(answer.status, 200);
      await answer.arrayBuffer();
      const upsert = await events.until((m) => m.type === "inflight" && (m.data as { operation: string }).operation === "upsert");
      const entry = (upsert.data as { request: Record<string, unknown> }).request;
      assert.equal(entry.model, "alpha");
      assert.equal(entry.req_path, "/v1/chat/completions");
      assert.equal(entry.method, "POST");
      assert.equal((entry.req_headers as Record<string, string>).authorization, "[REDACTED]");
      assert.equal((entry.req_headers as Record<string, string>)["x-session-id"], "s-1");
      assert.match(entry.timestamp as string, /^\d{4}-\d\d-\d\dT/);
      const started = await events.until((m) => m.type === "logData" && (m.data as { source: string }).source === "upstream");
      assert.match((started.data as { data: string }).data, /alpha started .* demo-upstream .*--reply \*\*\* is/, "model output, secrets masked");
      await events.until((m) => m.type === "modelStatus" && (m.data as Array<{ id: string; state: string }>).some((x) => x.id === "alpha" && x.state === "ready"));
      const activity = await events.until((m) => m.type === "activity");
      // As llama-swap: the request is recorded, then it leaves the in-flight list.
      const removed = await events.next();
      assert.deepEqual(removed, { type: "inflight", data: { operation: "remove", id: entry.id } });
      const row = activity.data as Record<string, unknown>;
      assert.equal(row.model, "alpha");
      assert.equal(row.resp_status_code, 200);
      assert.equal(typeof row.id, "number");
      assert.equal(row.has_capture, true);

      const switched = await fetch(`${router.url}/api/profiles/active`, { method: "PUT", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify({ name: "quick" }) });
      assert.equal(switched.status, 200);
      const profile = await events.until((m) => m.type === "profileChanged");
      assert.deepEqual(profile.data, { active: "quick" });
      assert.equal((await events.next()).type, "modelStatus", "then the models, as llama-swap sends them");
      await fetch(`${router.url}/api/profiles/active`, { method: "PUT", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify({ name: null }) });
    } finally {
      await events.reader.close();
    }
  });

  test("/api/events?format=modelswap keeps modelswap's richer events; an unknown format is a 400", async () => {
    const response = await fetch(`${router.url}/api/events?format=modelswap&logs=0`, { headers: AUTH });
    const reader = new SseReader(response.body!);
    try {
      const snapshot = await reader.next();
      assert.equal(snapshot.event, "snapshot");
      assert.ok(Array.isArray(snapshot.data.models) && Array.isArray(snapshot.data.activity));
      await (await postJson(`${router.url}/v1/chat/completions`, chat("alpha", { max_tokens: 2 }), { headers: AUTH })).arrayBuffer();
      const { found } = await reader.until((m) => m.event === "activity");
      assert.equal(found.data.model, "alpha");
      assert.equal(found.data.contentType, "application/json");
    } finally {
      await reader.close();
    }
    const bad = await fetch(`${router.url}/api/events?format=ollama`, { headers: AUTH });
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /unknown event format "ollama": use llama-swap \(the default\) or modelswap/);
  });

  test("/api/metrics/activity: llama-swap's rows, paginated, filtered and sorted (prompt cache counted); bad parameters are 400s; /api/metrics/stats", async () => {
    const start = new Date().toISOString();
    for (let i = 0; i < 3; i++) {
      // The same prompt twice: the second is answered from the demo's prompt cache (llama-server's timings.cache_n).
      const body = { model: "alpha", max_tokens: 2, stream: i === 2, messages: [{ role: "user", content: "tell me a story about routers and models" }] };
      const response = await postJson(`${router.url}/v1/chat/completions`, body, { headers: AUTH });
      await response.arrayBuffer();
    }
    await (await postJson(`${router.url}/v1/chat/completions`, chat("nope"), { headers: AUTH })).arrayBuffer();
    const page = await getJson(router, `/api/metrics/activity?model=alpha&limit=2&start=${encodeURIComponent(start)}`);
    assert.deepEqual(Object.keys(page).sort(), ["data", "limit", "page", "total", "total_pages"]);
    assert.equal(page.total, 3);
    assert.equal(page.total_pages, 2);
    assert.equal(page.data.length, 2);
    const [newest, older] = page.data;
    assert.ok(newest.id > older.id, "newest first");
    assert.deepEqual(Object.keys(newest).sort(), ["duration_ms", "has_capture", "id", "model", "req_path", "resp_content_type", "resp_status_code", "timestamp", "tokens"]);
    assert.deepEqual(Object.keys(newest.tokens).sort(), ["cache_tokens", "draft_acc_tokens", "draft_tokens", "input_tokens", "output_tokens", "prompt_per_second", "tokens_per_second"]);
    assert.equal(newest.resp_content_type.split(";")[0], "text/event-stream");
    assert.ok(newest.tokens.cache_tokens > 0, `the repeated prompt was served from the cache: ${JSON.stringify(newest.tokens)}`);
    assert.equal(newest.tokens.draft_tokens, -1, "no draft model: -1, as llama-swap");
    assert.ok(newest.tokens.tokens_per_second > 0 && newest.tokens.input_tokens > 0 && newest.tokens.output_tokens === 2);
    const second = await getJson(router, `/api/metrics/activity?model=alpha&limit=2&page=2&start=${encodeURIComponent(start)}`);
    assert.equal(second.data.length, 1);

    const failed = await getJson(router, `/api/metrics/activity?status=4xx&start=${encodeURIComponent(start)}`);
    assert.equal(failed.total, 1);
    assert.equal(failed.data[0].resp_status_code, 404);
    assert.match(failed.data[0].error_msg, /"nope" is not configured/);
    const byDuration = await getJson(router, "/api/metrics/activity?sort=duration&order=asc&limit=999");
    const durations = byDuration.data.map((r: { duration_ms: number }) => r.duration_ms);
    assert.deepEqual(durations, [...durations].sort((a: number, b: number) => a - b));

    for (const [query, message] of [["limit=1000", /limit must be between 1 and 999/], ["sort=nope", /invalid sort column/], ["start=monday", /RFC 3339/], ["page=0", /page must be/]] as const) {
      const response = await fetch(`${router.url}/api/metrics/activity?${query}`, { headers: AUTH });
      assert.equal(response.status, 400, query);
      const body = await response.json();
      assert.equal(body.error.code, "invalid_query");
      assert.match(body.error.message, message);
    }

    const stats = await getJson(router, "/api/metrics/stats?model=alpha");
    assert.ok(stats.total_requests >= 3);
    assert.ok(stats.total_input_tokens > 0 && stats.total_output_tokens > 0 && stats.total_cache_tokens > 0);
    for (const histogram of [stats.gen_histogram, stats.prompt_histogram]) {
      assert.deepEqual(Object.keys(histogram).sort(), ["binSize", "bins", "max", "min", "p50", "p95", "p99"]);
      assert.ok(histogram.p50 <= histogram.p95 && histogram.p95 <= histogram.p99 && histogram.p99 <= histogram.max);
    }
    assert.equal((await getJson(router, "/api/metrics/stats?model=nobody")).gen_histogram, null);
    const legacy = await getJson(router, "/api/activity?limit=1");
    assert.deepEqual(Object.keys(legacy), ["data"], "/api/activity keeps modelswap's shape");
    assert.ok("queueWaitMs" in legacy.data[0] && "promptTokens" in legacy.data[0]);
  });

  test("captures: headers and bodies of recent requests, every secret masked, within captureBuffer", async () => {
    const response = await postJson(
      `${router.url}/v1/chat/completions`,
      { model: "alpha", max_tokens: 8, messages: [{ role: "user", content: `please repeat ${SECRET}` }] },
      { headers: { "x-api-key": KEY, cookie: "session=abc" } },
    );
    assert.equal(response.status, 200);
    await response.arrayBuffer();
    const [row] = (await getJson(router, "/api/metrics/activity?model=alpha&limit=1")).data;
    assert.equal(row.has_capture, true);
    const capture = await getJson(router, `/api/captures/${row.id}`);
    assert.deepEqual(Object.keys(capture).sort(), ["id", "req_body", "req_body_truncated", "req_headers", "req_path", "resp_body", "resp_body_truncated", "resp_headers"]);
    assert.equal(capture.id, row.id);
    assert.equal(capture.req_path, "/v1/chat/completions");
    assert.equal(capture.req_headers["x-api-key"], "[REDACTED]");
    assert.equal(capture.req_headers.cookie, "[REDACTED]");
    const requestBody = new TextDecoder().decode(Uint8Array.from(atob(capture.req_body), (c) => c.charCodeAt(0)));
    const responseBody = new TextDecoder().decode(Uint8Array.from(atob(capture.resp_body), (c) => c.charCodeAt(0)));
    assert.match(requestBody, /"please repeat \*\*\*"/, "the ${env.X} value the client sent is masked");
    assert.match(responseBody, /\*\*\* is the upstream's secret/, "and the one the upstream answered");
    assert.ok(!JSON.stringify(capture).includes(SECRET) && !requestBody.includes(SECRET) && !responseBody.includes(SECRET));
    assert.match(capture.resp_headers["content-type"], /application\/json/);

    const missing = await fetch(`${router.url}/api/captures/999999`, { headers: AUTH });
    assert.equal(missing.status, 404);
    assert.equal((await fetch(`${router.url}/api/captures/abc`, { headers: AUTH })).status, 400);

    // Streams longer than a capture's share (a quarter of 1 MB) are cut; the buffer keeps the newest within 1 MB.
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      const stream = await postJson(`${router.url}/v1/chat/completions`, chat("beta", { stream: true }), { headers: AUTH });
      const bytes = (await stream.arrayBuffer()).byteLength;
      assert.ok(bytes > 300 * 1024, `the stream is long (${bytes} bytes)`);
      ids.push((await getJson(router, "/api/metrics/activity?model=beta&limit=1")).data[0].id);
    }
    const newest = await getJson(router, `/api/captures/${ids.at(-1)}`);
    assert.equal(newest.resp_body_truncated, true);
    const kept = atob(newest.req_body).length + atob(newest.resp_body).length;
    assert.ok(kept <= 256 * 1024, `one capture holds at most its share: ${kept}`);
    const rows = (await getJson(router, "/api/metrics/activity?model=beta&limit=6")).data as Array<{ id: number; has_capture: boolean }>;
    const withCapture = rows.filter((r) => r.has_capture).length;
    assert.ok(withCapture >= 3 && withCapture <= 4, `the 1 MB buffer keeps the newest 3-4 of 6 captures, not ${withCapture}`);
    assert.equal((await fetch(`${router.url}/api/captures/${ids[0]}`, { headers: AUTH })).status, 404, "the oldest was dropped");
  });

  test("cancel a streaming request: the client gets a final error event, the upstream sees the disconnect, counters return to zero", async () => {
    const warm = await postJson(`${router.url}/v1/chat/completions`, chat("slow", { max_tokens: 1 }), { headers: AUTH });
    await warm.arrayBuffer();
    const stream = await postJson(`${router.url}/v1/chat/completions`, chat("slow", { stream: true, max_tokens: 100 }), { headers: AUTH });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let text = decoder.decode((await reader.read()).value);
    const { requests } = await getJson(router, "/api/inflight");
    const entry = requests.find((r: { model: string }) => r.model === "slow");
    assert.ok(entry, JSON.stringify(requests));
    assert.equal(entry.stream, true);
    assert.equal(entry.waiting, false);
    assert.equal(entry.cancellable, true);
    assert.equal(entry.req_path, "/v1/chat/completions");
    assert.ok(entry.elapsed_ms >= 0 && entry.resp_bytes >= 0);

    const cancel = await fetch(`${router.url}/api/inflight/${entry.id}/cancel`, { method: "POST", headers: AUTH });
    assert.equal(cancel.status, 200);
    assert.deepEqual(await cancel.json(), { msg: "ok" });
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
    const last = text.trim().split("\n\n").at(-1)!;
    const error = JSON.parse(last.replace(/^data: /, "")).error;
    assert.equal(error.code, "request_cancelled");
    assert.match(error.message, new RegExp(`request ${entry.id} for model "slow" was cancelled`));
    await eventually(() => existsSync(disconnects) && /disconnected/.test(readFileSync(disconnects, "utf8")), 5000, "the upstream saw the disconnect");
    await assertIdle(router);
    const [row] = (await getJson(router, "/api/metrics/activity?model=slow&limit=1")).data;
    assert.equal(row.resp_status_code, 499);
    assert.match(row.error_msg, /was cancelled/);
    const again = await fetch(`${router.url}/api/inflight/${entry.id}/cancel`, { method: "POST", headers: AUTH });
    assert.equal(again.status, 404);
    assert.match((await again.json()).error.message, new RegExp(`no request in flight with id "${entry.id}"`));
  });

  test("cancel a request still waiting for its model: a 499 JSON error, nothing left queued, the model still starts for others", async () => {
    const waiting = postJson(`${router.url}/v1/chat/completions`, chat("cold"), { headers: AUTH });
    const other = postJson(`${router.url}/v1/chat/completions`, chat("cold", { max_tokens: 2 }), { headers: AUTH });
    const entry = await eventually(async () => {
      const { requests } = await getJson(router, "/api/inflight");
      const cold = requests.filter((r: { model: string; waiting: boolean }) => r.model === "cold" && r.waiting);
      return cold.length === 2 ? cold[0] : null;
    }, 5000, "both requests waiting for cold");
    const cancel = await fetch(`${router.url}/api/inflight/${entry.id}/cancel`, { method: "POST", headers: AUTH });
    assert.equal(cancel.status, 200);
    const [first, second] = await Promise.all([waiting, other]);
    const cancelled = first.headers.get("content-type")?.includes("json") && (await first.clone().json()).error?.code === "request_cancelled" ? first : second;
    const served = cancelled === first ? second : first;
    assert.equal(cancelled.status, 499);
    const body = await cancelled.json();
    assert.deepEqual([body.error.code, body.error.model], ["request_cancelled", "cold"]);
    assert.equal(served.status, 200, "the other request is still served");
    await served.arrayBuffer();
    await assertIdle(router);
    assert.equal((await fetch(`${router.url}/api/inflight/nope/cancel`, { method: "POST", headers: AUTH })).status, 404);
  });
});

describe("performance.disabled", () => {
  test("/api/performance answers 503 {enabled: false}, as llama-swap's", async () => {
    const router = await startRouter(`
performance: { disabled: true }
models: { m: { cmd: "${demoCmd("--model m")}" } }
`);
    try {
      const response = await fetch(`${router.url}/api/performance`);
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), { enabled: false });
    } finally {
      await router.stop();
    }
  });
});
