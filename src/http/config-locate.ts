/**
 * Where in a config file's text a problem is: the loader reports each issue
 * and warning at a key path of the merged tree (`models.qwen2.5.cmd`,
 * `peers.box.models[1]`) or, for YAML syntax and `${env.X}` problems, at
 * `<file>:<line>[:<column>]`. The config editor shows them at their line, so
 * paths are resolved against the YAML document's source ranges. Model ids
 * may contain dots, so a path is matched against the keys that exist rather
 * than split on every dot.
 */
import { type Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import type { ConfigIssue } from "../config/issue.ts";

/** A 1-based line and column in a config file's text. */
export interface TextPosition {
  line: number;
  column: number;
}

/** Where a key path points: the key's position, or its nearest written ancestor's when the key itself is not in the text. */
export interface PathLocation extends TextPosition {
  /** False when only an ancestor was found (a default, a key from a merge `<<:`, or a path the loader built). */
  exact: boolean;
}

/** A config issue or warning as the editor shows it: its text position when it lies in the edited file. */
export interface LocatedIssue extends ConfigIssue {
  /** 1-based, or null when the problem is not in the edited file or has no place in it. */
  line: number | null;
  column: number | null;
  /** The other config file (`--config-dir`) the problem is in, or null. */
  file: string | null;
}

/** A YAML document with the line index its ranges are read through. */
export class ConfigText {
  readonly #document: Document;
  readonly #lines = new LineCounter();

  constructor(text: string) {
    this.#document = parseDocument(text, { lineCounter: this.#lines, merge: true });
  }

  /** The position of `path` (see {@link PathLocation}), or null when not even its first key is in the text. */
  locate(path: string): PathLocation | null {
    let node: unknown = this.#document.contents;
    let rest = path;
    let found: number | null = null;
    while (rest !== "") {
      node = isAlias(node) ? node.resolve(this.#document) : node;
      const step = isSeq(node) ? this.#item(node.items, rest) : isMap(node) ? this.#member(node.items, rest) : null;
      if (step === null) return found === null ? null : { ...this.#position(found), exact: false };
      found = step.offset;
      node = step.node;
      rest = step.rest;
    }
    return found === null ? null : { ...this.#position(found), exact: true };
  }

  /** `[n]` at the start of `rest`: the n-th item. */
  #item(items: unknown[], rest: string): Step | null {
    const match = /^\[(\d+)\]\.?/.exec(rest);
    const item = match ? items[Number(match[1])] : undefined;
    const offset = rangeStart(item);
    if (!match || offset === null) return null;
    return { node: item, offset, rest: rest.slice(match[0].length) };
  }

  /** The longest key of the mapping that `rest` starts with, as a whole segment. */
  #member(pairs: unknown[], rest: string): Step | null {
    let best: { key: string; pair: { key: unknown; value: unknown } } | null = null;
    for (const pair of pairs) {
      if (!isPair(pair) || !isScalar(pair.key)) continue;
      const key = String(pair.key.value);
      const whole = rest === key || rest.startsWith(`${key}.`) || rest.startsWith(`${key}[`);
      if (whole && key.length > (best?.key.length ?? -1)) best = { key, pair };
    }
    const offset = rangeStart(best?.pair.key);
    if (best === null || offset === null) return null;
    const after = rest.slice(best.key.length);
    return { node: best.pair.value, offset, rest: after.startsWith(".") ? after.slice(1) : after };
  }

  #position(offset: number): TextPosition {
    const { line, col } = this.#lines.linePos(offset);
    return { line, column: col };
  }
}

interface Step {
  node: unknown;
  offset: number;
  rest: string;
}

function rangeStart(node: unknown): number | null {
  const range = (node as Node | undefined)?.range;
  return range ? range[0] : null;
}

/**
 * Issues of a merged config placed in the edited file `source` (one of the
 * config's `files`): a `<file>:<line>[:<col>]` path is taken as it is; a key
 * path is looked up in `text`, unless the loader said the key came from
 * another file (`(in <file>)`).
 */
export function locateIssues(issues: ConfigIssue[], text: string, source: string, files: string[] = [source]): LocatedIssue[] {
  let document: ConfigText | null = null;
  return issues.map((issue) => {
    const at = filePosition(issue.path, files);
    if (at) return { ...issue, ...(at.file === source ? { line: at.line, column: at.column, file: null } : { line: null, column: null, file: at.file }) };
    const other = / \(in ([^()]+)\)$/.exec(issue.message)?.[1];
    if (other !== undefined && other !== source) return { ...issue, line: null, column: null, file: other };
    document ??= new ConfigText(text);
    const found = document.locate(issue.path);
    return { ...issue, line: found?.line ?? null, column: found?.column ?? null, file: null };
  });
}

/** `file:12:3` or `file:12` for one of `files` → the file and position; null for a key path. */
function filePosition(path: string, files: string[]): { file: string; line: number; column: number } | null {
  for (const file of files) {
    const match = path.startsWith(`${file}:`) ? /^(\d+)(?::(\d+))?$/.exec(path.slice(file.length + 1)) : null;
    if (match) return { file, line: Number(match[1]), column: match[2] === undefined ? 1 : Number(match[2]) };
  }
  return null;
}

/** A loader warning (`models.x.tll: unknown key; ignored …`) split into its key path and message. */
export function warningIssue(warning: string): ConfigIssue {
  const colon = warning.indexOf(": ");
  const path = colon > 0 ? warning.slice(0, colon) : "";
  return /\s/.test(path) || path === "" ? { path: "", message: warning } : { path, message: warning.slice(colon + 2) };
}
