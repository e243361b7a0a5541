/**
 * How many more client connections the open-file limit leaves room for.
 * Running out of descriptors is not something either runtime recovers from
 * well (Deno's internals panic on EMFILE; Bun leaves every new request
 * hanging), so a bounded server refuses connections before that point: it
 * counts what it takes and gives back, re-reads the real count now and then,
 * and always leaves a margin for the rest of the process.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Descriptors one guarded client connection holds: the client's, and both ends of the hop to the runtime's server. */
export const FDS_PER_CONNECTION = 3;
/** Descriptors always left for the rest of the process (spawns, log files, upstream connections, the runtime). */
const MARGIN = 16;

/** The soft limit on open files (RLIMIT_NOFILE) from `/proc/self/limits`, or null where it cannot be read or is unlimited. */
export function openFileLimit(): number | null {
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"))?.[1];
    return soft === undefined ? null : Number(soft);
  } catch {
    return null;
  }
}

/** Descriptors open in this process right now. */
function openFiles(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Room for client connections under the open-file limit. */
export class FdBudget {
  readonly limit: number;
  #room = 0;

  private constructor(limit: number) {
    this.limit = limit;
    this.sample();
  }

  /**
   * A budget when `maxConnections` could come near `limit`, else null (a
   * server far from its limit never pays for counting).
   */
  static near(limit: number | null, maxConnections: number): FdBudget | null {
    if (limit === null || FDS_PER_CONNECTION * maxConnections + 16 * MARGIN < limit) return null;
    return new FdBudget(limit);
  }

  /** Re-read the real count (it moves with spawns, log files and upstream connections too). */
  sample(): void {
    try {
      this.#room = this.limit - openFiles() - MARGIN;
    } catch {
      // No procfs: keep the running account.
    }
  }

  /** Connections there is room for now. */
  get connections(): number {
    return Math.max(0, Math.floor(this.#room / FDS_PER_CONNECTION));
  }

  /** Take room for one connection; false when there is none. */
  take(): boolean {
    if (this.#room < FDS_PER_CONNECTION) return false;
    this.#room -= FDS_PER_CONNECTION;
    return true;
  }

  /** A connection taken with {@link take} has closed. */
  give(): void {
    this.#room += FDS_PER_CONNECTION;
  }
}
