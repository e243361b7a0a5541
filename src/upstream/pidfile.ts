/**
 * Spawn records: the backstop for orphans the watchdog could not prevent
 * (it failed to start, or was killed along with the router). Each upstream
 * gets a small JSON file naming the router and the process; at startup,
 * {@link reapLeftovers} stops the groups of records whose router is dead.
 * Identity is pid plus start time (and command line), so a process that
 * merely reused a recorded pid is never touched. The records live in a
 * private directory (checked before it is trusted) and only this user's own
 * files in it are read: no other local user can make the router kill a
 * process or overwrite a file.
 */
import { ensurePrivateDir, ownedFiles, writeNewFile } from "../runtime/private-files.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { parseProcStat } from "../runtime/procfs.ts";

/** What is recorded about one upstream process. */
export interface SpawnRecord {
  /** The router that spawned it, and that router's start time (from `/proc/PID/stat`). */
  routerPid: number;
  routerStart: string;
  pid: number;
  pgid: number;
  /** The upstream's own start time. */
  start: string;
  argv: string[];
}

/** How long a leftover group gets between SIGTERM and SIGKILL. */
const TERM_GRACE_MS = 2000;

/** `$XDG_RUNTIME_DIR/modelswap`, else `/tmp/modelswap-<uid>`. */
export async function defaultRecordDir(runtime: Runtime): Promise<string> {
  const xdg = runtime.env("XDG_RUNTIME_DIR");
  if (xdg) return `${xdg}/modelswap`;
  let uid = runtime.env("USER") ?? "user";
  try {
    const status = await runtime.readTextFile("/proc/self/status");
    uid = status.match(/^Uid:\s+(\d+)/m)?.[1] ?? uid;
  } catch {
    // No procfs: the user name is distinct enough.
  }
  return `/tmp/modelswap-${uid}`;
}

/** A process's start time (clock ticks since boot, as text), or null when it is gone. */
export async function processStartTime(pid: number, runtime: Runtime): Promise<string | null> {
  try {
    const stat = parseProcStat(await runtime.readTextFile(`/proc/${pid}/stat`));
    return stat && stat.state !== "Z" ? stat.startTime : null;
  } catch {
    return null;
  }
}

async function commandLine(pid: number, runtime: Runtime): Promise<string[] | null> {
  try {
    const text = await runtime.readTextFile(`/proc/${pid}/cmdline`);
    return text.split("\0").slice(0, -1);
  } catch {
    return null;
  }
}

function recordPath(dir: string, record: Pick<SpawnRecord, "routerPid" | "pid">): string {
  return `${dir}/${record.routerPid}-${record.pid}.json`;
}

/**
 * Write the record for a spawned upstream atomically (a new temp file, then
 * rename) into the private `dir`; returns its path. Throws
 * UnsafeDirectoryError when `dir` is not private.
 */
export async function recordSpawn(dir: string, record: SpawnRecord, runtime: Runtime): Promise<string> {
  await ensurePrivateDir(dir);
  const path = recordPath(dir, record);
  const temp = `${path}.tmp`;
  await writeNewFile(temp, JSON.stringify(record) + "\n");
  await runtime.rename(temp, path);
  return path;
}

/** Delete the record of an upstream that has been stopped and reaped. */
export async function removeRecord(
  dir: string,
  record: Pick<SpawnRecord, "routerPid" | "pid">,
  runtime: Runtime,
): Promise<void> {
  await runtime.remove(recordPath(dir, record));
}

function parseRecord(text: string): SpawnRecord | null {
  try {
    const r = JSON.parse(text);
    const isPid = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
    if (
      isPid(r.routerPid) && isPid(r.pid) && isPid(r.pgid) && typeof r.routerStart === "string" &&
      typeof r.start === "string" && Array.isArray(r.argv) && r.argv.every((a: unknown) => typeof a === "string")
    ) return r as SpawnRecord;
  } catch {
    // fall through: unparsable
  }
  return null;
}

/** True when the live process `pid` is the recorded one: same start time and the same program arguments. */
async function isRecordedProcess(record: SpawnRecord, runtime: Runtime): Promise<boolean> {
  if ((await processStartTime(record.pid, runtime)) !== record.start) return false;
  const cmdline = await commandLine(record.pid, runtime);
  if (cmdline === null) return false;
  // A wrapper that `exec`s the real binary changes argv[0] but keeps the arguments.
  const args = record.argv.slice(1);
  return cmdline.length === record.argv.length && cmdline.slice(1).every((a, i) => a === args[i]);
}

async function waitGone(pid: number, runtime: Runtime, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (runtime.isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/**
 * At startup: stop the upstream groups left behind by routers that are no
 * longer running, and delete their records. Only this user's own regular
 * files are read; records of a live router are left alone; files that cannot
 * be parsed are skipped and kept (they may be another router's write in
 * progress); temp files of dead routers' unfinished writes are deleted.
 * Returns the pids whose groups were stopped. Throws UnsafeDirectoryError
 * when `dir` exists but is not private.
 */
export async function reapLeftovers(
  dir: string,
  runtime: Runtime,
  warn: (message: string) => void = (m) => console.error(m),
): Promise<number[]> {
  if (!(await runtime.stat(dir))) return []; // nothing was ever recorded
  await ensurePrivateDir(dir);
  const names = await ownedFiles(dir);
  for (const name of names.filter((n) => n.endsWith(".json.tmp"))) {
    const routerPid = Number(name.split("-")[0]);
    if (!runtime.isAlive(routerPid)) await runtime.remove(`${dir}/${name}`).catch(() => {});
  }
  const reaped: number[] = [];
  for (const name of names.filter((n) => n.endsWith(".json"))) {
    const path = `${dir}/${name}`;
    let record: SpawnRecord | null = null;
    try {
      record = parseRecord(await runtime.readTextFile(path));
    } catch {
      // vanished or unreadable: skip
    }
    if (record === null) continue;
    if ((await processStartTime(record.routerPid, runtime)) === record.routerStart) continue; // router alive
    if (await isRecordedProcess(record, runtime)) {
      warn(`stopping leftover upstream pid ${record.pid} (${record.argv.join(" ")}) of a modelswap that is gone`);
      runtime.killGroup(record.pgid, "SIGTERM");
      await waitGone(record.pid, runtime, TERM_GRACE_MS);
      runtime.killGroup(record.pgid, "SIGKILL");
      reaped.push(record.pid);
    } else if (!runtime.isAlive(record.pgid)) {
      // The leader is gone. While any member lives, its group id cannot be
      // reused, so this reaches only the leftover's own descendants.
      runtime.killGroup(record.pgid, "SIGKILL");
    }
    await runtime.remove(path);
  }
  return reaped;
}
