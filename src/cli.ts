/**
 * Command-line parsing, compatible with llama-swap's Go-style flags so
 * existing launch scripts keep working: `-config FILE`, `--config=FILE`,
 * `-config-dir DIR`, `-listen :8080`, `-tls-cert-file`/`-tls-key-file`,
 * `-watch-config`, `-version`, plus `--log-level` and the `validate` and
 * `demo-upstream` subcommands.
 */
import type { LogLevel } from "./logging/logger.ts";

/** Where the HTTP server listens. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** The files `-tls-cert-file` and `-tls-key-file` name (PEM). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/**
 * What the user asked modelswap to do. `config` and `configDir` are
 * `-config` and `-config-dir` (null when not given; with neither, main uses
 * config.yaml in the current directory); `tls` is null for plain HTTP.
 */
export type CliCommand =
  | {
    kind: "serve";
    config: string | null;
    configDir: string | null;
    listen: ListenAddress;
    tls: TlsFiles | null;
    watchConfig: boolean;
    logLevel: LogLevel | null;
  }
  | { kind: "validate"; config: string | null; configDir: string | null }
  | { kind: "demo-upstream"; args: string[] }
  | { kind: "version" }
  | { kind: "help" };

/** A usage mistake; main prints the message and exits 2. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

/** Text printed by `--help`. */
export const USAGE = `usage:
  modelswap [--config FILE] [--config-dir DIR] [--listen HOST:PORT] [--tls-cert-file FILE --tls-key-file FILE]
            [--watch-config] [--log-level LEVEL]
  modelswap validate [--config FILE] [--config-dir DIR]
  modelswap demo-upstream --port N [--model ID] [--startup-ms MS] [--token-ms MS]
  modelswap --version

flags (one or two dashes, "--flag value" or "--flag=value"):
  --config FILE        YAML config (default: config.yaml in the current directory, unless --config-dir is given)
  --config-dir DIR     also read every *.yml and *.yaml file directly in DIR, in file-name order after --config;
                       a model, group, profile, selector, peer or matrix set defined in two files is an error
  --listen HOST:PORT   address to serve on (default 127.0.0.1:8080, or 127.0.0.1:8443 with TLS; ":8080" means all
                       interfaces; HOST alone takes the default port)
  --tls-cert-file FILE serve HTTPS with this PEM certificate (and any intermediates after it); needs --tls-key-file
  --tls-key-file FILE  the certificate's PEM private key (unencrypted); both are read once, at startup
  --watch-config       reload the config when a file changes, or one is added to or removed from --config-dir
                       (SIGHUP reloads too)
  --log-level LEVEL    debug, info, warn or error (overrides logLevel in the config)
  --version            print the version and exit
`;

const LOG_LEVELS = ["debug", "info", "warn", "error"];

/** The port when none is given: llama-swap's, 8080 for HTTP and 8443 for HTTPS. */
const DEFAULT_PORT = { http: 8080, https: 8443 };

/**
 * Parse `HOST:PORT`, `:PORT` (all interfaces) or `[v6]:PORT`; `HOST` or
 * `[v6]` alone listens on `defaultPort`.
 */
export function parseListen(value: string, defaultPort = DEFAULT_PORT.http): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(value);
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  // A bare number is a port written without its colon, not a host.
  if (!match || value === "" || port > 65535 || (match[3] === undefined && /^\d+$/.test(value))) {
    throw new CliError(`--listen: expected HOST:PORT such as 127.0.0.1:8080 or :8080 (got "${value}")`);
  }
  const hostname = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]);
  return { hostname, port };
}

/** Both TLS files or neither: one alone is a mistake llama-swap refuses too. */
function tlsFiles(certFile: string | null, keyFile: string | null): TlsFiles | null {
  if (certFile === null && keyFile === null) return null;
  if (certFile === null || keyFile === null) {
    throw new CliError(`--${certFile === null ? "tls-key-file" : "tls-cert-file"} needs --${certFile === null ? "tls-cert-file" : "tls-key-file"} too: HTTPS takes a certificate and its private key`);
  }
  return { certFile, keyFile };
}

/** Parse the arguments after the program name. */
export function parseCli(args: string[]): CliCommand {
  if (args[0] === "demo-upstream") return { kind: "demo-upstream", args: args.slice(1) };
  const validate = args[0] === "validate";
  const rest = validate ? args.slice(1) : args;
  let config: string | null = null;
  let configDir: string | null = null;
  let listen: string | null = null;
  let certFile: string | null = null;
  let keyFile: string | null = null;
  let watchConfig = false;
  let logLevel: LogLevel | null = null;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    const flag = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!flag) throw new CliError(`unexpected argument "${arg}"; run modelswap --help`);
    const [, name, inline] = flag;
    const value = () => {
      if (inline !== undefined) return inline;
      const next = rest[++i];
      if (next === undefined) throw new CliError(`--${name} needs a value; run modelswap --help`);
      return next;
    };
    switch (name) {
      case "config":
        config = value();
        break;
      case "config-dir":
        configDir = value();
        break;
      case "listen":
        listen = value();
        break;
      case "tls-cert-file":
        certFile = value();
        break;
      case "tls-key-file":
        keyFile = value();
        break;
      case "watch-config":
        watchConfig = inline === undefined || inline === "true";
        break;
      case "log-level": {
        const level = value();
        if (!LOG_LEVELS.includes(level)) throw new CliError(`--log-level: expected one of ${LOG_LEVELS.join(", ")} (got "${level}")`);
        logLevel = level as LogLevel;
        break;
      }
      case "version":
        return { kind: "version" };
      case "help":
      case "h":
        return { kind: "help" };
      default:
        throw new CliError(`unknown flag "${arg}"; run modelswap --help`);
    }
  }
  if (validate) return { kind: "validate", config, configDir };
  const tls = tlsFiles(certFile, keyFile);
  const port = tls ? DEFAULT_PORT.https : DEFAULT_PORT.http;
  const address = listen === null ? { hostname: "127.0.0.1", port } : parseListen(listen, port);
  return { kind: "serve", config, configDir, listen: address, tls, watchConfig, logLevel };
}
