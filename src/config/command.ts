/**
 * Turns a model's `cmd` text into the argv that is executed directly (never
 * through a shell, llama-swap behaviour #15): comment lines and line
 * continuations first, then POSIX shell-word splitting. A pipeline or
 * redirection needs an explicit `sh -c '…'`.
 */

/**
 * Drop lines whose trimmed text starts with '#', join trailing-backslash
 * continuations. Lets a config spread one command over many commented lines;
 * a `#` inside a line is kept (it may be part of an argument).
 */
export function stripCommandComments(cmd: string): string {
  const lines: string[] = [];
  let continued = false;
  for (const line of cmd.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed.startsWith("#")) continue;
    const continues = trimmed.endsWith("\\") && !trimmed.endsWith("\\\\");
    const text = continues ? trimmed.slice(0, -1).trimEnd() : continued ? trimmed : line;
    if (continued) lines[lines.length - 1] += (text === "" ? "" : " " + text);
    else lines.push(text);
    continued = continues;
  }
  return lines.join("\n").trim();
}

/** Characters a backslash escapes inside double quotes (POSIX); elsewhere it stays literal. */
const DOUBLE_QUOTE_ESCAPES = new Set(["$", "`", '"', "\\", "\n"]);

/**
 * POSIX shell-word split (single/double quotes, backslash escapes), no shell
 * is ever run. Throws Error with a clear message on an unterminated quote.
 */
export function splitCommand(cmd: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  while (i < cmd.length) {
    const c = cmd[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = cmd.indexOf("'", i + 1);
      if (end < 0) throw unterminated("single quote (')", cmd, i);
      word += cmd.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < cmd.length && cmd[j] !== '"'; j++) {
        if (cmd[j] === "\\" && j + 1 < cmd.length && DOUBLE_QUOTE_ESCAPES.has(cmd[j + 1])) {
          j++;
          if (cmd[j] !== "\n") word += cmd[j];
        } else {
          word += cmd[j];
        }
      }
      if (j >= cmd.length) throw unterminated('double quote (")', cmd, i);
      inWord = true;
      i = j + 1;
    } else if (c === "\\") {
      if (i + 1 >= cmd.length) {
        throw new Error(`command ends with a lone backslash: ${cmd}\nremove it, or write \\\\ for a literal backslash`);
      }
      if (cmd[i + 1] !== "\n") {
        word += cmd[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

function unterminated(quote: string, cmd: string, at: number): Error {
  return new Error(
    `unterminated ${quote} at character ${at + 1} of command: ${cmd}\nclose the quote, or escape it with a backslash`,
  );
}

/** Quotes one word so that {@link splitCommand} (and a POSIX shell) reads it back unchanged. */
export function quoteShellWord(word: string): string {
  if (/^[A-Za-z0-9_\-+=.,/:@%^]+$/.test(word)) return word;
  return "'" + word.replaceAll("'", `'\\''`) + "'";
}
