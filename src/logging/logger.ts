/**
 * The router's log sources and its own leveled logger. Sources follow
 * llama-swap: `proxy` (the router), `upstream` (every model's output), one
 * buffer per model, and `combined`, which is what stdout and `/logs` show
 * according to `logToStdout`.
 */
import { formatLogTime } from "./time.ts";
import { LogBuffer } from "./buffer.ts";
import { SubscriberBudget } from "./subscribers.ts";

/** Severity of a router log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Which sources reach stdout and `/logs`. */
export type LogToStdout = "proxy" | "upstream" | "both" | "none";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * Longest router log message kept, in characters: the same bound as an
 * upstream's output line, so a message quoting a hostile input (a 10 MB
 * model name) cannot flood stdout, the buffers or the event feed.
 */
const MAX_MESSAGE_CHARS = 16 * 1024;

/** Replaces secret values (from `${env.X}`) with `***` in log text. */
export class Redactor {
  #secrets: string[] = [];

  /** Set the values to hide (short values are ignored: they would mangle ordinary text). */
  set(values: string[]): void {
    this.#secrets = values.filter((value) => value.length >= 4).sort((a, b) => b.length - a.length);
  }

  /** The text with every secret replaced. */
  readonly apply = (text: string): string => {
    for (const secret of this.#secrets) if (text.includes(secret)) text = text.replaceAll(secret, "***");
    return text;
  };
}

/** Every log buffer of one router instance. */
export class LogHub {
  readonly combined: LogBuffer;
  readonly proxy: LogBuffer;
  readonly upstream: LogBuffer;
  readonly #models = new Map<string, LogBuffer>();
  readonly #capacity: number;
  /** Hides `${env.X}` values in everything logged. */
  readonly redactor = new Redactor();
  /** The count and byte budget shared by every log stream and `/api/events` subscriber. */
  readonly subscribers: SubscriberBudget;

  /**
   * @param mode which sources are mirrored into `combined`
   * @param out where `combined` is written (stdout), or null for silence
   * @param subscribers the limits shared by every log and event stream (tests pass small ones)
   */
  constructor(mode: LogToStdout, out: ((text: string) => void) | null, capacityBytes = 100 * 1024, subscribers = new SubscriberBudget()) {
    this.#capacity = capacityBytes;
    this.subscribers = subscribers;
    this.combined = new LogBuffer(capacityBytes, [], null, subscribers);
    if (out) this.combined.subscribe(out);
    const toCombined = (on: boolean) => (on ? [this.combined] : []);
    this.proxy = new LogBuffer(capacityBytes, toCombined(mode === "proxy" || mode === "both"), this.redactor.apply, subscribers);
    this.upstream = new LogBuffer(capacityBytes, toCombined(mode === "upstream" || mode === "both"), null, subscribers);
  }

  /** The buffer of one model's upstream output (created on first use, kept across restarts). */
  model(id: string): LogBuffer {
    let buffer = this.#models.get(id);
    if (!buffer) {
      buffer = new LogBuffer(this.#capacity, [this.upstream], this.redactor.apply, this.subscribers);
      this.#models.set(id, buffer);
    }
    return buffer;
  }
}

/** Leveled line logger writing into a {@link LogBuffer}. */
export class Logger {
  #level: LogLevel;
  #timeFormat: string;
  readonly #buffer: LogBuffer;

  /** @param timeFormat a `logTimeFormat` name ("" = `15:04:05.000`) */
  constructor(buffer: LogBuffer, level: LogLevel = "info", timeFormat = "") {
    this.#buffer = buffer;
    this.#level = level;
    this.#timeFormat = timeFormat;
  }

  /** Change the timestamp format (config reload). */
  setTimeFormat(format: string): void {
    this.#timeFormat = format;
  }

  /** Change the threshold (config reload, `--log-level`). */
  setLevel(level: LogLevel): void {
    this.#level = level;
  }

  /** True when lines of this level are written (to skip building costly messages). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.#level];
  }

  /** A line shown whatever the level (startup address, shutdown). */
  notice(message: string): void {
    this.#write("info", message, true);
  }

  debug(message: string): void {
    this.#write("debug", message);
  }
  info(message: string): void {
    this.#write("info", message);
  }
  warn(message: string): void {
    this.#write("warn", message);
  }
  error(message: string): void {
    this.#write("error", message);
  }

  #write(level: LogLevel, message: string, always = false): void {
    if (!always && !this.enabled(level)) return;
    const time = formatLogTime(this.#timeFormat, new Date());
    const text = message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)} [… ${message.length - MAX_MESSAGE_CHARS} characters cut]` : message;
    this.#buffer.write(`${time} ${level.toUpperCase().padEnd(5)} ${text}\n`);
  }
}
