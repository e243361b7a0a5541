/**
 * Hostile request shapes (issue 15, items 2, 3 and 9) and the router they
 * are sent to: a model whose filters rewrite every JSON body (its upstream
 * is the demo's `/echo`, so a test sees what arrived), and a second model
 * the well-behaved neighbour chats with while the attack runs.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { demoCmd, postJson, type RouterProcess } from "../e2e/harness.ts";
import { MAX_JSON_DEPTH } from "../../src/http/bounds.ts";
import { parseExposition, sampleValue } from "../observability/exposition.ts";
import { describeReport, startNeighbour } from "./neighbour.ts";

/** The model with filters (answers with the request it received). */
export const ECHO = "echo";
/** The neighbour's model. */
export const OTHER = "other";

/** The config: `echo` (setParams on, upstream `/echo`, room for 64 requests at once) and `other`, both kept loaded. */
export const CONFIG = `
models:
  ${ECHO}:
    cmd: ${demoCmd()}
    proxy: http://127.0.0.1:\${PORT}/echo
    concurrencyLimit: 64
    filters:
      setParams:
        temperature: 0.2
        chat_template_kwargs.enable_thinking: false
  ${OTHER}:
    cmd: ${demoCmd()}
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [${ECHO}, ${OTHER}] }
`;

/**
 * The router's environment: a private runtime directory of its own for the
 * spawn records (the router refuses a shared one).
 */
export function routerEnv(): Record<string, string> {
  return { XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), "modelswap-run-")) };
}

/** Generous bounds for a shared, noisy 2-core machine: an attack that blocks the loop takes seconds per request. */
export const BOUNDS = { healthMs: 2_000, chatMs: 3_000, rssMiB: 600, fds: 300, refusalMs: 5_000 };


/** One answer of an attack: status, body text and how long it took. */
export interface Answer {
  status: number;
  text: string;
  ms: number;
}

/** Send `count` requests at once and wait for every answer. */
export function inParallel(count: number, send: () => Promise<Response>): Promise<Answer[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const started = performance.now();
    const response = await send();
    const text = await response.text();
    return { status: response.status, text, ms: performance.now() - started };
  }));
}

/** Load both models, so the neighbour's chats never wait for a start. */
export async function warmUp(router: RouterProcess): Promise<void> {
  for (const model of [ECHO, OTHER]) {
    const response = await postJson(`${router.url}/v1/chat/completions`, { model, messages: [{ role: "user", content: "hi" }], max_tokens: 1 });
    assert.equal(response.status, 200, await response.text());
  }
}

/**
 * Run `attack` while the neighbour asks `/health` and chats with `other`;
 * assert the neighbour was answered quickly and without failures, and the
 * router stayed within its memory and file bounds. Returns the attack's result.
 */
export async function whileNeighbourWatches<T>(router: RouterProcess, attack: () => Promise<T>): Promise<T> {
  const neighbour = startNeighbour(router.url, OTHER, router.proc.pid);
  let result: T;
  try {
    result = await attack();
  } finally {
    const report = await neighbour.stop();
    const summary = describeReport(report);
    assert.ok(report.rounds >= 1, summary);
    assert.deepEqual(report.failures, [], summary);
    assert.ok(report.healthMaxMs < BOUNDS.healthMs, summary);
    assert.ok(report.chatMaxMs < BOUNDS.chatMs, summary);
    assert.ok(report.rssMaxMiB < BOUNDS.rssMiB, summary);
    assert.ok(report.fdsMax < BOUNDS.fds, summary);
  }
  return result;
}

/** `modelswap_requests_total` for these labels (0 when absent). */
export async function requestCount(router: RouterProcess, labels: Record<string, string>): Promise<number> {
  const samples = parseExposition(await (await fetch(`${router.url}/metrics`)).text());
  return sampleValue(samples, "modelswap_requests_total", labels) ?? 0;
}

/** One row of `/api/activity`. */
export interface ActivityRow {
  model: string;
  path: string;
  status: number;
  error: string | null;
}

/** The newest `limit` rows of `/api/activity`. */
export async function recentActivity(router: RouterProcess, limit: number): Promise<ActivityRow[]> {
  return (await (await fetch(`${router.url}/api/activity?limit=${limit}`)).json()).data;
}

/**
 * Item 2: three bursts of 40 bodies nested 100,000 deep to the model with
 * setParams, while the neighbour watches. Each is a 400 naming the limit,
 * answered at once, and counted in /metrics and /api/activity.
 */
export async function deepJsonAttack(router: RouterProcess): Promise<void> {
  const labels = { model: "", route: "/v1/chat/completions", status: "400" };
  const before = await requestCount(router, labels);
  const body = `{"model":"${ECHO}","messages":[],"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
  const send = () => fetch(`${router.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const answers = await whileNeighbourWatches(router, async () => {
    const all: Answer[] = [];
    for (let burst = 0; burst < 3; burst++) all.push(...await inParallel(40, send));
    return all;
  });
  for (const answer of answers) {
    assert.equal(answer.status, 400, answer.text);
    const error = JSON.parse(answer.text).error;
    assert.equal(error.code, "json_too_deep");
    assert.match(error.message, new RegExp(`more than ${MAX_JSON_DEPTH} levels deep; modelswap accepts at most ${MAX_JSON_DEPTH}`));
    assert.ok(answer.ms < BOUNDS.refusalMs, `a refusal took ${answer.ms.toFixed(0)} ms`);
  }
  assert.equal(await requestCount(router, labels) - before, answers.length, "every refusal is counted in /metrics");
  const rows = await recentActivity(router, 1_000);
  assert.equal(rows.filter((row) => row.status === 400 && row.model === "" && /levels deep/.test(row.error ?? "")).length, answers.length);
}
