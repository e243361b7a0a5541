/**
 * Bounded capture of a process's output. An upstream may print anything —
 * empty lines forever, one line of 100 MB, megabytes per second — and the
 * router must still answer signals, health checks and requests (issue 15).
 * So output is read on a budget, split in bulk (one decode per chunk, not
 * per line), lines are cut at {@link MAX_LINE_BYTES} with a marker, and
 * lines beyond a per-process rate are dropped and counted. Everything
 * downstream (the model's log, `combined`/stdout, `logDir` files, the event
 * feed, subscribers) sees only these bounded lines.
 */
import { concatBytes } from "../bytes.ts";
import { droppedMarker, LineRateLimit } from "../logging/rate-limit.ts";

/**
 * Longest line kept, in bytes. llama-server's longest ordinary lines (a
 * chat template, a verbose request dump of a normal prompt) fit; a longer
 * "line" is a dump nobody reads in a log viewer. Also the most a stream
 * ever holds of a line that has not ended yet.
 */
export const MAX_LINE_BYTES = 16 * 1024;

/**
 * Bytes a stream is read per second at most: far beyond any real log, low
 * enough that a stream that never pauses (`yes ""`) costs the router well
 * under a fifth of a core (6–10 % measured, on Bun and Deno). Beyond it the
 * pipe fills and the flooding process waits on its own writes.
 */
export const READ_BYTES_PER_SECOND = 16 * 1024 * 1024;

const NEWLINE = 10;
const decoder = new TextDecoder();

/** Where captured text goes: whole lines, each ending in "\n", plus markers. */
export type OutputSink = (text: string) => void;

/** The end of the longest prefix of `bytes[from, to)` that does not split a UTF-8 character. */
function charBoundary(bytes: Uint8Array, from: number, to: number): number {
  let end = to;
  while (end > from && (bytes[end] & 0xc0) === 0x80) end--;
  return end;
}

/** Newlines in `bytes` from `from` on, and the position of the last one (-1 if none): a tight loop, ~1 ns a byte. */
function countNewlines(bytes: Uint8Array, from: number): { count: number; last: number } {
  let count = 0;
  let last = -1;
  for (let i = from; i < bytes.length; i++) {
    if (bytes[i] === NEWLINE) {
      count++;
      last = i;
    }
  }
  return { count, last };
}

/**
 * Text for the log, built from ranges of one chunk (decoded together, so a
 * run of ordinary lines costs one decode) and separate pieces (markers,
 * lines that spanned chunks).
 */
class Output {
  readonly #chunk: Uint8Array;
  readonly #parts: string[] = [];
  #from = 0;
  #to = 0;

  constructor(chunk: Uint8Array) {
    this.#chunk = chunk;
  }

