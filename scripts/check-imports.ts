/**
 * Checks that imports inside `src/` point down (see "Imports point down" in
 * the design): no import cycles, type-only ones included, and no edge across
 * a forbidden layer boundary (`upstream` and `config` never reach into the
 * scheduler, `config` stays out of `upstream` and `http`, and the scheduler
 * imports only its own files). `npm run check` runs it.
 *
 *   bun scripts/check-imports.ts [root]
 *   deno run -A scripts/check-imports.ts [root]
 *
 * `root` is the repository to check (default: the one holding this script);
 * its `src/**.ts` files are read. Exits 1 with one line per problem, else
 * prints one OK line. {@link checkImports} is the pure part, for tests.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, posix, relative, sep } from "node:path";
import process from "node:process";

/** One module specifier found in a source file. */
export interface ImportRef {
  /** The specifier exactly as written (`"./effects.ts"`, `"hono"`). */
  specifier: string;
  /** 1-based line of the `import`/`export` keyword. */
  line: number;
  /** True for `import type`, `export type`, all-`type` named lists and `typeof import("…")`. */
  typeOnly: boolean;
}

/** What {@link checkImports} found. */
export interface ImportReport {
  /** One line per problem, naming the files; empty when the graph is clean. */
  problems: string[];
  /** How many source files were read. */
  files: number;
  /** How many distinct file → file import edges inside the checked files there are. */
  edges: number;
}

/** A layer boundary: files under `from` must not import the files `forbids` accepts. */
interface LayerRule {
  from: string;
  forbids(target: string): boolean;
  why: string;
}

/** The boundaries of "Imports point down" that the checker enforces. */
const LAYER_RULES: readonly LayerRule[] = [
  {
    from: "src/upstream/",
    forbids: (target) => target.startsWith("src/scheduler/"),
    why: "src/upstream/ must not import src/scheduler/",
  },
  {
    from: "src/config/",
    forbids: (target) => ["src/scheduler/", "src/upstream/", "src/http/"].some((dir) => target.startsWith(dir)),
    why: "src/config/ must not import src/scheduler/, src/upstream/ or src/http/",
  },
  {
    from: "src/scheduler/",
    forbids: (target) => !target.startsWith("src/scheduler/"),
    why: "src/scheduler/ is pure and imports only its own files",
  },
];

/** More cycles than this are summarised rather than listed. */
const MAX_CYCLES = 50;

// ---------------------------------------------------------------------------
// Tokenizer: just enough JavaScript/TypeScript lexing to skip comments,
// strings, template literals and regular expressions.

interface Token {
  kind: "word" | "punct" | "string" | "template" | "regex";
  text: string;
  /** The decoded value of a string (or substitution-free template) literal. */
  value?: string;
  line: number;
}

