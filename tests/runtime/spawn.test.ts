import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Output, pidAlive, runtime, scriptArgv, startProcess, testsPath, waitFor } from "../helpers/process.ts";
import { readProcStatSync } from "../../src/runtime/procfs.ts";

describe(`runtime.spawn (${runtime.name})`, () => {
  it("reports the exit code of a process that exits", async () => {
    const proc = runtime.spawn({ argv: ["sh", "-c", "exit 7"], output: "null" });
    assert.deepEqual(await proc.exited, { code: 7, signal: null });
  });

  it("reports the signal that killed a process", async () => {
    const proc = runtime.spawn({ argv: ["sleep", "600"], output: "null" });
    proc.kill("SIGKILL");
    assert.deepEqual(await proc.exited, { code: null, signal: "SIGKILL" });
  });

  it("passes extra variables on top of the router's environment", async () => {
    const proc = runtime.spawn({
      argv: ["sh", "-c", 'printf "%s|%s" "$MODELSWAP_TEST_VAR" "$PATH"'],
      env: { MODELSWAP_TEST_VAR: "hello world" },
    });
    const out = new Output(proc.stdout);
    await proc.exited;
    await out.done;
    assert.equal(out.text, `hello world|${runtime.env("PATH")}`);
  });

  it("keeps stdout and stderr apart", async () => {
    const proc = runtime.spawn({ argv: ["sh", "-c", "echo out; echo err >&2"] });
    const [stdout, stderr] = [new Output(proc.stdout), new Output(proc.stderr)];
    await Promise.all([proc.exited, stdout.done, stderr.done]);
    assert.equal(stdout.text, "out\n");
    assert.equal(stderr.text, "err\n");
  });

  it("writes to the child's stdin and closes it", async () => {
    const proc = runtime.spawn({ argv: ["cat"], stdin: "pipe" });
    const out = new Output(proc.stdout);
    proc.stdin!.write("line one\n");
    proc.stdin!.write("line two\n");
    proc.stdin!.close();
    assert.deepEqual(await proc.exited, { code: 0, signal: null });
    await out.done;
    assert.equal(out.text, "line one\nline two\n");
  });

  it("runs the child in the working directory it is given", async () => {
    const proc = runtime.spawn({ argv: ["pwd"], cwd: "/tmp" });
    const out = new Output(proc.stdout);
    await Promise.all([proc.exited, out.done]);
    assert.equal(out.text.trim(), "/tmp");
  });

  it("throws a clear error for a program that does not exist", () => {
    assert.throws(
      () => runtime.spawn({ argv: ["/nonexistent/modelswap-no-such-program"] }),
      /cannot start "\/nonexistent\/modelswap-no-such-program".*check that the program exists/,
    );
  });

  it("puts a new process group's grandchildren in the group, so killGroup stops them too", async () => {
    const started = startProcess(["sh", "-c", "sleep 600 & echo $!; wait"]);
    try {
      const grandchild = Number((await started.stdout.match(/(\d+)\n/))[1]);
      assert.equal(readProcStatSync(started.proc.pid)?.pgid, started.proc.pid, "the child leads its own group");
      assert.ok(pidAlive(grandchild));
      runtime.killGroup(started.proc.pid, "SIGTERM");
      assert.deepEqual(await started.proc.exited, { code: null, signal: "SIGTERM" });
      await waitFor(() => !pidAlive(grandchild), { what: `grandchild ${grandchild} to exit` });
    } finally {
      await started.kill();
    }
  });

  it("kill and killGroup ignore processes that are already gone", async () => {
    const proc = runtime.spawn({ argv: ["true"], newProcessGroup: true, output: "null" });
    await proc.exited;
    proc.kill("SIGTERM");
    runtime.killGroup(proc.pid, "SIGKILL");
  });
});

describe(`runtime.isAlive (${runtime.name})`, () => {
  it("is true for a running process and false once it has exited", async () => {
    assert.equal(runtime.isAlive(runtime.pid), true);
    const proc = runtime.spawn({ argv: ["sleep", "600"], output: "null" });
    assert.equal(runtime.isAlive(proc.pid), true);
    proc.kill("SIGKILL");
    await proc.exited;
    assert.equal(runtime.isAlive(proc.pid), false);
    assert.equal(runtime.isAlive(2 ** 22 + 1), false);
  });

  it("counts a zombie (exited, never reaped) as gone", async () => {
    // The shell starts a short child, then becomes `sleep 600`, which never reaps it
    // (the child outlives the exec, so the shell cannot reap it first).
    const started = startProcess(["sh", "-c", "sleep 0.1 & echo $!; exec sleep 600"]);
    try {
      const zombie = Number((await started.stdout.match(/(\d+)\n/))[1]);
      await waitFor(() => readProcStatSync(zombie)?.state === "Z", { what: `pid ${zombie} to become a zombie` });
      assert.equal(runtime.isAlive(zombie), false);
    } finally {
      await started.kill();
    }
  });
});

describe(`runtime.selfArgv and args (${runtime.name})`, () => {
  it("names an existing program that runs scripts and passes their arguments", async () => {
    assert.notEqual(await runtime.stat(runtime.selfArgv[0]), null);
    const started = startProcess([...scriptArgv(testsPath("helpers/echo-args.ts")), "--flag", "a b"]);
    try {
      await started.proc.exited;
      await started.stdout.done;
      const seen = JSON.parse(started.stdout.text);
      assert.equal(seen.name, runtime.name);
      assert.deepEqual(seen.args, ["--flag", "a b"]);
      assert.equal(seen.selfArgv[0], runtime.selfArgv[0]);
      assert.match(seen.selfArgv.at(-1), /echo-args\.ts$/);
    } finally {
      await started.kill();
    }
  });
});
