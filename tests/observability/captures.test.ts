/**
 * Captures keep no secret and no more than their share: credential headers
 * redacted, `${env.X}` values masked in headers and bodies (text or not, and
 * where a body is cut), each response teed only up to its share, and the
 * buffer keeping the newest captures within its byte budget.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Redactor } from "../../src/logging/logger.ts";
import { type Capture, CaptureBuffer, CaptureDraft, captureJson, captureShare, captureSize, DraftBudget, keptCapture } from "../../src/observability/captures.ts";

const SECRET = "sk-live-0123456789abcdef";
const redactor = new Redactor();
redactor.set([SECRET]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function draft(share: number, headers: Record<string, string> = {}, budget = new DraftBudget(() => Infinity)) {
  return new CaptureDraft(share, "/v1/chat/completions", new Headers(headers), budget);
}

describe("captures", () => {
  test("credential headers are redacted and secrets masked in every other header and in both bodies", () => {
    const capture = draft(64 * 1024, {
      authorization: `Bearer ${SECRET}`,
      "x-api-key": SECRET,
      "proxy-authorization": "Basic abc",
      cookie: "session=1",
      "x-note": `key=${SECRET};`,
      "content-type": "application/json",
    });
    capture.requestBody(encoder.encode(JSON.stringify({ model: "m", messages: [{ role: "user", content: `my key is ${SECRET}` }] })));
    capture.responseChunk(encoder.encode(`data: {"echo":"${SECRET.slice(0, 10)}`));
    capture.responseChunk(encoder.encode(`${SECRET.slice(10)}"}\n\n`));
    const done = capture.finish(new Headers({ "set-cookie": "a=b", "content-type": "text/event-stream", "x-upstream": SECRET }), redactor.apply).masked();
    assert.equal(done.reqHeaders.authorization, "[REDACTED]");
    assert.equal(done.reqHeaders["x-api-key"], "[REDACTED]");
    assert.equal(done.reqHeaders["proxy-authorization"], "[REDACTED]");
    assert.equal(done.reqHeaders.cookie, "[REDACTED]");
    assert.equal(done.reqHeaders["x-note"], "key=***;");
    assert.equal(done.reqHeaders["content-type"], "application/json");
    assert.equal(done.respHeaders["set-cookie"], "[REDACTED]");
    assert.equal(done.respHeaders["x-upstream"], "***");
    assert.match(decoder.decode(done.reqBody), /"my key is \*\*\*"/);
    assert.equal(decoder.decode(done.respBody), 'data: {"echo":"***"}\n\n', "a secret split across chunks is masked whole");
    const json = JSON.stringify(captureJson(7, done));
    assert.ok(!json.includes(SECRET) && !json.includes(btoa(SECRET).slice(0, 12)), "nothing of the secret is left, base64 included");
    assert.equal(atob(captureJson(7, done).resp_body), 'data: {"echo":"***"}\n\n');
  });

  test("a body that is not text (an upload, audio) is masked byte for byte", () => {
    const capture = draft(64 * 1024);
    const upload = new Uint8Array([0xff, 0xfe, 0x00, ...encoder.encode(`name="key"\r\n\r\n${SECRET}\r\n`), 0x80, 0x81]);
    capture.requestBody(upload);
    const done = capture.finish(new Headers(), redactor.apply).masked();
    assert.deepEqual([...done.reqBody.slice(0, 3)], [0xff, 0xfe, 0x00]);
    assert.deepEqual([...done.reqBody.slice(-2)], [0x80, 0x81]);
    const latin = String.fromCharCode(...done.reqBody);
    assert.ok(latin.includes('name="key"\r\n\r\n***\r\n') && !latin.includes(SECRET));
  });

  test("a response is teed only up to its share, then marked truncated; a secret across the cut is still masked", () => {
    const share = 2000;
    const capture = draft(share);
    capture.requestBody(encoder.encode("x".repeat(300)));
    const chunk = encoder.encode("y".repeat(500));
    for (let i = 0; i < 3; i++) capture.responseChunk(chunk);
    // The share ends inside the secret: 300 + 1500 + 200 = 2000.
    capture.responseChunk(encoder.encode("z".repeat(190) + SECRET + "tail"));
    for (let i = 0; i < 1000; i++) capture.responseChunk(chunk); // 500 KB more: none of it is held
    const done = capture.finish(new Headers(), redactor.apply).masked();
    assert.equal(done.respTruncated, true);
    assert.equal(done.reqTruncated, false);
    assert.equal(done.reqBody.byteLength + done.respBody.byteLength, share);
    const text = decoder.decode(done.respBody);
    assert.equal(text.slice(1500), "z".repeat(190) + "***tail" + "yyy", "masked first, then cut to the share");
    assert.ok(!text.includes(SECRET.slice(0, 6)), "no prefix of the secret survives the cut");
    assert.ok(captureSize(done) <= share + 100);
  });

  test("a request body over half the share is cut and marked", () => {
    const capture = draft(1000);
    capture.requestBody(encoder.encode("q".repeat(5000)));
    capture.responseChunk(encoder.encode("r".repeat(100)));
    const done = capture.finish(new Headers(), redactor.apply).masked();
    assert.equal(done.reqBody.byteLength, 500);
    assert.equal(done.reqTruncated, true);
    assert.equal(done.respBody.byteLength, 100);
    assert.equal(done.respTruncated, false);
  });

  test("captures still being collected hold at most the buffer's size together; a finished one gives its room back", () => {
    const budget = new DraftBudget(() => 3000);
    const streams = [1, 2, 3].map(() => draft(2000, {}, budget));
    const chunk = encoder.encode("e".repeat(1000));
    for (let i = 0; i < 3; i++) for (const stream of streams) stream.responseChunk(chunk);
    assert.equal(budget.used, 3000, "three long streams at once: 3000 bytes held, not 3 × 2000");
    const [first, second] = streams.slice(0, 2).map((stream) => stream.finish(new Headers(), redactor.apply).masked());
    assert.equal(first.respBody.byteLength, 1000);
    assert.equal(first.respTruncated, true, "a draft refused room is marked truncated");
    assert.equal(second.respBody.byteLength, 1000);
    assert.equal(budget.used, 1000, "two finished drafts gave their room back");
    const later = draft(2000, {}, budget);
    later.responseChunk(chunk);
    later.responseChunk(chunk);
    assert.equal(later.finish(new Headers(), redactor.apply).masked().respBody.byteLength, 2000, "the room is there again for the next");
  });

  test("the buffer keeps the newest captures within its budget, read at every add; 0 turns it off", () => {
    let budget = 2000;
    const buffer = new CaptureBuffer(() => budget);
    const capture = (size: number): Capture => ({
      reqPath: "/p",
      reqHeaders: {},
      reqBody: new Uint8Array(size - 2),
      respHeaders: {},
      respBody: new Uint8Array(),
      reqTruncated: false,
      respTruncated: false,
    });
    for (let id = 1; id <= 10; id++) assert.equal(buffer.add(id, keptCapture(capture(500))), true);
    assert.deepEqual([...Array(10).keys()].map((i) => buffer.has(i + 1)), [false, false, false, false, false, false, true, true, true, true]);
    assert.ok(buffer.bytes <= budget);
    assert.equal(buffer.add(11, keptCapture(capture(2500))), false, "larger than the whole budget: not kept");
    assert.ok(buffer.has(10));
    budget = 1000;
    buffer.add(12, keptCapture(capture(500)));
    assert.deepEqual([buffer.has(10), buffer.has(11), buffer.has(12)], [true, false, true]);
    assert.equal(buffer.get(9), null);
    budget = 0;
    assert.equal(buffer.add(13, keptCapture(capture(10))), false);
    assert.equal(buffer.bytes, 0);
    assert.equal(buffer.has(12), false);
    assert.equal(captureShare(5 * 1024 * 1024), 1310720);
  });
});
