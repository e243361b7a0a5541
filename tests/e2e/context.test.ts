/**
 * Swaps that keep the conversation (keepContext) and lifecycle hooks,
 * against demo upstreams, which keep a prompt cache per slot and save and
 * restore it the way llama-server does (`--slot-save-path`). The same
 * behaviour against a real llama-server is in llama-server.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

/** A prompt of `words` distinct words: the demo counts one token per word. */
const PROMPT = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");

/** Ask `model` the long prompt; returns llama-server's timings (prompt_n: evaluated, cache_n: reused). */
async function ask(router: RouterProcess, model: string): Promise<{ prompt_n: number; cache_n: number }> {
  const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, { messages: [{ role: "user", content: PROMPT }], max_tokens: 2 }));
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).timings;
}

/** A model's log as far as it goes now (its history, read from the live stream). */
async function modelLog(router: RouterProcess, model: string): Promise<string> {
  const response = await fetch(`${router.url}/logs/stream/${model}`);
  const reader = response.body!.getReader();
  const { value } = await reader.read();
  await reader.cancel();
  return new TextDecoder().decode(value);
}

/** The saved context /api/status shows for `model`. */
async function savedContext(router: RouterProcess, model: string): Promise<{ tokens: number; bytes: number } | null> {
  const status = await (await fetch(`${router.url}/api/status`)).json();
  return status.models.find((m: { model: string }) => m.model === model)?.savedContext ?? null;
}

const routers: RouterProcess[] = [];
async function start(yaml: string): Promise<RouterProcess> {
  const router = await startRouter(yaml);
  routers.push(router);
  return router;
}

describe(`keepContext (${runtime.name})`, () => {
  after(async () => {
    for (const router of routers.splice(0)) await router.stop();
  });

  const config = (dir: string, extra = "") => `
contextCache: { dir: ${dir}, timeout: 2 }
models:
  a: { cmd: "${demoCmd("--model a --token-ms 0")}", keepContext: true }
  b: { cmd: "${demoCmd("--model b --token-ms 0")}" }
  plain: { cmd: "${demoCmd("--model plain --token-ms 0")}" }
${extra}`;

  test("a model swapped out and back gets its conversation back; one without keepContext starts cold", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-context-"));
    const router = await start(config(dir));
    const first = await ask(router, "a");
    assert.equal(first.cache_n, 0);
    await ask(router, "b"); // swaps a out: its context is saved
    assert.ok((await savedContext(router, "a"))!.tokens >= 200, "the status shows the saved context");
    const back = await ask(router, "a"); // swaps a back in: restored before the request is served
    assert.ok(back.cache_n >= 0.95 * (first.prompt_n + first.cache_n), `cache_n ${back.cache_n} of ${first.prompt_n}`);
    // The log lines travel through the router's stdout pipe, which may still hold them when the answer is in.
    await router.waitForOutput(/a: its context kept: \d+ tokens/);
    await router.waitForOutput(/a: ready in \d+ ms \(its context restored: \d+ tokens/);

    await ask(router, "plain");
    await ask(router, "b");
    assert.equal((await ask(router, "plain")).cache_n, 0, "without keepContext the prompt is evaluated again");
    assert.ok(readdirSync(join(dir, "a")).some((name) => name.startsWith("slot")), "the save lives in the model's own folder");

    const metrics = await (await fetch(`${router.url}/metrics`)).text();
    assert.match(metrics, /modelswap_context_restored_tokens_total\{model="a"\} [1-9]/);
  });

  test("the context survives a router restart with a planned shutdown, and a ttl unload", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-context-"));
    const yaml = config(dir).replace("keepContext: true }", "keepContext: true, ttl: 1 }");
    const first = await start(yaml);
    const cold = await ask(first, "a");
    await first.waitForOutput(/a: unloaded after 1s idle \(ttl\)/);
    await first.waitForOutput(/a: its context kept/);
    assert.ok((await ask(first, "a")).cache_n >= 0.95 * cold.prompt_n, "restored after the ttl unload");
    await first.stop(); // a planned shutdown saves it again
    const second = await start(yaml);
    assert.ok((await savedContext(second, "a"))!.tokens > 0, "a new router finds the save");
    assert.ok((await ask(second, "a")).cache_n >= 0.95 * cold.prompt_n, "restored by the new router");
  });

  test("a changed command never restores the old save; forget-context deletes a save", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-context-"));
    const router = await start(config(dir));
    await ask(router, "a");
    await ask(router, "b");
    assert.ok(await savedContext(router, "a"));
    const changed = config(dir).replace("--model a --token-ms 0", "--model a --token-ms 0 --reply changed");
    await runtime.writeTextFile(router.configPath, changed);
    router.proc.kill("SIGHUP");
    await router.waitForOutput(/config reloaded; changed: a/);
    assert.equal((await ask(router, "a")).cache_n, 0, "the save of the old command is not restored");
    await ask(router, "b");
    assert.ok(await savedContext(router, "a"), "the new command's save");
    const forget = await fetch(`${router.url}/api/models/forget-context/a`, { method: "POST" });
    assert.equal(forget.status, 200);
    assert.equal(await savedContext(router, "a"), null);
    assert.ok(!readdirSync(join(dir, "a")).some((name) => name.startsWith("slot")), "its files are gone");
  });

  test("contextCache.maxBytes deletes the least recently used save first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-context-"));
    const router = await start(`
contextCache: { dir: ${dir}, maxBytes: 3000 }
keepContext: true
models:
  a: { cmd: "${demoCmd("--model a --token-ms 0")}" }
  c: { cmd: "${demoCmd("--model c --token-ms 0")}" }
  b: { cmd: "${demoCmd("--model b --token-ms 0")}", keepContext: false }
`);
    await ask(router, "a");
    await ask(router, "c"); // saves a (about 2 KB)
    assert.ok(await savedContext(router, "a"));
    await ask(router, "b"); // saves c: together over 3000 bytes
    assert.ok(await savedContext(router, "c"), "the newest save stays");
    assert.equal(await savedContext(router, "a"), null, "the older save was deleted");
    assert.match(router.output(), /a: its saved context was deleted to stay within contextCache\.maxBytes/);
  });

  test("a save that stalls is abandoned at the timeout; a server without /slots swaps with one warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-context-"));
    const router = await start(`
contextCache: { dir: ${dir}, timeout: 1 }
keepContext: true
models:
  slow: { cmd: "${demoCmd("--model slow --token-ms 0 --stall-slots-ms 30000")}" }
  noslots: { cmd: "${demoCmd("--model noslots --token-ms 0 --no-slots")}" }
  b: { cmd: "${demoCmd("--model b --token-ms 0")}", keepContext: false }
`);
    await ask(router, "slow");
    const swapStarted = performance.now();
    await ask(router, "b");
    const swapMs = performance.now() - swapStarted;
    assert.ok(swapMs < 15_000, `the swap waited ${swapMs.toFixed(0)} ms for a save that stalls 30 s (timeout 1 s)`);
    assert.match(router.output(), /slow: keepContext: could not save its context before stopping \(it took longer than 1s \(contextCache\.timeout\)\)/);
    for (let round = 0; round < 2; round++) {
      await ask(router, "noslots");
      await ask(router, "b");
    }
    const warnings = router.output().match(/noslots: keepContext: could not save/g) ?? [];
    assert.equal(warnings.length, 1, "warned once, not at every swap");
  });
});

