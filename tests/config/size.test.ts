/** Memory sizes in the config: bytes, binary and decimal units, and the errors for everything else. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseSize } from "../../src/config/size.ts";

describe("parseSize", () => {
  const good: Array<[unknown, number]> = [
    [1024, 1024],
    ["1024", 1024],
    ["512MiB", 512 * 1024 ** 2],
    ["24GiB", 24 * 1024 ** 3],
    ["24 GiB", 24 * 1024 ** 3],
    ["24gib", 24 * 1024 ** 3],
    ["1.5GB", 1.5e9],
    ["2TB", 2e12],
    ["8Gi", 8 * 1024 ** 3],
    [".5GiB", 512 * 1024 ** 2],
    ["100B", 100],
    [0, 0],
    [1.2, 2],
  ];
  for (const [input, bytes] of good) {
    test(`${JSON.stringify(input)} is ${bytes} bytes`, () => assert.deepEqual(parseSize(input), { bytes }));
  }

  const bad: Array<[unknown, RegExp]> = [
    ["12G", /unknown unit "G"; use B, KiB/],
    ["lots", /must be a size/],
    [-1, /not negative/],
    ["2PiB", /unknown unit/],
    [2 * 1024 ** 5, /larger than 1 PiB/],
    [true, /must be a size/],
    [null, /must be a size/],
    ["1".repeat(60), /must be a size/],
    [Number.NaN, /must be a size/],
  ];
  for (const [input, message] of bad) {
    test(`${String(input).slice(0, 20)} is refused`, () => {
      const parsed = parseSize(input);
      assert.ok("error" in parsed);
      assert.match(parsed.error, message);
    });
  }
});
