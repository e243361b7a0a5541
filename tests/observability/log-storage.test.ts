/**
 * Where log text is kept: the in-memory rings (size set by
 * `logBufferBytes`) and the optional per-model files under `logDir`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LogHub } from "../../src/logging/logger.ts";
import { LogFiles, logFileName } from "../../src/logging/files.ts";
import { LogBuffer } from "../../src/logging/buffer.ts";
import { assertIssue, issuesOf, load } from "../config/helpers.ts";
import { runtime } from "../helpers/process.ts";

describe("log rings", () => {
  test("logBufferBytes bounds every source's history, keeping the newest lines", () => {
    const { config } = load("logBufferBytes: 4096\nmodels:\n  m:\n    cmd: x --port ${PORT}\n");
    assert.equal(config.logBufferBytes, 4096);
    const logs = new LogHub("both", null, config.logBufferBytes);
    for (let i = 0; i < 500; i++) logs.model("m").write(`line ${i} ${"x".repeat(60)}\n`);
    for (const history of [logs.model("m").history(), logs.upstream.history(), logs.combined.history()]) {
      assert.ok(history.length <= 4096, `kept ${history.length} characters`);
      assert.match(history, /line 499 x+\n$/);
      assert.doesNotMatch(history, /line 0 /);
    }
  });

  test("the default keeps 100 KiB per source; less than 1 KiB is refused", () => {
    assert.equal(load("models:\n  m:\n    cmd: x --port ${PORT}\n").config.logBufferBytes, 100 * 1024);
    assertIssue(issuesOf("logBufferBytes: 100\n"), "logBufferBytes", /an integer >= 1024/);
  });
});

describe("per-model log files", () => {
  test("a model's output lands in <logDir>/<model>.log in order; the directory is created", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-logfiles-"));
    try {
      const files = new LogFiles(runtime, join(dir, "nested", "logs"), (message) => assert.fail(message));
      const buffer = new LogBuffer();
      files.attach("org/model:q4", buffer);
      files.attach("org/model:q4", buffer); // attaching twice must not double the lines
      for (let i = 0; i < 1000; i++) buffer.write(`line ${i}\n`);
      await files.flushed();
      assert.equal(logFileName("org/model:q4"), "org_model_q4.log");
      const text = readFileSync(join(dir, "nested", "logs", "org_model_q4.log"), "utf8");
      assert.equal(text, Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(""));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a file that cannot be written is reported once, not once per line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-logfiles-"));
    try {
      const blocker = join(dir, "not-a-directory");
      writeFileSync(blocker, "");
      const warnings: string[] = [];
      const files = new LogFiles(runtime, blocker, (message) => warnings.push(message));
      const buffer = new LogBuffer();
      files.attach("m", buffer);
      for (let i = 0; i < 200; i++) {
        buffer.write(`line ${i}\n`);
        if (i % 50 === 0) await files.flushed();
      }
      await files.flushed();
      const fileWarnings = warnings.filter((w) => w.startsWith("log file"));
      assert.equal(fileWarnings.length, 1, warnings.join("\n"));
      assert.match(fileWarnings[0], /not-a-directory\/m\.log: cannot write/);
      assert.ok(warnings.some((w) => /logDir .* cannot be created.*fix logDir/.test(w)), warnings.join("\n"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
