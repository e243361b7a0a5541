import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runtime } from "../helpers/process.ts";

describe(`runtime.onSignal (${runtime.name})`, () => {
  it("calls the handler for a signal sent to the process until unsubscribed", async () => {
    let received!: () => void;
    const got = new Promise<void>((resolve) => (received = resolve));
    const unsubscribe = runtime.onSignal("SIGHUP", () => received());
    // The guard timer also keeps Deno's event loop alive until the signal lands.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("SIGHUP handler not called within 2 s")), 2000);
    });
    try {
      process.kill(runtime.pid, "SIGHUP");
      await Promise.race([got, guard]);
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  });
});

describe(`runtime files (${runtime.name})`, () => {
  it("writes, appends, reads, stats, lists, renames and removes files", async () => {
    const dir = `/tmp/modelswap-runtime-test-${runtime.pid}-${Date.now()}`;
    await runtime.mkdir(`${dir}/nested`);
    try {
      await runtime.writeTextFile(`${dir}/a.txt`, "hello");
      await runtime.appendTextFile(`${dir}/a.txt`, " world");
      assert.equal(await runtime.readTextFile(`${dir}/a.txt`), "hello world");
      const info = await runtime.stat(`${dir}/a.txt`);
      assert.equal(info?.size, 11);
      assert.ok(Math.abs(info!.mtimeMs - Date.now()) < 60_000);
      await runtime.rename(`${dir}/a.txt`, `${dir}/b.txt`);
      assert.deepEqual((await runtime.readDir(dir)).sort(), ["b.txt", "nested"]);
      assert.equal(await runtime.stat(`${dir}/a.txt`), null);
      await runtime.remove(`${dir}/b.txt`);
      assert.equal(await runtime.stat(`${dir}/b.txt`), null);
      await runtime.remove(`${dir}/b.txt`); // removing a missing file is not an error
      await assert.rejects(runtime.readTextFile(`${dir}/missing.txt`));
    } finally {
      await runtime.remove(`${dir}/nested`);
      await runtime.remove(dir);
    }
  });

  it("reads variables from the environment", () => {
    assert.equal(runtime.env("PATH"), runtime.envAll().PATH);
    assert.equal(runtime.env("MODELSWAP_SURELY_UNSET_VARIABLE"), undefined);
  });
});
