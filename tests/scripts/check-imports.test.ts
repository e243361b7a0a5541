/**
 * scripts/check-imports.ts keeps "Imports point down": it finds every kind
 * of import (and nothing that merely looks like one), fails on cycles,
 * type-only ones included, and on edges across the layer boundaries, and its
 * CLI exits 1 naming the files.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { checkImports, extractImports } from "../../scripts/check-imports.ts";
import { Output, runtime, scriptArgv, testsPath } from "../helpers/process.ts";

/** The problems for a tree of files given as path → source. */
function problems(files: Record<string, string>): string[] {
  return checkImports(files).problems;
}

describe("extractImports", () => {
  it("finds static, type-only, re-export, side-effect and dynamic imports, over several lines", () => {
    const source = [
      'import a from "./a.ts";',
      "import {",
      "  b,",
      "  type B,",
      '} from "./b.ts";',
      'import type { C } from "./c.ts";',
      'import * as d from "./d.ts";',
      'import "./e.ts";',
      'export { f } from "./f.ts";',
      'export * from "./g.ts";',
      'export type { H } from "./h.ts";',
      'export * as i from "./i.ts";',
      'const j = await import("./j.ts");',
      'type K = typeof import("./k.ts");',
      'import { z } from "zod";',
    ].join("\n");
    assert.deepEqual(extractImports(source), [
      { specifier: "./a.ts", line: 1, typeOnly: false },
      { specifier: "./b.ts", line: 2, typeOnly: false },
      { specifier: "./c.ts", line: 6, typeOnly: true },
      { specifier: "./d.ts", line: 7, typeOnly: false },
      { specifier: "./e.ts", line: 8, typeOnly: false },
      { specifier: "./f.ts", line: 9, typeOnly: false },
      { specifier: "./g.ts", line: 10, typeOnly: false },
      { specifier: "./h.ts", line: 11, typeOnly: true },
      { specifier: "./i.ts", line: 12, typeOnly: false },
      { specifier: "./j.ts", line: 13, typeOnly: false },
      { specifier: "./k.ts", line: 14, typeOnly: true },
      { specifier: "zod", line: 15, typeOnly: false },
    ]);
  });

  it("ignores imports inside comments, strings, templates and regular expressions", () => {
    const source = [
      '// import { a } from "./a.ts";',
      "/* import b from './b.ts';",
      '   export * from "./c.ts"; */',
      "const s = 'import d from \"./d.ts\"';",
      'const t = `import("./e.ts") ${1 + 1} import "./f.ts"`;',
      "const r = /import \"|'/g;",
      "const m = import.meta.url;",
      'const o = { import: 1 }; o.import("./g.ts");',
      "export const x = 1;",
      'import { h } from "./h.ts"; // the only real one',
    ].join("\n");
    assert.deepEqual(extractImports(source).map((ref) => ref.specifier), ["./h.ts"]);
  });

  it("reads code inside template substitutions and ignores a dynamic import of a non-literal", () => {
    const source = 'const a = `${await import("./a.ts")}`;\nconst b = await import(`./${name}.ts`);\n';
    assert.deepEqual(extractImports(source).map((ref) => ref.specifier), ["./a.ts"]);
  });
});

