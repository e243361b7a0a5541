import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../src/config/issue.ts";
import { type LoadOptions, parseConfigSources } from "../../src/config/load.ts";
import { readConfigSources } from "../../src/config/sources.ts";
import { assertIssue, issuesOf, load, options } from "./helpers.ts";

/** Reads `-config FILE` through `readTextFile` and parses it, as main does. */
async function loadConfigFile(path: string, readTextFile: (path: string) => Promise<string>, loadOptions: LoadOptions) {
  const sources = await readConfigSources({ file: path, dir: null }, { readTextFile, readDir: () => Promise.resolve([]) });
  return parseConfigSources(sources, loadOptions);
}

describe("YAML handling", () => {
  it("materialises anchors, aliases and merge keys", () => {
    const { config } = load(`
x-defaults: &defaults
  ttl: 60
  env: ["CUDA_VISIBLE_DEVICES=0"]
models:
  a:
    <<: *defaults
    cmd: a --port \${PORT}
  b:
    <<: *defaults
    cmd: b --port \${PORT}
    ttl: 5
`);
    assert.equal(config.models.a.ttl, 60);
    assert.equal(config.models.b.ttl, 5);
    assert.deepEqual(config.models.b.env, { CUDA_VISIBLE_DEVICES: "0" });
  });

  it("reports syntax errors with file, line and column", () => {
    const issues = issuesOf(`models:\n  a:\n    cmd: [x\n  b: y: z\n`);
    assert.ok(issues.length > 0);
    assert.match(issues[0].path, /^test\.yaml:\d+:\d+$/);
    assert.doesNotMatch(issues[0].message, /\n/);
  });

  it("rejects duplicate keys", () => {
    const issues = issuesOf(`models:\n  a: { cmd: "a --port \${PORT}" }\n  a: { cmd: "b --port \${PORT}" }\n`);
    assertIssue(issues, "test.yaml:3:3", /unique/);
  });
});

describe("reading a config file", () => {
  it("reads through the given function and names the file in syntax errors", async () => {
    const files: Record<string, string> = { "/etc/ms.yaml": "models: [oops" };
    const read = (path: string) => Promise.resolve(files[path]);
    await assert.rejects(loadConfigFile("/etc/ms.yaml", read, { env: {}, selfArgv: [] }), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.issues[0].path, /^\/etc\/ms\.yaml:1:/);
      return true;
    });
  });

  it("turns an unreadable file into a ConfigError that says so", async () => {
    const read = (_: string) => Promise.reject(new Error("No such file or directory"));
    await assert.rejects(loadConfigFile("/nope.yaml", read, { env: {}, selfArgv: [] }), {
      name: "ConfigError",
      message: "config: cannot read /nope.yaml: No such file or directory",
    });
  });

  it("loads config.sample.yaml at the repository root without errors, if it exists", async (t) => {
    const sample = fileURLToPath(new URL("../../config.sample.yaml", import.meta.url));
    if (!existsSync(sample)) return t.diagnostic("config.sample.yaml not written yet");
    const env = Object.fromEntries(
      [...readFileSync(sample, "utf8").matchAll(/\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(([, name]) => [name, "x"]),
    );
    const { config } = await loadConfigFile(sample, (path) => readFile(path, "utf8"), { ...options, env });
    assert.ok(Object.keys(config.models).length > 0);
  });
});
