/**
 * A line-by-line YAML tokenizer for highlighting (the config view and the
 * editor): keys, values, strings, numbers and booleans, comments, anchors,
 * aliases and tags, and block scalars (`cmd: |` lines are text, where `#`
 * is no comment). It never fails: text it does not understand is a plain
 * value. The pieces of a line always add up to the line, so the
 * highlighted copy lines up with the editor's text character for character.
 */

/** What a piece of a line is. */
export type YamlKind = "key" | "string" | "literal" | "value" | "comment" | "meta" | "punct" | "text" | "space";

/** A piece of a line. */
export interface YamlToken {
  text: string;
  kind: YamlKind;
}

const KEY = /^((?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\-?:,[\]{}&*!|>%@`][^#]*?|-[^\s#][^#]*?))(\s*:)(?=\s|$)/;
const LITERAL = /^(?:true|false|yes|no|on|off|null|~|-?\d[\d_]*(?:\.\d+)?(?:e[+-]?\d+)?|0x[\da-f]+|\.inf|-\.inf|\.nan)$/i;

/** Tokens of every line of `text` (split on `\n`). */
export function tokenizeYaml(text: string): YamlToken[][] {
  const lines = text.split("\n");
  const out: YamlToken[][] = [];
  // Indentation of the key that opened a block scalar (`key: |`), or -1 outside one.
  let blockParent = -1;
  for (const line of lines) {
    const indent = line.length - line.trimStart().length;
    if (blockParent >= 0 && (line.trim() === "" || indent > blockParent)) {
      out.push(line ? [{ text: line, kind: "text" }] : []);
      continue;
    }
    blockParent = -1;
    const { tokens, opensBlock } = tokenizeLine(line);
    if (opensBlock) blockParent = indent;
    out.push(tokens);
  }
  return out;
}

function tokenizeLine(line: string): { tokens: YamlToken[]; opensBlock: boolean } {
  const tokens: YamlToken[] = [];
  let rest = line;
  const take = (length: number, kind: YamlKind) => {
    if (length > 0) tokens.push({ text: rest.slice(0, length), kind });
    rest = rest.slice(length);
  };
  take(rest.length - rest.trimStart().length, "space");
  if (rest.startsWith("#")) {
    take(rest.length, "comment");
    return { tokens, opensBlock: false };
  }
  if (/^(---|\.\.\.)(\s|$)/.test(rest)) {
    take(3, "punct");
  }
  // List markers: `- `, possibly several (`- - a`).
  for (let marker = /^-(\s+|$)/.exec(rest); marker; marker = /^-(\s+|$)/.exec(rest)) {
    take(1, "punct");
    take(marker[1].length, "space");
  }
  const key = KEY.exec(rest);
  if (key) {
    take(key[1].length, "key");
    const colon = key[2];
    take(colon.length - 1, "space");
    take(1, "punct");
  }
  return { tokens: [...tokens, ...valueTokens(rest)], opensBlock: /(^|\s)[|>][+-]?\d?\s*(#.*)?$/.test(rest) && !/^\s*["']/.test(rest) };
}

/** A value and its trailing comment. */
function valueTokens(text: string): YamlToken[] {
  const tokens: YamlToken[] = [];
  let rest = text;
  const take = (length: number, kind: YamlKind) => {
    if (length > 0) tokens.push({ text: rest.slice(0, length), kind });
    rest = rest.slice(length);
  };
  while (rest.length > 0) {
    const space = rest.length - rest.trimStart().length;
    if (space > 0) {
      take(space, "space");
      continue;
    }
    if (rest.startsWith("#")) {
      take(rest.length, "comment");
      break;
    }
    const quoted = /^("(?:[^"\\]|\\.)*"?|'(?:[^']|'')*'?)/.exec(rest);
    if (quoted) {
      take(quoted[1].length, "string");
      continue;
    }
    const meta = /^[&*!][^\s,[\]{}]*/.exec(rest);
    if (meta) {
      take(meta[0].length, "meta");
      continue;
    }
    const punct = /^([[\]{},]|[|>][+-]?\d?(?=\s|$))/.exec(rest);
    if (punct) {
      take(punct[0].length, "punct");
      continue;
    }
    // A plain scalar runs to a comment (` #`) or the end of the line.
    const end = rest.search(/\s#/);
    const piece = (end < 0 ? rest : rest.slice(0, end)).trimEnd();
    take(piece.length, LITERAL.test(piece) ? "literal" : "value");
  }
  return tokens;
}
