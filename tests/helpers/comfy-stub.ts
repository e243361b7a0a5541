/**
 * A stand-in for ComfyUI's server, run as its own program by the /comfyui
 * tests:
 *
 *   <runtime> tests/helpers/comfy-stub.ts --port N
 *
 * `/health` answers 200; a WebSocket upgrade (ComfyUI's `/ws`) sends
 * `ws <path and query>` once open and then echoes text; any other request
 * answers 200 `comfy <method> <path and query>`. It prints
 * `comfy-stub pid=<pid> port=<port>` once listening.
 */
import { isWebSocketUpgrade } from "../../src/http/websocket.ts";
import { detectRuntime } from "../../src/runtime/detect.ts";

const runtime = await detectRuntime();
const port = Number(runtime.args[runtime.args.indexOf("--port") + 1]);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("comfy-stub: usage: comfy-stub.ts --port N");
  runtime.exit(2);
}

const server = await runtime.serve({
  hostname: "127.0.0.1",
  port,
  fetch(request, info) {
    const url = new URL(request.url);
    const path = `${url.pathname}${url.search}`;
    if (url.pathname === "/health") return new Response("ok");
    if (!isWebSocketUpgrade(request)) return new Response(`comfy ${request.method} ${path}`);
    const { socket, response } = info.upgradeWebSocket();
    socket.addEventListener("open", () => socket.send(`ws ${path}`));
    socket.addEventListener("message", (event) => socket.send((event as MessageEvent<string>).data));
    return response;
  },
});
runtime.onSignal("SIGTERM", () => void server.stop(true).finally(() => runtime.exit(0)));
console.log(`comfy-stub pid=${runtime.pid} port=${server.port}`);
