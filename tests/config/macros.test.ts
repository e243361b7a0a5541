import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertIssue, issuesOf, load } from "./helpers.ts";

describe("macros", () => {
  it("substitutes global and model macros in cmd and cmdStop; model macros win", () => {
    const { config } = load(`
macros:
  svr: /usr/bin/llama-server
  ctx: 4096
models:
  a:
    macros: { ctx: 8192 }
    cmd: \${svr} --ctx-size \${ctx} --port \${PORT}
    cmdStop: kill -TERM \${PID} \${svr}
  b:
    cmd: \${svr} --ctx-size \${ctx} --port \${PORT}
`);
    assert.equal(config.models.a.cmd, "/usr/bin/llama-server --ctx-size 8192 --port 5800");
    assert.equal(config.models.a.cmdStop, "kill -TERM ${PID} /usr/bin/llama-server");
    assert.equal(config.models.b.cmd, "/usr/bin/llama-server --ctx-size 4096 --port 5801", "model macros never leak");
  });

  it("lets a macro use macros declared before it (base → path → full)", () => {
    const { config } = load(`
macros:
  base: /models
  path: \${base}/qwen
  full: \${path}/q4.gguf
models:
  m: { cmd: "server -m \${full} --port \${PORT}" }
`);
    assert.equal(config.models.m.cmd, "server -m /models/qwen/q4.gguf --port 5800");
  });

  it("rejects a forward reference, naming the macro to move", () => {
    const issues = issuesOf(`
macros:
  FIRST: "\${SECOND}-x"
  SECOND: two
models:
  m: { cmd: "server \${FIRST} --port \${PORT}" }
`);
    assertIssue(issues, "macros.FIRST", /unknown macro '\$\{SECOND\}'.*declared after FIRST/);
  });

  it("applies a model's override in place, so globals declared after it see the override", () => {
    const { config } = load(`
macros:
  tag: global-level
  msg: value-\${tag}
models:
  m:
    macros: { tag: model-level }
    cmd: echo \${msg} --port \${PORT}
`);
    assert.equal(config.models.m.cmd, "echo value-model-level --port 5800");
  });

  it("provides MODEL_ID everywhere in a model, including inside macro values", () => {
    const { config } = load(`
macros:
  gguf: /models/\${MODEL_ID}.gguf
models:
  qwen-7b:
    cmd: server -m \${gguf} --alias \${MODEL_ID} --port \${PORT}
    name: "Model \${MODEL_ID}"
`);
    assert.equal(config.models["qwen-7b"].cmd, "server -m /models/qwen-7b.gguf --alias qwen-7b --port 5800");
    assert.equal(config.models["qwen-7b"].name, "Model qwen-7b");
  });

  it("keeps the macro's type when a whole value is one macro", () => {
    const { config } = load(`
macros:
  MODEL_TTL: 300
  big: 1.5
  on: true
  label: v\${MODEL_TTL}
models:
  m:
    cmd: x --port \${PORT}
    ttl: "\${MODEL_TTL}"
    unlisted: \${on}
    metadata:
      port: \${PORT}
      scale: \${big}
      text: "ttl=\${MODEL_TTL}"
      label: \${label}
      nested: { list: ["\${MODEL_TTL}", "\${MODEL_ID}"], deep: { on: "\${on}" } }
`);
    const model = config.models.m;
    assert.equal(model.ttl, 300);
    assert.equal(model.unlisted, true);
    assert.deepEqual(model.metadata, {
      port: 5800,
      scale: 1.5,
      text: "ttl=300",
      label: "v300",
      nested: { list: [300, "m"], deep: { on: true } },
    });
  });

  it("applies global macros to top-level values (startPort, globalTTL, apiKeys, hooks, sendLoadingState)", () => {
    const { config } = load(`
macros:
  port0: 9100
  ttl: 120
  key: sk-secret
  first: m
  loading: true
startPort: \${port0}
globalTTL: \${ttl}
sendLoadingState: \${loading}
apiKeys: ["\${key}"]
hooks: { on_startup: { preload: ["\${first}"] } }
models:
  m: { cmd: "x --port \${PORT}", env: ["TOKEN=\${key}"] }
`);
    assert.equal(config.startPort, 9100);
    assert.equal(config.models.m.port, 9100);
    assert.equal(config.globalTTL, 120);
    assert.equal(config.models.m.ttl, 120);
    assert.equal(config.sendLoadingState, true);
    assert.deepEqual(config.apiKeys, ["sk-secret"]);
    assert.deepEqual(config.hooks.onStartup.preload, ["m"]);
    assert.deepEqual(config.models.m.env, { TOKEN: "sk-secret" });
  });

  it("never expands map keys, except filters.setParamsByID keys", () => {
    const { config } = load(`
macros: { v: fast }
models:
  m:
    cmd: x --port \${PORT}
    metadata: { "\${v}": 1 }
    filters:
      setParamsByID:
        "\${MODEL_ID}-\${v}": { temperature: 0 }
`);
    assert.deepEqual(config.models.m.metadata, { "${v}": 1 });
    assert.deepEqual(Object.keys(config.models.m.filters.setParamsByID), ["m-fast"]);
    assert.deepEqual(config.models.m.aliases, ["m-fast"]);
  });

  it("rejects two setParamsByID keys that expand to the same name", () => {
    const issues = issuesOf(`
macros: { a: same }
models:
  m:
    cmd: x --port \${PORT}
    filters: { setParamsByID: { "\${a}": {}, same: {} } }
`);
    assertIssue(issues, "models.m.filters.setParamsByID.same", /expands to 'same'/);
  });

  it("strips cmd comment lines before expansion, so macros in comments are not errors", () => {
    const { config } = load(`
models:
  m:
    cmd: |
      server
      # --draft \${undefinedMacro}
      --port \${PORT}
`);
    assert.equal(config.models.m.cmd, "server\n--port 5800");
  });

  it("rejects bad declarations: reserved names, bad names, non-scalar values, self reference", () => {
    const issues = issuesOf(`
macros:
  PORT: 1
  MODEL_ID: x
  bad name: 1
  "${"x".repeat(64)}": 1
  list: [1, 2]
  map: { a: 1 }
  loop: "a-\${loop}"
models:
  m:
    macros: { PID: 1, SELF: 2 }
    cmd: x --port \${PORT}
`);
    assertIssue(issues, "macros.PORT", /reserved/);
    assertIssue(issues, "macros.MODEL_ID", /reserved/);
    assertIssue(issues, "macros.bad name", /letters, digits, _ and -/);
    assertIssue(issues, `macros.${"x".repeat(64)}`, /at most 63/);
    assertIssue(issues, "macros.list", /string, number or boolean \(got a list\)/);
    assertIssue(issues, "macros.map", /string, number or boolean \(got a mapping\)/);
    assertIssue(issues, "macros.loop", /self-reference/);
    assertIssue(issues, "models.m.macros.PID", /reserved/);
    assertIssue(issues, "models.m.macros.SELF", /reserved/);
  });

  it("reports an unknown macro with the field it is in", () => {
    const issues = issuesOf(`
logDir: /var/log/\${nope}
models:
  m:
    cmd: x \${missing} --port \${PORT}
    metadata: { a: [1, "\${alsoMissing}"] }
    aliases: ["\${MODEL_ID}-\${x}"]
`);
    assertIssue(issues, "logDir", /unknown macro '\$\{nope\}'/);
    assertIssue(issues, "models.m.cmd", /unknown macro '\$\{missing\}'/);
    assertIssue(issues, "models.m.metadata.a[1]", /unknown macro '\$\{alsoMissing\}'/);
    assertIssue(issues, "models.m.aliases[0]", /unknown macro '\$\{x\}'/);
  });

  it("allows ${PID} only in cmdStop and MODEL_ID/PORT only inside models", () => {
    const issues = issuesOf(`
logDir: /logs/\${MODEL_ID}
models:
  m:
    cmd: x --pidfile \${PID} --port \${PORT}
`);
    assertIssue(issues, "models.m.cmd", /\$\{PID\} is only available in cmdStop/);
    assertIssue(issues, "logDir", /\$\{MODEL_ID\} is only available inside a model/);
  });

  it("expands ${SELF} to this program's argv, shell-quoted", () => {
    const { config } = load(`models: { demo: { cmd: "\${SELF} demo-upstream --port \${PORT}" } }`, {
      selfArgv: ["/usr/local/bin/bun", "/home/me/model swap/src/main.ts"],
    });
    assert.equal(config.models.demo.cmd, "/usr/local/bin/bun '/home/me/model swap/src/main.ts' demo-upstream --port 5800");
  });
});

