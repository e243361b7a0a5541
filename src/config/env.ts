/**
 * `${env.NAME}` expansion on the raw config text, before YAML parsing (so
 * flow-style `[${env.KEY}]` works), as llama-swap does. References inside
 * YAML comments are left alone.
 */
import { Lexer } from "yaml";

/** One `${env.NAME}` that could not be substituted (left in the text as is). */
export interface EnvProblem {
  name: string;
  /** 1-based line of the reference in the raw text. */
  line: number;
  /** Why, phrased to follow "environment variable 'NAME' ". */
  reason: string;
}

/** Result of {@link expandEnvReferences}. */
export interface EnvExpansion {
  text: string;
  problems: EnvProblem[];
  /** Values substituted (treated as secrets: never logged). */
  values: string[];
}

/** Matches one reference; names follow the usual shell rules. */
const ENV_REFERENCE = /\$\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Substitutes every `${env.NAME}` outside comments with the variable's value.
 * Values are escaped (`\` and `"`) so they are safe inside double-quoted YAML
 * strings; values with a newline, CR or NUL are refused because they would
 * change the YAML structure. Refused and unset references stay in the text
 * and are reported, so the loader can name the key path they sit in.
 */
export function expandEnvReferences(raw: string, env: Record<string, string>): EnvExpansion {
  const comments = commentRanges(raw);
  const problems: EnvProblem[] = [];
  const values = new Set<string>();
  const text = raw.replace(ENV_REFERENCE, (match, name: string, offset: number) => {
    if (comments.some(([start, end]) => offset >= start && offset < end)) return match;
    const value = env[name];
    const reason = value === undefined
      ? "is not set; export it before starting modelswap, or remove the reference"
      : /[\n\r\0]/.test(value)
      ? "contains a newline, carriage return or NUL byte, which cannot be placed in YAML; remove it from the value"
      : undefined;
    if (reason !== undefined) {
      problems.push({ name, line: lineAt(raw, offset), reason });
      return match;
    }
    values.add(value!);
    return value!.replaceAll("\\", "\\\\").replaceAll('"', '\\"');
  });
  return { text, problems, values: [...values] };
}

/** Control tokens the YAML lexer emits that take no room in the source. */
const ZERO_WIDTH_TOKENS = new Set(["\x02", "\x18", "\x1f"]);

/** [start, end) offsets of every YAML comment, found with the YAML lexer (so `#` in strings and block scalars is not a comment). */
function commentRanges(text: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    if (ZERO_WIDTH_TOKENS.has(token)) continue;
    if (token.startsWith("#")) ranges.push([offset, offset + token.length]);
    offset += token.length;
  }
  return ranges;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text[i] === "\n") line++;
  return line;
}
