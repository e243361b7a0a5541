/**
 * Command-line parsing, compatible with llama-swap's Go-style flags so
 * existing launch scripts keep working: `-config FILE`, `--config=FILE`,
 * `-config-dir DIR`, `-listen :8080`, `-watch-config`, `-version`, plus
 * `--log-level` and the `validate` and `demo-upstream` subcommands.
 */
import type { LogLevel } from "./logging/logger.ts";

/** Where the HTTP server listens. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/**
 * What the user asked modelswap to do. `config` and `configDir` are
 * `-config` and `-config-dir` (null when not given; with neither, main uses
 * config.yaml in the current directory).
 */
export type CliCommand =
  | { kind: "serve"; config: string | null; configDir: string | null; listen: ListenAddress; watchConfig: boolean; logLevel: LogLevel | null }
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
  modelswap [--config FILE] [--config-dir DIR] [--listen HOST:PORT] [--watch-config] [--log-level LEVEL]
  modelswap validate [--config FILE] [--config-dir DIR]
  modelswap demo-upstream --port N [--model ID] [--startup-ms MS] [--token-ms MS]
  modelswap --version

flags (one or two dashes, "--flag value" or "--flag=value"):
  --config FILE        YAML config (default: config.yaml in the current directory, unless --config-dir is given)
  --config-dir DIR     also read every *.yml and *.yaml file directly in DIR, in file-name order after --config;
                       a model, group, profile, selector, peer or matrix set defined in two files is an error
  --listen HOST:PORT   address to serve on (default 127.0.0.1:8080; ":8080" means all interfaces)
  --watch-config       reload the config when a file changes, or one is added to or removed from --config-dir
                       (SIGHUP reloads too)
  --log-level LEVEL    debug, info, warn or error (overrides logLevel in the config)
  --version            print the version and exit
`;

const LOG_LEVELS = ["debug", "info", "warn", "error"];

/** Parse `HOST:PORT`, `:PORT` (all interfaces) or `[v6]:PORT`. */
export function parseListen(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new CliError(`--listen: expected HOST:PORT such as 127.0.0.1:8080 or :8080 (got "${value}")`);
  }
  const hostname = match[1] ?? (match[2] === "" ? "0.0.0.0" : match[2]);
  return { hostname, port };
}

/** Parse the arguments after the program name. */
export function parseCli(args: string[]): CliCommand {
  if (args[0] === "demo-upstream") return { kind: "demo-upstream", args: args.slice(1) };
  const validate = args[0] === "validate";
  const rest = validate ? args.slice(1) : args;
  let config: string | null = null;
  let configDir: string | null = null;
  let listen: ListenAddress = { hostname: "127.0.0.1", port: 8080 };
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
        listen = parseListen(value());
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
  return { kind: "serve", config, configDir, listen, watchConfig, logLevel };
}
