/**
 * Orphan prevention, both layers together: the watchdog process kills every
 * upstream group the moment the router dies (however it dies), and spawn
 * records let the next start reap whatever the watchdog could not.
 */
import type { Runtime } from "../runtime/runtime.ts";
import { defaultRecordDir, processStartTime, reapLeftovers, recordSpawn, removeRecord } from "./pidfile.ts";
import type { GroupTracker } from "./upstream.ts";
import { Watchdog } from "./watchdog.ts";

/** Tracks every upstream group for the router's lifetime. */
export class OrphanGuard implements GroupTracker {
  readonly #runtime: Runtime;
  readonly #watchdog: Watchdog;
  readonly #dir: string;
  readonly #routerStart: string | null;
  readonly #warn: (message: string) => void;

  private constructor(runtime: Runtime, watchdog: Watchdog, dir: string, routerStart: string | null, warn: (message: string) => void) {
    this.#runtime = runtime;
    this.#watchdog = watchdog;
    this.#dir = dir;
    this.#routerStart = routerStart;
    this.#warn = warn;
  }

  /** Reap leftovers of crashed earlier runs, then start the watchdog. */
  static async start(runtime: Runtime, warn: (message: string) => void): Promise<OrphanGuard> {
    const dir = await defaultRecordDir(runtime);
    const reaped = await reapLeftovers(dir, runtime, warn);
    if (reaped.length) warn(`stopped ${reaped.length} upstream process(es) left behind by an earlier modelswap that crashed: pids ${reaped.join(", ")}`);
    const routerStart = await processStartTime(runtime.pid, runtime);
    return new OrphanGuard(runtime, Watchdog.start(runtime, warn), dir, routerStart, warn);
  }

  /** A new upstream group: the watchdog kills it if the router dies; a record survives a watchdog failure. */
  track(pgid: number, argv: string[]): void {
    this.#watchdog.track(pgid);
    if (this.#routerStart === null) return;
    const routerStart = this.#routerStart;
    void processStartTime(pgid, this.#runtime).then((start) => {
      if (start === null) return; // already gone
      return recordSpawn(this.#dir, { routerPid: this.#runtime.pid, routerStart, pid: pgid, pgid, start, argv }, this.#runtime);
    }).catch((error) => this.#warn(`could not record upstream pid ${pgid}: ${error}`));
  }

  /** The group was reaped: forget it. */
  untrack(pgid: number): void {
    this.#watchdog.untrack(pgid);
    void removeRecord(this.#dir, { routerPid: this.#runtime.pid, pid: pgid }, this.#runtime).catch(() => {});
  }

  /** Normal shutdown, after every upstream was stopped. */
  close(): void {
    this.#watchdog.close();
  }
}
