/**
 * The linear-time helpers that look at a request's shape before any other
 * work: the `/upstream/<model>/…` path split, the JSON nesting scan and
 * top-level member spans, the body rewrite that re-encodes only what the
 * filters touched, and the multipart field lookup. Pure functions, no I/O.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_BOUNDARY_CHARS, MAX_JSON_DEPTH, MAX_URL_CHARS, targetLength } from "../../src/http/bounds.ts";
import { type Filters, rewriteBody } from "../../src/http/filters.ts";
import { jsonDepth, topLevelMembers } from "../../src/http/json-scan.ts";
import type { ParsedBody } from "../../src/http/model.ts";
import { indexOfBytes, multipartBoundary, multipartFields, replaceField } from "../../src/http/multipart.ts";
import { splitUpstreamPath } from "../../src/http/upstream-route.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NO_FILTERS: Filters = { stripParams: [], setParams: {}, setParamsByID: {} };

/** A JSON body as readModelRequest leaves it. */
function jsonBody(text: string): ParsedBody & { kind: "json" } {
  return { kind: "json", json: JSON.parse(text), bytes: encoder.encode(text) };
}

describe("splitUpstreamPath", () => {
  const names = new Set(["m", "org/model", "peer/org/model"]);
  const longest = Math.max(...[...names].map((name) => name.length));
  const split = (path: string) => splitUpstreamPath(path, (name) => (names.has(name) ? name : undefined), longest);

  test("the longest prefix naming a model wins; the rest keeps its slashes and escapes", () => {
    assert.deepEqual(split("/upstream/m/props"), { model: "m", rest: "/props" });
    assert.deepEqual(split("/upstream/org/model/v1/chat"), { model: "org/model", rest: "/v1/chat" });
    assert.deepEqual(split("/upstream/peer/org/model/a/b%2Fc/"), { model: "peer/org/model", rest: "/a/b%2Fc/" });
    assert.deepEqual(split("/upstream/org%2Fmodel/x"), { model: "org/model", rest: "/x" });
    assert.deepEqual(split("/upstream/m"), { model: "m", rest: "" });
    assert.deepEqual(split("/upstream/m/"), { model: "m", rest: "/" });
    assert.equal(split("/upstream/nope/x"), null);
  });

  test("a malformed escape after the model is the upstream's business; in the name it names nothing", () => {
    assert.deepEqual(split("/upstream/m/%ff"), { model: "m", rest: "/%ff" });
    assert.equal(split("/upstream/%ff/x"), null);
  });

  test("only prefixes as long as the longest name are tried, however many segments follow", () => {
    for (const path of ["/upstream/m/" + "a/".repeat(8000), "/upstream/" + "/".repeat(8000), "/upstream/" + "x".repeat(60_000)]) {
      let calls = 0;
      let chars = 0;
      splitUpstreamPath(path, (name) => {
        calls++;
        chars += name.length;
        return names.has(name) ? name : undefined;
      }, longest);
      assert.ok(calls <= longest + 1, `${calls} candidates tried`);
      assert.ok(chars <= (longest + 1) * longest, `${chars} characters resolved`);
    }
  });
});

describe("JSON nesting and members", () => {
  test("jsonDepth counts arrays and objects outside strings, escapes included", () => {
    assert.equal(jsonDepth(encoder.encode('{"a":[{"b":1}],"c":"[[[{{{"}'), 10), 3);
    assert.equal(jsonDepth(encoder.encode('{"a":"\\"[[[\\\\","b":[]}'), 10), 2);
    assert.equal(jsonDepth(encoder.encode("42"), 10), 0);
  });

  test("jsonDepth stops as soon as the limit is passed", () => {
    const deep = encoder.encode("[".repeat(100_000) + "]".repeat(100_000));
    assert.equal(jsonDepth(deep, MAX_JSON_DEPTH), MAX_JSON_DEPTH + 1);
    const legit = encoder.encode(`{"x":${"[".repeat(60)}${"]".repeat(60)}}`);
    assert.equal(jsonDepth(legit, MAX_JSON_DEPTH), 61);
  });

  test("topLevelMembers splits out wanted keys and merges the rest into runs", () => {
    const text = ' { "model" : "a", "messages":[{"role":"user","content":"x,}{"}], "t\\u0065mp": 1 ,"n":{"model":2} } ';
    const bytes = encoder.encode(text);
    const spans = topLevelMembers(bytes, new Set(["model", "temp"]));
    assert.deepEqual(spans.map((span) => [span.key, decoder.decode(bytes.subarray(span.start, span.end))]), [
      ["model", '"model" : "a"'],
      [null, '"messages":[{"role":"user","content":"x,}{"}]'],
      ["temp", '"t\\u0065mp": 1'],
      [null, '"n":{"model":2}'],
    ]);
    assert.deepEqual(topLevelMembers(encoder.encode("{}"), new Set(["model"])), []);
  });
});

