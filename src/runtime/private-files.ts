/**
 * Files only this user may touch: the directory that holds the router's
 * spawn records is checked before it is trusted (the router kills what the
 * records name), and records are created without ever following a link
 * another user could have planted. Plain `node:fs`, the same on Bun and Deno.
 */
import { constants } from "node:fs";
import { chmod, lstat, mkdir, open, readdir } from "node:fs/promises";
import process from "node:process";

/** The directory cannot be trusted with private files; the message says why and what to do. */
export class UnsafeDirectoryError extends Error {
  constructor(dir: string, problem: string) {
    super(
      `${dir} ${problem}; it holds the spawn records modelswap uses to stop upstreams a crashed run left behind, ` +
        `so it must be a directory owned by this user (uid ${uid()}) that no one else can read or write. ` +
        `Remove it, or set XDG_RUNTIME_DIR to a private directory.`,
    );
    this.name = "UnsafeDirectoryError";
  }
}

function uid(): number {
  return process.getuid?.() ?? -1;
}

/**
 * Make sure `dir` exists and is private: created with mode 0700 when
 * missing; refused (UnsafeDirectoryError) when it is a link, not a
 * directory, owned by another user, or writable by the group or others
 * (someone else may have put files in it). Our own directory that others
 * could only read (as earlier versions made it) is narrowed to 0700.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "EEXIST") throw error;
  });
  const info = await lstat(dir);
  if (info.isSymbolicLink()) throw new UnsafeDirectoryError(dir, "is a symbolic link");
  if (!info.isDirectory()) throw new UnsafeDirectoryError(dir, "is not a directory");
  if (info.uid !== uid()) throw new UnsafeDirectoryError(dir, `is owned by uid ${info.uid}`);
  if ((info.mode & 0o022) !== 0) throw new UnsafeDirectoryError(dir, `has mode ${(info.mode & 0o777).toString(8)}`);
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

/** Write `text` to a file that must not exist yet (never an existing file, never through a link), mode 0600. */
export async function writeNewFile(path: string, text: string): Promise<void> {
  const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await file.writeFile(text);
  } finally {
    await file.close();
  }
}

/** Names of the regular files in `dir` owned by this user (links and other users' files left out); [] when it is missing. */
export async function ownedFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const owned: string[] = [];
  for (const name of names) {
    const info = await lstat(`${dir}/${name}`).catch(() => null);
    if (info?.isFile() && info.uid === uid()) owned.push(name);
  }
  return owned;
}
