/**
 * `-config-dir` with a running router: the directory's files are merged
 * after `-config`, and `--watch-config` watches the directory too: a file
 * added, changed or removed reloads the config; a model defined twice is a
 * failed reload naming both files, and the running config stays.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { chat, demoCmd, postJson, type RouterProcess, runtime, startRouter } from "./harness.ts";

describe(`-config-dir and --watch-config (${runtime.name})`, () => {
  let router: RouterProcess;
  let dir: string;
  const model = (id: string) => `models:\n  ${id}:\n    cmd: ${demoCmd(`--model ${id} --reply "i am ${id}"`)}\n`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "modelswap-conf.d-"));
    writeFileSync(join(dir, "10-a.yaml"), model("a"));
    writeFileSync(join(dir, "notes.txt"), "not a config file: [\n");
    router = await startRouter(model("main"), ["-config-dir", dir, "--watch-config"]);
    await router.waitForOutput(/watching \S+config\.yaml and \S+\/ for changes/);
  });
  after(async () => {
    await router.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("models of -config and of the directory's files are served together", async () => {
    const list = await (await fetch(`${router.url}/v1/models`)).json();
    assert.deepEqual(list.data.map((m: { id: string }) => m.id).sort(), ["a", "main"]);
    const answer = await (await postJson(`${router.url}/v1/chat/completions`, chat("a"))).json();
    assert.equal(answer.choices[0].message.content, "i am a");
    const comfy = await fetch(`${router.url}/comfyui/`);
    assert.equal(comfy.status, 404, "/comfyui/ needs a model comfyui_auto");
    assert.match((await comfy.json()).error.message, /no local model comfyui_auto is configured/);
  });

  test("a file added to the directory is picked up, and one removed takes its models away", async () => {
    writeFileSync(join(dir, "20-b.yml"), model("b"));
    await router.waitForOutput(/config reloaded; added: b;/);
    const answer = await (await postJson(`${router.url}/v1/chat/completions`, chat("b"))).json();
    assert.equal(answer.choices[0].message.content, "i am b");
    rmSync(join(dir, "20-b.yml"));
    await router.waitForOutput(/config reloaded; .*removed: b/);
    const gone = await postJson(`${router.url}/v1/chat/completions`, chat("b"));
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  });

  test("a file changed in the directory is picked up", async () => {
    writeFileSync(join(dir, "10-a.yaml"), model("a").replace("i am a", "i am a, changed"));
    await router.waitForOutput(/config reloaded; changed: a;/);
    const answer = await (await postJson(`${router.url}/v1/chat/completions`, chat("a"))).json();
    assert.equal(answer.choices[0].message.content, "i am a, changed");
  });

  test("a model defined in two files is a failed reload naming both; the running config stays", async () => {
    writeFileSync(join(dir, "30-again.yaml"), model("a"));
    const failed = await router.waitForOutput(/config reload failed[^\n]*\n\s+models\.a: ([^\n]+)/);
    assert.match(failed[1], /^model 'a' is defined in both \S+\/10-a\.yaml and \S+\/30-again\.yaml; define it in one file only/);
    const still = await postJson(`${router.url}/v1/chat/completions`, chat("a"));
    assert.equal(still.status, 200);
    await still.body?.cancel();
  });
});
