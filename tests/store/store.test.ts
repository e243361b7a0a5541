/**
 * The SQLite store behind `store.path`, in-process on this runtime's own
 * SQLite: what it keeps survives a reopen (ids go on), its schema version
 * is recorded, a llama-swap store file is read as it is, a file it cannot
 * use is a clear error naming it, and a file locked by someone else never
 * makes adding wait: rows wait in memory and are written once it is free.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parseActivityQuery } from "../../src/observability/activity-query.ts";
import type { ActivityInput } from "../../src/observability/activity-record.ts";
import { keptCapture, type KeptCapture } from "../../src/observability/captures.ts";
import type { Database } from "../../src/runtime/runtime.ts";
import { openStore, StoreError } from "../../src/store/open.ts";
import { SCHEMA_VERSION } from "../../src/store/schema.ts";
import type { SqliteStore } from "../../src/store/sqlite-store.ts";
import { runtime } from "../helpers/process.ts";

const dir = mkdtempSync(join(tmpdir(), "modelswap-store-"));
const open: Array<{ close(): void }> = [];
after(() => {
  for (const item of open.splice(0)) item.close();
  rmSync(dir, { recursive: true, force: true });
});

let files = 0;
const newPath = () => join(dir, `store-${files++}.db`);

async function store(path: string, limits = { maxRows: 1000, captureBytes: 1024 * 1024, recentRows: 1000 }, warnings: string[] = []): Promise<SqliteStore> {
  const opened = (await openStore(runtime, path, (message) => warnings.push(message)))!;
  opened.useLimits(() => limits);
  open.push(opened);
  return opened;
}

async function database(path: string): Promise<Database> {
  const db = await runtime.openDatabase(path);
  open.push(db);
  return db;
}

function input(model: string, extra: Partial<ActivityInput> = {}): ActivityInput {
  return {
    time: new Date().toISOString(),
    model,
    path: "/v1/chat/completions",
    method: "POST",
    stream: true,
    status: 200,
    contentType: "text/event-stream",
    durationMs: 12,
    queueWaitMs: 1,
    promptTokens: 5,
    completionTokens: 7,
    cacheTokens: 3,
    draftTokens: null,
    draftAcceptedTokens: null,
    tokensPerSecond: 40,
    promptTokensPerSecond: 300,
    bytes: 99,
    error: null,
    ...extra,
  };
}

const capture = (text: string): KeptCapture => keptCapture({
  reqPath: "/v1/chat/completions",
  reqHeaders: { authorization: "[REDACTED]" },
  reqBody: new TextEncoder().encode(text),
  respHeaders: { "content-type": "application/json" },
  respBody: new TextEncoder().encode(`answer to ${text}`),
  reqTruncated: false,
  respTruncated: true,
});

const all = (s: SqliteStore) => s.activity.query(parseActivityQuery(new URLSearchParams("limit=999&order=asc"))).records;

describe("the SQLite store", () => {
  test("rows and captures survive a reopen; ids go on; the schema version is recorded once", async () => {
    const path = newPath();
    const first = await store(path);
    const a = first.activity.add(input("alpha"));
    const b = first.activity.add(input("beta", { error: "boom", status: 502 }));
    assert.deepEqual([a.id, b.id], [1, 2]);
    assert.equal(first.captures.add(b.id, capture("hello")), true);
    assert.equal(first.captures.has(b.id), true);
    first.close();

    const second = await store(path);
    assert.deepEqual(all(second).map((r) => [r.id, r.model, r.status, r.error]), [[1, "alpha", 200, null], [2, "beta", 502, "boom"]]);
    assert.equal(second.captures.has(2), true);
    const kept = second.captures.get(2)!;
    assert.equal(new TextDecoder().decode(kept.reqBody), "hello");
    assert.equal(kept.respTruncated, true);
    assert.deepEqual(kept.reqHeaders, { authorization: "[REDACTED]" });
    assert.equal(second.activity.add(input("gamma")).id, 3, "ids continue after a restart");
    second.close();

    const db = await database(path);
    assert.deepEqual(db.prepare("SELECT version FROM modelswap_schema ORDER BY version").all().map((r) => r.version), [1, 2]);
    assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
    assert.equal(SCHEMA_VERSION, 2);
  });

  test("a llama-swap store file is read as it is, and stays writable by llama-swap", async () => {
    const path = newPath();
    const db = await database(path);
    db.exec(`CREATE TABLE goose_db_version (id INTEGER PRIMARY KEY AUTOINCREMENT, version_id INTEGER NOT NULL, is_applied INTEGER NOT NULL, tstamp TIMESTAMP DEFAULT (datetime('now')));
      CREATE TABLE activity (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_created INTEGER NOT NULL, model_id TEXT NOT NULL, req_path TEXT NOT NULL DEFAULT '',
        resp_content_type TEXT NOT NULL DEFAULT '', resp_status_code INTEGER NOT NULL DEFAULT 0, cache_tokens INTEGER NOT NULL DEFAULT 0,
        draft_tokens INTEGER NOT NULL DEFAULT 0, draft_acc_tokens INTEGER NOT NULL DEFAULT 0, input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0, prompt_per_second REAL NOT NULL DEFAULT 0, tokens_per_second REAL NOT NULL DEFAULT 0,
        duration_ms INTEGER NOT NULL DEFAULT 0, error_msg TEXT NOT NULL DEFAULT '', metadata_json TEXT NOT NULL DEFAULT '');
      INSERT INTO activity (ts_created, model_id, req_path, resp_content_type, resp_status_code, cache_tokens, draft_tokens, draft_acc_tokens,
        input_tokens, output_tokens, prompt_per_second, tokens_per_second, duration_ms, error_msg)
        VALUES (1740823200, 'qwen', '/v1/chat/completions', 'application/json', 200, 64, -1, -1, 100, 20, 850.5, 42.25, 1234, '');`);
    db.close();
    open.pop();

    const s = await store(path);
    const [row] = all(s);
    assert.deepEqual(
      { id: row.id, time: row.time, model: row.model, cache: row.cacheTokens, draft: row.draftTokens, prompt: row.promptTokens, speed: row.tokensPerSecond, duration: row.durationMs },
      { id: 1, time: "2025-03-01T10:00:00.000Z", model: "qwen", cache: 64, draft: null, prompt: 100, speed: 42.25, duration: 1234 },
    );
    assert.equal(s.activity.add(input("qwen")).id, 2);
    s.close();
    const llama = await database(path);
    llama.prepare("INSERT INTO activity (ts_created, model_id, req_path, resp_content_type, resp_status_code, cache_tokens, draft_tokens, draft_acc_tokens, input_tokens, output_tokens, prompt_per_second, tokens_per_second, duration_ms, error_msg, metadata_json) VALUES (?, ?, '/v1/completions', '', 200, 0, 0, 0, 1, 1, 0, 0, 5, '', '')")
      .run(1740823300, "qwen");
    assert.deepEqual(llama.prepare("SELECT id FROM activity ORDER BY id").all().map((r) => r.id), [1, 2, 3]);
  });

  test("a file that is not a database, or a damaged one, is a clear error naming it", async () => {
    const garbage = newPath();
    writeFileSync(garbage, "this is a text file, not SQLite ".repeat(100));
    await assert.rejects(openStore(runtime, garbage, () => {}), (error: unknown) => {
      assert.ok(error instanceof StoreError);
      assert.equal(error.message.split("\n").length, 1, "one line");
      assert.match(error.message, new RegExp(`^store\\.path ${garbage} is not a usable SQLite database .*move it away or point store\\.path at another file \\(.*not a database`));
      return true;
    });
    const damaged = newPath();
    const db = await database(damaged);
    db.exec("CREATE TABLE t (x TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT hex(randomblob(100)) FROM n;");
    db.close();
    open.pop();
    const whole = readFileSync(damaged);
    writeFileSync(damaged, whole.subarray(0, whole.length / 2));
    await assert.rejects(openStore(runtime, damaged, () => {}), /is not a usable SQLite database \(damaged, or another program's file\).*\((database disk image is malformed|.*malformed.*)\)$/);
  });

  test("a path that cannot be written is an error at startup naming it (without permissions, so that it holds as root too)", async () => {
    const directory = join(dir, "a-directory.db");
    mkdirSync(directory);
    await assert.rejects(openStore(runtime, directory, () => {}), /^StoreError: store\.path .*a-directory\.db cannot be opened: check that it is a file \(not a directory\)/);
    const missingDir = join(dir, "no-such-dir", "a.db");
    await assert.rejects(openStore(runtime, missingDir, () => {}), /store\.path .*no-such-dir\/a\.db cannot be opened: .*its directory exists and is writable/);
    // SQLite's files beside the database: a directory in the way of either stops the start too.
    for (const [suffix, reason] of [["-wal", /cannot be read or written: .*\(-wal, -shm\) \(disk I\/O error\)$/], ["-shm", /cannot be written: check its permissions/]] as const) {
      const path = newPath();
      mkdirSync(path + suffix);
      await assert.rejects(openStore(runtime, path, () => {}), (error: unknown) => {
        assert.ok(error instanceof StoreError);
        assert.ok(error.message.startsWith(`store.path ${path} `), error.message);
        assert.match(error.message, reason);
        return true;
      });
    }
  });

  test("a file locked by another process is an error at startup, not a stall later", async () => {
    const path = newPath();
    (await store(path)).close();
    const holder = await database(path);
    holder.exec("BEGIN IMMEDIATE");
    try {
      await assert.rejects(openStore(runtime, path, () => {}), /store\.path .* is locked by another process \(another modelswap with the same store\.path\?\)/);
    } finally {
      holder.exec("ROLLBACK");
    }
  });

  test("a file from a newer modelswap is refused, naming both schema versions", async () => {
    const path = newPath();
    (await store(path)).close();
    const db = await database(path);
    db.exec("INSERT INTO modelswap_schema (version) VALUES (9)");
    await assert.rejects(openStore(runtime, path, () => {}), /written by a newer modelswap \(schema 9; this one knows up to 2\)/);
  });

  test("while another process holds the file, adding never waits: rows wait in memory and are written once it is free", async () => {
    const path = newPath();
    const warnings: string[] = [];
    const s = await store(path, undefined, warnings);
    const holder = await database(path);
    holder.exec("BEGIN IMMEDIATE");
    const started = performance.now();
    for (let i = 0; i < 500; i++) s.activity.add(input("alpha"));
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 500, `500 adds took ${elapsed.toFixed(0)} ms with the file locked`);
    // A reader tries to write first; the lock is not waited for (busy_timeout 0): it reads what the file has.
    const readStarted = performance.now();
    assert.equal(all(s).length, 0);
    assert.ok(performance.now() - readStarted < 500, "a read does not wait for the lock either");
    assert.ok(s.counters().pending >= 500);
    assert.ok(s.counters().writeErrors >= 1);
    assert.match(warnings[0], /store\.path .*: cannot write \(database is locked\); \d+ waiting, 0 dropped so far; trying again/);
    holder.exec("ROLLBACK");
    assert.equal(all(s).length, 500, "written once the file is free");
    assert.equal(s.counters().pending, 0);
    assert.equal(s.counters().written, 500);
  });

  test("the file keeps store.maxRows rows and captureBuffer bytes of captures, the oldest deleted first", async () => {
    const path = newPath();
    const limits = { maxRows: 10, captureBytes: 300, recentRows: 5 };
    const s = await store(path, limits);
    for (let i = 0; i < 25; i++) {
      const record = s.activity.add(input(`m${i}`));
      s.captures.add(record.id, capture(`request ${i}`));
    }
    assert.deepEqual(all(s).map((r) => r.id), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
    assert.equal(s.activity.recent().length, 5, "/api/activity answers metricsMaxInMemory rows at most");
    const kept = [...Array(25).keys()].map((i) => i + 1).filter((id) => s.captures.has(id));
    assert.ok(kept.length >= 2 && kept.length <= 4 && kept.at(-1) === 25, `kept ${kept}`);
    assert.equal(s.captures.get(1), null);
    s.close();
    const again = await store(path, limits);
    assert.deepEqual([...Array(25).keys()].map((i) => i + 1).filter((id) => again.captures.has(id)), kept, "the same captures after a reopen");
  });
});
