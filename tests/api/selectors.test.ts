/**
 * Selectors end to end (reference §5.3): a virtual model name resolved per
 * request by its strategy. Every demo upstream answers with the `model` it
 * received, which is the target the selector picked.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";

describe(`selectors (${runtime.name})`, () => {
  let router: RouterProcess;

  before(async () => {
    router = await startRouter(`
models:
  a: { cmd: "${demoCmd("--token-ms 1")}" }
  b: { cmd: "${demoCmd("--token-ms 1")}" }
  c: { cmd: "${demoCmd("--token-ms 1")}" }
  p1: { cmd: "${demoCmd("--token-ms 100 --reply 'w1 w2 w3'")}" }
  p2: { cmd: "${demoCmd("--token-ms 100 --reply 'w1 w2 w3'")}" }
  p3: { cmd: "${demoCmd("--token-ms 100 --reply 'w1 w2 w3'")}" }
selectors:
  pinned: { strategy: pin, targets: [b, a], name: Pinned, description: always b }
  warm-ab: { strategy: warm, targets: [a, b] }
  warm-cb: { strategy: warm, targets: [c, b] }
  pool: { strategy: spillover, targets: [p1, p2, p3], settings: { spillover: 1 }, metadata: { tier: 2 } }
  secret: { strategy: pin, targets: [a], unlisted: true }
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [a, b, c, p1, p2, p3] }
`);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  /** The model that answered a (non-streamed) chat request. */
  const servedBy = async (model: string): Promise<string> => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat(model));
    assert.equal(response.status, 200);
    return (await response.json()).model;
  };
  const stateOf = async (model: string): Promise<string> => {
    const status = await (await fetch(`${router.url}/api/status`)).json();
    return status.models.find((m: { model: string }) => m.model === model).state;
  };

  /** A streamed request held open: which target serves it, and a way to read it to its end. */
  const hold = async (model: string) => {
    const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, { stream: true }));
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!/^data: \{.*\}$/m.test(text)) {
      const { done, value } = await reader.read();
      assert.ok(!done, "the stream ended before its first event");
      text += decoder.decode(value, { stream: true });
    }
    const target = JSON.parse(text.match(/^data: (\{.*\})$/m)![1]).model as string;
    const finish = async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      assert.match(text, /data: \[DONE\]/);
    };
    return { target, finish };
  };

  test("warm cold-starts its first target when none is running", async () => {
    assert.equal(await servedBy("warm-ab"), "a");
    assert.equal(await stateOf("b"), "stopped");
  });

  test("pin always picks its first target, warm or not", async () => {
    assert.equal(await servedBy("pinned"), "b");
    assert.equal(await servedBy("secret"), "a", "unlisted selectors are still routable");
  });

  test("warm picks a ready target over a cold first one", async () => {
    assert.equal(await stateOf("c"), "stopped");
    assert.equal(await servedBy("warm-cb"), "b");
    assert.equal(await stateOf("c"), "stopped", "the cold target was not started");
  });

  test("spillover fills targets in order and releases a reservation when its request ends", async () => {
    const first = await hold("pool");
    assert.equal(first.target, "p1", "nothing active: the first cold target");
    const second = await hold("pool");
    assert.equal(second.target, "p2", "p1 is full (spillover 1): the next cold target");
    await first.finish();
    const third = await hold("pool");
    assert.equal(third.target, "p1", "p1's reservation ended with its request");
    assert.equal(await stateOf("p3"), "stopped");
    await Promise.all([second.finish(), third.finish()]);
  });

  test("selectors are listed with their strategy, targets and the state of their targets", async () => {
    const { data } = await (await fetch(`${router.url}/v1/models`)).json();
    const selectors = data.filter((r: { meta: { llamaswap: { type: string } } }) => r.meta.llamaswap.type === "selector");
    assert.deepEqual(selectors.map((r: { id: string }) => r.id), ["pinned", "pool", "warm-ab", "warm-cb"]);
    const [pinned, pool] = selectors;
    assert.equal(pinned.name, "Pinned");
    assert.equal(pinned.description, "always b");
    assert.deepEqual(pinned.meta.llamaswap, { type: "selector", strategy: "pin", targets: ["b", "a"] });
    assert.equal(pinned.state, "ready");
    assert.deepEqual(pinned.status, { value: "loaded" });
    assert.deepEqual(pool.metadata, { tier: 2 });
    assert.deepEqual(pool.meta.llamaswap, { tier: 2, type: "selector", strategy: "spillover", targets: ["p1", "p2", "p3"], spillover: 1 });
  });
});
