/**
 * llama-swap's `/api/metrics/activity` query and `/api/metrics/stats`,
 * evaluated the same way over the in-memory ring and the SQLite store:
 * filters, sort keys, pages, the 400s, and the tokens/s histograms.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ModelswapError } from "../../src/errors.ts";
import { ActivityLog, type ActivityStore } from "../../src/observability/activity.ts";
import { parseActivityQuery, SORT_KEYS } from "../../src/observability/activity-query.ts";
import type { ActivityInput } from "../../src/observability/activity-record.ts";
import { histogram } from "../../src/observability/activity-stats.ts";
import { UsageScanner } from "../../src/observability/usage.ts";
import { openStore } from "../../src/store/open.ts";
import type { SqliteStore } from "../../src/store/sqlite-store.ts";
import { runtime } from "../helpers/process.ts";

const dir = mkdtempSync(join(tmpdir(), "modelswap-query-"));
const stores: SqliteStore[] = [];
after(() => {
  for (const store of stores) store.close();
  rmSync(dir, { recursive: true, force: true });
});

const BASE = Date.parse("2025-03-01T10:00:00Z");

/** Twelve requests over three models, minutes apart, with varied statuses and figures. */
function inputs(): ActivityInput[] {
  return Array.from({ length: 12 }, (_, i): ActivityInput => ({
    time: new Date(BASE + i * 60_000).toISOString(),
    model: ["alpha", "beta", "gamma"][i % 3],
    path: i % 4 === 0 ? "/v1/embeddings" : "/v1/chat/completions",
    method: "POST",
    stream: i % 2 === 0,
    status: i === 5 ? 502 : i === 7 ? 404 : 200,
    contentType: i % 2 === 0 ? "text/event-stream" : "application/json",
    durationMs: 1000 - i * 10,
    queueWaitMs: i,
    promptTokens: i === 7 ? null : 10 + i,
    completionTokens: i === 7 ? null : 100 - i,
    cacheTokens: i % 3 === 0 ? i : null,
    draftTokens: i === 4 ? 40 : null,
    draftAcceptedTokens: i === 4 ? 30 : null,
    tokensPerSecond: i === 7 ? null : 20 + i,
    promptTokensPerSecond: i % 2 === 0 ? 500 + i : null,
    bytes: 100 * i,
    error: i === 5 ? "model failed to start" : null,
  }));
}

async function filled(kind: "ring" | "sqlite"): Promise<ActivityStore> {
  let store: ActivityStore;
  if (kind === "ring") {
    store = new ActivityLog(() => 1000);
  } else {
    const sqlite = (await openStore(runtime, join(dir, `${stores.length}.db`), () => {}))!;
    stores.push(sqlite);
    store = sqlite.activity;
  }
  for (const input of inputs()) store.add(input);
  return store;
}

const q = (text: string) => parseActivityQuery(new URLSearchParams(text));

