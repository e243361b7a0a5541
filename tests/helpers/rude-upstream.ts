/**
 * An upstream that breaks the HTTP contract on purpose, run as a real
 * process by tests: `/health` answers 200; any other request gets the
 * headers of a server-sent event stream, one event with `--partial`, and
 * then the connection is reset (RST) without ending the stream. With
 * `--close-delimited` the body is not chunked: it ends with the connection.
 *
 *   <runtime> tests/helpers/rude-upstream.ts --port N [--partial] [--close-delimited]
 */
import { createServer } from "node:net";
import process from "node:process";

const args = process.argv.slice(2);
const port = Number(args[args.indexOf("--port") + 1]);
const partial = args.includes("--partial");
const chunked = !args.includes("--close-delimited");
const event = 'data: {"partial":1}\n\n';

const server = createServer((socket) => {
  socket.once("data", (data) => {
    if (data.toString("latin1").startsWith("GET /health")) {
      socket.end("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
      return;
    }
    const framing = chunked ? "transfer-encoding: chunked" : "connection: close";
    socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n${framing}\r\n\r\n`);
    if (partial) socket.write(chunked ? `${event.length.toString(16)}\r\n${event}\r\n` : event);
    setTimeout(() => socket.resetAndDestroy(), 20);
  });
});
server.listen(port, "127.0.0.1", () => console.log(`rude-upstream pid=${process.pid} port=${port}`));
