/**
 * An upstream that resets its connection right after the headers of an
 * event stream (before or after a first event, with a chunked body or one
 * delimited by the connection's close) must not look like a clean end to
 * the client: the stream ends with an error event naming the model.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { scriptArgv, testsPath } from "../helpers/process.ts";
import { chat, postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";

describe(`an upstream that resets mid-stream (${runtime.name})`, () => {
  let router: RouterProcess;
  const rude = scriptArgv(testsPath("helpers/rude-upstream.ts")).map((word) => `'${word}'`).join(" ");

  before(async () => {
    router = await startRouter(`
models:
  rude: { cmd: ${JSON.stringify(`${rude} --port \${PORT}`)} }
  partial: { cmd: ${JSON.stringify(`${rude} --port \${PORT} --partial`)} }
  unchunked: { cmd: ${JSON.stringify(`${rude} --port \${PORT} --close-delimited`)} }
`);
  });
  after(() => router.stop());

  for (const model of ["rude", "partial", "unchunked"]) {
    test(`${model}: the client's stream ends with an error event, and the reset is recorded`, async () => {
      const response = await postJson(`${router.url}/v1/chat/completions`, chat(model, { stream: true }));
      assert.equal(response.status, 200);
      const text = await response.text();
      if (model === "partial") assert.match(text, /"partial":1/, "what arrived before the reset is passed on");
      const last = text.trim().split("\n\n").at(-1) ?? "";
      assert.match(last, /^data: \{"error":/, `the stream must end with an error event, got: ${text}`);
      assert.match(last, new RegExp(`model \\\\"${model}\\\\"`));
      const activity = await (await fetch(`${router.url}/api/activity?model=${model}`)).json();
      assert.equal(activity.data[0].status, 502);
    });
  }
});
