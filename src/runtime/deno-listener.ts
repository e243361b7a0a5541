/**
 * The connection guard's sockets on Deno: `Deno.listen` accepts client
 * connections (an accept that fails, EMFILE included, is reported and the
 * loop goes on; `Deno.serve`'s own loop dies of it; for HTTPS, deno-tls.ts
 * ends TLS on each) and `Deno.connect` opens each one's hop to the
 * `Deno.serve` behind it on loopback. Only deno.ts imports this file.
 */
import type { ConnectionGuard, GuardedConnection, GuardSocket, GuardTransport } from "./connection-guard.ts";
import { DenoTlsSide, tlsContext } from "./deno-tls.ts";
import type { TlsCertificate } from "./runtime.ts";

// The slice of Deno's network API used here, typed locally (see deno.ts).
interface DenoConn {
  readonly localAddr: { port?: number };
  readonly remoteAddr: { hostname?: string };
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
}
interface DenoListener {
  readonly addr: { hostname: string; port: number };
  accept(): Promise<DenoConn>;
  close(): void;
}
/** `Deno.listen` and `Deno.connect`. */
export interface DenoSocketApi {
  listen(options: { hostname: string; port: number }): DenoListener;
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
}

/** Reads start this small (most connections are idle or carry small requests) and grow while they fill. */
const MIN_READ = 4096;
const MAX_READ = 64 * 1024;
/** Pause before accepting again after an accept failed (EMFILE): the failure would repeat at once. */
const ACCEPT_RETRY_MS = 100;

/**
 * One Deno connection seen as a {@link GuardSocket}. Writes are always
 * asynchronous, so `write` queues and answers false; the read loop waits
 * while paused, which also keeps its buffer untouched until what was read
 * into it has been written on.
 */
class DenoSide implements GuardSocket {
  #conn: DenoConn | null = null;
  readonly #role: "client" | "server";
  connection: GuardedConnection | null = null;
  #queue: Uint8Array[] = [];
  #writing = false;
  #paused = false;
  #wake: (() => void) | null = null;
  #ended = false;
  #closeWhenEnded = false;
  #readEnded = false;
  #closed = false;

  constructor(role: "client" | "server") {
    this.#role = role;
  }

  write(bytes: Uint8Array): boolean {
    if (this.#closed) return true;
    this.#queue.push(bytes);
    if (!this.#writing && this.#conn !== null) void this.#flush();
    return false;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#wake?.();
    this.#wake = null;
  }

  end(close = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closeWhenEnded = close;
    if (!this.#writing && this.#conn !== null) void this.#flush();
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.resume(); // let a paused read loop see the close
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
  }

  /** The connection is open: start writing what waited and reading. */
  opened(conn: DenoConn): void {
    this.#conn = conn;
    conn.setNoDelay?.(true);
    if (this.#closed) return void conn.close();
    if (this.#queue.length > 0 || this.#ended) void this.#flush();
    void this.#read(conn);
  }

  /** The connection could not be opened. */
  failed(): void {
    this.#closed = true;
    this.#gone();
  }

  async #flush(): Promise<void> {
    const conn = this.#conn!;
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const bytes = this.#queue[0];
        const written = await conn.write(bytes);
        if (written < bytes.length) this.#queue[0] = bytes.subarray(written);
        else this.#queue.shift();
      }
      if (this.#ended && !this.#closed) {
        await conn.closeWrite();
        if (this.#readEnded || this.#closeWhenEnded) return this.#close(); // both directions are done
      }
    } catch {
      this.#writing = false;
      return this.destroy(); // the read loop reports the close
    }
    this.#writing = false;
    if (!this.#closed && !this.#ended) this.#drained();
  }

  async #read(conn: DenoConn): Promise<void> {
    let buffer = new Uint8Array(MIN_READ);
    for (;;) {
      if (this.#paused) await new Promise<void>((resolve) => (this.#wake = resolve));
      if (this.#closed) break;
      let count: number | null;
      try {
        count = await conn.read(buffer);
      } catch {
        break;
      }
      if (count === null) {
        this.#readEnded = true;
        if (this.#ended && !this.#writing) this.#close(); // both directions are done
        else this.#endedByPeer();
        return;
      }
      this.#data(buffer.subarray(0, count));
      // Grow while reads fill the buffer; shrink back once they are small again.
      if (count === buffer.length && buffer.length < MAX_READ) buffer = new Uint8Array(buffer.length * 4);
      else if (buffer.length > MIN_READ && count < MIN_READ) buffer = new Uint8Array(MIN_READ);
    }
    this.#close();
  }

  /** Closed from this side (not by the guard): tell the connection. */
  #close(): void {
    this.destroy();
    this.#gone();
  }

  #data(bytes: Uint8Array): void {
    if (this.#role === "client") this.connection?.clientData(bytes);
    else this.connection?.serverData(bytes);
  }

  #drained(): void {
    if (this.#role === "client") this.connection?.clientDrained();
    else this.connection?.serverDrained();
  }

  #endedByPeer(): void {
    if (this.#role === "client") this.connection?.clientEnded();
    else this.connection?.serverGone();
  }

  #gone(): void {
    if (this.#role === "client") this.connection?.clientClosed();
    else this.connection?.serverGone();
  }
}

/** A listening guarded server's socket: its address, and a way to stop accepting. */
export interface GuardedListener {
  readonly hostname: string;
  readonly port: number;
  close(): void;
}

/**
 * Accept client connections on `hostname:port` for `guard`, over TLS with
 * `tls` (the guard sees a connection from its first TCP byte, so the
 * handshake counts against the header timeout). Throws when the address
 * cannot be bound or the certificate not used.
 */
export function listenGuarded(
  deno: DenoSocketApi,
  hostname: string,
  port: number,
  guard: ConnectionGuard,
  tls?: TlsCertificate,
): GuardedListener {
  const context = tls && tlsContext(tls);
  const listener = deno.listen({ hostname, port });
  let closed = false;
  void (async () => {
    while (!closed) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed) return;
        guard.acceptFailed(error);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (context) {
        const side = new DenoTlsSide(conn, context);
        side.connection = guard.accept(side, conn.remoteAddr.hostname ?? "");
        continue;
      }
      const side = new DenoSide("client");
      side.connection = guard.accept(side, conn.remoteAddr.hostname ?? "");
      side.opened(conn);
    }
  })();
  return {
    hostname: listener.addr.hostname,
    port: listener.addr.port,
    close() {
      closed = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
    },
  };
}

/** The transport that opens each connection's hop to the `Deno.serve` on `127.0.0.1:serverPort`. */
export function denoTransport(deno: DenoSocketApi, serverPort: number): GuardTransport {
  return {
    connect(connection) {
      const side = new DenoSide("server");
      side.connection = connection;
      deno.connect({ hostname: "127.0.0.1", port: serverPort }).then(
        (conn) => {
          connection.serverOpened(conn.localAddr.port ?? 0);
          side.opened(conn);
        },
        () => side.failed(),
      );
      return side;
    },
  };
}
