/**
 * Reading Linux `/proc` for process facts neither runtime exposes: whether a
 * pid is a zombie, its process group and its start time (the stable identity
 * that tells a live process from an unrelated one that reused its pid).
 */
import { readFileSync } from "node:fs";
import process from "node:process";

/** Fields of `/proc/PID/stat` that supervision needs. */
export interface ProcStat {
  pid: number;
  /** One-letter state; "Z" is a zombie (exited, not yet reaped). */
  state: string;
  ppid: number;
  pgid: number;
  /** Start time in clock ticks since boot (field 22), as text: compare, never do arithmetic. */
  startTime: string;
}

/**
 * Parse the text of `/proc/PID/stat`, or null when it is malformed. The
 * command name (field 2) may hold spaces and parentheses, so fields are
 * counted from its last `)`.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).trim().split(/\s+/);
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  if (rest.length < 20) return null;
  const pid = Number(text.slice(0, open).trim());
  return {
    pid,
    state: rest[0],
    ppid: Number(rest[1]),
    pgid: Number(rest[2]),
    startTime: rest[19],
  };
}

/** `/proc/PID/stat` parsed synchronously, or null when the process is gone or there is no procfs. */
export function readProcStatSync(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

const HAS_PROCFS = readProcStatSync(process.pid) !== null;

/**
 * True when the pid exists and is not a zombie. Signal 0 answers "exists";
 * procfs, where present, rules out zombies, which still answer signal 0.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    if ((error as { code?: string }).code !== "EPERM") return false;
  }
  const stat = readProcStatSync(pid);
  if (stat === null) return !HAS_PROCFS; // gone between the two checks, or no procfs at all
  return stat.state !== "Z";
}
