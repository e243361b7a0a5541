/**
 * Where a config comes from: the `-config` file and/or every `*.yml` and
 * `*.yaml` file directly in `-config-dir` (not its subdirectories), read in
 * file-name order after `-config`, as llama-swap reads them. Files are read
 * through the functions given, so the config layer stays free of any runtime.
 */
import { ConfigError } from "./issue.ts";
import type { ConfigSource } from "./load.ts";

/** The config locations given on the command line; at least one is set. */
export interface ConfigPaths {
  file: string | null;
  dir: string | null;
}

/** The file access reading a config needs. */
export interface ConfigFiles {
  readTextFile(path: string): Promise<string>;
  /** Names of the entries of a directory. */
  readDir(path: string): Promise<string[]>;
}

/** The paths of the config files among a directory's entry names (`*.yml` and `*.yaml`), sorted by name. */
export function configFilesIn(dir: string, names: string[]): string[] {
  return names.filter((name) => name.endsWith(".yml") || name.endsWith(".yaml")).sort().map((name) => `${dir.replace(/\/+$/, "")}/${name}`);
}

/**
 * The files making up the config, in merge order: `-config`, then the
 * config files of `-config-dir` sorted by name. Throws ConfigError when the
 * directory cannot be read or holds the `-config` file itself.
 */
export async function configFilePaths(paths: ConfigPaths, files: Pick<ConfigFiles, "readDir">): Promise<string[]> {
  if (paths.file === null && paths.dir === null) {
    throw new ConfigError([{ path: "config", message: "no config given: pass -config FILE, -config-dir DIR, or both" }]);
  }
  const list = paths.file === null ? [] : [paths.file];
  if (paths.dir === null) return list;
  let names: string[];
  try {
    names = await files.readDir(paths.dir);
  } catch (error) {
    throw new ConfigError([{ path: "config-dir", message: `cannot read directory ${paths.dir}: ${reasonOf(error)}` }]);
  }
  const inDir = configFilesIn(paths.dir, names);
  if (paths.file !== null && inDir.some((path) => normalise(path) === normalise(paths.file!))) {
    throw new ConfigError([{
      path: "config",
      message: `${paths.file} is also in -config-dir ${paths.dir}, so it would be read twice; move it out of the directory or drop -config`,
    }]);
  }
  return [...list, ...inDir];
}

/**
 * Reads every file of the config, in merge order (see {@link configFilePaths});
 * a subdirectory of `-config-dir` whose name ends in .yaml is skipped.
 */
export async function readConfigSources(paths: ConfigPaths, files: ConfigFiles): Promise<ConfigSource[]> {
  const sources: ConfigSource[] = [];
  for (const path of await configFilePaths(paths, files)) {
    try {
      sources.push({ name: path, text: await files.readTextFile(path) });
    } catch (error) {
      const isDirectory = path !== paths.file && await files.readDir(path).then(() => true, () => false);
      if (!isDirectory) throw new ConfigError([{ path: "config", message: `cannot read ${path}: ${reasonOf(error)}` }]);
    }
  }
  return sources;
}

/** `a/./b//c/../d` → `a/b/d`: enough to tell that two spellings of a path name one file. */
function normalise(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && parts.length > 0 && parts.at(-1) !== "..") parts.pop();
    else parts.push(part);
  }
  return (path.startsWith("/") ? "/" : "") + parts.join("/");
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