describe("the activity query", () => {
  test("bad parameters are 400s naming them (llama-swap's rules: limit 1-999, page >= 1, known sort keys, RFC 3339)", () => {
    const cases: Array<[string, RegExp]> = [
      ["limit=0", /limit must be a whole number >= 1/],
      ["limit=1000", /limit must be between 1 and 999/],
      ["limit=abc", /limit must be a whole number/],
      ["page=0", /page must be a whole number >= 1/],
      ["sort=bogus", /invalid sort column "bogus": use one of id, time/],
      ["order=up", /order must be asc or desc/],
      ["start=yesterday", /invalid 'start' timestamp "yesterday": use RFC 3339/],
      ["end=2025-01-01", /invalid 'end' timestamp/],
      ["start=2025-02-01T00:00:00Z&end=2025-01-01T00:00:00Z", /start must be before end/],
      ["min_id=5&max_id=2", /min_id must be <= max_id/],
      ["min_id=-1", /min_id must be a whole number >= 1/],
      ["status=ok", /status must be an HTTP status \(200\) or a class \(4xx\)/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => q(text), (error: unknown) => {
        assert.ok(error instanceof ModelswapError, text);
        assert.equal(error.status, 400, text);
        assert.equal(error.code, "invalid_query");
        assert.match(error.message, message, text);
        return true;
      });
    }
    assert.deepEqual(q(""), { models: [], statuses: [], startMs: null, endMs: null, minId: null, maxId: null, sort: "id", order: "desc", limit: 25, page: 1 });
  });

  for (const kind of ["ring", "sqlite"] as const) {
    describe(kind === "ring" ? "over the in-memory ring" : "over the SQLite store", () => {
      test("newest first by default, paginated; total counts every match", async () => {
        const store = await filled(kind);
        const first = store.query(q("limit=5"));
        assert.equal(first.total, 12);
        assert.deepEqual(first.records.map((r) => r.id), [12, 11, 10, 9, 8]);
        assert.deepEqual(store.query(q("limit=5&page=3")).records.map((r) => r.id), [2, 1]);
        assert.deepEqual(store.query(q("limit=5&page=4")).records, []);
      });

      test("filters: repeated model, status codes and classes, time and id ranges, all ANDed", async () => {
        const store = await filled(kind);
        const ids = (text: string) => store.query(q(`limit=999&order=asc&${text}`)).records.map((r) => r.id);
        assert.deepEqual(ids("model=alpha"), [1, 4, 7, 10]);
        assert.deepEqual(ids("model=alpha&model=gamma"), [1, 3, 4, 6, 7, 9, 10, 12]);
        assert.deepEqual(ids("status=502"), [6]);
        assert.deepEqual(ids("status=4xx&status=5xx"), [6, 8]);
        assert.deepEqual(ids("status=2xx&model=beta"), [2, 5, 11]);
        assert.deepEqual(ids(`start=${new Date(BASE + 10 * 60_000).toISOString()}`), [11, 12]);
        assert.deepEqual(ids(`end=${new Date(BASE + 60_000).toISOString()}`), [1, 2]);
        assert.deepEqual(ids("start=2025-03-01T11:03:00%2B01:00&end=2025-03-01T10:04:30Z"), [4, 5]);
        assert.deepEqual(ids("min_id=3&max_id=5"), [3, 4, 5]);
      });

      test("every sort key orders as llama-swap's store does (unreported figures as -1, ties by id)", async () => {
        const store = await filled(kind);
        const order = (key: string, dir = "asc") => store.query(q(`limit=999&sort=${key}&order=${dir}`)).records.map((r) => r.id);
        assert.deepEqual(order("duration"), [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert.deepEqual(order("time", "desc"), [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert.deepEqual(order("model").slice(0, 4), [1, 4, 7, 10]);
        assert.deepEqual(order("resp_status_code", "desc").slice(0, 2), [6, 8]);
        assert.deepEqual(order("prompt").slice(0, 2), [8, 1], "a request without usage sorts as 0 tokens");
        assert.deepEqual(order("gen_speed").slice(0, 2), [8, 1], "no speed sorts as -1");
        assert.deepEqual(order("drafted", "desc")[0], 5);
        assert.deepEqual(order("cached", "desc").slice(0, 4), [10, 7, 4, 1]);
        assert.deepEqual(order("req_path").slice(0, 3), [2, 3, 4]);
        assert.deepEqual(order("resp_content_type").slice(0, 2), [2, 4]);
        for (const key of SORT_KEYS) assert.equal(order(key).length, 12, key);
      });

      test("stats: totals over reported figures and speed histograms, for all or one model", async () => {
        const store = await filled(kind);
        const all = store.stats(null);
        assert.equal(all.total_requests, 12);
        const reported = inputs().filter((input) => input.promptTokens !== null);
        assert.equal(all.total_input_tokens, reported.reduce((sum, input) => sum + input.promptTokens!, 0));
        assert.equal(all.total_output_tokens, reported.reduce((sum, input) => sum + input.completionTokens!, 0));
        assert.equal(all.total_cache_tokens, 0 + 3 + 6 + 9);
        assert.equal(all.gen_histogram!.bins.reduce((a, b) => a + b, 0), 11, "the request without a speed is left out");
        assert.equal(all.gen_histogram!.min, 20);
        assert.equal(all.gen_histogram!.max, 31);
        assert.equal(all.prompt_histogram!.bins.reduce((a, b) => a + b, 0), 6);
        const beta = store.stats("beta");
        assert.equal(beta.total_requests, 4);
        assert.equal(store.stats("nobody").prompt_histogram, null);
      });

      test("a recorded row reads back as it was added", async () => {
        const store = await filled(kind);
        const [row] = store.query(q("min_id=5&max_id=5")).records;
        assert.deepEqual({ ...row, id: undefined }, { ...inputs()[4], id: undefined });
        const [failed] = store.query(q("min_id=8&max_id=8")).records;
        assert.equal(failed.promptTokens, null);
        assert.equal(failed.tokensPerSecond, null);
      });
    });
  }
});

describe("histograms and token facts", () => {
  test("llama-swap's histogram: Sturges bins (5 to 20), interpolated percentiles, one bin when all are equal", () => {
    assert.equal(histogram([]), null);
    assert.deepEqual(histogram([7, 7, 7]), { bins: [3], min: 7, max: 7, binSize: 0, p50: 7, p95: 7, p99: 7 });
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    const h = histogram(values)!;
    assert.equal(h.bins.length, 8);
    assert.equal(h.bins.reduce((a, b) => a + b, 0), 100);
    assert.equal(h.p50, 50.5);
    assert.ok(Math.abs(h.p95 - 95.05) < 1e-9);
    assert.equal(histogram(Array.from({ length: (1 << 20) + 1 }, (_, i) => i % 1000))!.bins.length, 20);
  });

  test("the usage scanner reads cache and draft counts: llama-server's timings first, else usage's cached tokens", () => {
    const scan = (text: string) => {
      const scanner = new UsageScanner();
      const bytes = new TextEncoder().encode(text);
      for (let i = 0; i < bytes.length; i += 5) scanner.push(bytes.subarray(i, i + 5));
      return scanner.finish();
    };
    const timings = { prompt_n: 4, predicted_n: 9, cache_n: 120, draft_n: 16, draft_n_accepted: 11, predicted_per_second: 50 };
    const stream = `data: ${JSON.stringify({ choices: [], timings })}\n\ndata: ${JSON.stringify({ usage: { prompt_tokens: 124, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 100 } } })}\n\n`;
    const fromStream = scan(stream);
    assert.equal(fromStream.cacheTokens, 120, "timings.cache_n wins over usage's cached_tokens");
    assert.equal(fromStream.draftTokens, 16);
    assert.equal(fromStream.draftAcceptedTokens, 11);
    assert.equal(fromStream.promptTokens, 124);
    const openai = scan(JSON.stringify({ usage: { prompt_tokens: 50, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 32 } } }));
    assert.equal(openai.cacheTokens, 32);
    assert.equal(openai.draftTokens, undefined, "no draft figures: nothing made up");
    const anthropic = scan(JSON.stringify({ usage: { input_tokens: 10, output_tokens: 2, cache_read_input_tokens: 7 } }));
    assert.equal(anthropic.cacheTokens, 7);
    const half = scan(JSON.stringify({ timings: { draft_n: 3 } }));
    assert.equal(half.draftTokens, undefined, "a draft count without its accepted count is not used");
  });
});
