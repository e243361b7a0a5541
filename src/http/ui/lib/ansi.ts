/**
 * ANSI colours in log text (llama-server and many tools colour their
 * output): SGR sequences (`ESC[…m`) become styled segments; every other
 * escape sequence is dropped. The 16 basic colours map to classes, so each
 * theme picks readable shades; 256-colour and true-colour codes become
 * inline colours.
 */

/** A run of text with one style. */
export interface AnsiSegment {
  text: string;
  /** Space-separated classes (`ansi-fg-1 ansi-bold`), or "". */
  classes: string;
  /** Inline CSS for 256-colour and RGB codes, or "". */
  style: string;
}

interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
}

// deno-lint-ignore no-control-regex
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

const PLAIN: Style = { fg: null, bg: null, bold: false, dim: false, italic: false, underline: false };

/** Split `text` into styled segments (adjacent segments of one style merged). */
export function parseAnsi(text: string): AnsiSegment[] {
  const segments: AnsiSegment[] = [];
  let style = PLAIN;
  let at = 0;
  const push = (piece: string) => {
    if (!piece) return;
    const { classes, css } = render(style);
    const last = segments.at(-1);
    if (last && last.classes === classes && last.style === css) last.text += piece;
    else segments.push({ text: piece, classes, style: css });
  };
  for (const match of text.matchAll(ESCAPE)) {
    push(text.slice(at, match.index));
    at = match.index + match[0].length;
    if (match[2] === "m") style = applySgr(style, match[1]);
  }
  push(text.slice(at));
  return segments;
}

/** `text` without any escape sequence. */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE, "");
}

function applySgr(current: Style, parameters: string): Style {
  const codes = parameters === "" ? [0] : parameters.split(";").map((code) => Number(code) || 0);
  let style = { ...current };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) style = { ...PLAIN };
    else if (code === 1) style.bold = true;
    else if (code === 2) style.dim = true;
    else if (code === 3) style.italic = true;
    else if (code === 4) style.underline = true;
    else if (code === 22) style.bold = style.dim = false;
    else if (code === 23) style.italic = false;
    else if (code === 24) style.underline = false;
    else if (code >= 30 && code <= 37) style.fg = String(code - 30);
    else if (code >= 90 && code <= 97) style.fg = String(code - 90 + 8);
    else if (code >= 40 && code <= 47) style.bg = String(code - 40);
    else if (code >= 100 && code <= 107) style.bg = String(code - 100 + 8);
    else if (code === 39) style.fg = null;
    else if (code === 49) style.bg = null;
    else if (code === 38 || code === 48) {
      const [color, used] = extendedColor(codes, i + 1);
      if (code === 38) style.fg = color;
      else style.bg = color;
      i += used;
    }
  }
  return style;
}

/** `5;n` or `2;r;g;b` after 38/48: the colour (a basic index as text, or CSS) and how many codes it used. */
function extendedColor(codes: number[], from: number): [string | null, number] {
  if (codes[from] === 5 && from + 1 < codes.length) {
    const n = codes[from + 1];
    return [n < 16 ? String(n) : css256(n), 2];
  }
  if (codes[from] === 2 && from + 3 < codes.length) {
    const [r, g, b] = codes.slice(from + 1, from + 4).map((v) => Math.min(255, v));
    return [`rgb(${r},${g},${b})`, 4];
  }
  return [null, 0];
}

/** Colours 16–255 of the xterm palette. */
function css256(n: number): string {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return `rgb(${level},${level},${level})`;
  }
  const cube = n - 16;
  const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
  return `rgb(${level(Math.floor(cube / 36))},${level(Math.floor(cube / 6) % 6)},${level(cube % 6)})`;
}

function render(style: Style): { classes: string; css: string } {
  const classes: string[] = [];
  const css: string[] = [];
  const color = (value: string | null, kind: "fg" | "bg") => {
    if (value === null) return;
    if (/^\d+$/.test(value)) classes.push(`ansi-${kind}-${value}`);
    else css.push(`${kind === "fg" ? "color" : "background-color"}:${value}`);
  };
  color(style.fg, "fg");
  color(style.bg, "bg");
  if (style.bold) classes.push("ansi-bold");
  if (style.dim) classes.push("ansi-dim");
  if (style.italic) classes.push("ansi-italic");
  if (style.underline) classes.push("ansi-underline");
  return { classes: classes.join(" "), css: css.join(";") };
}
