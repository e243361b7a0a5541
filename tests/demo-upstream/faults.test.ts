import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readProcStatSync } from "../../src/runtime/procfs.ts";
import {
  type Demo,
  freePort,
  pidAlive,
  runtime,
  scriptArgv,
  startDemo,
  startProcess,
  type TestProcess,
  testsPath,
  waitFor,
} from "../helpers/process.ts";

const LONG_REPLY = Array.from({ length: 50 }, (_, i) => `word${i}`).join(" ");
const started: TestProcess[] = [];

/** Start a demo and remember it for cleanup. */
async function demo(args: string[]): Promise<Demo> {
  const d = await startDemo(args);
  started.push(d);
  return d;
}

/** Run the demo entry with raw arguments (no --port added, no wait for readiness). */
function rawDemo(args: string[]): TestProcess {
  const p = startProcess([...scriptArgv(testsPath("helpers/demo-entry.ts")), ...args]);
  started.push(p);
  return p;
}

function chat(d: Demo, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${d.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], ...extra }),
    signal,
  });
}

describe(`demo upstream fault injection (${runtime.name})`, () => {
  after(async () => {
    await Promise.all(started.map((p) => p.kill()));
  });

  it("answers /health 503 loading until --startup-ms has passed, then 200", async () => {
    const d = await demo(["--startup-ms", "1000"]);
    const early = await fetch(`${d.url}/health`);
    assert.equal(early.status, 503);
    assert.deepEqual(await early.json(), { status: "loading" });
    assert.equal((await chat(d)).status, 503);
    const ready = await waitFor(async () => {
      const response = await fetch(`${d.url}/health`);
      return response.status === 200 ? await response.json() : (await response.body?.cancel(), null);
    }, { what: "/health to answer 200" });
    assert.deepEqual(ready, { status: "ok" });
  });

  it("--exit-at-start logs to stderr and exits with the code before listening", async () => {
    const p = rawDemo(["--port", String(await freePort()), "--exit-at-start", "7"]);
    assert.deepEqual(await p.proc.exited, { code: 7, signal: null });
    await p.stderr.done;
    assert.match(p.stderr.text, /failed to load model/);
    assert.doesNotMatch(p.stdout.text, /demo-upstream pid=/);
  });

  it("--crash-after-ms exits with code 3 in the middle of a stream", async () => {
    const d = await demo(["--crash-after-ms", "150", "--token-ms", "20", "--reply", LONG_REPLY]);
    const response = await chat(d, { stream: true });
    assert.equal(response.status, 200);
    let text = "";
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body!) text += decoder.decode(chunk, { stream: true });
    } catch {
      // the connection breaks when the process dies: expected
    }
    assert.doesNotMatch(text, /\[DONE\]/);
    assert.match(text, /word0/);
    assert.deepEqual(await d.proc.exited, { code: 3, signal: null });
  });

  it("--hang-health never answers /health but serves everything else", async () => {
    const d = await demo(["--hang-health"]);
    await assert.rejects(fetch(`${d.url}/health`, { signal: AbortSignal.timeout(300) }));
    assert.equal((await fetch(`${d.url}/v1/models`)).status, 200);
  });

  it("--stall-ms holds a stream after its first tokens", async () => {
    const d = await demo(["--stall-ms", "400", "--token-ms", "1"]);
    const response = await chat(d, { stream: true });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    const arrivals: number[] = [];
    let text = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = decoder.decode(value, { stream: true });
      for (const _ of chunk.matchAll(/"content":"[^"]/g)) arrivals.push(Date.now());
      text += chunk;
    }
    assert.match(text, /\[DONE\]/);
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
    assert.ok(Math.max(...gaps) >= 350, `largest gap between tokens was ${Math.max(...gaps)} ms`);
  });

  it("exits with code 0 on SIGTERM", async () => {
    const d = await demo([]);
    d.proc.kill("SIGTERM");
    assert.deepEqual(await d.proc.exited, { code: 0, signal: null });
  });

  it("--ignore-sigterm survives SIGTERM and needs SIGKILL", async () => {
    const d = await demo(["--ignore-sigterm"]);
    d.proc.kill("SIGTERM");
    await d.stderr.match(/ignoring SIGTERM/);
    assert.equal((await fetch(`${d.url}/health`)).status, 200);
    d.proc.kill("SIGKILL");
    assert.deepEqual(await d.proc.exited, { code: null, signal: "SIGKILL" });
  });

  it("--spawn-grandchild starts a child in the same group, which a group kill takes along", async () => {
    const d = await demo(["--spawn-grandchild"]);
    const grandchild = Number((await d.stdout.match(/grandchild pid (\d+)/))[1]);
    assert.ok(pidAlive(grandchild));
    assert.equal(readProcStatSync(grandchild)?.pgid, d.proc.pid);
    runtime.killGroup(d.proc.pid, "SIGTERM");
    assert.deepEqual(await d.proc.exited, { code: 0, signal: null });
    await waitFor(() => !pidAlive(grandchild), { what: `grandchild ${grandchild} to exit` });
  });

  it("--log-lines prints that many lines to stderr at start", async () => {
    const d = await demo(["--log-lines", "3"]);
    await d.stderr.match(/log line 3 of 3/);
    assert.equal(d.stderr.text.match(/log line \d+ of 3/g)?.length, 3);
  });

  it("--record-disconnect appends a line when a client leaves mid-stream", async () => {
    const file = `/tmp/modelswap-demo-disconnect-${runtime.pid}-${Date.now()}.log`;
    try {
      const d = await demo(["--record-disconnect", file, "--token-ms", "50", "--reply", LONG_REPLY]);
      const done = await chat(d, { max_tokens: 1 });
      assert.equal(done.status, 200);
      await done.text();
      const client = new AbortController();
      const response = await chat(d, { stream: true }, client.signal);
      await response.body!.getReader().read();
      client.abort();
      const log = await waitFor(() => runtime.readTextFile(file).catch(() => ""), { what: "a disconnect record" });
      assert.match(log, /POST \/v1\/chat\/completions disconnected\n$/);
      assert.equal(log.split("\n").length, 2, "the completed request is not recorded");
    } finally {
      await runtime.remove(file);
    }
  });

  it("--port-in-use fails the way llama-server does when its port is taken", async () => {
    const p = rawDemo(["--port", "5999", "--port-in-use"]);
    assert.deepEqual(await p.proc.exited, { code: 1, signal: null });
    await p.stderr.done;
    assert.match(p.stderr.text, /couldn't bind HTTP server socket.*port: 5999/);
  });

  it("rejects an unknown flag or a missing --port with exit code 2 and the usage", async () => {
    for (const args of [["--port", "1", "--bogus"], ["--model", "x"], ["--port", "abc"]]) {
      const p = rawDemo(args);
      assert.deepEqual(await p.proc.exited, { code: 2, signal: null }, args.join(" "));
      await p.stderr.done;
      assert.match(p.stderr.text, /demo-upstream: (unknown flag "--bogus"|flag --port is required|flag --port needs)/);
      assert.match(p.stderr.text, /usage: modelswap demo-upstream --port N/);
    }
  });
});
