/**
 * Logs, events, metrics, activity and per-model log files of a real router
 * process with demo upstreams, seen the way a user (or Prometheus, or the
 * dashboard) sees them over HTTP.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, eventually, postJson, type RouterProcess, startRouter } from "../e2e/harness.ts";
import { RawGet } from "./raw-http.ts";
import { parseExposition, promtoolCheck, promtoolMissing, sampleValue } from "./exposition.ts";
import { SseReader } from "./sse.ts";

/** Reads a text stream until `pattern` matches; returns everything read. */
async function readUntil(stream: ReadableStream<Uint8Array>, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => void reader.cancel(), timeoutMs);
  try {
    while (!pattern.test(text)) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`stream ended (or timed out) before ${pattern}; got:\n${text}`);
      text += decoder.decode(value, { stream: true });
    }
    return text;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => {});
  }
}

describe("observability over HTTP", () => {
  let router: RouterProcess;
  let logDir: string;

  before(async () => {
    logDir = mkdtempSync(join(tmpdir(), "modelswap-logdir-"));
    router = await startRouter(`
logDir: ${join(logDir, "models")}
logToStdout: both
metricsMaxInMemory: 50
models:
  alpha:
    cmd: ${demoCmd("--model alpha --token-ms 10")}
    aliases: [a]
  org/beta:
    cmd: ${demoCmd("--model beta --token-ms 1")}
  broken:
    cmd: ${demoCmd("--exit-at-start 3")}
`);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
    rmSync(logDir, { recursive: true, force: true });
  });

  test("/api/events?format=modelswap: a snapshot, then a load's swap (with the planner's reason), state changes and log lines", async () => {
    const response = await fetch(`${router.url}/api/events?format=modelswap`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
    assert.equal(response.headers.get("x-accel-buffering"), "no");
    const events = new SseReader(response.body!);
    try {
      const snapshot = await events.next();
      assert.equal(snapshot.event, "snapshot");
      assert.deepEqual(snapshot.data.models.map((m: { model: string; state: string }) => [m.model, m.state]), [
        ["alpha", "stopped"],
        ["broken", "stopped"],
        ["org/beta", "stopped"],
      ]);
      const load = await fetch(`${router.url}/api/models/load/org/beta`, { method: "POST" });
      assert.equal(load.status, 200, await load.clone().text());
      assert.deepEqual(await load.json(), { msg: "ok", model: "org/beta" });
      const { before } = await events.until((m) => m.event === "state" && m.data.model === "org/beta" && m.data.to === "ready");
      const swap = before.find((m) => m.event === "swap");
      assert.equal(swap?.data.phase, "started");
      assert.equal(swap?.data.target, "org/beta");
      assert.match(swap?.data.reason, /\S/, "the planner says why");
      assert.ok(before.some((m) => m.event === "state" && m.data.to === "starting"));
      assert.ok(before.some((m) => m.event === "models" && m.data.find((v: { model: string }) => v.model === "org/beta").state === "starting"));
      const header = before.find((m) => m.event === "log" && m.data.source === "org/beta");
      assert.match(header?.data.text, /^\[modelswap\] org\/beta started \d{4}-\d\d-\d\dT\S+ pid \d+ port \d+: .*demo-upstream/);
      assert.ok(before.some((m) => m.event === "log" && m.data.source === "proxy" && /org\/beta: loading/.test(m.data.text)));
    } finally {
      await events.close();
    }
  });

  test("/api/models/load: unknown models are 404, a model that cannot start says why", async () => {
    const unknown = await fetch(`${router.url}/api/models/load/nope`, { method: "POST" });
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error.message, /"nope" is not configured/);
    const broken = await fetch(`${router.url}/api/models/load/broken`, { method: "POST" });
    assert.equal(broken.status, 502);
    assert.match((await broken.json()).error.message, /"broken" failed to start: exited with code 3/);
  });

  test("/logs is text for clients and the dashboard for browsers; streams serve each source, history first", async () => {
    await (await postJson(`${router.url}/v1/chat/completions`, chat("a"))).body?.cancel();
    const plain = await fetch(`${router.url}/logs`);
    assert.match(plain.headers.get("content-type") ?? "", /^text\/plain/);
    const text = await plain.text();
    assert.match(text, /listening on/, "the router's own lines");
    assert.match(text, /demo-upstream pid=\d+ port=\d+ model=alpha/, "logToStdout both: model output too");
    const browser = await fetch(`${router.url}/logs`, { headers: { accept: "text/html" }, redirect: "manual" });
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.get("location"), "/ui/");

    const sources: Array<[string, RegExp]> = [
      ["/logs/stream", /listening on/],
      ["/logs/stream/proxy", /alpha: loading/],
      ["/logs/stream/upstream", /model=alpha/],
      ["/logs/stream/alpha", /model=alpha/],
      ["/logs/stream/a", /model=alpha/],
      ["/logs/stream/org/beta", /model=beta/],
    ];
    for (const [path, pattern] of sources) {
      const response = await fetch(router.url + path);
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get("x-accel-buffering"), "no");
      await readUntil(response.body!, pattern);
    }
    const unknown = await fetch(`${router.url}/logs/stream/nope`);
    assert.equal(unknown.status, 400);
    assert.match((await unknown.json()).error.message, /no log named "nope".*'proxy', 'upstream' or a model's id/);
  });

  test("?no-history streams only what is logged from then on", async () => {
    const stream = await RawGet.open(router.url, "/logs/stream/proxy?no-history");
    try {
      await stream.waitFor(/^HTTP\/1\.1 200/); // the handler has run: the stream is subscribed
      await fetch(`${router.url}/api/models/unload/alpha`, { method: "POST" });
      await stream.waitFor(/alpha: stopping pid/);
      assert.doesNotMatch(stream.text, /listening on/, "no history");
    } finally {
      stream.close();
    }
  });

  test("/metrics counts requests, tokens, swaps and state, and promtool accepts it", { skip: promtoolMissing() }, async () => {
    const streamed = await postJson(`${router.url}/v1/chat/completions`, chat("alpha", { stream: true, stream_options: { include_usage: true } }));
    await streamed.text();
    const plain = await postJson(`${router.url}/v1/chat/completions`, chat("alpha", { max_tokens: 3 }));
    const usage = (await plain.json()).usage;
    const response = await fetch(`${router.url}/metrics`);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const samples = parseExposition(text);
    assert.ok((sampleValue(samples, "modelswap_requests_total", { model: "alpha", route: "/v1/chat/completions", status: "200" }) ?? 0) >= 2);
    const activity = (await (await fetch(`${router.url}/api/activity?model=alpha`)).json()).data as { completionTokens: number | null }[];
    const generated = activity.reduce((sum, r) => sum + (r.completionTokens ?? 0), 0);
    assert.equal(sampleValue(samples, "modelswap_completion_tokens_total", { model: "alpha" }), generated, "tokens counted for streams and plain answers alike");
    assert.equal(activity[0].completionTokens, usage.completion_tokens);
    assert.equal(sampleValue(samples, "modelswap_model_state", { model: "alpha", state: "ready" }), 1);
    assert.ok((sampleValue(samples, "modelswap_swaps_total", { model: "alpha", result: "ok" }) ?? 0) >= 1);
    assert.ok((sampleValue(samples, "modelswap_swaps_total", { model: "broken", result: "error" }) ?? 0) >= 1);
    assert.ok((sampleValue(samples, "modelswap_generation_tokens_per_second_count", { model: "alpha" }) ?? 0) >= 2);
    const check = await promtoolCheck(text);
    assert.equal(check.code, 0, `promtool: ${check.output}\n${text}`);
    assert.equal(check.output.trim(), "");
  });

  test("/api/activity lists recent requests newest first, with queue wait, tokens and speed", async () => {
    await (await postJson(`${router.url}/v1/chat/completions`, chat("org/beta", { stream: true }))).text();
    const body = await (await fetch(`${router.url}/api/activity?limit=1`)).json();
    assert.equal(body.data.length, 1);
    const [latest] = body.data;
    assert.equal(latest.model, "org/beta");
    assert.equal(latest.path, "/v1/chat/completions");
    assert.equal(latest.stream, true);
    assert.equal(latest.status, 200);
    assert.ok(latest.durationMs >= latest.queueWaitMs && latest.queueWaitMs >= 0);
    assert.ok(latest.completionTokens > 0 && latest.promptTokens > 0);
    assert.ok(latest.tokensPerSecond > 0, "llama-server-style timings give the speed");
    const bad = await fetch(`${router.url}/api/activity?limit=0`);
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error.message, /limit must be a whole number >= 1/);
  });

  test("logDir: each spawn writes a header (time, pid, port, argv) and each exit its reason", async () => {
    await fetch(`${router.url}/api/models/unload`, { method: "POST" });
    const path = join(logDir, "models", "alpha.log");
    const text = await eventually(() => {
      try {
        const content = readFileSync(path, "utf8");
        return /\] alpha pid \d+ (exited|killed)/.test(content) && content;
      } catch {
        return false;
      }
    }, 10_000, `${path} with a spawn and its exit`);
    const lines = text.split("\n");
    const header = lines.findIndex((line) => /^\[modelswap\] alpha started \d{4}-\d\d-\d\dT[\d:.]+Z pid \d+ port \d+: \S+.*demo-upstream --port \d+ --model alpha/.test(line));
    assert.ok(header >= 0, text);
    const pid = /pid (\d+)/.exec(lines[header])![1];
    const exit = lines.findIndex((line) => line.startsWith(`[modelswap] alpha pid ${pid} `));
    assert.ok(exit > header, `the exit of pid ${pid} follows its header:\n${text}`);
    assert.match(lines[exit], /exited with code \d+|killed by signal/);
    assert.ok(lines.slice(header + 1, exit).some((line) => /demo-upstream pid=\d+/.test(line)), "the model's own output sits between them");
    assert.match(readFileSync(join(logDir, "models", "org_beta.log"), "utf8"), /\[modelswap\] org\/beta started/, "ids with / get a flat file name");
  });
});
