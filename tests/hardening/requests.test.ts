/**
 * Hostile request shapes must cost the router a bounded, linear amount of
 * work and get a clear refusal at once, while a neighbour's /health and
 * chats stay fast (issue 15, items 2, 3 and 9): JSON nested 100,000 deep to
 * a model with filters, /upstream paths of thousands of segments and 60 KB
 * URLs, multipart bodies with an over-long boundary or megabytes of
 * near-misses, a 10 MB model name. Every refusal is in /metrics and
 * /api/activity with its status.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MAX_URL_CHARS } from "../../src/http/bounds.ts";
import { postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";
import {
  BOUNDS,
  CONFIG,
  deepJsonAttack,
  ECHO,
  inParallel,
  OTHER,
  recentActivity,
  requestCount,
  routerEnv,
  warmUp,
  whileNeighbourWatches,
} from "./requests-attacks.ts";

const CHAT = "/v1/chat/completions";
const TRANSCRIPTIONS = "/v1/audio/transcriptions";

describe(`hostile request shapes (${runtime.name})`, () => {
  let router: RouterProcess;

  before(async () => {
    router = await startRouter(CONFIG, [], routerEnv());
    await warmUp(router);
  });
  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  test("JSON nested 100,000 deep to a model with setParams: 400 at once naming the limit, 40 at a time, all recorded", async () => {
    await deepJsonAttack(router);
  });

  test("a legitimate deep-ish body (60 levels) goes through with the filters applied and the rest as sent", async () => {
    const nested = `${"[ ".repeat(60)}{"leaf": "é\\u00e9 \\"q\\""}${" ]".repeat(60)}`;
    const body = `{ "model" : "${ECHO}", "messages": [{"role": "user", "content": "hi"}],\n  "tools" : ${nested}, "temperature": 1.5 }`;
    const response = await fetch(`${router.url}${CHAT}`, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal(response.status, 200);
    const received = (await response.json()).body as string;
    const parsed = JSON.parse(received);
    assert.equal(parsed.temperature, 0.2);
    assert.deepEqual(parsed.chat_template_kwargs, { enable_thinking: false });
    assert.equal(parsed.model, ECHO);
    assert.ok(received.includes(`"tools" : ${nested}`), `members the filters do not touch arrive byte for byte: ${received.slice(0, 300)}`);
  });

  test("an /upstream path of 8,000 segments and a 60 KB URL are refused at once; 4,000 segments within the bound are served", async () => {
    const labels = { model: "", route: "/upstream/*", status: "414" };
    const before = await requestCount(router, labels);
    const upstream = `${router.url}/upstream/${ECHO}/`;
    const hostile = [`${upstream}${"a/".repeat(5_000)}`, `${upstream}${"a/".repeat(8_000)}`, `${upstream}x?q=${"y".repeat(60 * 1024)}`];
    const withinBound = `${upstream}${"a/".repeat(4_000)}`;
    assert.ok(withinBound.length - router.url.length <= MAX_URL_CHARS);
    const [refused, served] = await whileNeighbourWatches(router, () =>
      Promise.all([
        Promise.all(hostile.map((url) => inParallel(20, () => fetch(url)))),
        inParallel(20, () => fetch(withinBound)),
      ]));
    // Bun refuses a request line beyond its own 16 KiB header limit with a 431 before modelswap sees it.
    const runtimeLimit = runtime.name === "bun" ? [414, 431] : [414];
    for (const [i, answers] of refused.entries()) {
      for (const answer of answers) {
        assert.ok((i === 0 ? [414] : runtimeLimit).includes(answer.status), `${answer.status}: ${answer.text.slice(0, 200)}`);
        if (answer.status === 414) assert.match(JSON.parse(answer.text).error.message, new RegExp(`at most ${MAX_URL_CHARS}`));
        assert.ok(answer.ms < BOUNDS.refusalMs, `a refusal took ${answer.ms.toFixed(0)} ms`);
      }
    }
    for (const answer of served) {
      assert.equal(answer.status, 200, answer.text.slice(0, 200));
      assert.equal(JSON.parse(answer.text).path, `/echo/${"a/".repeat(4_000)}`);
    }
    const ours = refused.flat().filter((answer) => answer.status === 414).length;
    assert.equal(await requestCount(router, labels) - before, ours, "every 414 is counted in /metrics");
    const rows = await recentActivity(router, 1_000);
    assert.equal(rows.filter((row) => row.status === 414 && row.path === "/upstream/*").length, ours, "and listed in /api/activity");
  });

  test("multipart: a 71-character boundary is a 400; a legal one after megabytes of dashes is found in one pass", async () => {
    const long = "b".repeat(71);
    const tooLong = await fetch(`${router.url}${TRANSCRIPTIONS}`, {
      method: "POST",
      headers: { "content-type": `multipart/form-data; boundary=${long}` },
      body: `--${long}\r\ncontent-disposition: form-data; name="model"\r\n\r\n${OTHER}\r\n--${long}--\r\n`,
    });
    assert.equal(tooLong.status, 400);
    assert.match((await tooLong.json()).error.message, /boundary is 71 characters long; RFC 2046 allows at most 70/);
    assert.equal((await recentActivity(router, 1))[0].status, 400);

    // A preamble of dashes is a near-miss of "--<boundary>" at every byte: a search that restarts at each one is quadratic.
    const boundary = "-".repeat(69) + "x";
    const form = (model: string) =>
      "-".repeat(4 * 1024 * 1024) +
      `\r\n--${boundary}\r\ncontent-disposition: form-data; name="model"\r\n\r\n${model}` +
      `\r\n--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.wav"\r\ncontent-type: audio/wav\r\n\r\nRIFF` +
      `\r\n--${boundary}--\r\n`;
    const send = (body: string) =>
      fetch(`${router.url}${TRANSCRIPTIONS}`, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body });
    const unknown = form("nope");
    const answers = await whileNeighbourWatches(router, () => inParallel(10, () => send(unknown)));
    for (const answer of answers) {
      assert.equal(answer.status, 404, answer.text.slice(0, 200));
      assert.match(JSON.parse(answer.text).error.message, /model "nope" is not configured/);
    }
    const served = await send(form(OTHER));
    assert.equal(served.status, 200);
    assert.equal((await served.json()).bytes, 4, "the upload reached the model's server intact");
  });

  test("a 10 MB model name is never echoed: the 404 and the 400 for a non-string model stay small", async () => {
    const name = "m".repeat(10 * 1024 * 1024);
    const unknown = await postJson(`${router.url}${CHAT}`, { model: name, messages: [] });
    assert.equal(unknown.status, 404);
    const text = await unknown.text();
    assert.ok(text.length < 1_000, `${text.length} characters`);
    const wrongType = await postJson(`${router.url}${CHAT}`, { model: [name], messages: [] });
    assert.equal(wrongType.status, 400);
    const wrongText = await wrongType.text();
    assert.ok(wrongText.length < 1_000, `${wrongText.length} characters`);
    assert.match(JSON.parse(wrongText).error.message, /"model" must be a string \(got an array\)/);
    const rows = await recentActivity(router, 2);
    assert.deepEqual(rows.map((row) => [row.model, row.status]), [["", 400], ["", 404]]);
    assert.ok(JSON.stringify(rows).length < 2_000, "activity keeps the reasons short too");
  });
});
