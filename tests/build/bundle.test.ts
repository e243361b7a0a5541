/**
 * The runtime-neutral bundle: `dist/modelswap.js`, copied out of the
 * repository (so no deno.json or node_modules is near it), runs under
 * `deno run -A` and under `bun`, and serves a chat request through a demo
 * model that `${SELF}` starts from the same bundle on the same runtime.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, runtime } from "../helpers/process.ts";
import { BUN, BUNDLE, DENO, ensureDist, type Program, runProgram, startProgram } from "./dist.ts";

const RUNNERS = [
  { name: "deno", argv: (script: string) => [DENO, "run", "-A", script] },
  { name: "bun", argv: (script: string) => [BUN, script] },
];

describe("dist/modelswap.js on each runtime", () => {
  let dir: string;
  let script: string;
  let env: Record<string, string>;
  const programs: Program[] = [];

  before(async () => {
    await ensureDist();
    dir = mkdtempSync(join(tmpdir(), "modelswap-bundle-"));
    script = join(dir, "modelswap.js");
    copyFileSync(BUNDLE, script);
    env = { PATH: runtime.env("PATH") ?? "/usr/bin:/bin", HOME: runtime.env("HOME") ?? dir };
  });

  after(async () => {
    for (const program of programs) await program.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const runner of RUNNERS) {
    test(`${runner.name} runs the bundle: --version names the runtime`, async () => {
      const result = await runProgram([...runner.argv(script), "--version"], dir, env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^version: \\S+ \\([^)]+\\), runtime ${runner.name}$`, "m"));
      assert.doesNotMatch(result.stdout, /-dev|\(source\)/, "the bundle carries the stamped version");
    });

    test(`${runner.name} serves a chat request, its demo upstream started from the same bundle`, async () => {
      const config = join(dir, `${runner.name}.yaml`);
      writeFileSync(
        config,
        `startPort: ${await freePort()}\nmodels:\n  demo:\n    cmd: \${SELF} demo-upstream --port \${PORT} --model demo\n`,
      );
      const router = startProgram([...runner.argv(script), "--config", config, "--listen", "127.0.0.1:0"], dir, env);
      programs.push(router);
      const [, url] = await router.stdout.match(/listening on (http:\/\/[\d.:]+)/, 20_000);
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "demo", messages: [{ role: "user", content: "hi" }], stream: true }),
      });
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.match(text, /"object":"chat\.completion\.chunk"/);
      assert.match(text, /data: \[DONE\]/);

      const status = await (await fetch(`${url}/api/status`)).json();
      const pid = status.models[0].pid as number;
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      assert.ok(cmdline.includes(script), `upstream runs the bundle: ${cmdline.join(" ")}`);
      assert.equal(await router.kill("SIGTERM"), 0, router.stdout.text + router.stderr.text);
    });
  }
});
