import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Watchdog } from "../../src/upstream/watchdog.ts";
import { pidAlive, runtime, scriptArgv, startProcess, testsPath, waitFor } from "../helpers/process.ts";

/** SIGKILL the fake router and check that its upstream, the upstream's group and the watchdog all go. */
async function killRouterAndExpectNoSurvivors(demoFlags: string[]): Promise<void> {
  const router = startProcess([...scriptArgv(testsPath("helpers/watchdog-router.ts")), ...demoFlags]);
  const pids: number[] = [];
  try {
    const match = await router.stdout.match(/watchdog=(\d+) upstream=(\d+) grandchild=(\d+)/, 20_000);
    pids.push(...match.slice(1).map(Number).filter((pid) => pid > 0));
    for (const pid of pids) assert.ok(pidAlive(pid), `pid ${pid} runs before the router is killed`);
    router.proc.kill("SIGKILL");
    assert.deepEqual(await router.proc.exited, { code: null, signal: "SIGKILL" });
    await waitFor(() => pids.every((pid) => !pidAlive(pid)), {
      timeoutMs: 5000,
      what: `pids ${pids.join(", ")} to exit after the router was SIGKILLed`,
    });
  } finally {
    for (const pid of pids) runtime.killGroup(pid, "SIGKILL");
    await router.kill();
  }
}

describe(`Watchdog (${runtime.name})`, () => {
  it("stops every upstream, grandchildren included, when the router is SIGKILLed", async () => {
    await killRouterAndExpectNoSurvivors(["--spawn-grandchild"]);
  });

  it("SIGKILLs an upstream that ignores SIGTERM when the router is SIGKILLed", async () => {
    await killRouterAndExpectNoSurvivors(["--ignore-sigterm"]);
  });

  it("on close, leaves untracked groups alone and exits", async () => {
    const watchdog = Watchdog.start(runtime);
    const sleeper = runtime.spawn({ argv: ["sleep", "600"], newProcessGroup: true, output: "null" });
    try {
      const watchdogPid = watchdog.pid!;
      assert.ok(pidAlive(watchdogPid));
      watchdog.track(sleeper.pid);
      watchdog.untrack(sleeper.pid);
      watchdog.close();
      await waitFor(() => !pidAlive(watchdogPid), { what: "the watchdog to exit after close()" });
      assert.ok(pidAlive(sleeper.pid), "an untracked group survives");
    } finally {
      runtime.killGroup(sleeper.pid, "SIGKILL");
      await sleeper.exited;
    }
  });

  it("on close, stops groups that are still tracked", async () => {
    const watchdog = Watchdog.start(runtime);
    const sleeper = runtime.spawn({ argv: ["sleep", "600"], newProcessGroup: true, output: "null" });
    try {
      const watchdogPid = watchdog.pid!;
      watchdog.track(sleeper.pid);
      watchdog.close();
      assert.deepEqual(await sleeper.exited, { code: null, signal: "SIGTERM" });
      await waitFor(() => !pidAlive(watchdogPid), { what: "the watchdog to exit once its groups are gone" });
    } finally {
      runtime.killGroup(sleeper.pid, "SIGKILL");
    }
  });

  it("warns instead of failing when it cannot start", () => {
    const warnings: string[] = [];
    const broken = {
      ...runtime,
      spawn: () => {
        throw new Error("no /bin/sh here");
      },
    };
    const watchdog = Watchdog.start(broken, (message) => warnings.push(message));
    watchdog.track(123);
    watchdog.untrack(123);
    watchdog.close();
    assert.equal(watchdog.pid, null);
    assert.match(warnings.join("\n"), /cannot start the orphan watchdog \(no \/bin\/sh here\)/);
  });
});
