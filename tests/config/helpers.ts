/** Shared helpers for the config tests: load YAML text, or collect the issues it fails with. */
import assert from "node:assert/strict";
import { ConfigError, type ConfigIssue } from "../../src/config/issue.ts";
import type { LoadOptions } from "../../src/config/load.ts";
import { parseSetup, type Setup } from "../../src/setup.ts";

/** Default options: an empty environment and a fixed argv for `${SELF}`. */
export const options: LoadOptions = { env: {}, selfArgv: ["/opt/modelswap"], source: "test.yaml" };

/** Parses YAML that must load. */
export function load(yaml: string, extra: Partial<LoadOptions> = {}): Setup {
  return parseSetup(yaml, { ...options, ...extra });
}

/** Parses YAML that must fail; returns every issue. */
export function issuesOf(yaml: string, extra: Partial<LoadOptions> = {}): ConfigIssue[] {
  try {
    parseSetup(yaml, { ...options, ...extra });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.issues;
  }
  assert.fail("expected the config to be rejected");
}

/** Asserts that one issue sits at `path` and its message matches `pattern`. */
export function assertIssue(issues: ConfigIssue[], path: string, pattern: RegExp): void {
  const found = issues.filter((issue) => issue.path === path);
  assert.ok(found.length > 0, `no issue at ${path}; issues were:\n${issues.map((i) => `${i.path}: ${i.message}`).join("\n")}`);
  assert.ok(found.some((issue) => pattern.test(issue.message)), `issue at ${path} does not match ${pattern}: ${found.map((i) => i.message).join(" | ")}`);
}
