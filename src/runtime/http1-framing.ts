/**
 * Incremental HTTP/1.x message framing: where a message's head ends and
 * where its body ends, found in the bytes as they pass, without copying or
 * decoding them (it runs on every request and response). The connection
 * guard needs exactly this to tell an idle connection from one sending its
 * head or its body, and to hold a pipelined request until the response
 * ahead of it is complete. It is not the router's parser: the runtime's HTTP
 * server still parses every byte and stays the authority; whatever framing
 * this file cannot follow with certainty is an error, and the guard answers
 * 400 and closes rather than guess.
 */
import { concatBytes } from "../bytes.ts";

/** Reason phrases of the status lines this server writes (the guard's own answers and the ones it frames). */
export const REASON_PHRASES: Record<number, string> = {
  200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 206: "Partial Content", 301: "Moved Permanently",
  302: "Found", 303: "See Other", 304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
  408: "Request Timeout", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
  422: "Unprocessable Content", 429: "Too Many Requests", 499: "Client Closed Request", 500: "Internal Server Error",
  501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
};

/** The largest head followed (request line or status line plus header fields). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** The longest chunk-size line or trailer line followed. */
const MAX_LINE_BYTES = 4096;

const LF = 10;
const CR = 13;
const SP = 32;
const HT = 9;
const COMMA = 44;
const COLON = 58;
const SEMICOLON = 59;

/** Field names compared byte by byte, lower case (`byte | 0x20` folds letters; "-" is unchanged by it). */
const CONTENT_LENGTH = new TextEncoder().encode("content-length");
const TRANSFER_ENCODING = new TextEncoder().encode("transfer-encoding");
const CHUNKED = new TextEncoder().encode("chunked");
const HEAD_METHOD = new TextEncoder().encode("HEAD ");
const HTTP1 = new TextEncoder().encode("HTTP/1.");

/** Body framings other than a length. */
const BY_CHUNKS = -1;
const UNTIL_CLOSE = -2;

/** What the framer reports about a head: a response's status (0 for a request), and whether a request is a HEAD. */
export type HeadHook = (status: number, isHeadRequest: boolean) => void;

/** Where a {@link MessageFramer} is inside the current message. */
export type FramingPhase = "head" | "body" | "until-close" | "error";

type BodyState = "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers";

/**
 * Follows one direction of an HTTP/1.x connection: requests (client to
 * server) or responses (server to client). Feed it every byte in order;
 * `head` fires when a head is complete, `end` when a message is complete.
 */
export class MessageFramer {
  /** Why framing stopped; set with phase "error". */
  error = "";
  #phase: FramingPhase = "head";
  readonly #kind: "request" | "response";
  readonly #onHead: HeadHook;
  readonly #onEnd: () => void;
  /** Head bytes seen so far, kept only when a head spans several chunks. */
  #headParts: Uint8Array[] = [];
  #headLength = 0;
  /** The two bytes before the scan position, for an empty line split across chunks. */
  #prev1 = 0;
  #prev2 = 0;
  #body: BodyState = "length";
  /** Body bytes (or chunk bytes) still to come. */
  #remaining = 0;
  /** Chunk-size line: digits read, whether they ended (white space or an extension), bytes of the line. */
  #sizeDigits = 0;
  #sizeEnded = false;
  #lineLength = 0;
  /** Whether the current trailer line holds more than its CR. */
  #lineHasText = false;
  /** For a response framer: whether the next response answers a HEAD request. */
  #answersHead = false;

  constructor(kind: "request" | "response", hooks: { head: HeadHook; end(): void }) {
    this.#kind = kind;
    this.#onHead = hooks.head;
    this.#onEnd = hooks.end;
  }

  /** Where the framer is. */
  get phase(): FramingPhase {
    return this.#phase;
  }

  /** Bytes of an incomplete head received so far (0 between messages, and while a head has come in one piece). */
  get headBytes(): number {
    return this.#headLength;
  }

  /** For a response framer: whether the next response answers a HEAD request (it has no body then). */
  answeringHead(isHead: boolean): void {
    this.#answersHead = isHead;
  }

