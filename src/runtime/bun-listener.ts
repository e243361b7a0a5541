/**
 * The connection guard's sockets on Bun: `Bun.listen` accepts client
 * connections (and ends TLS for HTTPS) and `Bun.connect` opens each one's
 * hop to the `Bun.serve` behind it on loopback. Only bun.ts imports this file.
 */
import type { ConnectionGuard, GuardedConnection, GuardSocket, GuardTransport } from "./connection-guard.ts";
import type { TlsCertificate } from "./runtime.ts";

// The slice of Bun's socket API used here, typed locally (see bun.ts).
interface BunSocket {
  data: BunSide;
  readonly localPort: number;
  readonly remoteAddress: string;
  write(bytes: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
}
interface BunSocketHandler {
  open(socket: BunSocket): void;
  data(socket: BunSocket, bytes: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
}
interface BunSocketListener {
  readonly hostname: string;
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}
/** `Bun.listen` and `Bun.connect`. */
export interface BunSocketApi {
  listen(options: { hostname: string; port: number; allowHalfOpen: boolean; tls?: TlsCertificate; socket: BunSocketHandler }): BunSocketListener;
  connect(options: { hostname: string; port: number; allowHalfOpen: boolean; data: BunSide; socket: BunSocketHandler }): Promise<BunSocket>;
}

/** One Bun socket seen as a {@link GuardSocket}: what does not fit into the kernel's buffer waits here for `drain`. */
class BunSide implements GuardSocket {
  connection: GuardedConnection | null = null;
  #socket: BunSocket | null = null;
  #queue: Uint8Array[] = [];
  #paused = false;
  #ended = false;
  #closeWhenEnded = false;
  #closed = false;

  write(bytes: Uint8Array): boolean {
    if (this.#closed) return true;
    if (this.#socket === null || this.#queue.length > 0) {
      this.#queue.push(bytes);
      return false;
    }
    const written = this.#socket.write(bytes);
    if (written >= bytes.length) return true;
    this.#queue.push(written > 0 ? bytes.subarray(written) : bytes);
    return false;
  }

  pause(): void {
    this.#paused = true;
    this.#socket?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#socket?.resume();
  }

  end(close = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#closeWhenEnded = close;
    if (this.#socket !== null && this.#queue.length === 0) this.#finish(this.#socket);
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#socket?.terminate();
  }

  /** The socket is open (at once for a client, once connected for the hop). */
  opened(socket: BunSocket): void {
    socket.data = this;
    socket.setNoDelay(true);
    this.#socket = socket;
    if (this.#paused) socket.pause();
  }

  /** Write what waited; true once nothing is left (then an `end()` that waited is carried out). */
  flush(): boolean {
    const socket = this.#socket;
    if (socket === null || this.#closed) return false;
    while (this.#queue.length > 0) {
      const bytes = this.#queue[0];
      const written = socket.write(bytes);
      if (written < bytes.length) {
        if (written > 0) this.#queue[0] = bytes.subarray(written);
        return false;
      }
      this.#queue.shift();
    }
    if (this.#ended) this.#finish(socket);
    return true;
  }

  #finish(socket: BunSocket): void {
    socket.end();
    if (this.#closeWhenEnded) this.destroy();
  }

  /** The socket is gone: nothing more can be written. */
  closed(): void {
    this.#closed = true;
    this.#queue = [];
  }
}

/**
 * Accept client connections on `hostname:port` for `guard`, over TLS with
 * `tls` (the guard sees a connection from its first TCP byte, so the
 * handshake counts against the header timeout). Throws when the address
 * cannot be bound or the certificate not used.
 */
export function listenGuarded(
  bun: BunSocketApi,
  hostname: string,
  port: number,
  guard: ConnectionGuard,
  tls?: TlsCertificate,
): BunSocketListener {
  return bun.listen({
    hostname,
    port,
    allowHalfOpen: true,
    tls,
    socket: {
      open(socket) {
        const side = new BunSide();
        side.opened(socket);
        side.connection = guard.accept(side, socket.remoteAddress);
      },
      data: (socket, bytes) => socket.data.connection?.clientData(bytes),
      drain(socket) {
        if (socket.data.flush()) socket.data.connection?.clientDrained();
      },
      end: (socket) => socket.data.connection?.clientEnded(),
      close(socket) {
        socket.data.closed();
        socket.data.connection?.clientClosed();
      },
      error() {}, // `close` follows
      // Only with this handler does Bun call `open` when a TLS connection is accepted rather than once its
      // handshake is done, so that a client that never finishes one is timed and counted like any other.
      // A failed handshake is followed by `close`; client certificates are not asked for.
      handshake() {},
    },
  });
}

/** The transport that opens each connection's hop to the `Bun.serve` on `127.0.0.1:serverPort`. */
export function bunTransport(bun: BunSocketApi, serverPort: number): GuardTransport {
  return {
    connect(connection) {
      const side = new BunSide();
      side.connection = connection;
      const gone = () => {
        side.closed();
        connection.serverGone();
      };
      bun.connect({
        hostname: "127.0.0.1",
        port: serverPort,
        allowHalfOpen: true,
        data: side,
        socket: {
          open(socket) {
            side.opened(socket);
            connection.serverOpened(socket.localPort);
            if (side.flush()) connection.serverDrained();
          },
          data: (_socket, bytes) => connection.serverData(bytes),
          drain() {
            if (side.flush()) connection.serverDrained();
          },
          end: () => connection.serverGone(),
          close: gone,
          error() {}, // `close` follows
          connectError: gone,
        },
      }).catch(gone);
      return side;
    },
  };
}
