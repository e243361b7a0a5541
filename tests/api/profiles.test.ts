/**
 * Profiles end to end (reference §5.2): switched at runtime through the
 * API, they rewrite or disable requested names before anything else, are
 * listed while active, and are reset by a config reload.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "../e2e/harness.ts";

const CONFIG = `
models:
  a: { cmd: "${demoCmd("--token-ms 1")}" }
  b: { cmd: "${demoCmd("--token-ms 1")}" }
  c: { cmd: "${demoCmd("--token-ms 1")}" }
selectors:
  either: { strategy: pin, targets: [c, a] }
profiles:
  fast:
    description: quick answers
    pins: { chat: a, b: ~, smart: either }
  other:
    pins: { chat: c, a: b }
routing:
  router:
    settings:
      groups:
        all: { swap: false, members: [a, b, c] }
`;

describe(`profiles (${runtime.name})`, () => {
  let router: RouterProcess;

  before(async () => {
    router = await startRouter(CONFIG);
  });

  after(async () => {
    const exit = await router.stop();
    assert.equal(exit.code, 0, router.output());
  });

  const ask = (model: string) => postJson(`${router.url}/v1/chat/completions`, chat(model));
  const servedBy = async (model: string): Promise<string> => {
    const response = await ask(model);
    assert.equal(response.status, 200, `request for ${model}`);
    return (await response.json()).model;
  };
  const activate = async (name: unknown): Promise<Response> =>
    await fetch(`${router.url}/api/profiles/active`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });

  test("GET /api/profiles lists the profiles and that none is active at startup", async () => {
    assert.deepEqual(await (await fetch(`${router.url}/api/profiles`)).json(), {
      active: null,
      profiles: [
        { id: "fast", description: "quick answers", pins: { chat: "a", b: null, smart: "either" } },
        { id: "other", description: "", pins: { chat: "c", a: "b" } },
      ],
    });
    assert.equal((await ask("chat")).status, 404, "a pin name means nothing without its profile");
  });

  test("an active profile rewrites pinned names (to models or selectors) and disables empty pins", async () => {
    const response = await activate("fast");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { active: "fast" });
    assert.equal(await servedBy("chat"), "a");
    assert.equal(await servedBy("smart"), "c", "a pin may target a selector");
    const disabled = await ask("b");
    assert.equal(disabled.status, 404);
    assert.match((await disabled.json()).error.message, /"b" is disabled by the active profile "fast"/);
    assert.equal(await servedBy("c"), "c", "unpinned names are untouched");
  });

  test("pins apply to /upstream/<name>/ paths too", async () => {
    assert.equal((await activate("fast")).status, 200);
    const echoed = await (await fetch(`${router.url}/upstream/chat/echo`)).json() as { headers: Record<string, string> };
    const status = await (await fetch(`${router.url}/api/status`)).json() as { models: { model: string; baseUrl: string }[] };
    const a = status.models.find((m) => m.model === "a")!;
    assert.equal(echoed.headers.host, new URL(a.baseUrl).host, "/upstream/chat reached model a");
    assert.equal((await fetch(`${router.url}/upstream/b/echo`)).status, 404, "a disabled name is disabled there too");
  });

  test("the active profile's new names are listed; switching profiles takes effect at once", async () => {
    const { data } = await (await fetch(`${router.url}/v1/models`)).json();
    const pins = data.filter((r: { meta: { llamaswap: { type: string } } }) => r.meta.llamaswap.type === "profile");
    assert.deepEqual(pins.map((r: { id: string; meta: unknown }) => [r.id, r.meta]), [
      ["chat", { llamaswap: { type: "profile", profile: "fast", modelID: "a" } }],
      ["smart", { llamaswap: { type: "profile", profile: "fast", modelID: "either" } }],
    ]);

    await activate("other");
    assert.equal(await servedBy("chat"), "c");
    assert.equal(await servedBy("a"), "b", "an existing model id may be pinned to another model");
    assert.equal(await servedBy("b"), "b");

    assert.deepEqual(await (await activate(null)).json(), { active: null });
    assert.equal(await servedBy("a"), "a");
    assert.equal((await ask("chat")).status, 404);
  });

  test("PUT /api/profiles/active refuses unknown profiles and malformed bodies", async () => {
    const unknown = await activate("nope");
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error.message, /no profile named "nope"; configured profiles: fast, other/);
    for (const body of ["{bad json", "{}", '{"name": 3}']) {
      const response = await fetch(`${router.url}/api/profiles/active`, { method: "PUT", body, headers: { "content-type": "application/json" } });
      assert.equal(response.status, 400, body);
      assert.match((await response.json()).error.message, /"name"|JSON/);
    }
    assert.equal((await (await fetch(`${router.url}/api/profiles`)).json()).active, null);
  });

  test("a config reload deactivates the profile", async () => {
    await activate("fast");
    writeFileSync(router.configPath, CONFIG.replace("quick answers", "quick answers, reloaded"));
    router.proc.kill("SIGHUP");
    await router.waitForOutput(/config reloaded/, 10_000);
    const profiles = await (await fetch(`${router.url}/api/profiles`)).json();
    assert.equal(profiles.active, null);
    assert.equal(profiles.profiles[0].description, "quick answers, reloaded");
    assert.equal(await servedBy("b"), "b");
  });
});