/** Words after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER_WORDS = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

function isWordChar(ch: string): boolean {
  const code = ch.charCodeAt(0);
  if (code < 128) {
    return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || ch === "_" ||
      ch === "$";
  }
  return /[\p{ID_Continue}\u200c\u200d]/u.test(ch);
}

function regexAllowedAfter(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === "word") return REGEX_AFTER_WORDS.has(prev.text);
  if (prev.kind === "punct") return prev.text !== ")" && prev.text !== "]" && prev.text !== "}";
  return false;
}

function unescape(raw: string): string {
  return raw.replace(/\\(.)/gs, "$1");
}

/** Split source text into tokens, dropping comments and whitespace. */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  /** One entry per open `{` (false) or open template substitution `${` (true). */
  const braces: boolean[] = [];
  let line = 1;
  let i = source.startsWith("#!") ? source.indexOf("\n") : 0;
  if (i < 0) return tokens;
  const n = source.length;

  /** Scan template characters from `i` (just after "`" or a substitution's "}") to its end or next "${". */
  const scanTemplate = (startLine: number): void => {
    let raw = "";
    while (i < n) {
      const ch = source[i];
      if (ch === "\\") {
        raw += source.slice(i, i + 2);
        if (source[i + 1] === "\n") line++;
        i += 2;
      } else if (ch === "`") {
        i++;
        tokens.push({ kind: "template", text: "`", value: unescape(raw), line: startLine });
        return;
      } else if (ch === "$" && source[i + 1] === "{") {
        i += 2;
        braces.push(true);
        tokens.push({ kind: "punct", text: "${", line: startLine });
        return;
      } else {
        if (ch === "\n") line++;
        raw += ch;
        i++;
      }
    }
  };

  while (i < n) {
    const ch = source[i];
    const next = source[i + 1];
    if (ch === "\n") {
      line++;
      i++;
    } else if (ch === " " || ch === "\t" || ch === "\r" || ch === "\f" || ch === "\v" || ch === "\uFEFF") {
      i++;
    } else if (ch === "/" && next === "/") {
      const end = source.indexOf("\n", i);
      i = end < 0 ? n : end;
    } else if (ch === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (source[k] === "\n") line++;
      i = stop;
    } else if (ch === "'" || ch === '"') {
      const startLine = line;
      let k = i + 1;
      while (k < n && source[k] !== ch && source[k] !== "\n") k += source[k] === "\\" ? 2 : 1;
      const raw = source.slice(i + 1, Math.min(k, n));
      for (const c of raw) if (c === "\n") line++; // escaped line continuations
      tokens.push({ kind: "string", text: ch, value: unescape(raw), line: startLine });
      i = k + 1;
    } else if (ch === "`") {
      i++;
      const startLine = line;
      // A template that closes without a substitution is a plain string literal.
      const before = tokens.length;
      scanTemplate(startLine);
      const last = tokens[before];
      if (last && last.kind === "template" && tokens.length === before + 1) last.kind = "string";
    } else if (ch === "/" && regexAllowedAfter(tokens.at(-1))) {
      let k = i + 1;
      let inClass = false;
      while (k < n && source[k] !== "\n") {
        const c = source[k];
        if (c === "\\") k++;
        else if (c === "[") inClass = true;
        else if (c === "]") inClass = false;
        else if (c === "/" && !inClass) break;
        k++;
      }
      k++;
      while (k < n && isWordChar(source[k])) k++; // flags
      tokens.push({ kind: "regex", text: "/", line });
      i = k;
    } else if (isWordChar(ch)) {
      let k = i + 1;
      while (k < n && isWordChar(source[k])) k++;
      tokens.push({ kind: "word", text: source.slice(i, k), line });
      i = k;
    } else if (ch === "{") {
      braces.push(false);
      tokens.push({ kind: "punct", text: ch, line });
      i++;
    } else if (ch === "}") {
      i++;
      if (braces.pop()) {
        scanTemplate(line); // back inside a template literal
      } else {
        tokens.push({ kind: "punct", text: ch, line });
      }
    } else {
      tokens.push({ kind: "punct", text: ch, line });
      i++;
    }
  }
  return tokens;
}

// ---------------------------------------------------------------------------
// Import extraction

function isPunct(token: Token | undefined, text: string): boolean {
  return token?.kind === "punct" && token.text === text;
}

function isWord(token: Token | undefined, text: string): boolean {
  return token?.kind === "word" && token.text === text;
}

/**
 * Parse an import/export clause starting at `start` (after `import`/`export`)
 * up to `from "x"`. Returns null when the tokens are not such a clause
 * (`export const …`, `import x = require(…)`, `{ import: 1 }`).
 */
function parseClause(tokens: Token[], start: number): { specifier: string; typeOnly: boolean } | null {
  let k = start;
  let statementType = false;
  const afterType = tokens[k + 1];
  if (
    isWord(tokens[k], "type") &&
    (isPunct(afterType, "{") || isPunct(afterType, "*") ||
      (afterType?.kind === "word" && !(afterType.text === "from" && tokens[k + 2]?.kind === "string")))
  ) {
    statementType = true;
    k++;
  }
  const first = tokens[k];
  if (!(isPunct(first, "{") || isPunct(first, "*") || first?.kind === "word")) return null;

  let depth = 0;
  let valueBinding = false; // a default or namespace binding, or `export *`
  const entries: Token[][] = [];
  let entry: Token[] = [];
  for (; k < tokens.length; k++) {
    const token = tokens[k];
    if (depth === 0 && isWord(token, "from") && tokens[k + 1]?.kind === "string") {
      const typeOnly = statementType ||
        (!valueBinding && entries.length > 0 &&
          entries.every((e) => e[0].text === "type" && e.length !== 1 && e.length !== 3));
      return { specifier: tokens[k + 1].value!, typeOnly };
    }
    if (isPunct(token, "{")) {
      if (depth > 0) return null;
      depth++;
    } else if (isPunct(token, "}")) {
      if (depth === 0) return null;
      depth--;
      if (entry.length) entries.push(entry);
      entry = [];
    } else if (isPunct(token, ",")) {
      if (depth > 0 && entry.length) entries.push(entry);
      entry = [];
    } else if (isPunct(token, "*")) {
      if (depth > 0) return null;
      valueBinding = true;
    } else if (token.kind === "word" || (token.kind === "string" && depth > 0)) {
      if (depth > 0) entry.push(token);
      else if (token.text !== "as") valueBinding = true;
    } else {
      return null;
    }
  }
  return null;
}

