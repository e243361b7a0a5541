/**
 * A tiny WebSocket echo server built on the runtime seam, run as its own
 * program by tests that need a real upstream to relay WebSockets to:
 *
 *   <runtime> tests/helpers/ws-echo.ts --port N     (0 picks a free port)
 *
 * `/health` answers 200. Any other path upgrades (agreeing to the first
 * offered subprotocol that starts with "echo"), sends `path <path and query>`
 * once open (then `burst 1` … `burst N` for a `?burst=N` query), then echoes
 * every text and binary message; the text `close <code> <reason>` makes it
 * close with that code and reason.
 * It prints `ws-echo pid=<pid> port=<port>` once listening, and
 * `ws-echo open <path>` / `ws-echo closed <code> <reason>` per connection,
 * so that a test can await what the server saw.
 */
import { detectRuntime } from "../../src/runtime/detect.ts";
import { isWebSocketUpgrade, offeredProtocols } from "../../src/http/websocket.ts";

const runtime = await detectRuntime();
const portFlag = runtime.args.indexOf("--port");
const port = Number(runtime.args[portFlag + 1]);
if (portFlag < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("ws-echo: usage: ws-echo.ts --port N (0 picks a free port)");
  runtime.exit(2);
}

const server = await runtime.serve({
  hostname: "127.0.0.1",
  port,
  fetch(request, info) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (!isWebSocketUpgrade(request)) return new Response("expected a WebSocket upgrade", { status: 400 });
    const protocol = offeredProtocols(request).find((name) => name.startsWith("echo"));
    const { socket, response } = info.upgradeWebSocket({ protocol });
    const path = `${url.pathname}${url.search}`;
    socket.addEventListener("open", () => {
      console.log(`ws-echo open ${path}`);
      socket.send(`path ${path}`);
      const burst = Math.min(Number(url.searchParams.get("burst") ?? 0), 10_000);
      for (let i = 1; i <= burst; i++) socket.send(`burst ${i}`);
    });
    socket.addEventListener("message", (event) => {
      const data = (event as MessageEvent<string | ArrayBuffer>).data;
      const close = typeof data === "string" ? /^close (\d+) ?(.*)$/.exec(data) : null;
      if (close) socket.close(Number(close[1]), close[2]);
      else socket.send(data);
    });
    socket.addEventListener("close", (event) => {
      const { code, reason } = event as CloseEvent;
      console.log(`ws-echo closed ${code} ${reason}`);
    });
    return response;
  },
});
runtime.onSignal("SIGTERM", () => void server.stop(true).finally(() => runtime.exit(0)));
console.log(`ws-echo pid=${runtime.pid} port=${server.port}`);
