/**
 * Activity and captures kept in a SQLite file (`store.path`), so they
 * survive restarts. Adding never touches the disk: a record gets its id at
 * once and is queued; the queue writes batches in the background (see
 * write-queue.ts), and a reader writes what waits first, so it sees every
 * record. Activity is kept to `store.maxRows` rows and captures to
 * `captureBuffer` MB, the oldest deleted first.
 */
import type { Database, SqlRow, SqlValue } from "../runtime/runtime.ts";
import type { ActivityStore } from "../observability/activity.ts";
import type { ActivityPage, ActivityQuery, SortKey } from "../observability/activity-query.ts";
import { type ActivityInput, type ActivityRecord, completeRecord } from "../observability/activity-record.ts";
import { type ActivityStats, llamaRow } from "../observability/activity-stats.ts";
import type { CaptureStore, KeptCapture } from "../observability/captures.ts";
import type { ObservabilityStore, StoreCounters, StoreLimits } from "../observability/persistence.ts";
import { type RowFigures, StatsIndex } from "./stats-index.ts";
import { WriteQueue } from "./write-queue.ts";

/** What waits to be written. */
type Item =
  | { kind: "activity"; record: ActivityRecord }
  | { kind: "capture"; id: number; capture: KeptCapture }
  | { kind: "uncapture"; id: number };

/** The column each sort key orders by. */
const SORT_COLUMNS: Record<SortKey, string> = {
  id: "id",
  time: "time_ms",
  model: "model_id",
  req_path: "req_path",
  resp_status_code: "resp_status_code",
  resp_content_type: "resp_content_type",
  cached: "cache_tokens",
  prompt: "input_tokens",
  generated: "output_tokens",
  drafted: "draft_tokens",
  prompt_speed: "prompt_per_second",
  gen_speed: "tokens_per_second",
  duration: "duration_ms",
};

const COLUMNS = "id, time_ms, model_id, req_path, method, stream, resp_status_code, resp_content_type, duration_ms, queue_wait_ms, " +
  "input_tokens, output_tokens, tokens_reported, cache_tokens, draft_tokens, draft_acc_tokens, tokens_per_second, prompt_per_second, bytes, error_msg";

/** Bytes an activity row holds while it waits (an estimate: its text plus its numbers). */
const ROW_BYTES = 400;
/** Least time between two "cannot write" warnings. */
const WARN_EVERY_MS = 60_000;

const num = (value: SqlValue) => (typeof value === "number" ? value : Number(value ?? 0));
const text = (value: SqlValue) => (typeof value === "string" ? value : "");
/** llama-swap's -1 ("not reported") as null. */
const reported = (value: SqlValue) => (num(value) < 0 ? null : num(value));
const bytes = (value: SqlValue) => (value instanceof Uint8Array ? value : new Uint8Array());

/** A stored row as modelswap's record. */
function recordOf(row: SqlRow): ActivityRecord {
  const tokens = num(row.tokens_reported) !== 0;
  return {
    id: num(row.id),
    time: new Date(num(row.time_ms)).toISOString(),
    model: text(row.model_id),
    path: text(row.req_path),
    method: text(row.method),
    stream: num(row.stream) !== 0,
    status: num(row.resp_status_code),
    contentType: text(row.resp_content_type),
    durationMs: num(row.duration_ms),
    queueWaitMs: num(row.queue_wait_ms),
    promptTokens: tokens ? num(row.input_tokens) : null,
    completionTokens: tokens ? num(row.output_tokens) : null,
    cacheTokens: reported(row.cache_tokens),
    draftTokens: reported(row.draft_tokens),
    draftAcceptedTokens: reported(row.draft_acc_tokens),
    tokensPerSecond: reported(row.tokens_per_second),
    promptTokensPerSecond: reported(row.prompt_per_second),
    bytes: num(row.bytes),
    error: text(row.error_msg) || null,
  };
}

/** A stored row's figures for stats. */
function figuresOf(row: SqlRow): RowFigures {
  return {
    model: text(row.model_id),
    input: num(row.input_tokens),
    output: num(row.output_tokens),
    cache: num(row.cache_tokens),
    promptPerSecond: num(row.prompt_per_second),
    tokensPerSecond: num(row.tokens_per_second),
  };
}

/** A record as the row's values, llama-swap's columns first (its conventions: 0 or -1 where nothing was reported). */
function rowValues(record: ActivityRecord): SqlValue[] {
  const { tokens } = llamaRow(record, false);
  const at = Date.parse(record.time);
  return [
    record.id,
    Math.floor(at / 1000),
    record.model,
    record.path,
    record.contentType ?? "",
    record.status,
    tokens.cache_tokens,
    tokens.draft_tokens,
    tokens.draft_acc_tokens,
    tokens.input_tokens,
    tokens.output_tokens,
    tokens.prompt_per_second,
    tokens.tokens_per_second,
    Math.round(record.durationMs),
    record.error ?? "",
    at,
    record.method,
    record.stream ? 1 : 0,
    record.queueWaitMs,
    record.bytes,
    record.promptTokens !== null || record.completionTokens !== null ? 1 : 0,
  ];
}

