/**
 * Configs llama-swap accepts load here too (issue 13, §1): where llama-swap
 * silently changes or ignores a value, modelswap loads it and warns exactly
 * once, naming the key, what llama-swap does and what modelswap does.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { issuesOf, load } from "./helpers.ts";

/** Loads `yaml`, asserts it produced exactly one warning, about `key`, saying what both programs do; returns the setup. */
function loadsWithOneWarning(yaml: string, key: string, says: RegExp) {
  const setup = load(yaml);
  assert.equal(setup.warnings.length, 1, `expected one warning, got:\n${setup.warnings.join("\n")}`);
  const [warning] = setup.warnings;
  assert.ok(warning.startsWith(`${key}: `), `the warning names ${key}: ${warning}`);
  assert.match(warning, /; llama-swap [^;]+; modelswap /, "it says what llama-swap does and what modelswap does");
  assert.match(warning, says);
  return setup;
}

const model = `models: { m: { cmd: "x --port \${PORT}" } }`;

describe("llama-swap's leniencies", () => {
  it("logLevel: any case and spaces; an unknown level is info", () => {
    assert.equal(loadsWithOneWarning(`logLevel: DEBUG\n${model}`, "logLevel", /"DEBUG" is read as "debug"/).config.logLevel, "debug");
    assert.equal(loadsWithOneWarning(`logLevel: " Info"\n${model}`, "logLevel", /read as "info"/).config.logLevel, "info");
    const unknown = loadsWithOneWarning(`logLevel: verbose\n${model}`, "logLevel", /"verbose" is not one of debug, info, warn, error; llama-swap logs at info/);
    assert.equal(unknown.config.logLevel, "info");
    assert.deepEqual(load(`logLevel: warn\n${model}`).warnings, [], "a value written as llama-swap documents it is no news");
  });

  it("logTimeFormat: any case; an unknown format prints no llama-swap timestamp", () => {
    const upper = loadsWithOneWarning(`logTimeFormat: RFC3339\n${model}`, "logTimeFormat", /read as "rfc3339"/);
    assert.equal(upper.config.logTimeFormat, "rfc3339");
    const unknown = loadsWithOneWarning(
      `logTimeFormat: iso8601\n${model}`,
      "logTimeFormat",
      /"iso8601" is not one of ansic, .*stampnano; llama-swap prints no timestamp; modelswap prints its default time/,
    );
    assert.equal(unknown.config.logTimeFormat, "");
  });

  it("startPort above 65535 loads; ${PORT} values then start from 5800", () => {
    const { config } = loadsWithOneWarning(`startPort: 70000\n${model}`, "startPort", /70000 is above 65535.*from 5800 instead/);
    assert.equal(config.startPort, 70000);
    assert.equal(config.models.m.port, 5800);
    assert.equal(config.models.m.cmd, "x --port 5800");
    const tight = loadsWithOneWarning(
      `startPort: 65535\nmodels: { a: { cmd: "a --port \${PORT}" }, b: { cmd: "b --port \${PORT}" } }`,
      "startPort",
      /65535 leaves too few ports.*continues from 5800/,
    );
    assert.deepEqual([tight.config.models.a.port, tight.config.models.b.port], [65535, 5800]);
  });

  it("hooks.on_startup.preload: a selector preloads its first target; unknown names are dropped", () => {
    const { config } = loadsWithOneWarning(
      `
hooks: { on_startup: { preload: [fast, ghost, a, "p/remote", nobody] } }
selectors:
  fast: { strategy: warm, targets: [b, a] }
peers:
  p: { proxy: "http://127.0.0.1:1", models: [remote] }
models:
  a: { cmd: "a --port \${PORT}" }
  b: { cmd: "b --port \${PORT}" }
`,
      "hooks.on_startup.preload",
      /'ghost', 'p\/remote', 'nobody' name no local model, alias or selector; llama-swap drops such names silently; modelswap drops them too/,
    );
    assert.deepEqual(config.hooks.onStartup.preload, ["b", "a"]);
  });

  it("no models at all: peers only, nothing, or an empty file", () => {
    assert.deepEqual(load(`peers: { p: { proxy: "http://127.0.0.1:1", models: [x] } }`).warnings, []);
    for (const yaml of ["logLevel: info\n", "", "# nothing yet\n", "models: {}\n"]) {
      const { config } = loadsWithOneWarning(yaml, "models", /none defined \(and no peers\); llama-swap starts/);
      assert.deepEqual(config.models, {});
    }
  });

  it("a model without cmd loads: a server that runs already at its proxy", () => {
    const { config } = loadsWithOneWarning(
      `models: { ext: { proxy: "http://127.0.0.1:9000" } }`,
      "models.ext.cmd",
      /none; llama-swap loads the model and fails each start with "empty command"; modelswap never starts or stops it, and sends its requests to the server already running at http:\/\/127\.0\.0\.1:9000/,
    );
    assert.equal(config.models.ext.cmd, "");
    assert.equal(config.models.ext.port, null);
    const comments = load(`models: { ext: { cmd: "# docker run … (started by hand)", proxy: "http://127.0.0.1:9000" } }`);
    assert.equal(comments.warnings.length, 1, "a cmd made only of comment lines is no cmd");
  });

  it("a proxy that is any parseable URL loads (unix sockets included), for models and peers", () => {
    const { config } = loadsWithOneWarning(
      `models: { sock: { cmd: "llama-server --host /run/llm.sock", proxy: "unix:///run/llm.sock" } }`,
      "models.sock.proxy",
      /"unix:\/\/\/run\/llm\.sock" is a unix socket, not an http\(s\) URL; llama-swap loads it but cannot send requests to it; modelswap loads it too and answers every request to this model with a 502/,
    );
    assert.equal(config.models.sock.proxy, "unix:///run/llm.sock");
    loadsWithOneWarning(`peers: { p: { proxy: "ftp://host", models: [x] } }`, "peers.p.proxy", /a ftp: URL, not an http\(s\) URL/);
  });

  it("env entries that are not KEY=value are left out", () => {
    const { config } = loadsWithOneWarning(
      `models: { m: { cmd: "x --port \${PORT}", env: ["NOEQUALS", "A=1", "1ODD=x=y"] } }`,
      "models.m.env[0]",
      /"NOEQUALS" is not KEY=value; llama-swap passes it to the process as it is, where it sets no variable; modelswap leaves it out/,
    );
    assert.deepEqual(config.models.m.env, { A: "1", "1ODD": "x=y" });
  });

  it("checkEndpoint without a leading slash checks that path", () => {
    const { config } = loadsWithOneWarning(
      `models: { m: { cmd: "x --port \${PORT}", checkEndpoint: health } }`,
      "models.m.checkEndpoint",
      /"health" does not start with \/; llama-swap checks \/health; modelswap does too/,
    );
    assert.equal(config.models.m.checkEndpoint, "/health");
    assert.equal(load(`models: { m: { cmd: "x --port \${PORT}", checkEndpoint: " none " } }`).config.models.m.checkEndpoint, "none");
  });

  it("filters.setParams.model (and setParamsByID's) is dropped", () => {
    const { config } = loadsWithOneWarning(
      `models: { m: { cmd: "x --port \${PORT}", filters: { setParams: { model: other, top_k: 5 } } } }`,
      "models.m.filters.setParams.model",
      /the model field is protected; llama-swap drops this setting; modelswap drops it too \(useModelName/,
    );
    assert.deepEqual(config.models.m.filters.setParams, { top_k: 5 });
    const byId = loadsWithOneWarning(
      `peers: { p: { proxy: "http://127.0.0.1:1", models: [x], filters: { setParamsByID: { x: { model: y, seed: 1 } } } } }`,
      "peers.p.filters.setParamsByID.x.model",
      /llama-swap drops this setting/,
    );
    assert.deepEqual(byId.config.peers.p.filters.setParamsByID, { x: { seed: 1 } });
  });

  it("a model's own healthCheckTimeout is ignored: the global one applies", () => {
    const { config } = loadsWithOneWarning(
      `healthCheckTimeout: 30\nmodels: { m: { cmd: "x --port \${PORT}", healthCheckTimeout: 600 } }`,
      "models.m.healthCheckTimeout",
      /set for one model; llama-swap ignores it \(the global healthCheckTimeout applies to every model\); modelswap ignores it too/,
    );
    assert.equal(config.healthCheckTimeout, 30);
  });

  it("comfyui_auto takes at least 50 requests at once", () => {
    const low = loadsWithOneWarning(
      `models: { comfyui_auto: { cmd: "comfy --port \${PORT}", concurrencyLimit: 4 } }`,
      "models.comfyui_auto.concurrencyLimit",
      /4 is below 50; llama-swap raises it to 50 for comfyui_auto.*modelswap does too/,
    );
    assert.equal(low.config.models.comfyui_auto.concurrencyLimit, 50);
    const unset = load(`models: { comfyui_auto: { cmd: "comfy --port \${PORT}" }, other: { cmd: "o --port \${PORT}" } }`);
    assert.deepEqual(unset.warnings, [], "the default is raised without a word, as llama-swap does");
    assert.equal(unset.config.models.comfyui_auto.concurrencyLimit, 50);
    assert.equal(unset.config.models.other.concurrencyLimit, 10);
    assert.equal(load(`models: { comfyui_auto: { cmd: "c --port \${PORT}", concurrencyLimit: 80 } }`).config.models.comfyui_auto.concurrencyLimit, 80);
  });
});

describe("proxy uses ${PORT} but cmd does not", () => {
  it("is one error with llama-swap's reason, not a second line about the URL", () => {
    for (const [yaml, fix] of [
      [`models: { m: { cmd: "svr --port 9999", proxy: "http://127.0.0.1:\${PORT}" } }`, /; add `--port \$\{PORT\}` to cmd, or set proxy/],
      [`models: { m: { cmd: "svr --port 9999" } }`, /\(no proxy is set, and the default proxy is http:\/\/127\.0\.0\.1:\$\{PORT\}\); add/],
      [`models: { m: { proxy: "http://127.0.0.1:\${PORT}" } }`, /; a model without cmd is never started by modelswap: set proxy to the URL of its running server/],
      [`models: { m: {} }`, /no proxy is set.*a model without cmd is never started/],
    ] as const) {
      const issues = issuesOf(yaml);
      assert.equal(issues.length, 1, `one issue for ${yaml}:\n${issues.map((i) => `${i.path}: ${i.message}`).join("\n")}`);
      assert.equal(issues[0].path, "models.m.proxy");
      assert.match(issues[0].message, /^proxy uses \$\{PORT\} but cmd does not - \$\{PORT\} is only available when used in cmd/);
      assert.match(issues[0].message, fix);
    }
  });
});