/**
 * Every module specifier that `source` imports or re-exports: static
 * `import … from`, `import type`, `export … from`, side-effect `import "x"`
 * and `import("x")` with a literal argument. Comments and string contents
 * are never mistaken for imports.
 */
export function extractImports(source: string): ImportRef[] {
  const tokens = tokenize(source);
  const refs: ImportRef[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (token.kind !== "word" || (token.text !== "import" && token.text !== "export")) continue;
    const prev = tokens[i - 1];
    if (isPunct(prev, ".")) continue; // a property: `x.import(…)`
    const next = tokens[i + 1];
    if (token.text === "import") {
      if (isPunct(next, "(")) {
        const arg = tokens[i + 2];
        if (arg?.kind === "string" && (isPunct(tokens[i + 3], ")") || isPunct(tokens[i + 3], ","))) {
          refs.push({ specifier: arg.value!, line: token.line, typeOnly: isWord(prev, "typeof") });
        }
        continue;
      }
      if (isPunct(next, ".")) continue; // import.meta
      if (next?.kind === "string") {
        refs.push({ specifier: next.value!, line: token.line, typeOnly: false });
        continue;
      }
      const clause = parseClause(tokens, i + 1);
      if (clause) refs.push({ ...clause, line: token.line });
    } else {
      const k = isWord(next, "type") ? i + 2 : i + 1;
      if (!isPunct(tokens[k], "{") && !isPunct(tokens[k], "*")) continue; // export const/default/…
      const clause = parseClause(tokens, i + 1);
      if (clause) refs.push({ ...clause, line: token.line });
    }
  }
  return refs;
}

// ---------------------------------------------------------------------------
// Graph checks

interface Edge {
  line: number;
  typeOnly: boolean;
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../");
}

/** Every elementary cycle (Johnson's algorithm), each once, starting at its smallest file. */
function findCycles(graph: Map<string, Map<string, Edge>>, limit: number): { cycles: string[][]; truncated: boolean } {
  const nodes = [...graph.keys()].sort();
  const order = new Map(nodes.map((node, index) => [node, index]));
  const cycles: string[][] = [];
  for (const start of nodes) {
    const min = order.get(start)!;
    const successors = (v: string) => [...graph.get(v)!.keys()].filter((w) => order.get(w)! >= min).sort();
    const blocked = new Set<string>();
    const blockedBy = new Map<string, Set<string>>();
    const stack: string[] = [];
    const unblock = (v: string): void => {
      blocked.delete(v);
      const waiting = blockedBy.get(v);
      blockedBy.delete(v);
      for (const w of waiting ?? []) if (blocked.has(w)) unblock(w);
    };
    const circuit = (v: string): boolean => {
      let found = false;
      stack.push(v);
      blocked.add(v);
      for (const w of successors(v)) {
        if (cycles.length >= limit) break;
        if (w === start) {
          cycles.push([...stack, start]);
          found = true;
        } else if (!blocked.has(w) && circuit(w)) {
          found = true;
        }
      }
      if (found) {
        unblock(v);
      } else {
        for (const w of successors(v)) {
          if (!blockedBy.has(w)) blockedBy.set(w, new Set());
          blockedBy.get(w)!.add(v);
        }
      }
      stack.pop();
      return found;
    };
    circuit(start);
    if (cycles.length >= limit) return { cycles, truncated: true };
  }
  return { cycles, truncated: false };
}

