/**
 * `-config-dir`: the `-config` file, then every `*.yml`/`*.yaml` file of the
 * directory in file-name order, merged as llama-swap merges them; an entity
 * defined in two files is an error naming both.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, type ConfigIssue } from "../../src/config/issue.ts";
import type { ConfigSource } from "../../src/config/load.ts";
import { type ConfigFiles, readConfigSources } from "../../src/config/sources.ts";
import { parseSetupSources } from "../../src/setup.ts";
import { assertIssue, options } from "./helpers.ts";

/** Files in memory: path → text; a directory's entries are the paths under it. */
function memoryFiles(files: Record<string, string>, dirs: Record<string, string[]> = {}): ConfigFiles {
  return {
    readTextFile: (path) => (Object.hasOwn(files, path) ? Promise.resolve(files[path]) : Promise.reject(new Error(`ENOENT: ${path}`))),
    readDir: (path) => (Object.hasOwn(dirs, path) ? Promise.resolve(dirs[path]) : Promise.reject(new Error(`ENOENT: ${path}`))),
  };
}

function merge(...sources: Array<[name: string, text: string]>) {
  return parseSetupSources(sources.map(([name, text]): ConfigSource => ({ name, text })), options);
}

function mergeIssues(...sources: Array<[name: string, text: string]>): ConfigIssue[] {
  try {
    merge(...sources);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.issues;
  }
  assert.fail("expected the merged config to be rejected");
}

describe("reading -config and -config-dir", () => {
  it("reads -config, then the directory's *.yml and *.yaml files in file-name order (not its other entries)", async () => {
    const files = memoryFiles(
      { "config.yaml": "a", "conf.d/20-b.yaml": "b", "conf.d/10-a.yml": "c", "conf.d/notes.txt": "x", "conf.d/old.yaml.bak": "x" },
      { "conf.d/": ["20-b.yaml", "notes.txt", "10-a.yml", "old.yaml.bak"] },
    );
    const sources = await readConfigSources({ file: "config.yaml", dir: "conf.d/" }, files);
    assert.deepEqual(sources.map(({ name }) => name), ["config.yaml", "conf.d/10-a.yml", "conf.d/20-b.yaml"]);
    assert.deepEqual(sources.map(({ text }) => text), ["a", "c", "b"]);
    const nested = memoryFiles({ "d/a.yaml": "a" }, { "d": ["a.yaml", "old.yaml"], "d/old.yaml": [] });
    assert.deepEqual((await readConfigSources({ file: null, dir: "d" }, nested)).map(({ name }) => name), ["d/a.yaml"], "a subdirectory is skipped");
    const dirOnly = await readConfigSources({ file: null, dir: "conf.d/" }, files);
    assert.deepEqual(dirOnly.map(({ name }) => name), ["conf.d/10-a.yml", "conf.d/20-b.yaml"]);
  });

  it("refuses neither, an unreadable directory, and the -config file inside the directory", async () => {
    const files = memoryFiles({ "conf.d/main.yaml": "" }, { "conf.d": ["main.yaml"] });
    await assert.rejects(readConfigSources({ file: null, dir: null }, files), /pass -config FILE, -config-dir DIR, or both/);
    await assert.rejects(readConfigSources({ file: null, dir: "nowhere" }, files), /config-dir: cannot read directory nowhere: ENOENT/);
    await assert.rejects(
      readConfigSources({ file: "./conf.d/../conf.d/main.yaml", dir: "conf.d" }, files),
      /is also in -config-dir conf.d, so it would be read twice/,
    );
  });
});

