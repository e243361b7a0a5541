import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertIssue, issuesOf, load } from "./helpers.ts";

describe("defaults", () => {
  it("fills llama-swap's defaults for a one-model config (reference §1.4)", () => {
    const { config, warnings } = load(`
models:
  model1:
    cmd: path/to/cmd --port \${PORT}
`);
    assert.deepEqual(warnings, []);
    assert.equal(config.healthCheckTimeout, 120);
    assert.equal(config.startPort, 5800);
    assert.equal(config.logLevel, "info");
    assert.equal(config.logToStdout, "proxy");
    assert.equal(config.logTimeFormat, "");
    assert.equal(config.unloadTimeout, 10);
    assert.equal(config.globalTTL, 0);
    assert.equal(config.sendLoadingState, false);
    assert.equal(config.includeAliasesInList, false);
    assert.equal(config.metricsMaxInMemory, 1000);
    assert.equal(config.captureBuffer, 5);
    assert.deepEqual(config.store, { path: null, maxRows: 100_000 });
    assert.deepEqual(config.ui.activity, { session_id: ["X-Session-ID", "X-Litellm-Session-Id"] });
    assert.deepEqual(config.apiKeys, []);
    assert.deepEqual(config.hooks, { onStartup: { preload: [] } });
    assert.equal(config.logDir, null);
    assert.equal(config.maxBodyBytes, 256 * 1024 * 1024);
    assert.deepEqual(config.cors, { origins: ["*"] });
    assert.deepEqual(config.upstream.ignorePaths, [String.raw`.*\.(js|json|css|png|gif|jpg|jpeg|ico|txt)$`]);
    assert.deepEqual(config.routing, {
      use: "group",
      groups: {},
      matrix: null,
      pathPrefix: "",
      scheduler: { priority: {}, starvationTimeout: 30, maxQueue: 1000 },
    });
    assert.deepEqual(config.models.model1, {
      id: "model1",
      cmd: "path/to/cmd --port 5800",
      cmdStop: "",
      proxy: "http://127.0.0.1:5800",
      port: 5800,
      checkEndpoint: "/health",
      ttl: 0,
      unloadTimeout: 10,
      aliases: [],
      env: {},
      useModelName: "",
      name: "",
      description: "",
      metadata: {},
      unlisted: false,
      concurrencyLimit: 10,
      sendLoadingState: false,
      filters: { stripParams: [], setParams: {}, setParamsByID: {} },
      stallTimeout: 600,
      capabilities: {},
      keepContext: false,
      hooks: { before_unload: [], after_load: [] },
    });
  });

  it("inherits ttl, unloadTimeout and sendLoadingState from the top level", () => {
    const { config } = load(`
globalTTL: 300
unloadTimeout: 0
sendLoadingState: true
models:
  inherits: { cmd: "a --port \${PORT}" }
  own: { cmd: "b --port \${PORT}", ttl: 0, unloadTimeout: 3, sendLoadingState: false, concurrencyLimit: 2 }
  idle: { cmd: "c --port \${PORT}", ttl: 60 }
`);
    assert.equal(config.unloadTimeout, 10, "0 means the default 10");
    assert.deepEqual(
      Object.values(config.models).map((m) => [m.id, m.ttl, m.unloadTimeout, m.sendLoadingState, m.concurrencyLimit]),
      [["idle", 60, 10, true, 10], ["inherits", 300, 10, true, 10], ["own", 0, 3, false, 2]],
    );
  });

  it("accepts a healthCheckTimeout below 15 (llama-swap silently raises it; we do not)", () => {
    assert.equal(load(`healthCheckTimeout: 2\nmodels: { m: { cmd: "x --port \${PORT}" } }`).config.healthCheckTimeout, 2);
  });

  it("parses model env entries, filters and a custom proxy", () => {
    const { config } = load(`
models:
  m:
    cmd: server --port 9000
    proxy: http://127.0.0.1:9000
    checkEndpoint: none
    env: ["CUDA_VISIBLE_DEVICES=0,1", "EMPTY=", "EQ=a=b"]
    filters:
      strip_params: "temperature, top_p ,model,,temperature"
      setParams: { top_k: 20, chat_template_kwargs: { enable_thinking: false } }
`);
    const model = config.models.m;
    assert.equal(model.port, null);
    assert.equal(model.proxy, "http://127.0.0.1:9000");
    assert.equal(model.checkEndpoint, "none");
    assert.deepEqual(model.env, { CUDA_VISIBLE_DEVICES: "0,1", EMPTY: "", EQ: "a=b" });
    assert.deepEqual(model.filters.stripParams, ["temperature", "top_p"]);
    assert.deepEqual(model.filters.setParams, { top_k: 20, chat_template_kwargs: { enable_thinking: false } });
  });

  it("reads llama-swap's captureBuffer, store.path and ui.activity.session_id", () => {
    const { config, warnings } = load(`
captureBuffer: -1
store: { path: "  /var/lib/modelswap/activity.db  " }
ui: { activity: { session_id: [" X-Session-ID ", "", x-session-id, X-Conversation] } }
models: { m: { cmd: "x --port \${PORT}" } }
`);
    assert.deepEqual(warnings, []);
    assert.equal(config.captureBuffer, 0, "below 0: no captures");
    assert.equal(config.store.path, "/var/lib/modelswap/activity.db");
    assert.deepEqual(config.ui.activity.session_id, ["X-Session-ID", "X-Conversation"], "trimmed, empties and repeats (any case) dropped");
    assert.equal(load(`store: { path: "" }\nmodels: {}`).config.store.path, null, "empty: in memory");
    assert.deepEqual(load(`ui: { activity: { session_id: [] } }\nmodels: {}`).config.ui.activity.session_id, [], "[] turns sessions off");
  });

  it("treats a key written without a value as absent", () => {
    const { config } = load(`
apiKeys:
models:
  m:
    cmd: x --port \${PORT}
    aliases:
    ttl:
`);
    assert.deepEqual(config.apiKeys, []);
    assert.deepEqual(config.models.m.aliases, []);
    assert.equal(config.models.m.ttl, 0);
  });

  it("reads numbers and booleans written as text", () => {
    const { config } = load(`models: { m: { cmd: "x --port \${PORT}", ttl: "60", unlisted: "true" } }`);
    assert.equal(config.models.m.ttl, 60);
    assert.equal(config.models.m.unlisted, true);
  });
});

