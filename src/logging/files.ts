/**
 * Optional per-model log files (`logDir`): everything a model's upstream
 * prints, plus modelswap's header line at each spawn (time, pid, port, argv)
 * and the exit reason after it, appended to `<logDir>/<model>.log`. Writes
 * are queued and never awaited by the log writer; a disk that cannot keep up
 * loses text (noted in the file) instead of slowing the upstream.
 */
import type { Runtime } from "../runtime/runtime.ts";
import type { LogBuffer } from "./buffer.ts";

/** Text queued for one file beyond which new text is dropped until the disk catches up. */
const MAX_PENDING_CHARS = 1024 * 1024;

/** A file name for a model id: ids may contain `/`, `:` and other characters file systems dislike. */
export function logFileName(model: string): string {
  return `${model.replace(/[^A-Za-z0-9._-]/g, "_")}.log`;
}

/** One append-only log file fed without back-pressure. */
class LogFile {
  readonly path: string;
  #pending = "";
  #dropped = 0;
  #writing: Promise<void> | null = null;
  #failing = false;
  readonly #runtime: Runtime;
  readonly #ready: Promise<void>;
  readonly #warn: (message: string) => void;

  constructor(runtime: Runtime, path: string, ready: Promise<void>, warn: (message: string) => void) {
    this.#runtime = runtime;
    this.path = path;
    this.#ready = ready;
    this.#warn = warn;
  }

  /** Queue text; returns at once. */
  append(text: string): void {
    if (this.#pending.length + text.length > MAX_PENDING_CHARS) {
      this.#dropped += text.length;
      return;
    }
    this.#pending += text;
    this.#writing ??= this.#drain();
  }

  /** Resolves once everything queued so far is written (or given up on). */
  async flushed(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  async #drain(): Promise<void> {
    await this.#ready;
    while (this.#pending || this.#dropped) {
      const marker = this.#dropped ? `--- ${this.#dropped} characters dropped: the disk did not keep up ---\n` : "";
      const text = marker + this.#pending;
      this.#pending = "";
      this.#dropped = 0;
      try {
        await this.#runtime.appendTextFile(this.path, text);
        if (this.#failing) this.#warn(`log file ${this.path}: writing works again`);
        this.#failing = false;
      } catch (error) {
        // One warning per failure streak, never one per line (llama-swap #1042).
        if (!this.#failing) this.#warn(`log file ${this.path}: cannot write (${error instanceof Error ? error.message : error}); its text is lost until writing works again`);
        this.#failing = true;
      }
    }
    this.#writing = null;
  }
}

/** The per-model log files of one router. */
export class LogFiles {
  readonly #runtime: Runtime;
  readonly #dir: string;
  readonly #warn: (message: string) => void;
  readonly #files = new Map<string, LogFile>();
  #ready: Promise<void> | null = null;

  /**
   * @param dir the configured `logDir` (created if missing)
   * @param warn reports a file that cannot be written (once per failure streak)
   */
  constructor(runtime: Runtime, dir: string, warn: (message: string) => void) {
    this.#runtime = runtime;
    this.#dir = dir.replace(/\/+$/, "") || "/";
    this.#warn = warn;
  }

  /** Copy everything written to `buffer` from now on into the model's file. Idempotent per model. */
  attach(model: string, buffer: LogBuffer): void {
    if (this.#files.has(model)) return;
    this.#ready ??= this.#runtime.mkdir(this.#dir).catch((error) => {
      this.#warn(`logDir ${this.#dir} cannot be created (${error instanceof Error ? error.message : error}); fix logDir or its permissions`);
    });
    const file = new LogFile(this.#runtime, `${this.#dir}/${logFileName(model)}`, this.#ready, this.#warn);
    this.#files.set(model, file);
    buffer.subscribe((text) => file.append(text));
  }

  /** Resolves once every queued line is on disk (shutdown, tests). */
  async flushed(): Promise<void> {
    await Promise.all([...this.#files.values()].map((file) => file.flushed()));
  }
}
