/**
 * Spawn records are trusted only from a private directory: another local
 * user can neither make the router kill a process (by planting a record)
 * nor make it overwrite a file (by planting a link where it writes).
 * Changing owners needs root, as in CI.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, describe, test } from "node:test";
import { ensurePrivateDir, UnsafeDirectoryError, writeNewFile } from "../../src/runtime/private-files.ts";
import { processStartTime, reapLeftovers } from "../../src/upstream/pidfile.ts";
import { demoCmd, runtime, startRouter } from "../e2e/harness.ts";
import { pidAlive, startProcess } from "../helpers/process.ts";

/** Someone else: the `nobody` user. */
const OTHER_UID = 65534;
const base = mkdtempSync(join(tmpdir(), "modelswap-records-"));
const cleanup: Array<() => void> = [];

function assertRoot(): void {
  assert.equal(process.getuid?.(), 0, "changing a file's owner needs root (CI runs as root)");
}

describe(`spawn records in a private directory (${runtime.name})`, () => {
  after(() => {
    for (const step of cleanup) step();
  });

  test("the directory is created private (0700); one others could only read (an earlier version's) is narrowed", async () => {
    const dir = join(base, "fresh");
    await ensurePrivateDir(dir);
    assert.equal(lstatSync(dir).mode & 0o777, 0o700);
    await ensurePrivateDir(dir); // and is accepted again
    chmodSync(dir, 0o755);
    await ensurePrivateDir(dir);
    assert.equal(lstatSync(dir).mode & 0o777, 0o700);
  });

  test("a directory open to others, a link, or one owned by someone else is refused with a clear reason", async () => {
    const open = join(base, "open");
    mkdirSync(open, { mode: 0o700 });
    chmodSync(open, 0o777);
    await assert.rejects(ensurePrivateDir(open), (error: Error) => error instanceof UnsafeDirectoryError && /has mode 777/.test(error.message));
    const link = join(base, "link");
    symlinkSync(open, link);
    await assert.rejects(ensurePrivateDir(link), /is a symbolic link/);
    assertRoot();
    const foreign = join(base, "foreign");
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, OTHER_UID, OTHER_UID);
    await assert.rejects(ensurePrivateDir(foreign), new RegExp(`is owned by uid ${OTHER_UID}.*XDG_RUNTIME_DIR`));
  });

  test("a record planted by another user is never acted on", async () => {
    assertRoot();
    const dir = join(base, "planted");
    await ensurePrivateDir(dir);
    const victim = startProcess(["sleep", "600"]);
    cleanup.push(() => victim.proc.kill("SIGKILL"));
    const start = await processStartTime(victim.proc.pid, runtime);
    const record = { routerPid: 999_999, routerStart: "1", pid: victim.proc.pid, pgid: victim.proc.pid, start, argv: ["sleep", "600"] };
    const path = join(dir, `999999-${victim.proc.pid}.json`);
    writeFileSync(path, JSON.stringify(record));
    chownSync(path, OTHER_UID, OTHER_UID);
    assert.deepEqual(await reapLeftovers(dir, runtime, () => {}), []);
    assert.ok(pidAlive(victim.proc.pid), "the process named by the planted record is alive");
    assert.ok(existsSync(path), "the planted file is left alone");
  });

  test("a record is never written through a link, and stale temp files of dead routers are cleaned", async () => {
    const dir = join(base, "links");
    await ensurePrivateDir(dir);
    const target = join(base, "precious.txt");
    writeFileSync(target, "keep me");
    const temp = join(dir, "999999-1.json.tmp");
    symlinkSync(target, temp);
    await assert.rejects(writeNewFile(temp, "overwritten"), /EEXIST/);
    assert.equal(readFileSync(target, "utf8"), "keep me");
    const stale = join(dir, "999998-2.json.tmp");
    writeFileSync(stale, "{}");
    await reapLeftovers(dir, runtime, () => {});
    assert.ok(!existsSync(stale), "a dead router's unfinished temp file is gone");
  });

  test("a router whose record directory belongs to someone else refuses to start, saying why", async () => {
    assertRoot();
    const xdg = mkdtempSync(join(tmpdir(), "modelswap-xdg-"));
    mkdirSync(join(xdg, "modelswap"), { mode: 0o700 });
    chownSync(join(xdg, "modelswap"), OTHER_UID, OTHER_UID);
    await assert.rejects(
      startRouter(`models:\n  m: { cmd: "${demoCmd()}" }\n`, [], { XDG_RUNTIME_DIR: xdg }),
      (error: Error) => /exited \(\{"code":1/.test(error.message) && /modelswap: .*modelswap is owned by uid 65534.*XDG_RUNTIME_DIR/s.test(error.message),
    );
  });
});
