/**
 * A YAML editor without an editor library: a plain textarea (so typing,
 * selection, undo, spell-check off and screen readers all work as the
 * browser made them) over a highlighted copy of its text that scrolls with
 * it, and a gutter with line numbers and a marker on each line that has an
 * issue or a warning (its message on hover, the list below the editor).
 */
import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import type { LocatedIssue } from "../api.ts";
import { html } from "../lib/html.ts";
import { tokenizeYaml } from "../lib/yaml-tokens.ts";
import { yamlLine } from "./yaml-view.ts";

/** An issue or warning to mark at its line. */
export interface Marker {
  issue: LocatedIssue;
  severity: "error" | "warning";
}

/** Props of {@link CodeEditor}. */
export interface CodeEditorProps {
  value: string;
  onInput(value: string): void;
  markers: Marker[];
  label: string;
  /** Move the caret to this line (1-based) when it changes; `nonce` repeats a jump to the same line. */
  jump: { line: number; nonce: number } | null;
}

/** The editor. */
export function CodeEditor({ value, onInput, markers, label, jump }: CodeEditorProps) {
  const input = useRef<HTMLTextAreaElement>(null);
  const highlight = useRef<HTMLPreElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const lines = useMemo(() => tokenizeYaml(value), [value]);
  const byLine = useMemo(() => {
    const found = new Map<number, Marker[]>();
    for (const marker of markers) {
      if (marker.issue.line === null) continue;
      found.set(marker.issue.line, [...(found.get(marker.issue.line) ?? []), marker]);
    }
    return found;
  }, [markers]);

  const sync = () => {
    const area = input.current!;
    highlight.current!.scrollTop = area.scrollTop;
    highlight.current!.scrollLeft = area.scrollLeft;
    gutter.current!.scrollTop = area.scrollTop;
  };
  useLayoutEffect(sync, [value]);

  useLayoutEffect(() => {
    if (!jump) return;
    const area = input.current!;
    const rows = value.split("\n");
    const offset = rows.slice(0, Math.max(0, jump.line - 1)).reduce((sum, row) => sum + row.length + 1, 0);
    area.focus();
    area.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
    area.scrollTop = Math.max(0, (jump.line - 1) * lineHeight - area.clientHeight / 3);
    sync();
  }, [jump]);

  const severityOf = (line: number) => {
    const found = byLine.get(line);
    return found ? (found.some((m) => m.severity === "error") ? "error" : "warning") : null;
  };
  return html`
    <div class="code-editor">
      <div class="code-gutter" ref=${gutter} aria-hidden="true">
        ${lines.map((_, i) => {
    const severity = severityOf(i + 1);
    const messages = byLine.get(i + 1)?.map((m) => `${m.issue.path ? `${m.issue.path}: ` : ""}${m.issue.message}`).join("\n");
    return html`<div class=${`code-line-number${severity ? ` has-${severity}` : ""}`} title=${messages} data-line=${i + 1}>${severity ? "●" : ""}${i + 1}</div>`;
  })}
      </div>
      <div class="code-area">
        <pre class="code-highlight" ref=${highlight} aria-hidden="true">${
    lines.map((tokens, i) => {
      const severity = severityOf(i + 1);
      return html`<span class=${`code-line${severity ? ` has-${severity}` : ""}`} data-line=${i + 1}>${yamlLine(tokens)}${"\n"}</span>`;
    })
  }</pre>
        <textarea class="code-input" id="config-editor" ref=${input} value=${value} spellcheck=${false} wrap="off" autocapitalize="off" autocomplete="off"
          aria-label=${label} onInput=${(e: Event) => onInput((e.currentTarget as HTMLTextAreaElement).value)} onScroll=${sync}></textarea>
      </div>
    </div>
  `;
}
