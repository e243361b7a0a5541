/**
 * The matrix set language: one set's string (e.g. `(g | q) & v`) becomes an
 * expression tree. `|` separates alternatives, `&` combines one choice from
 * each side (binding tighter than `|`), parentheses group and `+name` inlines
 * another set. Syntax errors carry the 1-based column and what was expected
 * there, so a config error can point at the exact character.
 *
 * ```
 * expr  := and ( '|' and )*
 * and   := atom ( '&' atom )*
 * atom  := IDENT | '+' IDENT | '(' expr ')'
 * IDENT := ( letter | digit | '_' | '-' | '.' )+
 * ```
 */

/** A parsed set expression. `column` is 1-based (in characters) in the source string. */
export type SetExpr =
  | { kind: "name"; name: string; column: number }
  | { kind: "ref"; name: string; column: number }
  | { kind: "or"; items: SetExpr[] }
  | { kind: "and"; items: SetExpr[] };

/** A syntax error in a set expression, with the column and what would have been valid there. */
export class SetSyntaxError extends Error {
  /** 1-based character column of the offending token (length + 1 at the end). */
  readonly column: number;
  /** What the parser would have accepted at `column`, in words. */
  readonly expected: string;

  constructor(message: string, column: number, expected: string) {
    super(message);
    this.name = "SetSyntaxError";
    this.column = column;
    this.expected = expected;
  }
}

type TokenKind = "ident" | "+" | "(" | ")" | "|" | "&" | "end";

interface Token {
  kind: TokenKind;
  text: string;
  column: number;
}

const IDENT_CHAR = /[\p{L}\p{N}_.\-]/u;
const SPACE = /\s/u;
const PUNCTUATION = new Set(["+", "(", ")", "|", "&"]);
const ATOM_EXPECTED = "a model name, '+set' or '('";

function tokenize(source: string): Token[] {
  const chars = Array.from(source);
  const tokens: Token[] = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i];
    if (SPACE.test(c)) {
      i++;
    } else if (PUNCTUATION.has(c)) {
      tokens.push({ kind: c as TokenKind, text: c, column: i + 1 });
      i++;
    } else if (IDENT_CHAR.test(c)) {
      const start = i;
      while (i < chars.length && IDENT_CHAR.test(chars[i])) i++;
      tokens.push({ kind: "ident", text: chars.slice(start, i).join(""), column: start + 1 });
    } else {
      const expected = "a model name, '+', '(', ')', '|' or '&'";
      throw new SetSyntaxError(
        `unexpected character '${c}' at column ${i + 1}: expected ${expected} (use a var for model ids with other characters)`,
        i + 1,
        expected,
      );
    }
  }
  tokens.push({ kind: "end", text: "", column: chars.length + 1 });
  return tokens;
}

function describe(token: Token): string {
  return token.kind === "end" ? "the end of the expression" : `'${token.text}'`;
}

/** Parses one set expression; throws SetSyntaxError naming the column and what was expected. */
export function parseSetExpression(source: string): SetExpr {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (): Token => tokens[at];
  const next = (): Token => tokens[at++];

  const unexpected = (token: Token, expected: string): SetSyntaxError =>
    new SetSyntaxError(
      token.kind === "end"
        ? `unexpected end of expression at column ${token.column}: expected ${expected}`
        : `unexpected token '${token.text}' at column ${token.column}: expected ${expected}`,
      token.column,
      expected,
    );

  const parseAtom = (): SetExpr => {
    const token = next();
    if (token.kind === "ident") return { kind: "name", name: token.text, column: token.column };
    if (token.kind === "+") {
      const name = next();
      if (name.kind !== "ident") {
        throw new SetSyntaxError(
          `expected set name after '+' at column ${name.column}, found ${describe(name)}`,
          name.column,
          "a set name",
        );
      }
      return { kind: "ref", name: name.text, column: token.column };
    }
    if (token.kind === "(") {
      const inner = parseOr();
      const close = next();
      if (close.kind === ")") return inner;
      if (close.kind === "end") {
        throw new SetSyntaxError(
          `missing closing parenthesis: '(' at column ${token.column} is not closed; expected ')' at column ${close.column}`,
          close.column,
          "')'",
        );
      }
      throw unexpected(close, "'|', '&' or ')'");
    }
    throw unexpected(token, ATOM_EXPECTED);
  };

  const parseAnd = (): SetExpr => {
    const items = [parseAtom()];
    while (peek().kind === "&") {
      next();
      items.push(parseAtom());
    }
    return items.length === 1 ? items[0] : { kind: "and", items };
  };

  const parseOr = (): SetExpr => {
    const items = [parseAnd()];
    while (peek().kind === "|") {
      next();
      items.push(parseAnd());
    }
    return items.length === 1 ? items[0] : { kind: "or", items };
  };

  if (peek().kind === "end") {
    throw new SetSyntaxError(`empty expression: expected ${ATOM_EXPECTED} at column 1`, 1, ATOM_EXPECTED);
  }
  const expr = parseOr();
  if (peek().kind !== "end") throw unexpected(peek(), "'|', '&' or the end of the expression");
  return expr;
}
