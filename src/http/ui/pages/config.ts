/**
 * The Config page. Read-only (the default): the `-config` file highlighted,
 * the other `-config-dir` files, and the effective config. With
 * `ui.configEditor: true`: an editor checked as you type by the server's
 * own loader (`POST /api/config/check`: every issue at its key and line,
 * the warnings, and what applying would restart), a diff against the file
 * as opened, and Apply (`PUT /api/config` with the version it was opened
 * at: the file is replaced atomically, a backup kept, and reloaded as
 * SIGHUP does; a file changed on disk meanwhile is refused, and the edit
 * stays in the editor).
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, type ConfigApplied, type ConfigCheck, type ConfigView, getJson, type LocatedIssue, type ReloadPlan, request } from "../api.ts";
import { CodeEditor, type Marker } from "../components/code-editor.ts";
import { Tabs } from "../components/tabs.ts";
import { YamlView } from "../components/yaml-view.ts";
import { diffHunks } from "../lib/diff.ts";
import { html } from "../lib/html.ts";
import { useRoute } from "../lib/route.ts";
import { toYaml } from "../lib/yaml-dump.ts";

/** Quiet time after typing before the text is checked. */
const CHECK_DELAY_MS = 400;

/** The Config page. */
export function ConfigPage() {
  const tab = useRoute()[1] === "effective" ? "effective" : "file";
  return html`
    <section class="panel config-page" aria-labelledby="config-title">
      <div class="panel-head"><h1 id="config-title">Config</h1></div>
      <${Tabs} label="Config" current=${tab} tabs=${[{ id: "file", label: "File", route: ["config"] }, { id: "effective", label: "Effective", route: ["config", "effective"] }]} />
      ${tab === "effective" ? html`<${EffectiveConfig} />` : html`<${ConfigFile} />`}
    </section>
  `;
}

/** The whole running config after macros and defaults, secrets masked. */
function EffectiveConfig() {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    getJson<unknown>("/api/config/effective").then((config) => setText(toYaml(config)), (e: Error) => setError(e.message));
  }, []);
  if (error) return html`<p class="error-text" role="alert">${error}</p>`;
  return html`
    <p class="muted">The config as modelswap runs it: after macros, <code>\${PORT}</code> and defaults, every file merged; secrets are masked.</p>
    ${text === null ? html`<p class="muted">Loading…</p>` : html`<${YamlView} id="effective" text=${text} label="Effective config" numbered=${true} />`}
  `;
}

function ConfigFile() {
  const [view, setView] = useState<ConfigView | null>(null);
  const [error, setError] = useState("");
  const load = () => getJson<ConfigView>("/api/config").then(setView, (e: Error) => setError(e.message));
  useEffect(() => void load(), []);
  if (error) return html`<p class="error-text" role="alert">${error}</p>`;
  if (!view) return html`<p class="muted">Loading…</p>`;
  return html`
    ${view.file ? html`<p class="muted">File: <code id="config-file">${view.file}</code></p>` : null}
    ${view.editable ? html`<${Editor} view=${view} onView=${setView} />` : html`
      <p class="notice" id="config-read-only">${view.readOnly}</p>
      ${view.file ? html`<${YamlView} id="config-view" text=${view.text} label=${`Contents of ${view.file}`} numbered=${true} />` : null}`}
    ${view.others.length ? html`
      <h2>Other files (--config-dir)</h2>
      <p class="muted">Merged after ${view.file ?? "nothing"}, in file-name order. They are shown here; edit them directly.</p>
      ${view.others.map((other) => html`<details class="other-file"><summary><code>${other.name}</code></summary><${YamlView} text=${other.text} label=${`Contents of ${other.name}`} numbered=${true} /></details>`)}` : null}
  `;
}

/** What happened to the last Apply. */
type Outcome =
  | { kind: "applied"; result: ConfigApplied }
  | { kind: "conflict"; message: string }
  | { kind: "failed"; message: string };