  /**
   * Follow `bytes` from `from`. Returns the index just past the bytes taken:
   * the end of `bytes`, or the end of a message (so that the caller can hold
   * what follows), or where an error was found.
   */
  feed(bytes: Uint8Array, from: number): number {
    let at = from;
    if (this.#phase === "head") {
      const end = this.#scanHead(bytes, at);
      if (end < 0) return bytes.length;
      // Stop after a head without a body (or an interim one, or an error); else go on with the body.
      if (!this.#completeHead(bytes, at, end) || !this.#inBody()) return end;
      at = end;
    }
    return this.#inBody() ? this.#feedBody(bytes, at) : bytes.length;
  }

  /** Stop following: what comes next is not HTTP (a 101 handed the connection over). */
  stop(): void {
    this.#phase = "until-close";
  }

  #inBody(): boolean {
    return this.#phase === "body";
  }

  /** Index just past the empty line that ends the head, or -1 when it is not in `bytes` yet. */
  #scanHead(bytes: Uint8Array, from: number): number {
    let at = from;
    for (;;) {
      const lf = bytes.indexOf(LF, at);
      if (lf < 0) break;
      const b1 = lf - 1 >= from ? bytes[lf - 1] : this.#prev1;
      const b2 = lf - 2 >= from ? bytes[lf - 2] : lf - 1 >= from ? this.#prev1 : this.#prev2;
      if (b1 === LF || (b1 === CR && b2 === LF)) return lf + 1;
      at = lf + 1;
    }
    const length = bytes.length - from;
    this.#prev2 = length >= 2 ? bytes[bytes.length - 2] : this.#prev1;
    this.#prev1 = bytes[bytes.length - 1];
    if (this.#headLength + length > MAX_HEAD_BYTES) {
      this.#fail(`a message head is longer than ${MAX_HEAD_BYTES} bytes`);
      return -1;
    }
    this.#headParts.push(bytes.slice(from));
    this.#headLength += length;
    return -1;
  }

  /** The head ends at `end`: read its framing fields. False after an error. */
  #completeHead(bytes: Uint8Array, from: number, end: number): boolean {
    const length = this.#headLength + end - from;
    if (length > MAX_HEAD_BYTES) return this.#fail(`a message head is longer than ${MAX_HEAD_BYTES} bytes`);
    let head = bytes;
    let start = from;
    let stop = end;
    if (this.#headParts.length > 0) {
      head = concatBytes([...this.#headParts, bytes.subarray(from, end)]);
      start = 0;
      stop = length;
    }
    this.#headParts = [];
    this.#headLength = 0;
    this.#prev1 = this.#prev2 = 0;
    // Empty lines before a request line are ignored (RFC 9112 §2.2).
    while (start < stop && (head[start] === CR || head[start] === LF)) start++;
    return start === stop || this.#frame(head, start, stop);
  }

  /** Read the start line and framing fields, report the head, then follow its body. */
  #frame(head: Uint8Array, start: number, end: number): boolean {
    let status = 0;
    let isHeadRequest = false;
    if (this.#kind === "request") isHeadRequest = startsWith(head, start, end, HEAD_METHOD, false);
    else {
      status = statusCode(head, start, end);
      if (status < 0) return this.#fail("a response status line is malformed");
    }
    const answersHead = this.#answersHead;
    if (status >= 200) this.#answersHead = false;
    const body = this.#bodyOf(head, start, end, status, answersHead);
    if (typeof body === "string") return this.#fail(body);
    this.#onHead(status, isHeadRequest);
    if (this.#phase !== "head") return true; // the hook stopped following
    if (body === UNTIL_CLOSE) this.#phase = "until-close";
    else if (body === BY_CHUNKS) this.#startBody("chunk-size", 0);
    else if (body > 0) this.#startBody("length", body);
    else if (status === 0 || status >= 200) this.#ended(); // (an interim 1xx response is followed by the final one)
    return true;
  }

  /**
   * How the body is delimited (RFC 9112 §6.3): its length (0: none),
   * {@link BY_CHUNKS} or {@link UNTIL_CLOSE}; or why that is unclear.
   */
  #bodyOf(head: Uint8Array, start: number, end: number, status: number, answersHead: boolean): number | string {
    if (this.#kind === "response" && (status < 200 || answersHead || status === 204 || status === 304)) return 0;
    const fields = framingFields(head, start, end);
    if (typeof fields === "string") return fields;
    const { length, codings, chunkedLast } = fields;
    if (codings) {
      if (length >= 0 && this.#kind === "request") return "a request has both Content-Length and Transfer-Encoding";
      if (chunkedLast) return BY_CHUNKS;
      return this.#kind === "request" ? "a request's Transfer-Encoding does not end in chunked" : UNTIL_CLOSE;
    }
    if (length >= 0) return length;
    return this.#kind === "request" ? 0 : UNTIL_CLOSE;
  }

  #startBody(state: BodyState, remaining: number): void {
    this.#phase = "body";
    this.#body = state;
    this.#remaining = remaining;
    this.#sizeDigits = 0;
    this.#sizeEnded = false;
    this.#lineLength = 0;
    this.#lineHasText = false;
  }

  /** Take body bytes from `at`; returns the index after them (stopping at the message's end). */
  #feedBody(bytes: Uint8Array, at: number): number {
    while (at < bytes.length && this.#phase === "body") {
      if (this.#body === "length" || this.#body === "chunk-data") {
        const take = Math.min(this.#remaining, bytes.length - at);
        at += take;
        this.#remaining -= take;
        if (this.#remaining > 0) break;
        if (this.#body === "length") this.#ended();
        else this.#body = "chunk-end";
      } else {
        this.#chunkLineByte(bytes[at++]);
      }
    }
    return at;
  }

  /** One byte of a chunk-size line, of the CR LF after chunk data, or of the trailer section. */
  #chunkLineByte(byte: number): void {
    if (byte !== LF && ++this.#lineLength > MAX_LINE_BYTES) {
      this.#fail(`a chunked-body line is longer than ${MAX_LINE_BYTES} bytes`);
      return;
    }
    switch (this.#body) {
      case "chunk-size":
        if (byte === LF) {
          if (this.#sizeDigits === 0) return void this.#fail("a chunk-size line has no size");
          this.#body = this.#remaining === 0 ? "trailers" : "chunk-data";
          this.#lineLength = 0;
          this.#sizeDigits = 0;
          this.#sizeEnded = false;
          return;
        }
        if (this.#sizeEnded || byte === CR) {
          if (byte === SEMICOLON) this.#sizeEnded = true;
          return; // (an extension, or white space before one: ignored)
        }
        if (byte === SEMICOLON || byte === SP || byte === HT) {
          this.#sizeEnded = true;
          return;
        }
        {
          const digit = hexDigit(byte);
          if (digit < 0 || this.#sizeDigits === 12) return void this.#fail("a chunk size is not a hexadecimal number");
          this.#remaining = this.#remaining * 16 + digit;
          this.#sizeDigits++;
        }
        return;
      case "chunk-end":
        if (byte === LF) {
          this.#body = "chunk-size";
          this.#lineLength = 0;
        } else if (byte !== CR) this.#fail("chunk data is longer than its size");
        return;
      case "trailers":
        if (byte === LF) {
          if (!this.#lineHasText) return this.#ended(); // the empty line that ends the trailer section
          this.#lineLength = 0;
          this.#lineHasText = false;
        } else if (byte !== CR) this.#lineHasText = true;
        return;
    }
  }

  #ended(): void {
    this.#phase = "head";
    this.#onEnd();
  }

  #fail(reason: string): false {
    this.#phase = "error";
    this.error = reason;
    return false;
  }
}

/** The status code of the status line at `start` ("HTTP/1.x NNN"), or -1. */
function statusCode(head: Uint8Array, start: number, end: number): number {
  if (end - start < 12 || !startsWith(head, start, end, HTTP1, false) || head[start + 8] !== SP) return -1;
  let code = 0;
  for (let at = start + 9; at < start + 12; at++) {
    if (head[at] < 48 || head[at] > 57) return -1;
    code = code * 10 + head[at] - 48;
  }
  return code >= 100 ? code : -1;
}

/** The value of a hexadecimal digit, or -1. */
function hexDigit(byte: number): number {
  if (byte >= 48 && byte <= 57) return byte - 48;
  const lower = byte | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/** Whether `bytes[at..end)` starts with `prefix` (compared in lower case when `fold`). */
function startsWith(bytes: Uint8Array, at: number, end: number, prefix: Uint8Array, fold: boolean): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    const byte = fold ? bytes[at + i] | 0x20 : bytes[at + i];
    if (byte !== prefix[i]) return false;
  }
  return true;
}

/** What the framing fields of a head say. */
interface FramingFields {
  /** The Content-Length, or -1 when absent. */
  length: number;
  /** Whether Transfer-Encoding is present, and whether its last coding is chunked. */
  codings: boolean;
  chunkedLast: boolean;
}

/**
 * The Content-Length and Transfer-Encoding of the head in `head[start..end)`
 * (several lines of one field count as one list), or why they cannot be
 * trusted: white space before the colon (servers must reject it), or a
 * Content-Length that is not one decimal number.
 */
function framingFields(head: Uint8Array, start: number, end: number): FramingFields | string {
  const fields: FramingFields = { length: -1, codings: false, chunkedLast: false };
  let line = head.indexOf(LF, start) + 1; // after the start line
  while (line > 0 && line < end) {
    const lf = head.indexOf(LF, line);
    const next = lf < 0 || lf >= end ? end : lf;
    const lineEnd = next > line && head[next - 1] === CR ? next - 1 : next;
    const first = head[line] | 0x20;
    if (first === 99 /* c */ || first === 116 /* t */) {
      const problem = readField(head, line, lineEnd, fields);
      if (problem) return problem;
    }
    line = next + 1;
  }
  return fields;
}

/** Fold one header line into `fields` if it is a framing field; returns a problem, or "" when fine. */
function readField(head: Uint8Array, line: number, lineEnd: number, fields: FramingFields): string {
  const name = startsWith(head, line, lineEnd, CONTENT_LENGTH, true)
    ? CONTENT_LENGTH
    : startsWith(head, line, lineEnd, TRANSFER_ENCODING, true)
    ? TRANSFER_ENCODING
    : null;
  if (name === null) return "";
  let at = line + name.length;
  let spaced = false;
  while (at < lineEnd && (head[at] === SP || head[at] === HT)) {
    at++;
    spaced = true;
  }
  if (at >= lineEnd || head[at] !== COLON) return ""; // another field (say "content-length-x")
  const label = name === CONTENT_LENGTH ? "Content-Length" : "Transfer-Encoding";
  if (spaced) return `the ${label} field has white space before its colon`;
  let valueEnd = lineEnd;
  while (valueEnd > at + 1 && (head[valueEnd - 1] === SP || head[valueEnd - 1] === HT)) valueEnd--;
  if (name === TRANSFER_ENCODING) {
    fields.codings = true;
    fields.chunkedLast = lastCodingIsChunked(head, at + 1, valueEnd);
    return "";
  }
  return readLengths(head, at + 1, valueEnd, fields) ? "" : "Content-Length is not one decimal number";
}

/** Fold a Content-Length value (a list of equal numbers) into `fields`; false when it is not that. */
function readLengths(head: Uint8Array, from: number, to: number, fields: FramingFields): boolean {
  let value = -1;
  let digits = 0;
  let gap = false; // white space after the digits
  const commit = (): boolean => {
    if (digits === 0 || (fields.length >= 0 && fields.length !== value)) return false;
    fields.length = value;
    value = -1;
    digits = 0;
    gap = false;
    return true;
  };
  for (let at = from; at < to; at++) {
    const byte = head[at];
    if (byte >= 48 && byte <= 57) {
      if (gap || digits === 15) return false;
      value = (digits === 0 ? 0 : value * 10) + byte - 48;
      digits++;
    } else if (byte === SP || byte === HT) gap = digits > 0;
    else if (byte === COMMA) {
      if (!commit()) return false;
    } else return false;
  }
  return commit();
}

/** Whether the last coding in a Transfer-Encoding value is "chunked". */
function lastCodingIsChunked(head: Uint8Array, from: number, to: number): boolean {
  let start = to;
  while (start > from && head[start - 1] !== COMMA) start--;
  while (start < to && (head[start] === SP || head[start] === HT)) start++;
  return to - start === CHUNKED.length && startsWith(head, start, to, CHUNKED, true);
}
