/**
 * The store's tables and their migrations. The version reached is kept in
 * the `modelswap_schema` table; each migration runs once, in its own
 * transaction. Version 1 is llama-swap's own `activity` table (same columns
 * and indexes), so a llama-swap `store.path` file is read as it is and
 * keeps working with llama-swap; version 2 adds what modelswap records
 * besides (arrival in ms, method, stream, queue wait, bytes; an index for
 * its time filter) and captures.
 */
import type { Database } from "../runtime/runtime.ts";

/** The migrations, in order: version N is `MIGRATIONS[N - 1]`. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_created INTEGER NOT NULL,
    model_id TEXT NOT NULL,
    req_path TEXT NOT NULL DEFAULT '',
    resp_content_type TEXT NOT NULL DEFAULT '',
    resp_status_code INTEGER NOT NULL DEFAULT 0,
    cache_tokens INTEGER NOT NULL DEFAULT 0,
    draft_tokens INTEGER NOT NULL DEFAULT 0,
    draft_acc_tokens INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    prompt_per_second REAL NOT NULL DEFAULT 0,
    tokens_per_second REAL NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    error_msg TEXT NOT NULL DEFAULT '',
    metadata_json TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX IF NOT EXISTS idx_activity_created_id ON activity (ts_created DESC, id DESC);
  CREATE INDEX IF NOT EXISTS idx_activity_model_created_id ON activity (model_id, ts_created DESC, id DESC);`,
  `ALTER TABLE activity ADD COLUMN time_ms INTEGER NOT NULL DEFAULT 0;
  UPDATE activity SET time_ms = ts_created * 1000;
  ALTER TABLE activity ADD COLUMN method TEXT NOT NULL DEFAULT '';
  ALTER TABLE activity ADD COLUMN stream INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE activity ADD COLUMN queue_wait_ms REAL NOT NULL DEFAULT 0;
  ALTER TABLE activity ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE activity ADD COLUMN tokens_reported INTEGER NOT NULL DEFAULT 1;
  CREATE INDEX idx_activity_time_ms ON activity (time_ms);
  CREATE TABLE captures (
    id INTEGER PRIMARY KEY,
    bytes INTEGER NOT NULL,
    req_path TEXT NOT NULL,
    req_headers TEXT NOT NULL,
    req_body BLOB NOT NULL,
    resp_headers TEXT NOT NULL,
    resp_body BLOB NOT NULL,
    req_truncated INTEGER NOT NULL,
    resp_truncated INTEGER NOT NULL
  );`,
];

/** The schema version this modelswap writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** The version a database is at (0: new, or llama-swap's alone). */
export function schemaVersion(db: Database): number {
  db.exec("CREATE TABLE IF NOT EXISTS modelswap_schema (version INTEGER NOT NULL)");
  const row = db.prepare("SELECT MAX(version) AS version FROM modelswap_schema").get();
  return typeof row?.version === "number" ? row.version : 0;
}

/**
 * Bring the database from `from` to {@link SCHEMA_VERSION}, one migration
 * per transaction (a failure leaves it at the last version reached).
 */
export function migrate(db: Database, from: number): void {
  for (let version = from + 1; version <= SCHEMA_VERSION; version++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[version - 1]);
      db.prepare("INSERT INTO modelswap_schema (version) VALUES (?)").run(version);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}
