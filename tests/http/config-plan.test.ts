/**
 * What the config editor says a reload would do, before anything is written:
 * the same split into restarted, changed, added, removed and updated models
 * that the reload itself makes, and which settings need modelswap restarted.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { reloadPlan } from "../../src/http/config-plan.ts";
import { parseSetupSources } from "../../src/setup.ts";

const config = (text: string) => parseSetupSources([{ name: "config.yaml", text }], { env: {}, selfArgv: ["modelswap"] }).config;

const BEFORE = `
store: { path: /var/lib/modelswap/a.db, maxRows: 10 }
models:
  alpha: { cmd: "server --port \${PORT}" }
  beta: { cmd: "server --port \${PORT}" }
  gamma: { cmd: "server --port \${PORT}" }
  delta: { cmd: "server --port \${PORT}", ttl: 60 }
`;

describe("config editor: the reload plan", () => {
  test("a running model with a new command restarts, a stopped one changes, others are added, removed or updated in place", () => {
    const after = config(`
store: { path: /var/lib/modelswap/a.db, maxRows: 20 }
models:
  alpha: { cmd: "server --port \${PORT} --ctx 8192" }
  beta: { cmd: "server --port \${PORT} --ctx 8192" }
  delta: { cmd: "server --port \${PORT}", ttl: 300 }
  epsilon: { cmd: "server --port \${PORT}" }
`);
    const plan = reloadPlan(config(BEFORE), after, new Set(["alpha"]));
    assert.deepEqual(plan.restarted, ["alpha"]);
    assert.deepEqual(plan.changed, ["beta"]);
    assert.deepEqual(plan.added, ["epsilon"]);
    assert.deepEqual(plan.removed, ["gamma"]);
    assert.deepEqual(plan.updated, ["delta"]);
    assert.deepEqual(plan.settings, ["store"]);
    assert.deepEqual(plan.startupOnly, [], "store.maxRows applies on reload");
  });

  test("a new store.path or server block takes effect only when modelswap restarts", () => {
    const after = config(BEFORE.replace("a.db", "b.db") + "server: { idleTimeout: 5 }\n");
    const plan = reloadPlan(config(BEFORE), after, new Set());
    assert.deepEqual(plan.startupOnly, ["server", "store.path"]);
    assert.deepEqual([...plan.restarted, ...plan.changed, ...plan.added, ...plan.removed, ...plan.updated], []);
  });
});