describe("rewriteBody", () => {
  test("an untouched body is forwarded as sent", () => {
    const body = jsonBody('{"model":"m", "x": 1}');
    assert.equal(rewriteBody(body, { filters: NO_FILTERS, requested: "m" }), body.bytes);
  });

  test("only touched members are re-encoded; the rest is copied byte for byte", () => {
    const text = '{"model":"m",  "messages" : [ {"role":"user"} ],"secret":1,"chat_template_kwargs":{"a":1},"temperature":0.9}';
    const filters: Filters = {
      stripParams: ["secret"],
      setParams: { temperature: 0.2, "chat_template_kwargs.b": true, "new.deep": [1] },
      setParamsByID: {},
    };
    const out = decoder.decode(rewriteBody(jsonBody(text), { model: "upstream-m", filters, requested: "m" })!);
    assert.equal(
      out,
      '{"model":"upstream-m","messages" : [ {"role":"user"} ],"chat_template_kwargs":{"a":1,"b":true},"temperature":0.2,"new":{"deep":[1]}}',
    );
  });

  test("a touched key sent twice is written once, with the value the parser kept", () => {
    const out = decoder.decode(rewriteBody(jsonBody('{"model":"a","x":1,"model":"b"}'), { model: "c", filters: NO_FILTERS, requested: "b" })!);
    assert.deepEqual(JSON.parse(out), { x: 1, model: "c" });
    assert.equal(out, '{"x":1,"model":"c"}');
  });

  test("a filter on a deep body descends only its own path", () => {
    const deep = "[ ".repeat(MAX_JSON_DEPTH - 1) + " ]".repeat(MAX_JSON_DEPTH - 1);
    const text = `{"model":"m","history":${deep}}`;
    const filters: Filters = { stripParams: [], setParams: { temperature: 0 }, setParamsByID: {} };
    const out = decoder.decode(rewriteBody(jsonBody(text), { filters, requested: "m" })!);
    assert.equal(out, `{"model":"m","history":${deep},"temperature":0}`);
  });
});

describe("multipart", () => {
  const boundary = "----formboundary42";
  const form = [
    `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.wav"\r\ncontent-type: audio/wav\r\n\r\n`,
    `RIFF--${boundary.slice(0, 10)}\r\n--not-it`,
    `\r\n--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper`,
    `\r\n--${boundary}\r\ncontent-disposition: form-data; name="stream"\r\n\r\ntrue`,
    `\r\n--${boundary}--\r\n`,
  ].join("");

  test("finds text fields in one pass, skipping file parts, and replaces one in a copy", () => {
    const bytes = encoder.encode(form);
    const fields = multipartFields(bytes, boundary, ["model", "stream", "missing"]);
    assert.equal(fields.get("model")?.value, "whisper");
    assert.equal(fields.get("stream")?.value, "true");
    assert.equal(fields.has("missing"), false);
    assert.equal(multipartFields(bytes, boundary, ["file"]).size, 0, "a file part is not a text field");
    const replaced = decoder.decode(replaceField(bytes, fields.get("model")!, "whisper-large-v3"));
    assert.equal(replaced, form.replace("\r\n\r\nwhisper", "\r\n\r\nwhisper-large-v3"));
  });

  test("a preamble before the first delimiter is skipped, and a delimiter must start a line", () => {
    const withPreamble = encoder.encode(`This is the preamble --${boundary} (not a delimiter)\r\n${form}`);
    assert.equal(multipartFields(withPreamble, boundary, ["model"]).get("model")?.value, "whisper");
    const startsWithCrlf = encoder.encode(`\r\n${form}`);
    assert.equal(multipartFields(startsWithCrlf, boundary, ["stream"]).get("stream")?.value, "true");
    const notAtLineStart = encoder.encode(form.replace(`\r\n--${boundary}\r\nContent-Disposition`, `x--${boundary}\r\nContent-Disposition`));
    assert.equal(multipartFields(notAtLineStart, boundary, ["model"]).has("model"), false);
  });

  test("the boundary comes from the content type and is at most 70 characters (RFC 2046)", () => {
    assert.equal(multipartBoundary(`multipart/form-data; boundary="${boundary}"`), boundary);
    assert.equal(multipartBoundary("application/json"), null);
    assert.equal(multipartBoundary(`multipart/form-data; boundary=${"b".repeat(MAX_BOUNDARY_CHARS)}`), "b".repeat(MAX_BOUNDARY_CHARS));
    assert.throws(
      () => multipartBoundary(`multipart/form-data; boundary=${"b".repeat(MAX_BOUNDARY_CHARS + 1)}`),
      (error: Error & { status?: number }) => error.status === 400 && /71 characters long; RFC 2046 allows at most 70/.test(error.message),
    );
  });

  test("indexOfBytes finds what a plain search finds", () => {
    const haystack = encoder.encode("aabaabaaab-aabaaab");
    for (const needle of ["aaab", "b-a", "aabaaab", "x", "aabaabaaab-aabaaab", "ba"]) {
      for (const from of [0, 3, 11]) {
        assert.equal(indexOfBytes(haystack, needle, from), decoder.decode(haystack).indexOf(needle, from), `${needle} from ${from}`);
      }
    }
  });

  test("a body of near-misses costs one pass: a 4,000-byte needle over 2 MB of its own prefix", () => {
    // A search that restarts at every position would compare ~8e9 bytes here.
    const haystack = new Uint8Array(2 * 1024 * 1024).fill(0x2d);
    const needle = "-".repeat(3999) + "x";
    const started = performance.now();
    assert.equal(indexOfBytes(haystack, needle), -1);
    assert.equal(multipartFields(haystack, "-".repeat(69) + "x", ["model"]).size, 0);
    // Line breaks followed by near-misses of the delimiter, over and over.
    const lines = encoder.encode(`--b\r\ncontent-disposition: form-data; name="f"; filename="x"\r\n\r\n${`\r\n${"-".repeat(80)}`.repeat(25_000)}`);
    assert.equal(multipartFields(lines, "-".repeat(69) + "x", ["model"]).size, 0);
    const ms = performance.now() - started;
    assert.ok(ms < 2_000, `${ms.toFixed(0)} ms`);
  });
});

describe("URL bound", () => {
  test("targetLength measures the path and query, not the origin", () => {
    assert.equal(targetLength("http://127.0.0.1:8080/v1/models?x=1"), "/v1/models?x=1".length);
    assert.equal(targetLength(`http://h/${"a".repeat(MAX_URL_CHARS)}`), MAX_URL_CHARS + 1);
  });
});
