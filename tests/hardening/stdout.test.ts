/**
 * Standard output that nobody reads (a wrapper that stopped reading, a
 * full terminal) must not freeze the router: log text waits in a bounded
 * queue, the rest is dropped and counted, and requests, health checks and
 * signals are served as ever.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { StdoutSink } from "../../src/logging/stdout.ts";
import { demoCmd, routerArgv, runtime, writeConfig } from "../e2e/harness.ts";
import { describeReport, startNeighbour } from "./neighbour.ts";

describe("a stdout nobody reads", () => {
  test("at most the bound waits; the rest is dropped, and a marker says how much once writing goes on", async () => {
    const written: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    const sink = new StdoutSink(async (bytes) => {
      if (first) {
        first = false;
        await gate; // the first write hangs, like a full pipe
      }
      written.push(new TextDecoder().decode(bytes));
    }, 1000);
    sink.write("first\n");
    for (let i = 0; i < 100; i++) sink.write(`line ${String(i).padStart(3, "0")} ${"x".repeat(40)}\n`);
    release();
    await sink.flushed(5000);
    const text = written.join("");
    assert.match(text, /^first\n/);
    assert.match(text, /--- \d+ bytes of log output dropped: stdout was not being read ---\n/);
    assert.ok(text.length < 3000, `the queue stayed bounded (${text.length} bytes written)`);
  });

  test(`the router serves and shuts down while its stdout pipe is full (${runtime.name})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-stdout-"));
    writeFileSync(join(dir, "yes.sh"), `#!/bin/sh\nyes "a line the upstream prints" &\nexec "$@"\n`);
    const config = writeConfig(`
logToStdout: both
models:
  flood: { cmd: "sh ${join(dir, "yes.sh")} ${demoCmd("--model flood --token-ms 1")}" }
  quiet: { cmd: "${demoCmd("--model quiet --token-ms 1")}" }
groups:
  all: { swap: false, members: [flood, quiet] }
`);
    const proc = runtime.spawn({ argv: [...routerArgv(), "--config", config, "--listen", "127.0.0.1:0"], output: "pipe" });
    try {
      // Read stdout only until the router says where it listens; after that nobody reads it.
      const reader = proc.stdout!.getReader();
      let text = "";
      while (!/listening on (http:\/\/[\d.:]+)/.test(text)) {
        const { value, done } = await reader.read();
        assert.ok(!done, `the router exited early:\n${text}`);
        text += new TextDecoder().decode(value);
      }
      const url = /listening on (http:\/\/[\d.:]+)/.exec(text)![1];
      const load = await fetch(`${url}/api/models/load/flood`, { method: "POST" });
      assert.equal(load.status, 200, "the flooding model loads (its output fills the router's stdout)");
      const neighbour = startNeighbour(url, "quiet", proc.pid);
      await new Promise((resolve) => setTimeout(resolve, 3000)); // the attack's duration: its output keeps coming
      const report = await neighbour.stop();
      assert.deepEqual(report.failures, [], describeReport(report));
      assert.ok(report.healthMaxMs < 2000 && report.chatMaxMs < 2500, describeReport(report));
      assert.ok(report.rssMaxMiB < 300, describeReport(report));
      const started = performance.now();
      proc.kill("SIGTERM");
      const status = await proc.exited;
      assert.equal(status.code, 0);
      assert.ok(performance.now() - started < 10_000, "SIGTERM is answered though nobody reads stdout");
    } finally {
      proc.kill("SIGKILL");
      await proc.exited;
    }
  });
});
