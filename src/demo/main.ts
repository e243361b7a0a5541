/**
 * A built-in stand-in for llama.cpp's `llama-server`: the same endpoints and
 * response shapes (OpenAI, Anthropic and llama.cpp native), deterministic
 * output, and fault-injection flags so the router's supervision can be tested
 * and demonstrated without a model. Run as `modelswap demo-upstream --port N`.
 */
import type { HttpServer, Runtime, Signal } from "../runtime/runtime.ts";
import { demoApp } from "./app.ts";
import { ignoresSignal, startupFaults } from "./faults.ts";
import { parseFlags, USAGE } from "./flags.ts";

/**
 * Run the demo upstream until SIGTERM/SIGINT; returns the process exit code
 * (2 for bad flags, or the code a start-up fault asks for).
 */
export async function runDemoUpstream(args: string[], runtime: Runtime): Promise<number> {
  const options = parseFlags(args);
  if (typeof options === "string") {
    console.error(`demo-upstream: ${options}\n${USAGE}`);
    return 2;
  }
  const faultExit = startupFaults(options, runtime);
  if (faultExit !== null) return faultExit;

  let server: HttpServer | null = null;
  let stopped!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (stopped = resolve));
  const stop = (signal: Signal) => {
    if (ignoresSignal(options, signal)) return;
    console.error(`demo-upstream: ${signal} received, exiting`);
    // Like llama-server, exit promptly: a handler still busy (a stalled slot save, a long sleep) is not waited for.
    const busy = new Promise((resolve) => setTimeout(resolve, 500));
    Promise.race([server?.stop(true) ?? Promise.resolve(), busy]).finally(() => stopped(0));
  };
  // Before announcing readiness, so a signal sent right after it is handled.
  runtime.onSignal("SIGTERM", () => stop("SIGTERM"));
  runtime.onSignal("SIGINT", () => stop("SIGINT"));

  server = await runtime.serve({ hostname: "127.0.0.1", port: options.port, fetch: demoApp(options, runtime).fetch });
  console.log(`demo-upstream pid=${runtime.pid} port=${server.port} model=${options.model}`);
  return await exitCode;
}