describe("checkImports", () => {
  it("passes a clean graph and counts its files and edges", () => {
    const report = checkImports({
      "src/http/app.ts": 'import { route } from "../router.ts";\nimport { Hono } from "hono";',
      "src/router.ts": 'import { createScheduler } from "./scheduler/scheduler.ts";\nimport { Upstream } from "./upstream/upstream.ts";',
      "src/scheduler/scheduler.ts": 'import type { Effects } from "./effects.ts";',
      "src/scheduler/effects.ts": "export interface Effects {}",
      "src/upstream/upstream.ts": 'import type { Runtime } from "../runtime/runtime.ts";',
      "src/runtime/runtime.ts": "export interface Runtime {}",
      "src/config/load.ts": 'import { parse } from "yaml";\nimport { schema } from "./schema.ts";',
      "src/config/schema.ts": 'import { z } from "zod";',
    });
    assert.deepEqual(report, { problems: [], files: 8, edges: 6 });
  });

  it("fails a two-file cycle, naming it once", () => {
    assert.deepEqual(
      problems({
        "src/a.ts": 'import { b } from "./b.ts";',
        "src/b.ts": 'import { a } from "./a.ts";',
      }),
      ["import cycle: src/a.ts → src/b.ts → src/a.ts"],
    );
  });

  it("fails a three-file cycle across directories, naming it once", () => {
    assert.deepEqual(
      problems({
        "src/http/app.ts": 'import { route } from "../router.ts";',
        "src/router.ts": 'import { proxy } from "./http/proxy.ts";',
        "src/http/proxy.ts": 'import { app } from "./app.ts";',
      }),
      ["import cycle: src/http/app.ts → src/router.ts → src/http/proxy.ts → src/http/app.ts"],
    );
  });

  it("fails a cycle made only of type imports, and names the type-only link of a mixed one", () => {
    assert.deepEqual(
      problems({
        "src/config/load.ts": 'import type { Macro } from "./macros.ts";\nexport interface ConfigIssue {}',
        "src/config/macros.ts": 'import { type ConfigIssue } from "./load.ts";\nexport interface Macro {}',
      }),
      ["import cycle: src/config/load.ts → src/config/macros.ts → src/config/load.ts (type-only)"],
    );
    assert.deepEqual(
      problems({
        "src/http/app.ts": 'import { admin } from "./admin.ts";\nexport interface AppContext {}',
        "src/http/admin.ts": 'import type { AppContext } from "./app.ts";',
      }),
      ["import cycle: src/http/admin.ts → src/http/app.ts → src/http/admin.ts (type-only link: src/http/admin.ts → src/http/app.ts)"],
    );
  });

  it("fails upstream importing the scheduler, even for a type", () => {
    assert.deepEqual(
      problems({
        "src/upstream/upstream.ts": '\nimport type { ModelState } from "../scheduler/effects.ts";',
        "src/scheduler/effects.ts": "export type ModelState = string;",
      }),
      [
        "forbidden import: src/upstream/upstream.ts:2 → src/scheduler/effects.ts (type-only): src/upstream/ must not import src/scheduler/",
      ],
    );
  });

  it("fails config importing the scheduler, upstream or http", () => {
    assert.deepEqual(
      problems({
        "src/config/load.ts": [
          'import { buildPlanner } from "../scheduler/planners/build.ts";',
          'import { splitCommand } from "../upstream/command.ts";',
          'import { errorBody } from "../http/errors.ts";',
          'import { describeValue } from "./schema.ts";',
        ].join("\n"),
        "src/config/schema.ts": "export const describeValue = 1;",
        "src/scheduler/planners/build.ts": "export const buildPlanner = 1;",
        "src/upstream/command.ts": "export const splitCommand = 1;",
        "src/http/errors.ts": "export const errorBody = 1;",
      }),
      [
        "forbidden import: src/config/load.ts:3 → src/http/errors.ts: src/config/ must not import src/scheduler/, src/upstream/ or src/http/",
        "forbidden import: src/config/load.ts:1 → src/scheduler/planners/build.ts: src/config/ must not import src/scheduler/, src/upstream/ or src/http/",
        "forbidden import: src/config/load.ts:2 → src/upstream/command.ts: src/config/ must not import src/scheduler/, src/upstream/ or src/http/",
      ],
    );
  });

  it("fails the scheduler importing anything outside src/scheduler/, but not npm packages", () => {
    assert.deepEqual(
      problems({
        "src/scheduler/scheduler.ts": [
          'import type { Effects } from "./effects.ts";',
          'import { planner } from "./planners/groups.ts";',
          'import { z } from "zod";',
          'import type { Config } from "../config/schema.ts";',
        ].join("\n"),
        "src/scheduler/effects.ts": "export interface Effects {}",
        "src/scheduler/planners/groups.ts": "export const planner = 1;",
        "src/config/schema.ts": "export type Config = {};",
      }),
      [
        "forbidden import: src/scheduler/scheduler.ts:4 → src/config/schema.ts (type-only): src/scheduler/ is pure and imports only its own files",
      ],
    );
  });

  it("does not count an import written in a comment or a string", () => {
    assert.deepEqual(
      problems({
        "src/a.ts": [
          'import { b } from "./b.ts";',
          'export const help = "import { a } from \'./a.ts\' is not allowed in b.ts";',
        ].join("\n"),
        "src/b.ts": [
          '// import { a } from "./a.ts";',
          '/* export * from "./a.ts"; */',
          'export const note = `await import("./a.ts")`;',
          'export const b = "import \\"./a.ts\\"";',
        ].join("\n"),
        "src/upstream/upstream.ts": '// import type { ModelState } from "../scheduler/effects.ts";',
        "src/scheduler/effects.ts": "export const s = 'import \"../upstream/upstream.ts\"';",
      }),
      [],
    );
  });

  it("counts a dynamic import, for cycles and for layers", () => {
    assert.deepEqual(
      problems({
        "src/runtime/detect.ts": 'export async function detect() {\n  return (await import("./bun.ts")).bun;\n}',
        "src/runtime/bun.ts": 'import { detect } from "./detect.ts";\nexport const bun = detect;',
        "src/scheduler/scheduler.ts": 'const logger = () => import("../logger.ts");',
        "src/logger.ts": "export {};",
      }),
      [
        "forbidden import: src/scheduler/scheduler.ts:1 → src/logger.ts: src/scheduler/ is pure and imports only its own files",
        "import cycle: src/runtime/bun.ts → src/runtime/detect.ts → src/runtime/bun.ts",
      ],
    );
  });

  it("fails a relative import that names no checked file or has no extension", () => {
    assert.deepEqual(
      problems({
        "src/a.ts": 'import { b } from "./b.ts";\nimport { c } from "./c";\nimport data from "./data.json" with { type: "json" };',
      }),
      [
        'src/a.ts:1: "./b.ts" resolves to src/b.ts, which is not a checked .ts file',
        'src/a.ts:2: "./c" has no extension; write the .ts file name',
      ],
    );
  });
});

