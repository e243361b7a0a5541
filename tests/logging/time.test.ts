/** llama-swap's `logTimeFormat` names give the timestamps Go's layouts would. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLogTime } from "../../src/logging/time.ts";
import { Logger } from "../../src/logging/logger.ts";
import { LogBuffer } from "../../src/logging/buffer.ts";

const when = new Date(Date.UTC(2026, 10, 4, 15, 4, 5, 123)); // Wednesday 4 Nov 2026

test("every logTimeFormat name", () => {
  const expected: Record<string, string> = {
    "": "15:04:05.123",
    ansic: "Wed Nov  4 15:04:05 2026",
    unixdate: "Wed Nov  4 15:04:05 UTC 2026",
    rubydate: "Wed Nov 04 15:04:05 +0000 2026",
    rfc822: "04 Nov 26 15:04 UTC",
    rfc822z: "04 Nov 26 15:04 +0000",
    rfc850: "Wednesday, 04-Nov-26 15:04:05 UTC",
    rfc1123: "Wed, 04 Nov 2026 15:04:05 UTC",
    rfc1123z: "Wed, 04 Nov 2026 15:04:05 +0000",
    rfc3339: "2026-11-04T15:04:05Z",
    rfc3339nano: "2026-11-04T15:04:05.123Z",
    kitchen: "3:04PM",
    stamp: "Nov  4 15:04:05",
    stampmilli: "Nov  4 15:04:05.123",
    stampmicro: "Nov  4 15:04:05.123000",
    stampnano: "Nov  4 15:04:05.123000000",
  };
  for (const [format, text] of Object.entries(expected)) assert.equal(formatLogTime(format, when), text, format);
});

test("router log lines use the configured format", () => {
  const buffer = new LogBuffer();
  const log = new Logger(buffer, "info", "rfc3339");
  log.info("hello");
  assert.match(buffer.history(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO {2}hello\n$/);
});
