/**
 * Entry point: parse the command line, load the config, pick the runtime,
 * serve, and turn signals into graceful shutdown (a second Ctrl-C kills).
 */
import { CliError, parseCli, USAGE } from "./cli.ts";
import { ConfigError } from "./config/issue.ts";
import { runDemoUpstream } from "./demo/main.ts";
import { detectRuntime } from "./runtime/detect.ts";
import type { Runtime } from "./runtime/runtime.ts";
import { ModelswapServer } from "./server.ts";
import { loadSetupFile } from "./setup.ts";
import { COMMIT, VERSION } from "./version.ts";

/** Combined log text to stdout (it already ends in a newline; console.log adds one). */
const stdout = (text: string) => console.log(text.replace(/\n$/, ""));

async function defaultConfigPath(runtime: Runtime): Promise<string> {
  if (await runtime.stat("config.yaml")) return "config.yaml";
  throw new CliError("no config: pass --config FILE (or put a config.yaml in the current directory); see config.sample.yaml");
}

/** Poll `path` every 2 s (like llama-swap) and call `onChange` when its size or mtime changes. */
function watchFile(runtime: Runtime, path: string, onChange: () => void): void {
  let last = "";
  const check = async () => {
    const stat = await runtime.stat(path);
    const now = stat ? `${stat.size}:${stat.mtimeMs}` : "";
    if (last && now && now !== last) onChange();
    if (now) last = now;
  };
  void check();
  setInterval(check, 2000);
}

async function main(runtime: Runtime): Promise<number> {
  const command = parseCli(runtime.args);
  switch (command.kind) {
    case "help":
      console.log(USAGE);
      return 0;
    case "version":
      console.log(`version: ${VERSION} (${COMMIT}), runtime ${runtime.name}`);
      return 0;
    case "demo-upstream":
      return await runDemoUpstream(command.args, runtime);
    case "validate": {
      const path = command.config ?? await defaultConfigPath(runtime);
      const { config, warnings } = await loadSetupFile(path, (p) => runtime.readTextFile(p), { env: runtime.envAll(), selfArgv: runtime.selfArgv, source: path });
      for (const warning of warnings) console.error(`warning: ${warning}`);
      const models = Object.keys(config.models).length;
      console.log(`${path}: OK (${models} model${models === 1 ? "" : "s"}, router ${config.routing.use}${warnings.length ? `, ${warnings.length} warning(s)` : ""})`);
      return 0;
    }
    case "serve": {
      const path = command.config ?? await defaultConfigPath(runtime);
      const load = () => loadSetupFile(path, (p) => runtime.readTextFile(p), { env: runtime.envAll(), selfArgv: runtime.selfArgv, source: path });
      const server = await ModelswapServer.start({
        runtime,
        setup: await load(),
        listen: command.listen,
        logLevel: command.logLevel,
        out: stdout,
        reloadConfig: load,
      });
      runtime.onSignal("SIGHUP", () => void server.reload());
      if (command.watchConfig) watchFile(runtime, path, () => void server.reload());
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals === 1) {
          server.shutdown().then(() => runtime.exit(0), () => runtime.exit(1));
        } else {
          server.log.warn("second signal: killing every upstream now");
          server.kill();
          runtime.exit(1);
        }
      };
      runtime.onSignal("SIGINT", onSignal);
      runtime.onSignal("SIGTERM", onSignal);
      return await new Promise<number>(() => {}); // serve until a signal exits the process
    }
  }
}

const runtime = await detectRuntime();
try {
  runtime.exit(await main(runtime));
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`config error${error.issues.length === 1 ? "" : "s"}:\n${error.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")}`);
    runtime.exit(1);
  }
  if (error instanceof CliError) {
    console.error(`modelswap: ${error.message}`);
    runtime.exit(2);
  }
  console.error(`modelswap: ${error instanceof Error ? error.message : String(error)}`);
  runtime.exit(1);
}