/**
 * Check the import graph of `sources` (repository-relative path such as
 * `src/config/load.ts` → its text): relative imports must resolve to one of
 * the given files, there must be no cycle, and no edge may cross a layer
 * boundary of the design. Pure: reads nothing from disk.
 */
export function checkImports(sources: ReadonlyMap<string, string> | Readonly<Record<string, string>>): ImportReport {
  const files = sources instanceof Map
    ? new Map(sources as ReadonlyMap<string, string>)
    : new Map(Object.entries(sources));
  const graph = new Map<string, Map<string, Edge>>();
  const problems: string[] = [];
  const layerProblems: string[] = [];

  for (const file of [...files.keys()].sort()) graph.set(file, new Map());
  for (const [file, edges] of graph) {
    for (const ref of extractImports(files.get(file)!)) {
      if (!isRelative(ref.specifier)) continue; // npm packages, node:*, bun:*
      const target = posix.normalize(posix.join(posix.dirname(file), ref.specifier));
      const extension = posix.extname(target);
      if (extension === "") {
        problems.push(`${file}:${ref.line}: "${ref.specifier}" has no extension; write the .ts file name`);
        continue;
      }
      if (extension !== ".ts") continue; // data files (.json, .html) are not modules of the graph
      if (!files.has(target)) {
        problems.push(`${file}:${ref.line}: "${ref.specifier}" resolves to ${target}, which is not a checked .ts file`);
        continue;
      }
      const edge = edges.get(target);
      if (edge) edge.typeOnly &&= ref.typeOnly;
      else edges.set(target, { line: ref.line, typeOnly: ref.typeOnly });
    }
  }

  let edgeCount = 0;
  for (const [file, edges] of graph) {
    edgeCount += edges.size;
    for (const [target, edge] of [...edges].sort(([a], [b]) => a < b ? -1 : 1)) {
      for (const rule of LAYER_RULES) {
        if (file.startsWith(rule.from) && rule.forbids(target)) {
          const kind = edge.typeOnly ? " (type-only)" : "";
          layerProblems.push(`forbidden import: ${file}:${edge.line} → ${target}${kind}: ${rule.why}`);
        }
      }
    }
  }

  const { cycles, truncated } = findCycles(graph, MAX_CYCLES);
  const cycleProblems = cycles.map((cycle) => {
    // Name the type-only links: moving such a type is often the cheapest cut.
    const links = cycle.slice(1).map((to, index) => ({ from: cycle[index], to }));
    const typeLinks = links.filter(({ from, to }) => graph.get(from)!.get(to)!.typeOnly);
    const note = typeLinks.length === links.length
      ? " (type-only)"
      : typeLinks.length > 0
      ? ` (type-only link${typeLinks.length > 1 ? "s" : ""}: ${typeLinks.map((l) => `${l.from} → ${l.to}`).join(", ")})`
      : "";
    return `import cycle: ${cycle.join(" → ")}${note}`;
  });
  if (truncated) cycleProblems.push(`import cycle: stopped listing after ${MAX_CYCLES} cycles; fix these and run again to see the rest`);

  return { problems: [...problems, ...layerProblems, ...cycleProblems], files: files.size, edges: edgeCount };
}

// ---------------------------------------------------------------------------
// CLI

/** Every `.ts` file under `root/src`, keyed by its `/`-separated path relative to `root`. */
export function readSources(root: string): Map<string, string> {
  const sources = new Map<string, string>();
  const walk = (dir: string): void => {
    const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name < b.name ? -1 : 1);
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name.endsWith(".ts")) {
        sources.set(relative(root, path).split(sep).join("/"), readFileSync(path, "utf8"));
      }
    }
  };
  walk(join(root, "src"));
  return sources;
}

if (import.meta.main) {
  const root = process.argv[2] ?? join(import.meta.dirname!, "..");
  const report = checkImports(readSources(root));
  if (report.problems.length === 0) {
    console.log(`check-imports: OK (${report.files} files, ${report.edges} import edges; no cycles, no forbidden layer edges)`);
  } else {
    for (const problem of report.problems) console.error(problem);
    console.error(
      `check-imports: ${report.problems.length} problem(s) in ${report.files} files, ${report.edges} import edges; ` +
        `imports must point down (see "Imports point down" in the design)`,
    );
    process.exitCode = 1;
  }
}
