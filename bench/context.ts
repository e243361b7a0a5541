/**
 * Swap round trip with a real llama-server: model A gets a long prompt,
 * B is asked (A is swapped out), then A gets the same prompt again. With
 * keepContext on and off in the same run, reports the prompt tokens A
 * evaluates after the return and the time to its first token (streamed).
 *
 *   source /tmp/llama-prefix/env.sh && bun bench/context.ts [--rounds N]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startRouter } from "../tests/e2e/harness.ts";
import { median, option, runtime } from "./measure.ts";

const LLAMA_SERVER = runtime.env("LLAMA_SERVER");
const MODEL = runtime.env("LLAMA_TINY_MODEL");
if (!LLAMA_SERVER || !MODEL) {
  console.log("bench/context.ts: LLAMA_SERVER and LLAMA_TINY_MODEL are not set (source /tmp/llama-prefix/env.sh); skipped");
  runtime.exit(0);
}
const ROUNDS = option("rounds", 5);
const PROMPT = Array.from({ length: 115 }, (_, i) => `line ${i} says hello`).join("\n");

/** Stream one chat; returns ms to the first content byte and llama-server's final timings. */
async function ask(url: string, model: string): Promise<{ ttftMs: number; promptN: number; cacheN: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, stream: true, max_tokens: 4, temperature: 0, messages: [{ role: "user", content: PROMPT }] }),
  });
  let ttftMs = 0;
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    if (ttftMs === 0) ttftMs = performance.now() - started;
    text += decoder.decode(chunk, { stream: true });
  }
  const timings = [...text.matchAll(/"timings":(\{[^}]*\})/g)].map((m) => JSON.parse(m[1])).at(-1);
  return { ttftMs, promptN: timings?.prompt_n ?? -1, cacheN: timings?.cache_n ?? -1 };
}

const llama = (alias: string) => `${LLAMA_SERVER} -m ${MODEL} --host 127.0.0.1 --port \${PORT} --alias ${alias} -np 1`;

const results: Record<string, { promptN: number[]; cacheN: number[]; ttft: number[] }> = {};
for (const keep of [true, false]) {
  const router = await startRouter(`
contextCache: { dir: ${mkdtempSync(join(tmpdir(), "modelswap-bench-context-"))} }
models:
  a: { cmd: "${llama("a")}", keepContext: ${keep} }
  b: { cmd: "${llama("b")}" }
`);
  const row: { promptN: number[]; cacheN: number[]; ttft: number[] } = { promptN: [], cacheN: [], ttft: [] };
  results[keep ? "on" : "off"] = row;
  await ask(router.url, "a");
  for (let round = 0; round < ROUNDS; round++) {
    await ask(router.url, "b");
    const back = await ask(router.url, "a");
    row.promptN.push(back.promptN);
    row.cacheN.push(back.cacheN);
    row.ttft.push(back.ttftMs);
  }
  await router.stop();
}

console.log(`swap round trip A → B → A with a real llama-server (${runtime.name}; ${ROUNDS} rounds, medians; 1 MB test model, CPU)`);
console.log("| keepContext | prompt tokens evaluated after the return | tokens from the restored cache | time to first token of A's return (ms) |");
console.log("| --- | --- | --- | --- |");
for (const [keep, row] of Object.entries(results)) {
  console.log(`| ${keep} | ${median(row.promptN)} | ${median(row.cacheN)} | ${median(row.ttft).toFixed(1)} |`);
}