describe(`check-imports CLI (${runtime.name})`, () => {
  /** Write `files` under a fresh directory, run the CLI on it, and remove the directory. */
  async function runCli(files: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const root = mkdtempSync(join(tmpdir(), "modelswap-check-imports-"));
    try {
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      const proc = runtime.spawn({ argv: [...scriptArgv(testsPath("../scripts/check-imports.ts")), root], output: "pipe" });
      const stdout = new Output(proc.stdout);
      const stderr = new Output(proc.stderr);
      const { code } = await proc.exited;
      await Promise.all([stdout.done, stderr.done]);
      return { code, stdout: stdout.text, stderr: stderr.text };
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  it("exits 1 and names the files of a cycle and a forbidden edge", async () => {
    const result = await runCli({
      "src/config/load.ts": 'import type { ConfigIssue } from "./issues.ts";\nexport const load = 1;',
      "src/config/issues.ts": 'import { load } from "./load.ts";\nexport interface ConfigIssue {}',
      "src/upstream/upstream.ts": 'import type { ModelState } from "../scheduler/effects.ts";',
      "src/scheduler/effects.ts": "export type ModelState = string;",
    });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    const lines = result.stderr.trim().split("\n");
    assert.deepEqual(lines.slice(0, -1), [
      "forbidden import: src/upstream/upstream.ts:1 → src/scheduler/effects.ts (type-only): src/upstream/ must not import src/scheduler/",
      "import cycle: src/config/issues.ts → src/config/load.ts → src/config/issues.ts (type-only link: src/config/load.ts → src/config/issues.ts)",
    ]);
    assert.match(lines.at(-1)!, /^check-imports: 2 problem\(s\) in 4 files, 3 import edges/);
  });

  it("exits 0 with one OK line on a clean tree", async () => {
    const result = await runCli({
      "src/config/load.ts": 'import { schema } from "./schema.ts";',
      "src/config/schema.ts": 'import { z } from "zod";\nexport const schema = z.object({});',
      "README.md": 'import "./src/config/load.ts";',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    assert.equal(result.stdout, "check-imports: OK (2 files, 1 import edges; no cycles, no forbidden layer edges)\n");
  });
});