/** The server's check of `text`, made once typing pauses; `checking` until the answer for this very text is in. */
function useCheck(text: string): { check: ConfigCheck | null; checking: boolean; error: string } {
  const [state, setState] = useState<{ check: ConfigCheck | null; checkedText: string | null; error: string }>({ check: null, checkedText: null, error: "" });
  useEffect(() => {
    const abort = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const response = await request("/api/config/check", { method: "POST", body: text, headers: { "content-type": "application/yaml" }, signal: abort.signal });
        setState({ check: await response.json() as ConfigCheck, checkedText: text, error: "" });
      } catch (e) {
        if (!abort.signal.aborted) setState({ check: null, checkedText: text, error: (e as Error).message });
      }
    }, CHECK_DELAY_MS);
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [text]);
  const current = state.checkedText === text;
  return { check: current ? state.check : null, checking: !current, error: current ? state.error : "" };
}

function Editor({ view, onView }: { view: ConfigView; onView(view: ConfigView): void }) {
  const [text, setText] = useState(view.text);
  const [opened, setOpened] = useState({ text: view.text, etag: view.etag! });
  const [showDiff, setShowDiff] = useState(false);
  const [jump, setJump] = useState<{ line: number; nonce: number } | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [applying, setApplying] = useState(false);
  const { check, checking, error } = useCheck(text);
  const edited = text !== opened.text;
  const nonce = useRef(0);
  const goTo = (line: number) => setJump({ line, nonce: ++nonce.current });

  // An unapplied edit is not lost to a closed tab without a warning.
  useEffect(() => {
    if (!edited) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    addEventListener("beforeunload", warn);
    return () => removeEventListener("beforeunload", warn);
  }, [edited]);

  const markers: Marker[] = useMemo(() => [
    ...(check?.issues ?? []).map((issue) => ({ issue, severity: "error" as const })),
    ...(check?.warnings ?? []).map((issue) => ({ issue, severity: "warning" as const })),
  ], [check]);

  const apply = async () => {
    setApplying(true);
    setOutcome(null);
    try {
      const response = await request("/api/config", { method: "PUT", body: text, headers: { "content-type": "application/yaml", "if-match": opened.etag } });
      const result = await response.json() as ConfigApplied;
      setOpened({ text, etag: result.etag });
      onView({ ...view, text, etag: result.etag });
      setOutcome({ kind: "applied", result });
    } catch (e) {
      const status = e instanceof ApiError ? e.status : 0;
      setOutcome({ kind: status === 409 ? "conflict" : "failed", message: (e as Error).message });
    } finally {
      setApplying(false);
    }
  };
  /** Take the file as it is on disk as the new base, keeping the edit (the diff then shows what applying would change). */
  const rebase = async (discardEdit: boolean) => {
    const current = await getJson<ConfigView>("/api/config");
    setOpened({ text: current.text, etag: current.etag! });
    if (discardEdit) setText(current.text);
    onView(current);
    setOutcome(null);
  };

  const canApply = edited && check?.ok === true && !checking && !applying;
  return html`
    <div class="editor-bar toolbar">
      <span id="config-status" class=${`status-pill ${check && !check.ok ? "bad" : checking ? "" : edited ? "good" : ""}`} role="status">
        ${!edited ? "No changes" : checking ? "Checking…" : error ? `Check failed: ${error}` : check?.ok ? `Valid${check.warnings.length ? ` · ${check.warnings.length} warning${check.warnings.length === 1 ? "" : "s"}` : ""}` : check ? `${check.issues.length} issue${check.issues.length === 1 ? "" : "s"}` : ""}
      </span>
      <span class="spacer"></span>
      <label class="check"><input id="config-show-diff" type="checkbox" checked=${showDiff} onChange=${(e: Event) => setShowDiff((e.currentTarget as HTMLInputElement).checked)} /> show diff</label>
      <button type="button" id="config-revert" class="btn btn-small" disabled=${!edited} onClick=${() => setText(opened.text)}>Revert</button>
      <button type="button" id="config-apply" class="btn btn-primary btn-small" disabled=${!canApply} onClick=${apply}>${applying ? "Applying…" : "Apply"}</button>
    </div>
    ${outcome ? html`<${OutcomeBanner} outcome=${outcome} rebase=${rebase} />` : null}
    <${CodeEditor} value=${text} onInput=${setText} markers=${markers} label=${`Edit ${view.file}`} jump=${jump} />
    <${IssueList} title="Issues" id="config-issues" issues=${check?.issues ?? []} goTo=${goTo} />
    <${IssueList} title="Warnings" id="config-warnings" issues=${check?.warnings ?? []} goTo=${goTo} />
    ${edited && check?.plan ? html`<${PlanSummary} plan=${check.plan} />` : null}
    ${showDiff ? html`<${Diff} before=${opened.text} after=${text} />` : null}
    <p class="muted">Apply writes ${view.file} (the previous version is kept as <code>${view.backup}</code>) and reloads it as <code>kill -HUP</code> would: only models whose settings changed restart.</p>
  `;
}