/** The WHERE clause and its values for a query's filter. */
function where(query: Pick<ActivityQuery, "models" | "statuses" | "startMs" | "endMs" | "minId" | "maxId">): [string, SqlValue[]] {
  const conditions: string[] = [];
  const values: SqlValue[] = [];
  if (query.models.length > 0) {
    conditions.push(`model_id IN (${query.models.map(() => "?").join(", ")})`);
    values.push(...query.models);
  }
  if (query.statuses.length > 0) {
    conditions.push(`(${query.statuses.map((s) => ("code" in s ? "resp_status_code = ?" : "resp_status_code / 100 = ?")).join(" OR ")})`);
    values.push(...query.statuses.map((s) => ("code" in s ? s.code : s.class)));
  }
  const bounds: Array<[string, number | null]> = [["time_ms >= ?", query.startMs], ["time_ms <= ?", query.endMs], ["id >= ?", query.minId], ["id <= ?", query.maxId]];
  for (const [condition, value] of bounds) {
    if (value === null) continue;
    conditions.push(condition);
    values.push(value);
  }
  return [conditions.length ? ` WHERE ${conditions.join(" AND ")}` : "", values];
}

/** Activity and captures in one SQLite database, written in the background. */
export class SqliteStore implements ObservabilityStore {
  readonly activity: ActivityStore;
  readonly captures: CaptureStore;
  readonly #db: Database;
  readonly #path: string;
  readonly #warn: (message: string) => void;
  readonly #queue: WriteQueue<Item>;
  readonly #statements;
  readonly #stats = new StatsIndex();
  #limits: () => StoreLimits = () => ({ maxRows: 100_000, captureBytes: 5 * 1024 * 1024, recentRows: 1000 });
  #nextId: number;
  /** Capture ids in the file or waiting for it, oldest first, with their sizes. */
  readonly #captureSizes = new Map<number, number>();
  #captureBytes = 0;
  #warnedAt = -Infinity;
  #closed = false;

  /** @param db opened and migrated (see open.ts) */
  constructor(db: Database, path: string, warn: (message: string) => void) {
    this.#db = db;
    this.#path = path;
    this.#warn = warn;
    this.#statements = {
      insertActivity: db.prepare(`INSERT OR REPLACE INTO activity (id, ts_created, model_id, req_path, resp_content_type, resp_status_code,
        cache_tokens, draft_tokens, draft_acc_tokens, input_tokens, output_tokens, prompt_per_second, tokens_per_second, duration_ms,
        error_msg, time_ms, method, stream, queue_wait_ms, bytes, tokens_reported) VALUES (${new Array(21).fill("?").join(", ")})`),
      pruneActivity: db.prepare("DELETE FROM activity WHERE id <= ?"),
      insertCapture: db.prepare(`INSERT OR REPLACE INTO captures (id, bytes, req_path, req_headers, req_body, resp_headers, resp_body,
        req_truncated, resp_truncated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteCapture: db.prepare("DELETE FROM captures WHERE id = ?"),
      capture: db.prepare("SELECT * FROM captures WHERE id = ?"),
    };
    const last = db.prepare("SELECT MAX(id) AS id FROM activity").get()?.id;
    const sequence = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'activity'").get()?.seq;
    this.#nextId = Math.max(num(last ?? 0), num(sequence ?? 0)) + 1;
    const figures = db.prepare("SELECT id, model_id, input_tokens, output_tokens, cache_tokens, prompt_per_second, tokens_per_second FROM activity ORDER BY id");
    for (const row of figures.all()) this.#stats.add(num(row.id), figuresOf(row));
    for (const row of db.prepare("SELECT id, bytes FROM captures ORDER BY id").all()) {
      this.#captureSizes.set(num(row.id), num(row.bytes));
      this.#captureBytes += num(row.bytes);
    }
    this.#queue = new WriteQueue<Item>({
      write: (batch) => this.#write(batch),
      sizeOf: (item) => (item.kind === "activity" ? ROW_BYTES : item.kind === "capture" ? item.capture.size : 16),
      onError: (error, failures) => this.#cannotWrite(error, failures),
      onRecovered: (failures) => this.#warn(`store.path ${this.#path}: writing again after ${failures} failed tries`),
    });
    this.activity = this.#activityStore();
    this.captures = this.#captureStore();
  }

  useLimits(limits: () => StoreLimits): void {
    this.#limits = limits;
  }

