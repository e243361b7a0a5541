/**
 * One live log: `/logs/stream/<source>` (its history first, then live),
 * ANSI colours rendered, filtered by a regular expression, following the
 * end or paused. Where the reader lost data, a marker says so: the server's
 * own `--- N bytes dropped ---` lines (this reader fell behind), a stream
 * that ended and was reopened, and the oldest lines the pane let go of.
 */
import type { VNode } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { modelPath } from "../api.ts";
import { parseAnsi, stripAnsi } from "../lib/ansi.ts";
import { html } from "../lib/html.ts";

/** Lines a pane keeps. */
const MAX_LINES = 5000;
/** Characters a pane keeps. */
const MAX_CHARS = 2_000_000;
/** Wait before reopening a stream that ended. */
const RETRY_MS = 2000;
/** A line the server writes where a reader lost data. */
const DROPPED = /^--- .*\bdropped\b.* ---$/;

interface LogLine {
  id: number;
  text: string;
  /** A gap in the log: data this reader did not get. */
  gap: boolean;
}

/** Props of {@link LogPane}. */
export interface LogPaneProps {
  /** `proxy`, `upstream` or a model id. */
  source: string;
  /** Only lines matching it are shown (gaps always are). */
  filter: RegExp | null;
  wrap: boolean;
  fontSize: number;
  /** Follow the end (true) or hold the view still (false). */
  following: boolean;
  /** The user scrolled away from the end (pause) or back to it. */
  onFollowingChange(following: boolean): void;
  label: string;
}

/** The lines of a log stream, kept as they arrive. */
function useLogLines(source: string): { lines: LogLine[]; trimmed: number; version: number } {
  const state = useRef({ lines: [] as LogLine[], chars: 0, trimmed: 0, nextId: 1 });
  const [version, setVersion] = useState(0);
  useEffect(() => {
    // Ids go on increasing across sources, so an element made for another source's line is never reused.
    state.current = { lines: [], chars: 0, trimmed: 0, nextId: state.current.nextId };
    setVersion((v) => v + 1);
    const abort = new AbortController();
    let frame = 0;
    let partial = "";
    const add = (text: string, gap: boolean) => {
      const s = state.current;
      s.lines.push({ id: s.nextId++, text, gap: gap || DROPPED.test(text) });
      s.chars += text.length;
      while (s.lines.length > MAX_LINES || (s.chars > MAX_CHARS && s.lines.length > 1)) {
        s.chars -= s.lines.shift()!.text.length;
        s.trimmed++;
      }
      frame ||= requestAnimationFrame(() => {
        frame = 0;
        setVersion((v) => v + 1);
      });
    };
    const receive = (chunk: string) => {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop()!;
      for (const line of parts) add(line, false);
    };
    void (async () => {
      for (let attempt = 0; !abort.signal.aborted; attempt++) {
        try {
          const response = await fetch(`/logs/stream/${modelPath(source)}${attempt > 0 ? "?no-history" : ""}`, { signal: abort.signal });
          if (!response.ok || !response.body) {
            add(`cannot read this log: ${response.status} ${(await response.text()).slice(0, 300)}`, true);
          } else {
            if (attempt > 0) add("log stream reopened: output written while it was closed is not shown", true);
            const decoder = new TextDecoder();
            for await (const bytes of response.body) receive(decoder.decode(bytes, { stream: true }));
          }
        } catch {
          // Aborted (another source was picked), or the connection broke: reopened below.
        }
        if (abort.signal.aborted) return;
        if (partial) add(partial, false);
        partial = "";
        add("log stream ended; reopening…", true);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    })();
    return () => {
      abort.abort();
      cancelAnimationFrame(frame);
    };
  }, [source]);
  return { lines: state.current.lines, trimmed: state.current.trimmed, version };
}

/** A log pane. */
export function LogPane({ source, filter, wrap, fontSize, following, onFollowingChange, label }: LogPaneProps) {
  const { lines, trimmed, version } = useLogLines(source);
  const view = useRef<HTMLPreElement>(null);
  const cache = useRef(new Map<number, VNode>()).current;
  const [frozen, setFrozen] = useState<{ upTo: number; version: number } | null>(null);

  // Paused: the view holds still at the lines it had; new ones are counted.
  useEffect(() => {
    if (following) setFrozen(null);
    else setFrozen((current) => current ?? { upTo: lines.at(-1)?.id ?? 0, version });
  }, [following]);

  const visible = useMemo(() => {
    const shown = frozen ? lines.filter((line) => line.id <= frozen.upTo) : lines;
    return filter ? shown.filter((line) => line.gap || filter.test(stripAnsi(line.text))) : shown;
  }, [version, filter, frozen]);
  const waiting = frozen ? lines.filter((line) => line.id > frozen.upTo).length : 0;

  // Each line's element is made once and reused, so a new line costs one element, not the whole pane.
  const nodes = visible.map((line) => {
    let node = cache.get(line.id);
    if (!node) {
      node = line.gap
        ? html`<span class="log-gap" key=${line.id}>⚠ ${line.text}${"\n"}</span>`
        : html`<span key=${line.id}>${parseAnsi(line.text).map((s) => (s.classes || s.style ? html`<span class=${s.classes} style=${s.style}>${s.text}</span>` : s.text))}${"\n"}</span>`;
      cache.set(line.id, node);
    }
    return node;
  });
  if (cache.size > MAX_LINES * 2) for (const id of [...cache.keys()].slice(0, cache.size - MAX_LINES)) cache.delete(id);

  useLayoutEffect(() => {
    const element = view.current;
    if (element && following) element.scrollTop = element.scrollHeight;
  }, [visible, following, wrap, fontSize]);

  const onScroll = () => {
    const element = view.current!;
    const atEnd = element.scrollHeight - element.scrollTop - element.clientHeight < 8;
    if (following && !atEnd) onFollowingChange(false);
  };

  return html`
    <div class="log-pane">
      ${waiting > 0 ? html`<button type="button" class="log-waiting" onClick=${() => onFollowingChange(true)}>Paused · ${waiting} new line${waiting === 1 ? "" : "s"} · follow</button>` : null}
      <pre class=${`log-view${wrap ? " wrap" : ""}`} style=${`font-size:${fontSize}px`} ref=${view} onScroll=${onScroll} tabindex="0" aria-label=${label} data-source=${source}>${
    trimmed > 0 ? html`<span class="log-gap">⚠ ${trimmed} earlier line${trimmed === 1 ? "" : "s"} let go of (this pane keeps the last ${MAX_LINES})${"\n"}</span>` : null
  }${nodes}</pre>
    </div>
  `;
}