function OutcomeBanner({ outcome, rebase }: { outcome: Outcome; rebase(discard: boolean): void }) {
  if (outcome.kind === "applied") {
    const { changes, backup } = outcome.result;
    const parts = [
      changes.added.length ? `added ${changes.added.join(", ")}` : "",
      changes.changed.length ? `changed ${changes.changed.join(", ")}` : "",
      changes.removed.length ? `removed ${changes.removed.join(", ")}` : "",
    ].filter(Boolean);
    return html`<p class="banner good" id="config-outcome" role="status">Applied: ${parts.length ? parts.join("; ") : "no model changed"}. The previous version is in <code>${backup}</code>.</p>`;
  }
  if (outcome.kind === "conflict") {
    return html`
      <div class="banner bad" id="config-outcome" role="alert">
        <p>${outcome.message}</p>
        <div class="toolbar">
          <button type="button" class="btn btn-small" id="config-rebase" onClick=${() => rebase(false)}>Compare with the file on disk (keep my edit)</button>
          <button type="button" class="btn btn-small" id="config-discard" onClick=${() => rebase(true)}>Load the file on disk (discard my edit)</button>
        </div>
      </div>`;
  }
  return html`<p class="banner bad" id="config-outcome" role="alert">${outcome.message}</p>`;
}

function IssueList({ title, id, issues, goTo }: { title: string; id: string; issues: LocatedIssue[]; goTo(line: number): void }) {
  if (issues.length === 0) return null;
  return html`
    <div class=${`issue-list ${id}`} id=${id}>
      <h2>${title}</h2>
      <ul>${issues.map((issue) => html`
        <li data-path=${issue.path} data-line=${issue.line ?? ""}>
          ${issue.line !== null ? html`<button type="button" class="btn btn-quiet btn-small line-link" onClick=${() => goTo(issue.line!)}>line ${issue.line}</button>` : null}
          ${issue.path ? html`<code class="issue-path">${issue.path}</code>` : null}
          <span class="issue-message">${issue.message}</span>
          ${issue.file ? html`<span class="muted"> (in ${issue.file})</span>` : null}
        </li>`)}
      </ul>
    </div>
  `;
}

/** What applying would do, in words. */
function PlanSummary({ plan }: { plan: ReloadPlan }) {
  const rows: [string, string, string[]][] = [
    ["restarted", "Restarted now (running, settings changed)", plan.restarted],
    ["changed", "New settings at their next start (not running)", plan.changed],
    ["added", "Added", plan.added],
    ["removed", "Removed (stopped if running)", plan.removed],
    ["updated", "Updated without a restart", plan.updated],
    ["settings", "Settings changed", plan.settings],
    ["startup", "Needs a restart of modelswap to take effect", plan.startupOnly],
  ];
  const shown = rows.filter(([, , ids]) => ids.length > 0);
  return html`
    <div class="plan" id="config-plan">
      <h2>Applying would</h2>
      ${shown.length === 0 ? html`<p class="muted">change nothing that runs.</p>` : html`
        <dl class="facts">${shown.map(([key, label, ids]) => html`<dt>${label}</dt><dd data-plan=${key}>${ids.join(", ")}</dd>`)}</dl>`}
    </div>
  `;
}

function Diff({ before, after }: { before: string; after: string }) {
  const hunks = useMemo(() => diffHunks(before, after), [before, after]);
  return html`
    <div class="diff" id="config-diff">
      <h2>Changes</h2>
      ${hunks.length === 0 ? html`<p class="muted">No changes.</p>` : hunks.map((hunk) => html`
        <pre class="diff-hunk">${hunk.lines.map((line) => html`<span class=${`diff-${line.kind}`}><span class="diff-number">${line.oldLine ?? ""}</span><span class="diff-number">${line.newLine ?? ""}</span>${line.kind === "add" ? "+" : line.kind === "del" ? "−" : " "} ${line.text}</span>`)}</pre>`)}
    </div>
  `;
}
