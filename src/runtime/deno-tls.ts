/**
 * TLS for the connection guard's clients on Deno, ended in-process by
 * `node:tls` over the raw connection `Deno.listen` accepted. Not
 * `Deno.listenTls`: closing one of its connections before the handshake is
 * done leaves the socket open until the client leaves, so a client that
 * never finishes a handshake would keep a descriptor past every timeout.
 * Here closing always closes the raw connection. Only deno-listener.ts
 * imports this file.
 */
import { Duplex } from "node:stream";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { GuardedConnection, GuardSocket } from "./connection-guard.ts";
import type { TlsCertificate } from "./runtime.ts";

/** The slice of a Deno connection used here (see deno-listener.ts). */
export interface RawConn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}

/** The largest TLS record: one read takes a whole one. */
const READ_BYTES = 17 * 1024;

/** The certificate as TLS server state, made once per listener. Throws when it cannot be used. */
export function tlsContext(tls: TlsCertificate): SecureContext {
  return createSecureContext({ cert: tls.cert, key: tls.key });
}

/**
 * `conn` as a Node stream of the encrypted bytes, for `TLSSocket` to read
 * and write. `pause` stops reading `conn` (pausing the `TLSSocket` alone
 * does not: it would go on decrypting whatever the client sends into memory).
 */
class RawStream {
  readonly stream: Duplex;
  #reading = false;
  #paused = false;
  #wake: (() => void) | null = null;

  constructor(conn: RawConn) {
    this.stream = new Duplex({
      allowHalfOpen: true,
      read: () => void this.#read(conn),
      write(bytes: Uint8Array, _encoding, done) {
        void (async () => {
          for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
        })().then(() => done(), done);
      },
      final(done) {
        conn.closeWrite().then(() => done(), done);
      },
      destroy: (error, done) => {
        try {
          conn.close();
        } catch {
          // already closed
        }
        this.resume(); // a paused read loop ends
        done(error);
      },
    });
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wake?.();
    this.#wake = null;
  }

  /** Read until the stream wants no more (`read()` is called again when it does), or the end. */
  async #read(conn: RawConn): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    const stream = this.stream;
    for (;;) {
      if (this.#paused) await new Promise<void>((resolve) => (this.#wake = resolve));
      if (stream.destroyed) return;
      const buffer = new Uint8Array(READ_BYTES);
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch (error) {
        return void stream.destroy(error as Error);
      }
      if (count === null) return void stream.push(null);
      if (!stream.push(buffer.subarray(0, count))) return void (this.#reading = false);
    }
  }
}

/** A client connection over TLS, seen as a {@link GuardSocket}; its events go to `connection`. */
export class DenoTlsSide implements GuardSocket {
  connection: GuardedConnection | null = null;
  readonly #raw: RawStream;
  readonly #socket: TLSSocket;
  /** Whether the handshake is done / anything was written (it waits for the handshake). */
  #secure = false;
  #wrote = false;

  constructor(conn: RawConn, context: SecureContext) {
    conn.setNoDelay?.(true);
    this.#raw = new RawStream(conn);
    // HTTP/1.1 only: the guard follows HTTP/1.1 framing (no HTTP/2 offered in ALPN).
    const socket = new TLSSocket(this.#raw.stream, { isServer: true, secureContext: context, ALPNProtocols: ["http/1.1"] });
    socket.once("secure", () => (this.#secure = true));
    // A plain view of each Buffer, so that the guard's `slice()` copies as it expects (a Buffer's would not).
    socket.on("data", (bytes: Uint8Array) => this.connection?.clientData(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
    socket.on("drain", () => this.connection?.clientDrained());
    socket.on("end", () => this.connection?.clientEnded());
    socket.on("close", () => this.connection?.clientClosed());
    socket.on("error", () => {}); // `close` follows (a failed handshake, plain HTTP, a reset)
    this.#socket = socket;
  }

  write(bytes: Uint8Array): boolean {
    if (this.#socket.destroyed) return true;
    this.#wrote = true;
    return this.#socket.write(bytes);
  }

  pause(): void {
    this.#raw.pause();
    this.#socket.pause();
  }

  resume(): void {
    this.#raw.resume();
    this.#socket.resume();
  }

  end(close = false): void {
    // Before the handshake, with nothing to say, there is no one to say goodbye to (an end would wait for it).
    if (!this.#secure && !this.#wrote) return this.destroy();
    if (this.#socket.writableEnded) return;
    this.#socket.end(close ? () => this.#socket.destroy() : undefined);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
