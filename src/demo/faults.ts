/**
 * The demo's fault injection: each way a real llama-server misbehaves that
 * the router's supervision must survive (failing at start, crashing mid-
 * response, hanging health checks, stalling streams, ignoring SIGTERM,
 * leaving a grandchild behind), plus recording client disconnects so tests
 * can see that the router really hung up.
 */
import type { Runtime, Signal } from "../runtime/runtime.ts";
import type { Demo } from "./context.ts";
import type { DemoOptions } from "./flags.ts";
import { clientGone } from "./http.ts";

/**
 * Act on the flags that take effect before serving (`--log-lines`,
 * `--exit-at-start`, `--port-in-use`, `--spawn-grandchild`); returns the
 * exit code when the demo must exit instead of serving, else null.
 */
export function startupFaults(options: DemoOptions, runtime: Runtime): number | null {
  for (let i = 1; i <= options.logLines; i++) console.error(`demo-upstream log line ${i} of ${options.logLines}`);
  if (options.exitAtStart !== null) {
    console.error("demo-upstream: loading model demo.gguf");
    console.error("demo-upstream: error: failed to load model (--exit-at-start)");
    console.error(`demo-upstream: exiting with code ${options.exitAtStart}`);
    return options.exitAtStart;
  }
  if (options.portInUse) {
    console.error(`demo-upstream: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: ${options.port}`);
    return 1;
  }
  if (options.spawnGrandchild) {
    const grandchild = runtime.spawn({ argv: ["sleep", "600"], output: "null" });
    grandchild.unref();
    console.log(`grandchild pid ${grandchild.pid}`);
  }
  return null;
}

/** True (and says so on stderr) when `--ignore-sigterm` means this signal must not stop the demo. */
export function ignoresSignal(options: DemoOptions, signal: Signal): boolean {
  if (signal !== "SIGTERM" || !options.ignoreSigterm) return false;
  console.error("demo-upstream: ignoring SIGTERM (--ignore-sigterm)");
  return true;
}

/** With `--crash-after-ms`, exit with code 3 that long after a completion request began. */
export function armCrash(demo: Demo): void {
  const { crashAfterMs } = demo.options;
  if (crashAfterMs === null) return;
  setTimeout(() => {
    console.error("demo-upstream: crashing mid-response (--crash-after-ms)");
    demo.runtime.exit(3);
  }, crashAfterMs);
}

/** With `--record-disconnect FILE`, append a line naming the request its client left mid-response. */
export function recordDisconnect(demo: Demo, request: Request): void {
  const file = demo.options.recordDisconnect;
  if (file === null) return;
  const path = new URL(request.url).pathname;
  demo.runtime
    .appendTextFile(file, `${new Date().toISOString()} ${request.method} ${path} disconnected\n`)
    .catch((error) => console.error(`demo-upstream: cannot record disconnect: ${error}`));
}

/** True when `/health` must not answer: `--hang-health`, or `--hang-health-after-ms` has passed. */
export function healthHangs(demo: Demo): boolean {
  const { hangHealth, hangHealthAfterMs } = demo.options;
  return hangHealth || (hangHealthAfterMs !== null && demo.uptimeMs() >= hangHealthAfterMs);
}

/** Answer nothing until the client gives up, like a wedged server. */
export async function hangUntilClientLeaves(request: Request): Promise<Response> {
  await new Promise((resolve) => request.signal.addEventListener("abort", resolve, { once: true }));
  return clientGone();
}

/** How long `--stall-ms` pauses before the token after `emitted` ones: after the second, else 0. */
export function stallMs(options: DemoOptions, emitted: number): number {
  return emitted === 2 ? options.stallMs : 0;
}
