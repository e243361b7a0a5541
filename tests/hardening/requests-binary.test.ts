/**
 * Item 2 of issue 15 on the compiled binary (Bun's JavaScriptCore, where a
 * deep body once overflowed the stack after half a second of blocked loop):
 * JSON nested 100,000 deep to a model with setParams is a 400 at once,
 * recorded, while a neighbour's /health and chats stay fast.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ensureDist, EXECUTABLE } from "../build/dist.ts";
import { type RouterProcess, startRouter } from "../e2e/harness.ts";
import { CONFIG, deepJsonAttack, routerEnv, warmUp } from "./requests-attacks.ts";

describe("hostile request shapes (compiled binary)", () => {
  let router: RouterProcess;

  before(async () => {
    await ensureDist();
    router = await startRouter(CONFIG, [], routerEnv(), [EXECUTABLE]);
    await warmUp(router);
  });
  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  test("JSON nested 100,000 deep to a model with setParams: 400 at once naming the limit, 40 at a time, all recorded", async () => {
    await deepJsonAttack(router);
  });
});