describe("merging", () => {
  it("merges mappings, concatenates lists in file order, lets null yield, and expands macros across files", () => {
    const { config, warnings } = merge(
      ["config.yaml", `healthCheckTimeout:\napiKeys: [k1]\nmacros: { serve: "srv --port \${PORT}" }\nmodels:\n  a: { cmd: "\${serve} -m a" }\n`],
      ["conf.d/10-b.yaml", `healthCheckTimeout: 30\napiKeys: [k2]\nmodels:\n  b: { cmd: "\${serve} -m b" }\n`],
      ["conf.d/20-empty.yaml", "# nothing here yet\n"],
      ["conf.d/30-groups.yaml", `healthCheckTimeout: 30\ngroups:\n  both: { swap: false, members: [a, b] }\n`],
    );
    assert.deepEqual(warnings, []);
    assert.equal(config.healthCheckTimeout, 30, "a null yields to a value; an equal value agrees");
    assert.deepEqual(config.apiKeys, ["k1", "k2"]);
    assert.deepEqual(Object.keys(config.models).sort(), ["a", "b"]);
    assert.equal(config.models.b.cmd, `srv --port ${config.models.b.port} -m b`, "a macro of one file works in another");
    assert.deepEqual(config.routing.groups.both.members, ["a", "b"]);
  });

  it("keeps matrix sets in file order, then in each file's order", () => {
    const { config } = merge(
      ["a.yaml", `models: { x: { cmd: "x --port \${PORT}" }, y: { cmd: "y --port \${PORT}" } }\nmatrix: { sets: { "2": "x", "1": "y" } }\n`],
      ["b.yaml", `matrix: { sets: { both: "x & y" } }\n`],
    );
    assert.deepEqual(config.routing.matrix?.sets.map(([name]) => name), ["2", "1", "both"]);
  });

  it("refuses an entity defined in two files, naming both", () => {
    const issues = mergeIssues(
      ["config.yaml", `models: { a: { cmd: "a --port \${PORT}" } }\ngroups: { g: { members: [a] } }\nprofiles: { p: { pins: { x: a } } }\n`],
      [
        "conf.d/b.yaml",
        `models: { a: { cmd: "other --port \${PORT}" } }\ngroups: { g: { members: [a] } }\nprofiles: { p: { pins: { y: a } } }\n` +
        `selectors: { s: { strategy: pin, targets: [a] } }\npeers: { r: { proxy: "http://127.0.0.1:1", models: [m] } }\n`,
      ],
      ["conf.d/c.yaml", `selectors: { s: { strategy: pin, targets: [a] } }\npeers: { r: { proxy: "http://127.0.0.1:2", models: [m] } }\n`],
    );
    assertIssue(issues, "models.a", /^model 'a' is defined in both config\.yaml and conf\.d\/b\.yaml; define it in one file only$/);
    assertIssue(issues, "groups.g", /^group 'g' is defined in both config\.yaml and conf\.d\/b\.yaml/);
    assertIssue(issues, "profiles.p", /^profile 'p' is defined in both config\.yaml and conf\.d\/b\.yaml/);
    assertIssue(issues, "selectors.s", /^selector 's' is defined in both conf\.d\/b\.yaml and conf\.d\/c\.yaml/);
    assertIssue(issues, "peers.r", /^peer 'r' is defined in both conf\.d\/b\.yaml and conf\.d\/c\.yaml/);
    const sets = mergeIssues(
      ["a.yaml", `models: { x: { cmd: "x --port \${PORT}" } }\nrouting: { router: { use: matrix, settings: { matrix: { sets: { s1: x } } } } }\n`],
      ["b.yaml", `routing: { router: { settings: { matrix: { sets: { s1: x } } } } }\n`],
    );
    assertIssue(sets, "routing.router.settings.matrix.sets.s1", /^matrix set 's1' is defined in both a\.yaml and b\.yaml/);
  });

  it("refuses a setting given two different values, or as a list in one file and a mapping in another", () => {
    const issues = mergeIssues(
      ["config.yaml", `startPort: 6000\nlogLevel: info\nmodels: { a: { cmd: "a --port \${PORT}" } }\n`],
      ["conf.d/b.yaml", `startPort: 7000\nlogLevel: info\napiKeys: { k: v }\n`],
      ["conf.d/c.yaml", `apiKeys: [k2]\n`],
    );
    assertIssue(issues, "startPort", /^is 6000 in config\.yaml but 7000 in conf\.d\/b\.yaml; set it in one file only/);
    assertIssue(issues, "apiKeys", /^is a mapping in conf\.d\/b\.yaml but a list in conf\.d\/c\.yaml/);
    assert.ok(!issues.some((issue) => issue.path === "logLevel"), "equal values agree");
  });

  it("names the file an error is in, and where an ${env.X} is missing", () => {
    const issues = mergeIssues(
      ["config.yaml", `models: { a: { cmd: "a --port \${PORT}" } }\n`],
      ["conf.d/b.yaml", `apiKeys: ["\${env.NOT_SET_ANYWHERE}"]\nmodels:\n  b: { cmd: "b --port \${PORT}", ttl: soon }\n`],
    );
    assertIssue(issues, "models.b.ttl", /must be an integer >= -1 \(got "soon"\) \(in conf\.d\/b\.yaml\)$/);
    assertIssue(issues, "apiKeys[0]", /environment variable 'NOT_SET_ANYWHERE' is not set/);
  });
});
