/**
 * Reads a server-sent event stream incrementally: text goes in as it
 * arrives, the `data` of each complete event comes out (multi-line data
 * joined with "\n", as the SSE spec says). An event or a line longer than
 * the bound is an error instead of an ever-growing buffer.
 */

/** Incremental SSE parser for one stream. */
export class SseReader {
  readonly #maxChars: number;
  #pending = "";
  #data: string[] = [];
  #dataChars = 0;

  /** `maxChars` bounds one event's data and any one line. */
  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /** Feed the next text of the stream; returns the data of the events it completed. Throws past the bound. */
  push(text: string): string[] {
    const events: string[] = [];
    const buffer = this.#pending + text;
    let start = 0;
    for (let newline = buffer.indexOf("\n"); newline >= 0; newline = buffer.indexOf("\n", start)) {
      const end = newline > start && buffer.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      this.#line(buffer.slice(start, end), events);
      start = newline + 1;
    }
    this.#pending = buffer.slice(start);
    this.#check(this.#pending.length);
    return events;
  }

  /** The stream ended: the data of a last event that had no blank line after it. */
  end(): string[] {
    const events: string[] = [];
    if (this.#pending) this.#line(this.#pending, events);
    this.#pending = "";
    this.#line("", events);
    return events;
  }

  #line(line: string, events: string[]): void {
    if (line === "") {
      if (this.#data.length > 0) events.push(this.#data.join("\n"));
      this.#data = [];
      this.#dataChars = 0;
      return;
    }
    const colon = line.indexOf(":");
    if (colon === 0) return; // a comment
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== "data") return;
    const value = colon < 0 ? "" : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    this.#dataChars += value.length;
    this.#check(this.#dataChars);
    this.#data.push(value);
  }

  #check(chars: number): void {
    if (chars > this.#maxChars) throw new Error(`an event is longer than ${this.#maxChars} characters`);
  }
}
