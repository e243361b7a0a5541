/**
 * The HTTP/1.x framing the connection guard follows (src/runtime/http1-framing.ts):
 * where heads and bodies end, however the bytes are split, and which
 * framings it refuses rather than guess.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_HEAD_BYTES, MessageFramer } from "../../src/runtime/http1-framing.ts";

const encoder = new TextEncoder();

/** Feeds `chunks` like the guard does and records heads and ends (responses answer HEAD requests when `head`). */
function follow(kind: "request" | "response", chunks: string[], head = false) {
  const events: string[] = [];
  const framer = new MessageFramer(kind, {
    head: (status, isHead) => events.push(kind === "request" ? `head ${isHead ? "HEAD" : "other"}` : `head ${status}`),
    end: () => {
      events.push("end");
      framer.answeringHead(head);
    },
  });
  framer.answeringHead(head);
  for (const chunk of chunks) {
    const bytes = encoder.encode(chunk);
    let at = 0;
    while (at < bytes.length && framer.phase !== "error") at = framer.feed(bytes, at);
  }
  return { events, framer };
}

/** Every way to cut `text` in two. */
function splits(text: string): string[][] {
  return Array.from({ length: text.length - 1 }, (_, i) => [text.slice(0, i + 1), text.slice(i + 1)]);
}

describe("HTTP/1.x framing", () => {
  it("finds the end of a request without a body and of one with Content-Length, however the bytes are split", () => {
    const text = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    for (const chunks of [[text], ...splits(text), text.split("")]) {
      const { events, framer } = follow("request", chunks);
      assert.deepEqual(events, ["head other", "end", "head other", "end"], JSON.stringify(chunks));
      assert.equal(framer.phase, "head");
      assert.equal(framer.headBytes, 0);
    }
  });

  it("stops right after a message's end, so that what follows can be held back", () => {
    const framer = new MessageFramer("request", { head() {}, end() {} });
    const bytes = encoder.encode("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n");
    assert.equal(framer.feed(bytes, 0), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n".length);
    assert.equal(framer.feed(bytes, 28), bytes.length);
    assert.equal(framer.headBytes, "GET /b HTTP/1.1\r\n".length);
  });

  it("follows chunked bodies with extensions and trailers, split anywhere", () => {
    const text = "POST /c HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhello\r\nA \r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\nHEAD / HTTP/1.1\r\n\r\n";
    for (const chunks of [[text], ...splits(text)]) {
      assert.deepEqual(follow("request", chunks).events, ["head other", "end", "head HEAD", "end"], JSON.stringify(chunks));
    }
  });

  it("accepts bare LF line ends and ignores empty lines before a request line", () => {
    assert.deepEqual(follow("request", ["\r\n\nGET / HTTP/1.1\nHost: x\n\nGET / HTTP/1.0\r\n\r\n"]).events, ["head other", "end", "head other", "end"]);
  });

  it("knows which responses have no body: to HEAD, 204, 304 and interim 1xx", () => {
    assert.deepEqual(follow("response", ["HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"], true).events, ["head 200", "end"]);
    assert.deepEqual(follow("response", ["HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"]).events, ["head 204", "end", "head 304", "end"]);
    assert.deepEqual(
      follow("response", ["HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"]).events,
      ["head 100", "head 200", "end"],
    );
  });

  it("reads a response without a length until the connection closes, and stops following when told", () => {
    const { events, framer } = follow("response", ["HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome bytes"]);
    assert.deepEqual(events, ["head 200"]);
    assert.equal(framer.phase, "until-close");
    const upgraded = new MessageFramer("response", { head: () => upgraded.stop(), end() {} });
    upgraded.feed(encoder.encode("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), 0);
    assert.equal(upgraded.phase, "until-close");
  });

  for (
    const [what, head, reason] of [
      ["both Content-Length and Transfer-Encoding", "Content-Length: 3\r\nTransfer-Encoding: chunked", /both Content-Length and Transfer-Encoding/],
      ["two different Content-Lengths", "Content-Length: 3\r\nContent-Length: 4", /not one decimal number/],
      ["a signed Content-Length", "Content-Length: +3", /not one decimal number/],
      ["white space before a framing field's colon", "Content-Length : 3", /white space before its colon/],
      ["a Transfer-Encoding that does not end in chunked", "Transfer-Encoding: chunked, gzip", /does not end in chunked/],
    ] as const
  ) {
    it(`refuses a request with ${what}`, () => {
      const { framer, events } = follow("request", [`POST / HTTP/1.1\r\n${head}\r\n\r\nabcd`]);
      assert.equal(framer.phase, "error");
      assert.match(framer.error, reason);
      assert.deepEqual(events, []);
    });
  }

  it("accepts the same Content-Length repeated", () => {
    assert.deepEqual(follow("request", ["POST / HTTP/1.1\r\ncontent-length: 3, 3\r\nCONTENT-LENGTH:3\r\n\r\nabc"]).events, ["head other", "end"]);
  });

  it("refuses a response whose status line is not HTTP/1.x with a three-digit code", () => {
    for (const line of ["HTTP/2 200 OK", "HTTP/1.1 2x0 OK", "ICY 200 OK"]) {
      const { framer } = follow("response", [`${line}\r\nContent-Length: 0\r\n\r\n`]);
      assert.equal(framer.phase, "error", line);
      assert.match(framer.error, /status line is malformed/);
    }
  });

  it("refuses a malformed chunk size and a head longer than the bound", () => {
    const chunked = follow("request", ["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]);
    assert.match(chunked.framer.error, /not a hexadecimal number/);
    const long = follow("request", ["GET / HTTP/1.1\r\n", `X-Big: ${"a".repeat(MAX_HEAD_BYTES)}\r\n`]);
    assert.equal(long.framer.phase, "error");
    assert.match(long.framer.error, /longer than/);
  });
});
