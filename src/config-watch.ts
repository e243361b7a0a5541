/**
 * `--watch-config`: the config's files are polled every 2 s, as llama-swap
 * polls them (OS file events miss editors that save by renaming, and network
 * file systems). A file whose size or modification time changed, a config
 * file added to or removed from `-config-dir`, or the `-config` file coming
 * back changed after it went away triggers a reload; the `-config` file
 * merely missing for a moment (an editor replacing it) does not.
 */
import { type ConfigPaths, configFilesIn } from "./config/sources.ts";
import type { Runtime } from "./runtime/runtime.ts";

/** The file access the watch needs. */
export type WatchedFiles = Pick<Runtime, "stat" | "readDir">;

/** A running watch. */
export interface ConfigWatch {
  /** Resolves once the first look at the files was taken: changes from then on are seen. */
  ready: Promise<void>;
  stop(): void;
}

/** Size and modification time per config file: what a change is measured against. */
type Snapshot = Map<string, string>;

/** Polls the config's files every `intervalMs` and calls `onChange` once per poll that found a change. */
export function watchConfigFiles(files: WatchedFiles, paths: ConfigPaths, onChange: () => void, intervalMs = 2000): ConfigWatch {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let last: Snapshot = new Map();
  const poll = async () => {
    const now = await snapshot(files, paths);
    if (stopped) return;
    if (changed(last, now, paths.file)) onChange();
    // A -config file that is missing right now keeps its last look, so it counts as changed only if it comes back different.
    if (paths.file !== null && !now.has(paths.file) && last.has(paths.file)) now.set(paths.file, last.get(paths.file)!);
    last = now;
    timer = setTimeout(poll, intervalMs);
  };
  const ready = snapshot(files, paths).then((first) => {
    last = first;
    if (!stopped) timer = setTimeout(poll, intervalMs);
  });
  return {
    ready,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

async function snapshot(files: WatchedFiles, paths: ConfigPaths): Promise<Snapshot> {
  const list = paths.file === null ? [] : [paths.file];
  if (paths.dir !== null) list.push(...configFilesIn(paths.dir, await files.readDir(paths.dir).catch(() => [])));
  const looks: Snapshot = new Map();
  for (const path of list) {
    const stat = await files.stat(path);
    if (stat) looks.set(path, `${stat.size}:${stat.mtimeMs}`);
  }
  return looks;
}

function changed(before: Snapshot, now: Snapshot, configFile: string | null): boolean {
  for (const [path, look] of now) if (before.get(path) !== look) return true;
  for (const path of before.keys()) if (!now.has(path) && path !== configFile) return true;
  return false;
}
