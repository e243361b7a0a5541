/**
 * Makes sure no upstream outlives the router, even when the router is
 * SIGKILLed or crashes. Bun and Deno have no parent-death signal, so one tiny
 * `/bin/sh` process per router holds the read end of a pipe whose write end
 * only the router holds. The router reports each upstream process group on
 * it; when the router dies, however it dies, the kernel closes the pipe, the
 * watchdog reads EOF, and it terminates (then kills) every group still listed.
 */
import type { ChildProcess, Runtime } from "../runtime/runtime.ts";

/**
 * The watchdog program. Lines `+PGID` / `-PGID` add and remove a group; on
 * EOF it sends SIGTERM to every listed group, waits up to ~2 s for them to
 * go, and SIGKILLs what is left. It ignores INT/TERM/HUP so that a Ctrl-C
 * meant for the router does not leave the router unguarded.
 */
const WATCHDOG_SCRIPT = `
trap '' INT TERM HUP
groups=''
while IFS= read -r line; do
  case $line in
    +*) groups="$groups \${line#+}" ;;
    -*) kept=''; for g in $groups; do [ "$g" = "\${line#-}" ] || kept="$kept $g"; done; groups=$kept ;;
  esac
done
[ -z "$groups" ] && exit 0
for g in $groups; do kill -TERM -"$g" 2>/dev/null; done
tries=0
while [ $tries -lt 20 ]; do
  alive=''
  for g in $groups; do kill -0 -"$g" 2>/dev/null && alive="$alive $g"; done
  [ -z "$alive" ] && exit 0
  groups=$alive
  sleep 0.1
  tries=$((tries + 1))
done
for g in $groups; do kill -KILL -"$g" 2>/dev/null; done
`;

/** The router's orphan guard: report upstream groups with {@link track} / {@link untrack}. */
export class Watchdog {
  #child: ChildProcess | null;
  #closed = false;

  private constructor(child: ChildProcess | null, warn: (message: string) => void) {
    this.#child = child;
    child?.exited.then((status) => {
      this.#child = null;
      if (this.#closed) return;
      const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
      warn(
        `the orphan watchdog ${how}; upstreams will not be stopped if modelswap is killed. ` +
          "Restart modelswap to restore it",
      );
    });
  }

  /**
   * Start the watchdog process. Never fails the router: if it cannot start,
   * `warn` is told why and the returned watchdog does nothing (leftover
   * records are then the only backstop, see pidfile.ts).
   */
  static start(runtime: Runtime, warn: (message: string) => void = (m) => console.error(m)): Watchdog {
    try {
      const child = runtime.spawn({
        argv: ["/bin/sh", "-c", WATCHDOG_SCRIPT],
        newProcessGroup: true,
        stdin: "pipe",
        output: "null",
      });
      child.unref();
      return new Watchdog(child, warn);
    } catch (error) {
      warn(
        `cannot start the orphan watchdog (${(error as Error).message}); ` +
          "upstreams will not be stopped if modelswap is killed. Check that /bin/sh exists",
      );
      return new Watchdog(null, warn);
    }
  }

  /** Pid of the watchdog process, or null when it is not running. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Report a newly spawned upstream process group. */
  track(pgid: number): void {
    this.#child?.stdin?.write(`+${pgid}\n`);
  }

  /** Report that a group has been reaped, so its number is never signalled again. */
  untrack(pgid: number): void {
    this.#child?.stdin?.write(`-${pgid}\n`);
  }

  /** Normal shutdown: close the pipe once every upstream has been stopped. */
  close(): void {
    this.#closed = true;
    this.#child?.stdin?.close();
  }
}
