/**
 * The release `npm run release` writes to dist/release/: exactly the files a
 * user downloads, a SHA256SUMS that `sha256sum -c` accepts and that covers
 * every other file, and one version and commit in every build. The linux-x64
 * binaries and the bundle (on Deno) run here; the linux-arm64 binary runs
 * under qemu (arm64.test.ts runs it further); the macOS binaries cannot run
 * here, so their Mach-O headers are read instead: executables for the right
 * CPU, with Bun's embedded program and a code signature (Apple silicon
 * refuses unsigned code), carrying the same version and commit.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runtime } from "../helpers/process.ts";
import { DENO, ensureRelease, RELEASE, ROOT, runProgram } from "./dist.ts";
import { arm64Emulator, emulatorMissing } from "./qemu.ts";

const PACKAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Everything the release must hold, and nothing else. */
const EXPECTED_FILES = [
  "SHA256SUMS",
  "config.sample.yaml",
  "install.sh",
  "modelswap-darwin-arm64",
  "modelswap-darwin-x64",
  "modelswap-linux-arm64",
  "modelswap-linux-x64",
  "modelswap-linux-x64-baseline",
  "modelswap.js",
];

/** ELF e_machine values (<elf.h>). */
const EM_X86_64 = 62;
const EM_AARCH64 = 183;

/** Mach-O constants (<mach-o/loader.h>, <mach/machine.h>). */
const MH_MAGIC_64 = 0xfeedfacf;
const MH_EXECUTE = 2;
const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;

/** What a Mach-O file's header and load commands say. */
interface MachO {
  magic: number;
  cpuType: number;
  fileType: number;
  segments: string[];
  signed: boolean;
}

function readMachO(bytes: Uint8Array): MachO {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const commands = view.getUint32(16, true);
  const segments: string[] = [];
  let signed = false;
  for (let i = 0, offset = 32; i < commands; i++) {
    const command = view.getUint32(offset, true);
    if (command === LC_SEGMENT_64) {
      segments.push(new TextDecoder().decode(bytes.subarray(offset + 8, offset + 24)).replace(/\0+$/, ""));
    }
    if (command === LC_CODE_SIGNATURE) signed = true;
    offset += view.getUint32(offset + 4, true);
  }
  return { magic: view.getUint32(0, true), cpuType: view.getUint32(4, true), fileType: view.getUint32(12, true), segments, signed };
}

/** The first `length` bytes of a file. */
function head(path: string, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const fd = openSync(path, "r");
  try {
    return bytes.subarray(0, readSync(fd, bytes, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

/** True when `haystack` contains the bytes of `text`. */
function containsText(haystack: Uint8Array, text: string): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(text);
}

describe("the release in dist/release", () => {
  let home: string;
  let env: Record<string, string>;
  /** The linux-x64 binary's "VERSION (COMMIT)", which every other build must match. */
  let stamp: { version: string; commit: string };

  /** `--version` of argv, as "VERSION (COMMIT)" and the runtime it names. */
  async function versionOf(argv: string[], extraEnv: Record<string, string> = {}) {
    const result = await runProgram([...argv, "--version"], home, { ...env, ...extraEnv });
    assert.equal(result.code, 0, `${argv.join(" ")} --version failed: ${result.stderr}`);
    const match = /^version: (\S+) \(([^)]+)\), runtime (bun|deno)$/m.exec(result.stdout);
    assert.ok(match, `unexpected --version output from ${argv.join(" ")}: ${result.stdout}`);
    return { version: match[1], commit: match[2], runtime: match[3] };
  }

  before(async () => {
    await ensureRelease();
    home = mkdtempSync(join(tmpdir(), "modelswap-release-"));
    env = { PATH: runtime.env("PATH") ?? "/usr/bin:/bin", HOME: home };
    const native = await versionOf([join(RELEASE, "modelswap-linux-x64")]);
    stamp = { version: native.version, commit: native.commit };
  });

  after(() => rmSync(home, { recursive: true, force: true }));

  test("holds every platform's binary, the Deno bundle, the installer, the starter config and SHA256SUMS", () => {
    assert.deepEqual(readdirSync(RELEASE).sort(), EXPECTED_FILES);
  });

  test("SHA256SUMS lists every other file, and every checksum matches (sha256sum --check)", async () => {
    const lines = readFileSync(join(RELEASE, "SHA256SUMS"), "utf8").trimEnd().split("\n");
    const listed = lines.map((line) => {
      const match = /^[0-9a-f]{64} {2}(\S+)$/.exec(line);
      assert.ok(match, `not a sha256sum line: ${line}`);
      return match[1];
    });
    assert.deepEqual(listed.sort(), EXPECTED_FILES.filter((name) => name !== "SHA256SUMS"));
    // The check users run; it reads every file and names any that differs.
    const check = await runProgram(["sha256sum", "--check", "--strict", "SHA256SUMS"], RELEASE, env);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });

  test("the linux-x64 binaries and the bundle on Deno report the package version and the same commit", async () => {
    assert.equal(stamp.version, PACKAGE_VERSION);
    assert.match(stamp.commit, /^([0-9a-f]{7,}|unknown)$/);
    const baseline = await versionOf([join(RELEASE, "modelswap-linux-x64-baseline")]);
    assert.deepEqual(baseline, { ...stamp, runtime: "bun" });
    const bundle = await versionOf([DENO, "run", "--no-config", "-A", join(RELEASE, "modelswap.js")]);
    assert.deepEqual(bundle, { ...stamp, runtime: "deno" });
  });

  test("the linux-arm64 binary reports the same version under qemu", { skip: emulatorMissing() }, async () => {
    const emulator = arm64Emulator();
    const arm64 = await versionOf([emulator.qemu, join(RELEASE, "modelswap-linux-arm64")], {
      QEMU_LD_PREFIX: emulator.ldPrefix,
    });
    assert.deepEqual(arm64, { ...stamp, runtime: "bun" });
  });

  for (const [name, machine] of [["modelswap-linux-x64", EM_X86_64], ["modelswap-linux-x64-baseline", EM_X86_64], ["modelswap-linux-arm64", EM_AARCH64]] as const) {
    test(`${name} is a 64-bit ELF executable for its CPU`, () => {
      const header = head(join(RELEASE, name), 64);
      assert.deepEqual([...header.subarray(0, 5)], [0x7f, 0x45, 0x4c, 0x46, 2], "ELF magic, 64-bit");
      assert.equal(new DataView(header.buffer, header.byteOffset).getUint16(18, true), machine, "e_machine");
    });
  }

  for (const [name, cpuType] of [["modelswap-darwin-arm64", CPU_TYPE_ARM64], ["modelswap-darwin-x64", CPU_TYPE_X86_64]] as const) {
    test(`${name} is a signed Mach-O executable for its CPU that carries the same version and commit`, () => {
      const bytes = readFileSync(join(RELEASE, name));
      const macho = readMachO(bytes);
      assert.equal(macho.magic, MH_MAGIC_64, "64-bit Mach-O magic");
      assert.equal(macho.cpuType, cpuType, "CPU type");
      assert.equal(macho.fileType, MH_EXECUTE, "an executable");
      assert.ok(macho.segments.includes("__BUN"), `Bun's embedded program segment (segments: ${macho.segments})`);
      assert.ok(macho.signed, "an LC_CODE_SIGNATURE load command");
      assert.ok(containsText(bytes, `"${stamp.version}"`), `the version ${stamp.version} is stamped in`);
      assert.ok(containsText(bytes, `"${stamp.commit}"`), `the commit ${stamp.commit} is stamped in`);
    });
  }
});
