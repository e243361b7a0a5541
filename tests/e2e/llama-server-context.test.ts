/**
 * keepContext with a real llama.cpp `llama-server` (see
 * llama-server.test.ts for how it is installed): its KV cache is saved
 * through `POST /slots/N?action=save` when it is swapped out, unloaded for
 * its ttl or shut down with the router, and restored after its next start,
 * so a long prompt asked again is not evaluated again. In CI the absence of
 * llama-server is a failure, never a silent pass.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

const LLAMA_SERVER = runtime.env("LLAMA_SERVER");
const MODEL = runtime.env("LLAMA_TINY_MODEL");
const SETUP_HINT = "run ../shared/tools/llama-server-setup.sh, then `source /tmp/llama-prefix/env.sh`";

/** About 1,500 tokens of prompt for the tiny model's tokenizer. */
const PROMPT = Array.from({ length: 115 }, (_, i) => `line ${i} says hello`).join("\n");

interface Timings {
  prompt_n: number;
  cache_n: number;
}

function llamaCmd(alias: string): string {
  return `${LLAMA_SERVER} -m ${MODEL} --host 127.0.0.1 --port \${PORT} --alias ${alias} -np 1`;
}

async function ask(router: RouterProcess, model: string): Promise<Timings> {
  const response = await postJson(`${router.url}/v1/chat/completions`, {
    model,
    messages: [{ role: "user", content: PROMPT }],
    max_tokens: 1,
    temperature: 0,
  });
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).timings;
}

/** At least 95% of the first request's prompt came from the restored cache. */
function assertKept(first: Timings, again: Timings, what: string): void {
  const total = first.prompt_n + first.cache_n;
  assert.ok(total > 1000, `the prompt is long (${total} tokens)`);
  assert.ok(again.cache_n >= 0.95 * total, `${what}: cache_n ${again.cache_n} of ${total} (prompt_n ${again.prompt_n})`);
}

if (!LLAMA_SERVER || !MODEL) {
  if (runtime.env("CI") === "true") {
    test("keepContext with llama-server", () => {
      assert.fail(`LLAMA_SERVER / LLAMA_TINY_MODEL are not set in CI: .ci/run must install llama-server first (${SETUP_HINT})`);
    });
  } else {
    test("keepContext with llama-server", { skip: `LLAMA_SERVER is not set; to run: ${SETUP_HINT}` }, () => {});
  }
} else {
  describe(`keepContext with a real llama-server (${runtime.name})`, () => {
    const routers: RouterProcess[] = [];
    after(async () => {
      for (const router of routers) await router.stop();
    });
    const config = (dir: string) => `
contextCache: { dir: ${dir} }
healthCheckTimeout: 60
models:
  a: { cmd: "${llamaCmd("a")}", keepContext: true, ttl: 2 }
  b: { cmd: "${llamaCmd("b")}" }
  cold: { cmd: "${llamaCmd("cold")}" }
`;
    const start = async (yaml: string) => {
      const router = await startRouter(yaml);
      routers.push(router);
      return router;
    };

    test("swapped out and back, a keeps its prompt cache; without keepContext it is evaluated again", async () => {
      const router = await start(config(mkdtempSync(join(tmpdir(), "modelswap-llama-context-"))));
      const first = await ask(router, "a");
      assert.equal(first.cache_n, 0);
      await ask(router, "b");
      assertKept(first, await ask(router, "a"), "after a swap");
      const cold = await ask(router, "cold");
      await ask(router, "b");
      assert.equal((await ask(router, "cold")).cache_n, 0, `without keepContext (first: ${cold.prompt_n} tokens)`);
    });

    test("kept across a ttl unload and across a router restart with a planned shutdown", async () => {
      const dir = mkdtempSync(join(tmpdir(), "modelswap-llama-context-"));
      const first = await start(config(dir));
      const cold = await ask(first, "a");
      await first.waitForOutput(/a: unloaded after 2s idle \(ttl\)/, 30_000);
      await first.waitForOutput(/a: its context kept/);
      assertKept(cold, await ask(first, "a"), "after the ttl unload");
      await first.stop();
      const second = await start(config(dir));
      assertKept(cold, await ask(second, "a"), "after a router restart");
    });
  });
}
