/**
 * A stand-in for a router, for orphan tests: starts the watchdog and one demo
 * upstream (given its flags as arguments) in its own process group, reports
 * every pid on stdout, then runs until it is killed.
 */
import { Watchdog } from "../../src/upstream/watchdog.ts";
import { freePort, runtime, scriptArgv, startProcess, testsPath } from "./process.ts";

const watchdog = Watchdog.start(runtime);
const port = await freePort();
const upstream = startProcess([
  ...scriptArgv(testsPath("helpers/demo-entry.ts")),
  "--port",
  String(port),
  ...runtime.args,
]);
watchdog.track(upstream.proc.pid);
await upstream.stdout.match(/demo-upstream pid=/);
const grandchild = runtime.args.includes("--spawn-grandchild")
  ? Number((await upstream.stdout.match(/grandchild pid (\d+)/))[1])
  : 0;
console.log(
  `router pid=${runtime.pid} watchdog=${watchdog.pid} upstream=${upstream.proc.pid} grandchild=${grandchild}`,
);
setInterval(() => {}, 1 << 30);