  counters(): StoreCounters {
    return { pending: this.#queue.pending, written: this.#queue.written, dropped: this.#queue.dropped, writeErrors: this.#queue.errors };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.close();
    try {
      this.#db.close();
    } catch (error) {
      this.#warn(`store.path ${this.#path}: closing failed: ${error instanceof Error ? error.message : error}`);
    }
  }

  /** Write one batch in one transaction, then keep the newest `maxRows` rows. */
  #write(batch: Item[]): void {
    const db = this.#db;
    const s = this.#statements;
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const item of batch) {
        if (item.kind === "activity") s.insertActivity.run(...rowValues(item.record));
        else if (item.kind === "uncapture") s.deleteCapture.run(item.id);
        else {
          const c = item.capture.masked(); // masked here, in the batch, not on the request path
          s.insertCapture.run(item.id, item.capture.size, c.reqPath, JSON.stringify(c.reqHeaders), c.reqBody, JSON.stringify(c.respHeaders), c.respBody, c.reqTruncated ? 1 : 0, c.respTruncated ? 1 : 0);
        }
      }
      s.pruneActivity.run(this.#nextId - 1 - this.#limits().maxRows);
      db.exec("COMMIT");
    } catch (error) {
      try {
        db.exec("ROLLBACK");
      } catch {
        // No transaction was open (BEGIN itself failed).
      }
      throw error;
    }
  }

  #cannotWrite(error: unknown, failures: number): void {
    const now = Date.now();
    if (failures > 1 && now - this.#warnedAt < WARN_EVERY_MS) return;
    this.#warnedAt = now;
    const reason = error instanceof Error ? error.message : String(error);
    this.#warn(`store.path ${this.#path}: cannot write (${reason}); ${this.#queue.pending} waiting, ${this.#queue.dropped} dropped so far; trying again`);
  }

  /** Rows of a query, after writing what waits (so a reader sees every record). */
  #rows(sql: string, values: SqlValue[]): SqlRow[] {
    this.#queue.flush();
    return this.#db.prepare(sql).all(...values);
  }

  #activityStore(): ActivityStore {
    return {
      add: (input: ActivityInput) => {
        const record = completeRecord(this.#nextId++, input);
        this.#queue.push({ kind: "activity", record });
        const { tokens } = llamaRow(record, false);
        this.#stats.add(record.id, {
          model: record.model,
          input: tokens.input_tokens,
          output: tokens.output_tokens,
          cache: tokens.cache_tokens,
          promptPerSecond: tokens.prompt_per_second,
          tokensPerSecond: tokens.tokens_per_second,
        });
        this.#stats.pruneThrough(record.id - this.#limits().maxRows);
        return record;
      },
      recent: (limit = Infinity, model?: string) => {
        const count = Math.min(limit, this.#limits().recentRows);
        const filter = model === undefined ? "" : " WHERE model_id = ?";
        const values: SqlValue[] = model === undefined ? [] : [model];
        return this.#rows(`SELECT ${COLUMNS} FROM activity${filter} ORDER BY id DESC LIMIT ?`, [...values, count]).map(recordOf);
      },
      query: (query: ActivityQuery): ActivityPage => {
        const [filter, values] = where(query);
        const total = num(this.#rows(`SELECT COUNT(*) AS total FROM activity${filter}`, values)[0]?.total ?? 0);
        const direction = query.order === "asc" ? "ASC" : "DESC";
        const column = SORT_COLUMNS[query.sort];
        const order = column === "id" ? `id ${direction}` : `${column} ${direction}, id ${direction}`;
        const rows = this.#rows(`SELECT ${COLUMNS} FROM activity${filter} ORDER BY ${order} LIMIT ? OFFSET ?`, [...values, query.limit, (query.page - 1) * query.limit]);
        return { records: rows.map(recordOf), total };
      },
      stats: (model: string | null): ActivityStats => this.#stats.stats(model),
    };
  }

  #captureStore(): CaptureStore {
    return {
      add: (id: number, capture: KeptCapture) => {
        const budget = this.#limits().captureBytes;
        const { size } = capture;
        this.#evictCapturesTo(size > budget ? 0 : budget - size);
        if (size > budget) return false;
        this.#captureSizes.set(id, size);
        this.#captureBytes += size;
        this.#queue.push({ kind: "capture", id, capture });
        return true;
      },
      get: (id: number) => {
        if (!this.#captureSizes.has(id)) return null;
        const waiting = this.#queue.find((item) => item.kind === "capture" && item.id === id);
        if (waiting?.kind === "capture") return waiting.capture.masked();
        const row = this.#statements.capture.get(id);
        if (!row) return null;
        return {
          reqPath: text(row.req_path),
          reqHeaders: JSON.parse(text(row.req_headers) || "{}"),
          reqBody: bytes(row.req_body),
          respHeaders: JSON.parse(text(row.resp_headers) || "{}"),
          respBody: bytes(row.resp_body),
          reqTruncated: num(row.req_truncated) !== 0,
          respTruncated: num(row.resp_truncated) !== 0,
        };
      },
      has: (id: number) => this.#captureSizes.has(id),
    };
  }

  /** Forget the oldest captures until at most `bytes` are kept. */
  #evictCapturesTo(bytes: number): void {
    for (const [id, size] of this.#captureSizes) {
      if (this.#captureBytes <= bytes) return;
      this.#captureSizes.delete(id);
      this.#captureBytes -= size;
      this.#queue.push({ kind: "uncapture", id });
    }
  }
}
