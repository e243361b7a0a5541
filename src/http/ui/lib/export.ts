/**
 * Tables out of the dashboard: CSV (RFC 4180: quoted when needed, CRLF
 * lines, and cells that a spreadsheet would run as a formula prefixed with
 * `'`) and a GitHub-flavoured Markdown table (pipes escaped, newlines as
 * spaces), for pasting into an issue or a spreadsheet.
 */

/** A table: column titles and rows of cell text. */
export interface Table {
  columns: string[];
  rows: string[][];
}

/** The table as CSV text. */
export function toCsv({ columns, rows }: Table): string {
  return [columns, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function csvCell(text: string): string {
  // A leading = + - @ would be run as a formula by spreadsheets (CSV injection); a number stays a number.
  const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d+(\.\d+)?$/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The table as a Markdown table. */
export function toMarkdown({ columns, rows }: Table): string {
  const line = (cells: string[]) => `| ${cells.map(markdownCell).join(" | ")} |`;
  return [line(columns), `|${columns.map(() => " --- ").join("|")}|`, ...rows.map(line)].join("\n") + "\n";
}

function markdownCell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ") || " ";
}

/** Offer `text` as a file download named `name`. */
export function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
