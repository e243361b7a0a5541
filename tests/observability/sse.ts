/** Test helper: reads Server-Sent Events messages from a byte stream, one at a time. */

/** One SSE message. */
export interface SseMessage {
  event: string;
  // deno-lint-ignore no-explicit-any
  data: any; // parsed JSON: tests inspect whatever each event carries
}

/** Pulls messages from an SSE stream on demand, so a test controls when it reads. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next message (comments such as keep-alives are skipped); rejects after `timeoutMs`. */
  async next(timeoutMs = 10_000): Promise<SseMessage> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no SSE message within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.#next(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Read until a message satisfies `match`; returns it and every message read before it. */
  async until(match: (message: SseMessage) => boolean, timeoutMs = 10_000): Promise<{ found: SseMessage; before: SseMessage[] }> {
    const deadline = Date.now() + timeoutMs;
    const before: SseMessage[] = [];
    for (;;) {
      const message = await this.next(Math.max(1, deadline - Date.now()));
      if (match(message)) return { found: message, before };
      before.push(message);
    }
  }

  /** Stop reading and release the stream. */
  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  async #next(): Promise<SseMessage> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
        }
        if (data.length === 0) continue;
        return { event, data: JSON.parse(data.join("\n")) };
      }
      const { done, value } = await this.#reader.read();
      if (done) throw new Error("the event stream ended");
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }
}