describe("${PORT} allocation", () => {
  it("gives ports in sorted model-id order, only to models whose expanded cmd uses ${PORT}", () => {
    const { config } = load(`
startPort: 6000
macros:
  portArg: --port \${PORT}
models:
  zeta: { cmd: "svr \${portArg}" }
  alpha: { cmd: "svr --port \${PORT}" }
  fixed: { cmd: "svr --port 9999", proxy: "http://127.0.0.1:9999" }
  mid: { cmd: "svr --port \${PORT}", checkEndpoint: "/health?port=\${PORT}" }
`);
    const ports = Object.fromEntries(Object.values(config.models).map((m) => [m.id, m.port]));
    assert.deepEqual(ports, { alpha: 6000, fixed: null, mid: 6001, zeta: 6002 });
    assert.equal(config.models.zeta.cmd, "svr --port 6002");
    assert.equal(config.models.zeta.proxy, "http://127.0.0.1:6002");
    assert.equal(config.models.mid.checkEndpoint, "/health?port=6001");
    assert.equal(config.models.fixed.proxy, "http://127.0.0.1:9999");
  });

  it("starts from a startPort written as text", () => {
    const { config } = load(`startPort: "7000"\nmodels: { m: { cmd: "x --port \${PORT}" } }`);
    assert.equal(config.startPort, 7000);
    assert.equal(config.models.m.port, 7000);
  });

  it("refuses a fixed-port cmd without a proxy, saying what to add", () => {
    assertIssue(
      issuesOf(`models: { m: { cmd: "svr --port 9999" } }`),
      "models.m.proxy",
      /^proxy uses \$\{PORT\} but cmd does not - \$\{PORT\} is only available when used in cmd \(no proxy is set.*set proxy/,
    );
  });

  it("refuses ${PORT} in proxy or elsewhere when cmd does not use it", () => {
    const issues = issuesOf(`
models:
  m:
    cmd: svr --port 9999
    proxy: http://127.0.0.1:\${PORT}
    metadata: { port: "\${PORT}" }
`);
    assertIssue(issues, "models.m.proxy", /proxy uses \$\{PORT\} but cmd does not/);
    assertIssue(issues, "models.m.metadata.port", /only available when cmd uses \$\{PORT\}/);
  });
});