describe("validation errors", () => {
  it("names the key path and what is allowed, and reports every issue at once", () => {
    const issues = issuesOf(`
healthCheckTimeout: 0
logToStdout: sometimes
startPort: 0
globalTTL: -1
apiKeys: ["", "has space"]
upstream: { ignorePaths: ["(unclosed"] }
models:
  foo:
    cmd: x --port \${PORT}
    ttl: abc
    unloadTimeout: -2
    concurrencyLimit: 1.5
    env: [{ not: text }]
    aliases: notalist
  badproxy:
    cmd: x
    proxy: "not a url"
`);
    assertIssue(issues, "healthCheckTimeout", /must be an integer >= 1 \(got 0\)/);
    assertIssue(issues, "logToStdout", /one of proxy, upstream, both, none/);
    assertIssue(issues, "startPort", /must be an integer >= 1 \(got 0\)/);
    assertIssue(issues, "globalTTL", /must be an integer >= 0 \(got -1\)/);
    assertIssue(issues, "apiKeys[0]", /must not be empty/);
    assertIssue(issues, "apiKeys[1]", /cannot contain spaces/);
    assertIssue(issues, "upstream.ignorePaths[0]", /not a valid regular expression/);
    assertIssue(issues, "models.foo.ttl", /^must be an integer >= -1 \(got "abc"\)$/);
    assertIssue(issues, "models.foo.unloadTimeout", /integer >= 0 \(got -2\)/);
    assertIssue(issues, "models.foo.concurrencyLimit", /integer >= 0 \(got 1.5\)/);
    assertIssue(issues, "models.foo.env[0]", /must be a string \(got a mapping\)/);
    assertIssue(issues, "models.foo.aliases", /must be a list \(got "notalist"\)/);
    assertIssue(issues, "models.badproxy.proxy", /must be a URL such as http:\/\/127\.0\.0\.1:8080 \(got "not a url"\)/);
  });

  it("refuses a non-mapping (an empty file or one without models loads: see compat.test.ts)", () => {
    assertIssue(issuesOf("- a\n- b\n"), "test.yaml", /must be a mapping/);
  });

  it("formats ConfigError.message as one 'path: message' line per issue", () => {
    const yaml = `globalTTL: -1\nmodels: { m: { cmd: "x --port \${PORT}", ttl: -5 } }`;
    assert.equal(issuesOf(yaml).length, 2);
    assert.throws(() => load(yaml), {
      name: "ConfigError",
      message: "globalTTL: must be an integer >= 0 (got -1)\nmodels.m.ttl: must be an integer >= -1 (got -5)",
    });
  });
});

