/**
 * Test helpers for Prometheus output: parse the text format back into
 * samples, and run `promtool check metrics` on it. promtool comes from
 * Debian's prometheus package (see .ci/run); set PROMTOOL to its path.
 */
import { existsSync } from "node:fs";
import { runtime } from "../helpers/process.ts";

/** One parsed sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of a text exposition (comments skipped); throws on a line it cannot read. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (const [, key, raw] of (match[2] ?? "").matchAll(labelPattern)) {
      labels[key] = raw.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = match[3] === "+Inf" ? Infinity : match[3] === "-Inf" ? -Infinity : Number(match[3]);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels`, or undefined. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** Path of promtool: $PROMTOOL, the .ci/run location, or null when absent. */
export function promtoolPath(): string | null {
  for (const candidate of [runtime.env("PROMTOOL"), "/tmp/prom/usr/bin/promtool"]) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * Skip reason when promtool is missing locally; in CI a missing promtool
 * is an error (the test must not silently pass), so this throws there.
 */
export function promtoolMissing(): string | false {
  if (promtoolPath()) return false;
  const hint = "promtool not found: run .ci/run, or `apt-get download prometheus && dpkg -x prometheus_*.deb /tmp/prom`, or set PROMTOOL";
  if (runtime.env("CI")) throw new Error(hint);
  return hint;
}

/** Run `promtool check metrics` on `text`; resolves with its exit code and output. */
export async function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const path = promtoolPath();
  if (!path) throw new Error("promtool not found; set PROMTOOL");
  const proc = runtime.spawn({ argv: [path, "check", "metrics"], stdin: "pipe", output: "pipe" });
  const read = async (stream: ReadableStream<Uint8Array> | null) => (stream ? await new Response(stream).text() : "");
  const output = Promise.all([read(proc.stdout), read(proc.stderr)]);
  proc.stdin!.write(text);
  proc.stdin!.close();
  const [status, [stdout, stderr]] = await Promise.all([proc.exited, output]);
  return { code: status.code, output: stdout + stderr };
}
