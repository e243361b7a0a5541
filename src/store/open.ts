/**
 * Opens `store.path` at startup, so that everything that can be wrong with
 * the file is said then, naming it, instead of failing later: not a SQLite
 * database (or damaged), locked by another process, not writable, written
 * by a newer modelswap, or on a file system without WAL. Once open, the
 * file is in WAL mode (readers never wait for the writer), commits do not
 * wait for the disk to sync (`synchronous = NORMAL`), and a lock held by
 * someone else is never waited for (`busy_timeout = 0`): the write is tried
 * again later (see write-queue.ts).
 */
import type { Database, Runtime } from "../runtime/runtime.ts";
import { migrate, SCHEMA_VERSION, schemaVersion } from "./schema.ts";
import { SqliteStore } from "./sqlite-store.ts";

/** How long startup waits for a lock another process holds before calling the file locked. */
const STARTUP_LOCK_WAIT_MS = 2_000;

/** A store file that cannot be used; its message names the file and what to do. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreError";
  }
}

/** SQLite's message for a failure, with what it means for the user. */
function explain(path: string, error: unknown): StoreError {
  const cause = error instanceof Error ? error.message : String(error);
  const reasons: Array<[RegExp, string]> = [
    [/not a database|malformed|corrupt/i, "is not a usable SQLite database (damaged, or another program's file): move it away or point store.path at another file"],
    [/locked|busy/i, "is locked by another process (another modelswap with the same store.path?): stop it or point store.path at another file"],
    [/readonly|read-only|permission/i, "cannot be written: check its permissions and its directory's"],
    [/unable to open|no such file|cannot open/i, "cannot be opened: check that it is a file (not a directory) and that its directory exists and is writable"],
    [/disk i\/o|ioerr/i, "cannot be read or written: check the disk, and that nothing else is at the paths SQLite adds beside it (-wal, -shm)"],
  ];
  const reason = reasons.find(([pattern]) => pattern.test(cause))?.[1] ?? "cannot be used";
  return new StoreError(`store.path ${path} ${reason} (${cause})`);
}

/** Checks and prepares an open database; throws what is wrong with it. */
function prepare(db: Database, path: string): void {
  db.exec(`PRAGMA busy_timeout = ${STARTUP_LOCK_WAIT_MS}`);
  const check = db.prepare("PRAGMA quick_check").all().map((row) => String(Object.values(row)[0]));
  if (check.join() !== "ok") throw new Error(`quick_check: file is malformed: ${check.slice(0, 3).join("; ")}`);
  const mode = String(db.prepare("PRAGMA journal_mode = WAL").get()?.journal_mode ?? "").toLowerCase();
  if (mode !== "wal") {
    throw new StoreError(`store.path ${path} cannot use SQLite's WAL mode (journal_mode stayed "${mode}"); put it on a local file system`);
  }
  // Take the write lock once: a file another process holds is an error now, not a stall later.
  db.exec("BEGIN IMMEDIATE");
  db.exec("COMMIT");
  const version = schemaVersion(db);
  if (version > SCHEMA_VERSION) {
    throw new StoreError(`store.path ${path} was written by a newer modelswap (schema ${version}; this one knows up to ${SCHEMA_VERSION}): use that version, or point store.path at another file`);
  }
  migrate(db, version);
  db.exec("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 0");
}

/**
 * The store at `path`, opened, checked and migrated; null without a path
 * (activity stays in memory). Throws a {@link StoreError} naming the file.
 */
export async function openStore(runtime: Runtime, path: string | null, warn: (message: string) => void): Promise<SqliteStore | null> {
  if (path === null) return null;
  let db: Database;
  try {
    db = await runtime.openDatabase(path);
  } catch (error) {
    throw explain(path, error);
  }
  try {
    prepare(db, path);
    return new SqliteStore(db, path, warn);
  } catch (error) {
    try {
      db.close();
    } catch {
      // Closing a database that failed to open may fail too; the error below says why.
    }
    throw error instanceof StoreError ? error : explain(path, error);
  }
}
