/**
 * The demo upstream's command line: its options, the usage text printed on a
 * bad flag, and a strict parser, so a typo in a test's or a config's `cmd`
 * fails loudly instead of silently running without the intended fault.
 */

/** Parsed command-line flags of the demo upstream (see {@link USAGE}). */
export interface DemoOptions {
  port: number;
  model: string;
  startupMs: number;
  tokenMs: number;
  reply: string;
  exitAtStart: number | null;
  crashAfterMs: number | null;
  hangHealth: boolean;
  hangHealthAfterMs: number | null;
  /** Where slot saves go (`POST /slots/N?action=save`), as llama-server's flag; null: slot actions are refused. */
  slotSavePath: string | null;
  /** Delay of every slot save/restore, to stand for a slow disk or a stuck server. */
  stallSlotsMs: number;
  /** `--no-slots`: no `/slots` endpoint at all, like llama-server's flag. */
  noSlots: boolean;
  stallMs: number;
  ignoreSigterm: boolean;
  spawnGrandchild: boolean;
  portInUse: boolean;
  logLines: number;
  recordDisconnect: string | null;
}

/** The usage text, printed after the error when the flags do not parse. */
export const USAGE = `usage: modelswap demo-upstream --port N [options]
  --port N                 port to listen on, on 127.0.0.1 (required)
  --model ID               model id reported by /v1/models and responses (default "demo")
  --startup-ms MS          /health answers 503 "loading" for MS ms (default 0)
  --token-ms MS            delay between generated tokens (default 5)
  --reply TEXT             the text every completion generates
fault injection:
  --exit-at-start CODE     log a few lines to stderr, then exit with CODE before serving
  --crash-after-ms MS      exit with code 3 MS ms after a completion request begins
  --hang-health            never answer /health
  --hang-health-after-ms MS  answer /health normally, then never again once MS ms have passed
  --stall-ms MS            a stream sends its first tokens, then nothing for MS ms
  --ignore-sigterm         survive SIGTERM (only SIGKILL stops it)
  --spawn-grandchild       start \`sleep 600\` in this process group and print its pid
  --port-in-use            fail like llama-server does when its port is taken (exit 1)
  --log-lines N            print N lines to stderr at start
  --record-disconnect FILE append a line to FILE when a client disconnects mid-response
prompt cache (llama-server's slot save/restore):
  --slot-save-path DIR     allow POST /slots/N?action=save|restore with files in DIR
  --stall-slots-ms MS      every slot save/restore takes MS ms
  --no-slots               no /slots endpoint (501), like llama-server --no-slots`;

const DEFAULT_REPLY = "Hello from the modelswap demo upstream, a stand-in for llama-server.";

/** Flags taking a value, with the key they set and whether the value is a number. */
const VALUE_FLAGS: Record<string, [keyof DemoOptions, "int" | "text"]> = {
  "--port": ["port", "int"],
  "--model": ["model", "text"],
  "--startup-ms": ["startupMs", "int"],
  "--token-ms": ["tokenMs", "int"],
  "--reply": ["reply", "text"],
  "--exit-at-start": ["exitAtStart", "int"],
  "--crash-after-ms": ["crashAfterMs", "int"],
  "--stall-ms": ["stallMs", "int"],
  "--hang-health-after-ms": ["hangHealthAfterMs", "int"],
  "--log-lines": ["logLines", "int"],
  "--record-disconnect": ["recordDisconnect", "text"],
  "--slot-save-path": ["slotSavePath", "text"],
  "--stall-slots-ms": ["stallSlotsMs", "int"],
};
const BOOLEAN_FLAGS: Record<string, keyof DemoOptions> = {
  "--hang-health": "hangHealth",
  "--ignore-sigterm": "ignoreSigterm",
  "--spawn-grandchild": "spawnGrandchild",
  "--port-in-use": "portInUse",
  "--no-slots": "noSlots",
};

/** The options before any flag is applied (`--port` has no default: -1 means "missing"). */
function defaults(): DemoOptions {
  return {
    port: -1,
    model: "demo",
    startupMs: 0,
    tokenMs: 5,
    reply: DEFAULT_REPLY,
    exitAtStart: null,
    crashAfterMs: null,
    hangHealth: false,
    hangHealthAfterMs: null,
    slotSavePath: null,
    stallSlotsMs: 0,
    noSlots: false,
    stallMs: 0,
    ignoreSigterm: false,
    spawnGrandchild: false,
    portInUse: false,
    logLines: 0,
    recordDisconnect: null,
  };
}

/**
 * Parse flags (`--flag value` or `--flag=value`) strictly; returns an error
 * message instead of options on bad input, for the caller to print with
 * {@link USAGE}.
 */
export function parseFlags(args: string[]): DemoOptions | string {
  const options = defaults();
  const set = options as unknown as Record<string, unknown>;
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--") && args[i].includes("=")
      ? [args[i].slice(0, args[i].indexOf("=")), args[i].slice(args[i].indexOf("=") + 1)]
      : [args[i], undefined];
    if (flag in BOOLEAN_FLAGS && inline === undefined) {
      set[BOOLEAN_FLAGS[flag]] = true;
      continue;
    }
    const spec = VALUE_FLAGS[flag];
    if (!spec) return `unknown flag ${JSON.stringify(args[i])}`;
    const value = inline ?? args[++i];
    if (value === undefined) return `flag ${flag} needs a value`;
    if (spec[1] === "int") {
      if (!/^\d+$/.test(value)) return `flag ${flag} needs a non-negative integer, got ${JSON.stringify(value)}`;
      set[spec[0]] = Number(value);
    } else set[spec[0]] = value;
  }
  if (options.port < 0) return "flag --port is required";
  if (options.port > 65535) return `flag --port must be at most 65535, got ${options.port}`;
  return options;
}
