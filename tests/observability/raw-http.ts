/**
 * Test helper: a GET over a raw TCP socket, so a test controls exactly when
 * (and whether) the response is read — fetch clients buffer on their own —
 * and sees the response head as soon as the server sends it.
 */
import { connect, type Socket } from "node:net";

/** An open raw GET request. */
export class RawGet {
  /** Everything received so far (head and body, as text), unless opened with `keepText: false`. */
  text = "";
  /** Characters received so far. */
  received = 0;
  readonly #socket: Socket;
  readonly #keepText: boolean;
  readonly #waiters = new Set<() => void>();
  #closed = false;

  private constructor(socket: Socket, keepText: boolean) {
    this.#socket = socket;
    this.#keepText = keepText;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      if (this.#keepText) this.text += chunk;
      this.received += chunk.length;
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  /** Connect to `base` (http://host:port) and send `GET path`; `keepText: false` only counts what arrives. */
  static open(base: string, path: string, { keepText = true } = {}): Promise<RawGet> {
    const url = new URL(base);
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
        resolve(new RawGet(socket, keepText));
      });
      socket.once("error", reject);
    });
  }

  /**
   * Resolve with the first match of `pattern` in what was received (a
   * match is at most 1000 characters long: only new text is scanned, so
   * waiting on a fast stream stays cheap).
   */
  waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    let from = 0;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms; received ${this.text.length} chars:\n${this.text.slice(-2000)}`)), timeoutMs);
      const check = () => {
        const match = this.text.slice(from).match(pattern);
        from = Math.max(0, this.text.length - 1000);
        if (match) finish(null, match);
        else if (this.#closed) finish(new Error(`connection closed before ${pattern}:\n${this.text.slice(-2000)}`));
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

  /** Resolve once at least `count` characters have arrived. */
  waitForReceived(count: number, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`only ${this.received} of ${count} characters arrived within ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        if (this.received >= count) finish(null);
        else if (this.#closed) finish(new Error(`connection closed after ${this.received} of ${count} characters`));
      };
      const finish = (error: Error | null) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Stop reading from the socket: the server's writes pile up in the kernel buffers, then in the server. */
  pause(): void {
    this.#socket.pause();
  }

  /** Read again. */
  resume(): void {
    this.#socket.resume();
  }

  /** Close the connection. */
  close(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}
