/**
 * Test helper: a raw TCP connection to a server, so that a test controls
 * exactly which bytes go out and when (a head one byte at a time, a body
 * that stops, two requests in one write) and sees exactly what comes back
 * and when the server closes.
 */
import { connect, type Socket } from "node:net";

/** An open raw connection. */
export class RawSocket {
  /** Everything received so far, as latin1 text. */
  text = "";
  /** When the connection was opened and (once it is) closed, from `performance.now()`. */
  readonly openedAt: number;
  closedAt: number | null = null;
  /** Resolves once the server has closed the connection (or it broke). */
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #waiters = new Set<() => void>();

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.openedAt = performance.now();
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      this.text += chunk;
      this.#wake();
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) =>
      socket.once("close", () => {
        this.closedAt = performance.now();
        resolve();
        this.#wake();
      })
    );
  }

  /** Connect to `base` (http://host:port). */
  static open(base: string): Promise<RawSocket> {
    const url = new URL(base);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.off("error", reject);
        resolve(new RawSocket(socket));
      });
      socket.once("error", reject);
    });
  }

  /** True once the server has closed the connection. */
  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Milliseconds from opening to the server's close (null while open). */
  get lifetimeMs(): number | null {
    return this.closedAt === null ? null : this.closedAt - this.openedAt;
  }

  /** Send `text` at once. */
  write(text: string): void {
    if (!this.#socket.destroyed) this.#socket.write(text, "latin1");
  }

  /** Send `text` one byte every `intervalMs` until it is all sent or the connection closes. */
  async dribble(text: string, intervalMs: number): Promise<void> {
    for (const char of text) {
      if (this.isClosed) return;
      this.write(char);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /** Resolve with the first match of `pattern` in what was received; reject when the connection closes first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms; received:\n${this.text.slice(-2000)}`)), timeoutMs);
      const check = () => {
        const match = this.text.match(pattern);
        if (match) finish(null, match);
        else if (this.isClosed) finish(new Error(`connection closed before ${pattern}; received:\n${this.text.slice(-2000)}`));
      };
      const finish = (error: Error | null, match?: RegExpMatchArray) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(match!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolve with the first `count` complete responses; reject when the connection closes first or after `timeoutMs`. */
  async waitForResponses(count: number, timeoutMs = 10_000): Promise<RawResponse[]> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`not ${count} responses within ${timeoutMs} ms; received:\n${this.text.slice(-2000)}`)), timeoutMs);
      const check = () => {
        const found = responses(this.text, this.isClosed);
        if (found.length >= count) finish(null, found.slice(0, count));
        else if (this.isClosed) finish(new Error(`connection closed after ${found.length} of ${count} responses; received:\n${this.text.slice(-2000)}`));
      };
      const finish = (error: Error | null, found?: RawResponse[]) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve(found!);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Resolve once the server closes the connection; reject after `timeoutMs`. */
  async waitForClose(timeoutMs = 10_000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${timeoutMs} ms; received:\n${this.text.slice(-2000)}`)), timeoutMs);
    });
    await Promise.race([this.closed, timeout]).finally(() => clearTimeout(timer));
  }

  /** Close from this side. */
  close(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** One response read off a raw connection. */
export interface RawResponse {
  status: number;
  /** Status line and header fields. */
  head: string;
  body: string;
}

/**
 * The complete responses in what a server sent, in order: those with a
 * Content-Length or chunked body once all of it is there, and (last) one
 * delimited by the connection's close.
 */
export function responses(text: string, closed = true): RawResponse[] {
  const found: RawResponse[] = [];
  let rest = text;
  while (rest.startsWith("HTTP/1.")) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd < 0) break;
    const head = rest.slice(0, headEnd);
    const after = rest.slice(headEnd + 4);
    const length = /^content-length:\s*(\d+)/im.exec(head);
    let body: string | null;
    if (length) {
      body = after.length >= Number(length[1]) ? after.slice(0, Number(length[1])) : null;
      rest = after.slice(Number(length[1]));
    } else if (/^transfer-encoding:\s*chunked/im.test(head)) {
      [body, rest] = dechunk(after);
    } else {
      body = closed ? after : null;
      rest = "";
    }
    if (body === null) break;
    found.push({ status: Number(head.slice(9, 12)), head, body });
  }
  return found;
}

/** A chunked body and what follows it, or null while it is incomplete. */
function dechunk(text: string): [string | null, string] {
  let body = "";
  let rest = text;
  for (;;) {
    const lineEnd = rest.indexOf("\r\n");
    if (lineEnd < 0) return [null, ""];
    const size = parseInt(rest.slice(0, lineEnd), 16);
    rest = rest.slice(lineEnd + 2);
    if (size === 0) {
      const end = rest.indexOf("\r\n");
      return end < 0 ? [null, ""] : [body, rest.slice(end + 2)];
    }
    if (rest.length < size + 2) return [null, ""];
    body += rest.slice(0, size);
    rest = rest.slice(size + 2);
  }
}