describe(`lifecycle hooks (${runtime.name})`, () => {
  after(async () => {
    for (const router of routers.splice(0)) await router.stop();
  });

  test("after_load runs after health and before the first request; before_unload before the stop; macros expanded; a failing or slow hook never blocks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "modelswap-hooks-"));
    const trail = join(dir, "trail.txt");
    const router = await start(`
hooks:
  timeout: 1
  after_load: "sh -c 'sleep 0.3; echo after_load \${MODEL_ID} \${PORT} >> ${trail}'"
models:
  a:
    cmd: "${demoCmd("--model a --token-ms 0")}"
    hooks:
      before_unload:
        - { method: POST, path: /tokenize, body: { content: "still serving" } }
        - "sh -c 'echo before_unload \${MODEL_ID} >> ${trail}'"
        - "false"
  b:
    cmd: "${demoCmd("--model b --token-ms 0")}"
    hooks:
      after_load: "sleep 30"
`);
    await ask(router, "a");
    const afterLoad = readFileSync(trail, "utf8");
    assert.match(afterLoad, /^after_load a \d+\n$/, "the top-level hook ran, with a's macros, before a's first answer");
    const swapStarted = performance.now();
    await ask(router, "b"); // a's before_unload hooks run; b's after_load times out
    assert.ok(performance.now() - swapStarted < 15_000, "a hook that never ends does not hold the swap");
    assert.match(readFileSync(trail, "utf8"), /before_unload a\n$/);
    const log = await modelLog(router, "a");
    const hookLine = log.indexOf("[modelswap] hook before_unload (POST /tokenize) done");
    const exitLine = log.search(/\[modelswap\] a pid \d+ (killed by signal|exited)/);
    assert.ok(hookLine >= 0 && exitLine > hookLine, `the request hook reached the live server before it stopped:\n${log}`);
    assert.match(log, /hook before_unload \(false\) failed: exited with code 1/);
    assert.match(await modelLog(router, "b"), /hook after_load \(sleep 30\) failed: did not finish within 1s/);
    assert.ok(existsSync(trail));
  });
});