  /** Bytes `[from, to)` of the chunk, whole lines. */
  range(from: number, to: number): void {
    if (from !== this.#to) this.#flush();
    if (this.#from === this.#to) this.#from = from;
    this.#to = to;
  }

  /** A piece of text after what was added so far. */
  text(text: string): void {
    this.#flush();
    this.#parts.push(text);
  }

  /** Everything added, in order. */
  done(): string {
    this.#flush();
    return this.#parts.length === 1 ? this.#parts[0] : this.#parts.join("");
  }

  #flush(): void {
    if (this.#to > this.#from) this.#parts.push(decoder.decode(this.#chunk.subarray(this.#from, this.#to)));
    this.#from = this.#to = 0;
  }
}

/** Splits one stream's bytes into bounded lines; the rate limit is shared with the process's other stream. */
class LineSplitter {
  /** Bytes of the line not ended yet: at most MAX_LINE_BYTES in all. */
  #head: Uint8Array[] = [];
  #headBytes = 0;
  /** Bytes of the current line beyond the cap (a cut line), or 0. */
  #cut = 0;
  /** Whether the current cut line's head was logged (its summary then is too). */
  #cutShown = false;
  /** The current line started while the rate limit was full: it is dropped whole. */
  #dropping = false;
  readonly #limit: LineRateLimit;

  constructor(limit: LineRateLimit) {
    this.#limit = limit;
  }

  /** The text to log for a new chunk of output (possibly ""). */
  push(chunk: Uint8Array, now: number): string {
    const out = new Output(chunk);
    let start = 0;
    if (this.#headBytes > 0 || this.#cut > 0 || this.#dropping) {
      const newline = chunk.indexOf(NEWLINE);
      this.#extend(chunk, 0, newline < 0 ? chunk.length : newline, now, out);
      if (newline < 0) return out.done();
      this.#endLine(now, out);
      start = newline + 1;
    }
    while (start < chunk.length) {
      if (this.#limit.full(now)) {
        // Over the rate: count the rest in bulk; a line left open at the end is dropped whole too.
        const { count, last } = countNewlines(chunk, start);
        this.#limit.dropped += count;
        if (last + 1 < chunk.length) this.#dropping = true;
        break;
      }
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline >= 0 && newline - start <= MAX_LINE_BYTES) {
        if (this.#admit(newline + 1 - start, now, out)) out.range(start, newline + 1);
        start = newline + 1;
        continue;
      }
      const end = newline < 0 ? chunk.length : newline;
      this.#extend(chunk, start, end, now, out);
      if (newline < 0) break;
      this.#endLine(now, out);
      start = newline + 1;
    }
    return out.done();
  }

  /** The text to log once the stream has ended: a last line without "\n" still counts. */
  end(now: number): string {
    const out = new Output(new Uint8Array(0));
    if (this.#headBytes > 0 || this.#cut > 0 || this.#dropping) this.#endLine(now, out);
    return out.done();
  }

  /** Count a line of `bytes` against the rate; a pending dropped-lines marker goes before it. */
  #admit(bytes: number, now: number, out: Output): boolean {
    const dropped = this.#limit.dropped;
    if (!this.#limit.admit(bytes, now)) return false;
    if (dropped > 0) {
      out.text(droppedMarker(dropped));
      this.#limit.dropped = 0;
    }
    return true;
  }

  /** Add `chunk[from, to)` to the line not ended yet, keeping at most MAX_LINE_BYTES of it. */
  #extend(chunk: Uint8Array, from: number, to: number, now: number, out: Output): void {
    if (this.#dropping || to <= from) return;
    if (this.#cut > 0) {
      this.#cut += to - from;
      return;
    }
    const room = MAX_LINE_BYTES - this.#headBytes;
    if (to - from <= room) {
      this.#head.push(chunk.slice(from, to));
      this.#headBytes += to - from;
      return;
    }
    // The line just went over the cap: log its head now (the rest may be long in coming) and only count the rest.
    const end = charBoundary(chunk, from, from + room);
    this.#head.push(chunk.subarray(from, end));
    this.#headBytes += end - from;
    const head = this.#takeHead();
    this.#cut = to - end;
    this.#cutShown = this.#admit(MAX_LINE_BYTES, now, out);
    if (this.#cutShown) out.text(`${head} [… line longer than ${MAX_LINE_BYTES} bytes: cut]\n`);
  }

  /** The current line ended (at a newline, or with the stream). */
  #endLine(now: number, out: Output): void {
    if (this.#dropping) {
      this.#dropping = false;
      this.#limit.dropped++;
    } else if (this.#cut > 0) {
      if (this.#cutShown) out.text(`[… ${this.#cut} bytes cut from that line]\n`);
      this.#cut = 0;
      this.#cutShown = false;
    } else {
      const line = this.#takeHead();
      if (this.#admit(line.length + 1, now, out)) out.text(`${line}\n`);
    }
  }

  #takeHead(): string {
    const bytes = concatBytes(this.#head);
    this.#head = [];
    this.#headBytes = 0;
    return decoder.decode(bytes);
  }
}

/** Waits between chunks: always one turn of the event loop, longer when a stream reads faster than READ_BYTES_PER_SECOND. */
class ReadBudget {
  #allowedAt = 0;

  pause(bytes: number): Promise<void> {
    const now = performance.now();
    this.#allowedAt = Math.max(this.#allowedAt, now) + (bytes * 1000) / READ_BYTES_PER_SECOND;
    const wait = this.#allowedAt - now;
    return new Promise((resolve) => setTimeout(resolve, wait >= 1 ? wait : 0));
  }
}

/**
 * The bounded capture of one process's output (stdout and stderr share its
 * rate limit). Lines dropped by the rate limit are reported by a marker
 * before the next line logged, or at the end of their window, or when the
 * last stream ends, whichever comes first.
 */
export class OutputCapture {
  readonly #sink: OutputSink;
  readonly #limit = new LineRateLimit();
  #open = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param sink receives the bounded text: whole lines and markers */
  constructor(sink: OutputSink) {
    this.#sink = sink;
  }

  /** Read `stream` until it ends (or fails: the process went away); never rejects. */
  async pipe(stream: ReadableStream<Uint8Array>): Promise<void> {
    const splitter = new LineSplitter(this.#limit);
    const budget = new ReadBudget();
    this.#open++;
    try {
      const reader = stream.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#emit(splitter.push(value, Date.now()));
        await budget.pause(value.length);
      }
    } catch {
      // The process went away mid-read; what arrived is kept below.
    }
    this.#emit(splitter.end(Date.now()));
    if (--this.#open === 0) this.#reportDropped();
  }

  #emit(text: string): void {
    if (text) this.#sink(text);
    if (this.#limit.dropped > 0 && this.#timer === undefined) this.#reportAtWindowEnd();
  }

  /** One marker per window: a timer may fire a little early by the wall clock, then it waits again. */
  #reportAtWindowEnd(): void {
    const wait = this.#limit.untilNextWindow(Date.now());
    if (wait === 0) return this.#reportDropped();
    this.#timer = setTimeout(() => this.#reportAtWindowEnd(), wait);
  }

  #reportDropped(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#limit.dropped === 0) return;
    this.#sink(droppedMarker(this.#limit.dropped));
    this.#limit.dropped = 0;
  }
}

/** Keep the last `max` lines of `text` (whole lines ending in "\n") in `tail`, without splitting all of it. */
export function keepTail(tail: string[], text: string, max: number): void {
  let end = text.length;
  const lines: string[] = [];
  while (end > 0 && lines.length < max) {
    const start = end >= 2 ? text.lastIndexOf("\n", end - 2) + 1 : 0;
    lines.push(text.slice(start, end).trimEnd());
    end = start;
  }
  tail.push(...lines.reverse());
  if (tail.length > max) tail.splice(0, tail.length - max);
}

/** Capture one stream bounded (as {@link OutputCapture}, with a rate limit of its own); resolves when it ends. */
export function pipeLines(stream: ReadableStream<Uint8Array>, sink: OutputSink): Promise<void> {
  return new OutputCapture(sink).pipe(stream);
}
