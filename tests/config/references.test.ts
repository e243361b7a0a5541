import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { localModelId } from "../../src/config/aliases.ts";
import { assertIssue, issuesOf, load } from "./helpers.ts";

describe("aliases and names", () => {
  it("resolves ids, aliases and setParamsByID names to model ids", () => {
    const { config } = load(`
models:
  qwen:
    cmd: q --port \${PORT}
    aliases: [gpt-4o-mini]
    filters:
      setParamsByID:
        qwen: { temperature: 0.7 }
        qwen-thinking: { chat_template_kwargs: { enable_thinking: true } }
  llama: { cmd: "l --port \${PORT}" }
`);
    assert.equal(localModelId(config, "qwen"), "qwen");
    assert.equal(localModelId(config, "gpt-4o-mini"), "qwen");
    assert.equal(localModelId(config, "qwen-thinking"), "qwen");
    assert.equal(localModelId(config, "llama"), "llama");
    assert.equal(localModelId(config, "nope"), undefined);
    assert.equal(localModelId(config, "toString"), undefined);
    assert.deepEqual(config.models.qwen.aliases, ["gpt-4o-mini", "qwen-thinking"]);
  });

  it("rejects duplicate aliases and aliases that are model ids", () => {
    const issues = issuesOf(`
models:
  a: { cmd: "a --port \${PORT}", aliases: [shared, b] }
  b: { cmd: "b --port \${PORT}", aliases: [shared] }
  c: { cmd: "c --port \${PORT}", filters: { setParamsByID: { shared: {} } } }
`);
    assertIssue(issues, "models.a.aliases[1]", /'b' is already the id of a model/);
    assertIssue(issues, "models.b.aliases[0]", /duplicate alias 'shared': model a already uses it/);
    assertIssue(issues, "models.c.filters.setParamsByID.shared", /duplicate alias 'shared'/);
  });

  it("resolves preload names to ids (unknown names: see compat.test.ts)", () => {
    const { config, warnings } = load(`
hooks: { on_startup: { preload: [" fast ", "", b, a] } }
models:
  a: { cmd: "a --port \${PORT}", aliases: [fast] }
  b: { cmd: "b --port \${PORT}" }
`);
    assert.deepEqual(config.hooks.onStartup.preload, ["a", "b"]);
    assert.deepEqual(warnings, []);
  });
});

describe("peers", () => {
  it("reads peers with their filters", () => {
    const { config } = load(`
peers:
  openrouter:
    proxy: https://openrouter.ai/api
    apiKey: sk-or
    models: [meta-llama/llama-3.1-8b-instruct]
    filters: { stripParams: "top_k" }
models: {}
`);
    assert.deepEqual(config.peers.openrouter, {
      proxy: "https://openrouter.ai/api",
      apiKey: "sk-or",
      models: ["meta-llama/llama-3.1-8b-instruct"],
      filters: { stripParams: ["top_k"], setParams: {}, setParamsByID: {} },
      timeouts: { responseHeader: 60 },
    });
  });

  it("requires a URL proxy and a non-empty models list", () => {
    const issues = issuesOf(`
peers:
  p1: { models: [x] }
  p2: { proxy: "not a url", models: [] }
models: {}
`);
    assertIssue(issues, "peers.p1.proxy", /is required/);
    assertIssue(issues, "peers.p2.proxy", /must be a URL/);
    assertIssue(issues, "peers.p2.models", /at least one model/);
  });

  it("reserves peer model names: local ids, aliases and duplicate peer names may not take them", () => {
    const issues = issuesOf(`
peers:
  a: { proxy: "http://h1", models: [b/c] }
  a/b: { proxy: "http://h2", models: [c] }
  p: { proxy: "http://h3", models: [m] }
models:
  p/m: { cmd: "x --port \${PORT}" }
  n: { cmd: "x --port \${PORT}", aliases: [p/m2] }
`);
    assertIssue(issues, "peers.a/b.models[0]", /'a\/b\/c' is also the name of a model of peer a/);
    assertIssue(issues, "models.p/m", /reserved for model m of peer p/);
  });
});

