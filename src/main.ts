/**
 * Entry point: parse the command line, load the config, pick the runtime,
 * serve, and turn signals into graceful shutdown (a second Ctrl-C kills).
 */
import type { KeyObject, X509Certificate } from "node:crypto";
import { CliError, parseCli, type TlsFiles, USAGE } from "./cli.ts";
import { watchConfigFiles } from "./config-watch.ts";
import { ConfigError } from "./config/issue.ts";
import { type ConfigPaths, readConfigSources } from "./config/sources.ts";
import { detectRuntime } from "./runtime/detect.ts";
import type { Runtime, TlsCertificate } from "./runtime/runtime.ts";
import { StdoutSink } from "./logging/stdout.ts";
import { ModelswapServer } from "./server.ts";
import { parseSetupSources, type Setup } from "./setup.ts";
import { COMMIT, VERSION } from "./version.ts";


/** `-config` and `-config-dir` as given; with neither, config.yaml in the current directory. */
async function configPaths(runtime: Runtime, file: string | null, dir: string | null): Promise<ConfigPaths> {
  if (file !== null || dir !== null) return { file, dir };
  if (await runtime.stat("config.yaml")) return { file: "config.yaml", dir: null };
  throw new CliError("no config: pass --config FILE and/or --config-dir DIR (or put a config.yaml in the current directory); see config.sample.yaml");
}

/** Reads, merges and validates the config's files. */
async function loadSetup(runtime: Runtime, paths: ConfigPaths): Promise<Setup> {
  const sources = await readConfigSources(paths, runtime);
  return parseSetupSources(sources, { env: runtime.envAll(), selfArgv: runtime.selfArgv });
}

/** A startup error's reason, without the error's class name. */
function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Reads `-tls-cert-file` and `-tls-key-file`, once (certificates are not
 * reloaded), and checks them before serving, so that a wrong file is an
 * error naming it rather than a TLS library's code.
 */
async function readTls(runtime: Runtime, { certFile, keyFile }: TlsFiles): Promise<TlsCertificate> {
  const read = (flag: string, path: string) =>
    runtime.readTextFile(path).catch((error) => {
      throw new Error(`${flag}: cannot read ${path}: ${reasonOf(error)}`);
    });
  const [cert, key] = await Promise.all([read("--tls-cert-file", certFile), read("--tls-key-file", keyFile)]);
  // Loaded only for HTTPS: node:crypto brings Node's streams with it, start-up time a plain server does not need.
  const { createPrivateKey, X509Certificate } = await import("node:crypto");
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`--tls-cert-file: ${certFile} holds no PEM certificate ("-----BEGIN CERTIFICATE-----"): ${reasonOf(error)}`);
  }
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(key)) {
    throw new Error(`--tls-key-file: ${keyFile} is encrypted; give an unencrypted key (openssl pkey -in ${keyFile} -out plain.pem)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new Error(`--tls-key-file: ${keyFile} holds no PEM private key ("-----BEGIN PRIVATE KEY-----"): ${reasonOf(error)}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(`--tls-key-file: ${keyFile} is not the private key of the certificate in ${certFile}; give the key the certificate was issued for`);
  }
  return { cert, key };
}

/** How the config's files are named in messages: `config.yaml`, `conf.d/`, or both. */
function describePaths({ file, dir }: ConfigPaths): string {
  return [file, dir === null ? null : `${dir.replace(/\/+$/, "")}/`].filter((part) => part !== null).join(" and ");
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
    case "demo-upstream": {
      // Loaded only here: a router never parses the demo upstream it may start as a separate process.
      const { runDemoUpstream } = await import("./demo/main.ts");
      return await runDemoUpstream(command.args, runtime);
    }
    case "validate": {
      const paths = await configPaths(runtime, command.config, command.configDir);
      const { config, warnings } = await loadSetup(runtime, paths);
      for (const warning of warnings) console.error(`warning: ${warning}`);
      const models = Object.keys(config.models).length;
      console.log(`${describePaths(paths)}: OK (${models} model${models === 1 ? "" : "s"}, router ${config.routing.use}${warnings.length ? `, ${warnings.length} warning(s)` : ""})`);
      return 0;
    }
    case "serve": {
      const paths = await configPaths(runtime, command.config, command.configDir);
      const load = () => loadSetup(runtime, paths);
      const tls = command.tls && await readTls(runtime, command.tls);
      // Log text goes to stdout through a bounded queue: a reader that stops never blocks the router.
      const stdout = new StdoutSink((bytes) => runtime.writeStdout(bytes));
      const exit = (code: number) => stdout.flushed(1000).then(() => runtime.exit(code));
      const server = await ModelswapServer.start({
        runtime,
        setup: await load(),
        listen: command.listen,
        tls,
        logLevel: command.logLevel,
        out: (text) => stdout.write(text),
        reloadConfig: load,
        configPaths: paths,
      });
      runtime.onSignal("SIGHUP", () => void server.reload());
      if (command.watchConfig) {
        const watch = watchConfigFiles(runtime, paths, () => void server.reload());
        void watch.ready.then(() => server.log.info(`watching ${describePaths(paths)} for changes (every 2 s)`));
      }
      let signals = 0;
      const onSignal = () => {
        signals++;
        if (signals === 1) {
          server.shutdown().then(() => exit(0), () => exit(1));
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
