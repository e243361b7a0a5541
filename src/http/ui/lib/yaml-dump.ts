/**
 * Plain JSON data as YAML text, for showing the effective config in the
 * config's own language. Only what JSON holds (mappings, lists, strings,
 * numbers, booleans, null); strings that could be misread are quoted, and
 * multi-line ones are written as `|` blocks.
 */

const PLAIN_KEY = /^[A-Za-z0-9_][\w.\/-]*$/;
const AMBIGUOUS = /^(?:true|false|yes|no|on|off|null|~|[-+]?[\d.][\d._eE+-]*|0x[\da-fA-F]+|\.inf|-\.inf|\.nan)$/i;

/** `value` as YAML text, ending in a newline. */
export function toYaml(value: unknown): string {
  const lines: string[] = [];
  write(value, 0, lines, null);
  return lines.join("\n") + "\n";
}

/**
 * Write `value` whose nested lines are indented by `indent`; `head` is what
 * precedes it on its first line (`  key:` or `  -`), or null at the top.
 */
function write(value: unknown, indent: number, lines: string[], head: string | null): void {
  const pad = " ".repeat(indent);
  const inline = (text: string) => lines.push(head === null ? pad + text : `${head} ${text}`);
  if (Array.isArray(value)) {
    if (value.length === 0) return void inline("[]");
    if (head !== null) lines.push(head);
    for (const item of value) write(item, indent + 2, lines, `${pad}-`);
    return;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    if (entries.length === 0) return void inline("{}");
    // A mapping in a list starts on the dash's line: `- key: value`.
    const compact = head !== null && head.endsWith("-");
    if (head !== null && !compact) lines.push(head);
    entries.forEach(([key, item], i) => {
      const keyHead = compact && i === 0 ? `${head} ${formatKey(key)}:` : `${pad}${formatKey(key)}:`;
      write(item, indent + 2, lines, keyHead);
    });
    return;
  }
  if (typeof value === "string" && value.includes("\n")) {
    inline(value.endsWith("\n") ? "|" : "|-");
    for (const line of value.replace(/\n$/, "").split("\n")) lines.push(line === "" ? "" : pad + line);
    return;
  }
  inline(scalar(value));
}

function formatKey(key: string): string {
  return PLAIN_KEY.test(key) && !AMBIGUOUS.test(key) ? key : JSON.stringify(key);
}

function scalar(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string") return plainString(value) ? value : JSON.stringify(value);
  return String(value);
}

/** Can `text` be written unquoted and still be read back as this string? */
function plainString(text: string): boolean {
  if (text === "" || text !== text.trim() || AMBIGUOUS.test(text)) return false;
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(text)) return false;
  return !/(: |\s#|:$)/.test(text);
}