describe("unknown and unsupported keys", () => {
  it("warns once per key instead of failing or dropping silently", () => {
    const { warnings } = load(`
store: { path: /tmp/activity.db }
performance: { disabled: true, every: 5s }
captureBuffer: 5
logRequests: true
ui: { activity: { session_id: [X-Session-ID] } }
flavour: vanilla
models:
  m:
    cmd: x --port \${PORT}
    tll: 60
    timeouts: { connect: 5 }
    compat: { ignoreWebsockets: true }
    Aliases: [a]
    frobnicate: 1
`);
    assert.deepEqual(warnings.sort(), [
      "flavour: unknown key; ignored",
      "logRequests: deprecated in llama-swap; ignored",
      "models.m.Aliases: unknown key; ignored (did you mean aliases?)",
      "models.m.compat.ignoreWebsockets: not supported by modelswap yet; ignored",
      "models.m.frobnicate: unknown key; ignored",
      "models.m.timeouts.connect: not supported by modelswap yet; ignored",
      "models.m.tll: unknown key; ignored (did you mean ttl?)",
    ]);
  });

  it("performance: llama-swap's monitor settings, every as a Go duration of at least 5s", () => {
    assert.deepEqual(load("models: {}").config.performance, { disabled: false, every: 5000 });
    assert.deepEqual(load("performance: { disabled: true, every: 1m30s }").config.performance, { disabled: true, every: 90_000 });
    assert.throws(() => load("performance: { every: 2s }"), {
      name: "ConfigError",
      message: "performance.every: must be a duration such as 5s or 1m (at least 5s) (got \"2s\")",
    });
    assert.throws(() => load("performance: { every: soon }"), /performance\.every: must be a duration/);
  });

  it("warns about unknown keys in nested sections too", () => {
    const { warnings } = load(`
hooks: { on_startup: { preload: [m], prelaod: [m] } }
models: { m: { cmd: "x --port \${PORT}", filters: { stripParam: "a" } } }
`);
    assert.deepEqual(warnings.sort(), [
      "hooks.on_startup.prelaod: unknown key; ignored (did you mean preload?)",
      "models.m.filters.stripParam: unknown key; ignored (did you mean stripParams?)",
    ]);
  });
});

describe("llama-swap leniencies", () => {
  it("accepts numbers and booleans where text is expected", () => {
    const { config } = load(`models: { "2024": { cmd: "x --port \${PORT}", name: 2024, aliases: [4, true], useModelName: 7 } }`);
    assert.equal(config.models["2024"].name, "2024");
    assert.deepEqual(config.models["2024"].aliases, ["4", "true"]);
    assert.equal(config.models["2024"].useModelName, "7");
  });

  it("uses the default ignorePaths when the list is empty", () => {
    const { config } = load(`upstream: { ignorePaths: [] }\nmodels: { m: { cmd: "x --port \${PORT}" } }`);
    assert.equal(config.upstream.ignorePaths.length, 1);
    assert.ok(new RegExp(config.upstream.ignorePaths[0]).test("/upstream/m/app.js"));
  });
});
