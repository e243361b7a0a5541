import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { assertIssue, issuesOf, load } from "./helpers.ts";

describe("${env.X} macros", () => {
  it("substitutes in cmd, cmdStop, macro values, metadata, filters, apiKeys and peers", () => {
    const env = { MODELS: "/srv/models", KEY: "sk-1", PEER_KEY: "pk-2", TEMP: "0.7", STRIP: "top_k,top_p" };
    const { config } = load(`
macros:
  dir: \${env.MODELS}/gguf
apiKeys: [\${env.KEY}]
peers:
  cloud:
    proxy: https://api.example.com
    apiKey: \${env.PEER_KEY}
    models: [gpt]
    filters: { setParams: { user: \${env.KEY} } }
models:
  m:
    cmd: server -m \${dir}/m.gguf --port \${PORT}
    cmdStop: stop --key "\${env.KEY}" \${PID}
    metadata: { temp: \${env.TEMP} }
    filters: { stripParams: "\${env.STRIP}" }
`, { env });
    assert.deepEqual(config.apiKeys, ["sk-1"]);
    assert.equal(config.peers.cloud.apiKey, "pk-2");
    assert.deepEqual(config.peers.cloud.filters.setParams, { user: "sk-1" });
    assert.equal(config.models.m.cmd, "server -m /srv/models/gguf/m.gguf --port 5800");
    assert.equal(config.models.m.cmdStop, 'stop --key "sk-1" ${PID}');
    assert.deepEqual(config.models.m.metadata, { temp: 0.7 });
    assert.deepEqual(config.models.m.filters.stripParams, ["top_k", "top_p"]);
  });

  it("names the missing variable and where it is used", () => {
    const issues = issuesOf(`
models:
  m:
    cmd: server --token \${env.NOT_SET_ANYWHERE} --port \${PORT}
`);
    assertIssue(issues, "models.m.cmd", /environment variable 'NOT_SET_ANYWHERE' is not set; export it/);
  });

  it("ignores references in comments", () => {
    const { config } = load(`
# uses \${env.ALSO_NOT_SET}
models:
  m:
    cmd: server --port \${PORT} # \${env.NOT_SET}
`);
    assert.equal(config.models.m.cmd, "server --port 5800");
  });

  it("ignores references on comment lines of a multi-line cmd", () => {
    const { config } = load(`
models:
  m:
    cmd: |
      server --port \${PORT}
      # --api-key \${env.NOT_SET}
`);
    assert.equal(config.models.m.cmd, "server --port 5800");
  });

  it("rejects values containing a newline or carriage return", () => {
    const issues = issuesOf(`models: { m: { cmd: "server \${env.A} \${env.B} --port \${PORT}" } }`, {
      env: { A: "one\ntwo", B: "x\ry" },
    });
    assertIssue(issues, "models.m.cmd", /'A' contains a newline/);
    assertIssue(issues, "models.m.cmd", /'B' contains a newline, carriage return/);
  });

  it("escapes quotes and backslashes so values are safe in double-quoted strings", () => {
    const { config } = load(`models: { m: { cmd: "server --prompt '\${env.P}' --port \${PORT}" } }`, {
      env: { P: String.raw`say "hi" C:\dir` },
    });
    assert.equal(config.models.m.cmd, String.raw`server --prompt 'say "hi" C:\dir' --port 5800`);
  });

  it("works in flow-style lists because it runs before YAML parsing", () => {
    const { config } = load(`apiKeys: [\${env.K1}, \${env.K2}]\nmodels: { m: { cmd: "x --port \${PORT}" } }`, {
      env: { K1: "a", K2: "b" },
    });
    assert.deepEqual(config.apiKeys, ["a", "b"]);
  });

  it("reports a missing variable that breaks the YAML structure by line", () => {
    const issues = issuesOf(`apiKeys: [\${env.NOPE}]\nmodels: { m: { cmd: "x --port \${PORT}" } }`);
    assertIssue(issues, "test.yaml:1", /environment variable 'NOPE' is not set/);
  });
});