describe("selectors and profiles", () => {
  const base = `
peers:
  cloud: { proxy: "https://api.example.com", models: [gpt, big] }
  other: { proxy: "https://other.example.com", models: [big] }
models:
  a: { cmd: "a --port \${PORT}", aliases: [alpha] }
  b: { cmd: "b --port \${PORT}" }
`;

  it("reads selectors and profiles whose targets resolve", () => {
    const { config } = load(`
selectors:
  fast: { strategy: warm, targets: [alpha, b] }
  any: { strategy: pin, targets: [gpt, cloud/big] }
profiles:
  travel:
    description: no GPU
    pins: { a: cloud/gpt, b: "", alpha: ~, chat: fast }
${base}`);
    assert.deepEqual(config.selectors.fast, {
      strategy: "warm",
      targets: ["alpha", "b"],
      settings: { spillover: 1 },
      name: "",
      description: "",
      unlisted: false,
      metadata: {},
    });
    assert.deepEqual(config.profiles.travel.pins, { a: "cloud/gpt", b: null, alpha: null, chat: "fast" });
  });

  it("validates selector names, strategies and targets", () => {
    const issues = issuesOf(`
selectors:
  alpha: { strategy: warm, targets: [a] }
  s1: { strategy: fastest, targets: [] }
  s2: { strategy: warm, targets: [gpt, ghost, big, s3] }
  s3: { strategy: pin, targets: [a], settings: { spillover: 0 } }
${base}`);
    assertIssue(issues, "selectors.s1.strategy", /one of warm, pin, spillover \(got "fastest"\)/);
    assertIssue(issues, "selectors.s1.targets", /at least one target/);
    assertIssue(issues, "selectors.s3.settings.spillover", /integer >= 1/);
    const later = issuesOf(`
selectors:
  alpha: { strategy: pin, targets: [a] }
  sel: { strategy: pin, targets: [a] }
  s2: { strategy: warm, targets: [gpt, ghost, big, sel] }
${base}`);
    assertIssue(later, "selectors.alpha", /already a model id or alias/);
    assertIssue(later, "selectors.s2.targets[0]", /peer model, but warm selectors need local models/);
    assertIssue(later, "selectors.s2.targets[1]", /unknown target 'ghost'/);
    assertIssue(later, "selectors.s2.targets[2]", /unknown target 'big'/);
    assertIssue(later, "selectors.s2.targets[3]", /is a selector/);
  });

  it("requires spillover targets to be able to run together", () => {
    const yaml = (swap: boolean) => `
groups: { g: { swap: ${swap}, members: [a, b] } }
selectors:
  s: { strategy: spillover, targets: [a, b], settings: { spillover: 2 } }
${base}`;
    assert.equal(load(yaml(false)).config.selectors.s.settings.spillover, 2);
    assertIssue(issuesOf(yaml(true)), "selectors.s.targets", /must be able to run together/);
  });

  it("validates profiles: mapping form, at least one pin, known targets", () => {
    const issues = issuesOf(`
profiles:
  old: [a, b]
  empty: { pins: {} }
  bad: { pins: { a: ghost } }
${base}`);
    assertIssue(issues, "profiles.old", /legacy list syntax is no longer supported/);
    assertIssue(issues, "profiles.empty.pins", /at least one name/);
    const later = issuesOf(`profiles: { bad: { pins: { a: ghost, cloud/gpt: a } } }\n${base}`);
    assertIssue(later, "profiles.bad.pins.a", /unknown target 'ghost'/);
    assertIssue(later, "profiles.bad.pins.cloud/gpt", /reserved for a peer model/);
  });
});

describe("capabilities", () => {
  it("accepts llama-swap's capability keys and checks their values", () => {
    const { config } = load(`
models:
  vision:
    cmd: llama-server --port \${PORT}
    capabilities: { in: [text, image], out: [text], tools: true, context: 8192 }
`);
    assert.deepEqual(config.models.vision.capabilities, { in: ["text", "image"], out: ["text"], tools: true, context: 8192 });
    const issues = issuesOf(`
models:
  m:
    cmd: llama-server --port \${PORT}
    capabilities: { in: [text, video], tools: maybe, context: -1 }
`);
    assertIssue(issues, "models.m.capabilities.in[1]", /one of text, audio, image/);
    assertIssue(issues, "models.m.capabilities.tools", /true or false/);
    assertIssue(issues, "models.m.capabilities.context", />= 0/);
  });
});
