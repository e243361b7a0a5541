/**
 * The arm64 emulator the release tests run `modelswap-linux-arm64` with:
 * Debian's `qemu-aarch64-static` and an arm64 C library for it to load
 * programs with (`QEMU_LD_PREFIX`: a directory holding
 * `lib/ld-linux-aarch64.so.1`, e.g. Debian's libc6:arm64 unpacked). .ci/run
 * unpacks both into /tmp/release-tools; in CI their absence fails the tests
 * (they must not pass by skipping), elsewhere the tests are skipped.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { runtime } from "../helpers/process.ts";

/** Where .ci/run unpacks the emulator and the arm64 C library. */
const CI_TOOLS = "/tmp/release-tools";

/** How to get the tools, for error and skip messages. */
const HINT = "run .ci/run (its release-tools block unpacks Debian's qemu-user-static and libc6:arm64 into " +
  `${CI_TOOLS}), or set QEMU_AARCH64_STATIC and QEMU_LD_PREFIX`;

/** The emulator and the directory it loads arm64 libraries from. */
export interface Arm64Emulator {
  qemu: string;
  ldPrefix: string;
}

function firstExisting(candidates: (string | undefined)[]): string | null {
  return candidates.find((path): path is string => !!path && existsSync(path)) ?? null;
}

/** The emulator, or a sentence saying what is missing and how to get it. */
function locate(): Arm64Emulator | string {
  const onPath = (runtime.env("PATH") ?? "").split(":").filter(Boolean).map((dir) => join(dir, "qemu-aarch64-static"));
  const qemu = firstExisting([runtime.env("QEMU_AARCH64_STATIC"), join(CI_TOOLS, "usr/bin/qemu-aarch64-static"), ...onPath]);
  const ldPrefix = [runtime.env("QEMU_LD_PREFIX"), join(CI_TOOLS, "arm64")]
    .find((dir) => !!dir && existsSync(join(dir, "lib/ld-linux-aarch64.so.1")));
  if (!qemu) return `qemu-aarch64-static not found: ${HINT}`;
  if (!ldPrefix) return `no arm64 C library (lib/ld-linux-aarch64.so.1 under QEMU_LD_PREFIX) found: ${HINT}`;
  return { qemu, ldPrefix };
}

/**
 * Skip reason for tests that need the emulator: false when it is there, and
 * false in CI too, so that there the test runs and {@link arm64Emulator} fails it.
 */
export function emulatorMissing(): string | false {
  const found = locate();
  return typeof found === "string" && !runtime.env("CI") ? found : false;
}

/** The emulator; throws saying what is missing and how to get it. */
export function arm64Emulator(): Arm64Emulator {
  const found = locate();
  if (typeof found === "string") throw new Error(found);
  return found;
}
