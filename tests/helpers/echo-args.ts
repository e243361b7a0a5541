/** Prints the runtime's view of this program (name, args, selfArgv) as JSON, for runtime tests. */
import { detectRuntime } from "../../src/runtime/detect.ts";

const runtime = await detectRuntime();
console.log(JSON.stringify({ name: runtime.name, args: runtime.args, selfArgv: runtime.selfArgv }));
