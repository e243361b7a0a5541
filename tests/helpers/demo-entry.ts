/**
 * Runs the demo upstream as its own program, for tests that need one as a
 * real process before (or without) `src/main.ts`.
 */
import { detectRuntime } from "../../src/runtime/detect.ts";
import { runDemoUpstream } from "../../src/demo/main.ts";

const runtime = await detectRuntime();
runtime.exit(await runDemoUpstream(runtime.args, runtime));
