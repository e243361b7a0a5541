/**
 * The `-config` file as the config editor reads and replaces it. Its
 * version is the hash of its content (the editor's ETag), so a change made
 * by anyone else between opening and applying is seen however it was made.
 * A new version is written to a private temporary file beside it (created
 * afresh, never through a link) and renamed over it, so a reader or a crash
 * sees the old file or the new one, never half of one; the previous version
 * is kept as `<file>.bak` the same way.
 */
import { ModelswapError } from "../errors.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { writeNewFile } from "../runtime/private-files.ts";

/** Largest config file the editor reads or writes, in bytes (a large real config is a few dozen KiB). */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The file access the editor needs. */
export type ConfigFileAccess = Pick<Runtime, "readTextFile" | "rename" | "remove" | "stat" | "pid">;

/** One version of the file. */
export interface ConfigVersion {
  text: string;
  /** Quoted content hash, as an HTTP ETag. */
  etag: string;
}

/** The quoted SHA-256 (first 128 bits, hex) of `text`: the version an editor sends back in `If-Match`. */
export async function contentTag(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return `"${[...digest.slice(0, 16)].map((byte) => byte.toString(16).padStart(2, "0")).join("")}"`;
}

/** The `-config` file: read with its version, replaced atomically with a backup. */
export class ConfigFile {
  readonly path: string;
  readonly #files: ConfigFileAccess;
  #temporaries = 0;

  constructor(path: string, files: ConfigFileAccess) {
    this.path = path;
    this.#files = files;
  }

  /** Where the previous version is kept. */
  get backupPath(): string {
    return `${this.path}.bak`;
  }

  /** The file now. Throws a 500 naming the file when it cannot be read or is too large. */
  async read(): Promise<ConfigVersion> {
    let text: string;
    try {
      const info = await this.#files.stat(this.path);
      if (info !== null && info.size > MAX_CONFIG_BYTES) {
        throw new ModelswapError(500, "config_too_large", `${this.path} is ${info.size} bytes; the config editor handles files up to ${MAX_CONFIG_BYTES} bytes`);
      }
      text = await this.#files.readTextFile(this.path);
    } catch (error) {
      if (error instanceof ModelswapError) throw error;
      throw new ModelswapError(500, "config_unreadable", `cannot read ${this.path}: ${reasonOf(error)}`);
    }
    return { text, etag: await contentTag(text) };
  }

  /**
   * Replace the file with `text` if it is still at version `expected`
   * (else a 409 naming the file). Returns the previous version, now also
   * at {@link backupPath}.
   */
  async replace(text: string, expected: string): Promise<ConfigVersion> {
    const previous = await this.read();
    if (previous.etag !== expected) throw changedOnDisk(this.path);
    await this.#writeOver(this.backupPath, previous.text);
    // Checked again just before the rename: the window for another writer is the rename itself.
    if ((await this.read()).etag !== expected) throw changedOnDisk(this.path);
    await this.#writeOver(this.path, text);
    return previous;
  }

  /** Put `text` back (after a reload refused what was written). */
  restore(text: string): Promise<void> {
    return this.#writeOver(this.path, text);
  }

  /** Write `text` to a new private file in the same directory, then rename it over `target`. */
  async #writeOver(target: string, text: string): Promise<void> {
    const slash = target.lastIndexOf("/");
    const temporary = `${target.slice(0, slash + 1)}.${target.slice(slash + 1)}.${this.#files.pid}-${++this.#temporaries}-${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await writeNewFile(temporary, text);
      await this.#files.rename(temporary, target);
    } catch (error) {
      await this.#files.remove(temporary).catch(() => {});
      throw new ModelswapError(
        500,
        "config_write_failed",
        `cannot write ${target}: ${reasonOf(error)}; the config editor needs write access to the config file's directory (it writes a new file and renames it over the old one)`,
      );
    }
  }
}

function changedOnDisk(path: string): ModelswapError {
  return new ModelswapError(
    409,
    "config_changed_on_disk",
    `${path} changed on disk since it was opened in the editor; open it again (your edit is still in the editor) and apply once more`,
  );
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
