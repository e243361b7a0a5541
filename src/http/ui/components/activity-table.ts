/**
 * The stored activity as a table (`GET /api/metrics/activity`): paginated,
 * sorted by any column, filtered by model, status and time; columns can be
 * hidden; a request's capture opens in a dialog; the rows of the current
 * filter export as Markdown or CSV. New requests refresh it as they finish.
 */
import { useEffect, useState } from "preact/hooks";
import { type ActivityPage, type ActivityRow, getJson } from "../api.ts";
import { download, type Table, toCsv, toMarkdown } from "../lib/export.ts";
import { count, dateTime, duration, speed } from "../lib/format.ts";
import { html } from "../lib/html.ts";
import { usePreference } from "../lib/persist.ts";
import { href } from "../lib/route.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";
import { CaptureDialog } from "./capture-dialog.ts";
import { ModelSelect } from "./model-select.ts";

/** Rows fetched at most for an export (the server answers at most 999 a page). */
const EXPORT_MAX_ROWS = 10_000;
const EXPORT_PAGE = 999;
/** Wait after a finished request before reading the table again, so a burst costs one read. */
const REFRESH_MS = 400;

/** A figure the server did not get is -1 (or absent). */
const figure = (value: number | undefined) => (value === undefined || value < 0 ? null : value);

/** One column: its id (the server's sort key, when sortable), title and cell text. */
interface Column {
  id: string;
  title: string;
  text(row: ActivityRow): string;
  numeric?: boolean;
  sortable?: boolean;
  /** Shown unless the user hides it. */
  shown?: boolean;
}

const COLUMNS: Column[] = [
  { id: "id", title: "#", text: (r) => String(r.id), numeric: true, sortable: true },
  { id: "time", title: "Time", text: (r) => dateTime(r.timestamp), sortable: true, shown: true },
  { id: "model", title: "Model", text: (r) => r.model, sortable: true, shown: true },
  { id: "req_path", title: "Path", text: (r) => r.req_path, sortable: true, shown: true },
  { id: "resp_status_code", title: "Status", text: (r) => String(r.resp_status_code), numeric: true, sortable: true, shown: true },
  { id: "resp_content_type", title: "Content type", text: (r) => r.resp_content_type, sortable: true },
  { id: "cached", title: "Cached", text: (r) => count(figure(r.tokens.cache_tokens)), numeric: true, sortable: true },
  { id: "prompt", title: "Prompt", text: (r) => count(figure(r.tokens.input_tokens)), numeric: true, sortable: true, shown: true },
  { id: "generated", title: "Generated", text: (r) => count(figure(r.tokens.output_tokens)), numeric: true, sortable: true, shown: true },
  {
    id: "drafted",
    title: "Drafted",
    text: (r) => (figure(r.tokens.draft_tokens) === null ? "–" : `${count(figure(r.tokens.draft_acc_tokens))}/${count(r.tokens.draft_tokens)}`),
    numeric: true,
    sortable: true,
  },
  { id: "prompt_speed", title: "Prompt tok/s", text: (r) => speed(figure(r.tokens.prompt_per_second)), numeric: true, sortable: true },
  { id: "gen_speed", title: "tok/s", text: (r) => speed(figure(r.tokens.tokens_per_second)), numeric: true, sortable: true, shown: true },
  { id: "duration", title: "Duration", text: (r) => duration(r.duration_ms), numeric: true, sortable: true, shown: true },
  { id: "error", title: "Error", text: (r) => r.error_msg ?? "" },
  { id: "capture", title: "Capture", text: (r) => (r.has_capture ? "yes" : ""), shown: true },
];

/** The filter a table is read with. */
export interface ActivityFilter {
  model: string;
  /** "", a class (`4xx`) or a code. */
  status: string;
  /** `datetime-local` values (local time), or "". */
  from: string;
  to: string;
}

const NO_FILTER: ActivityFilter = { model: "", status: "", from: "", to: "" };

/** The query string for a filter, order and page. */
function query(filter: ActivityFilter, sort: string, order: string, page: number, limit: number): string {
  const params = new URLSearchParams({ page: String(page), limit: String(limit), sort, order });
  if (filter.model) params.set("model", filter.model);
  if (filter.status) params.set("status", filter.status);
  if (filter.from) params.set("start", new Date(filter.from).toISOString());
  if (filter.to) params.set("end", new Date(filter.to).toISOString());
  return params.toString();
}

/** Props of {@link ActivityTable}. */
export interface ActivityTableProps {
  /** Show only this model's requests (and no model filter). */
  model?: string;
}

/** The activity table with its filters, column chooser, pagination and export. */
export function ActivityTable({ model }: ActivityTableProps) {
  const recent = useStore(useServices().live.activity);
  const [filter, setFilter] = useState<ActivityFilter>({ ...NO_FILTER, model: model ?? "" });
  const [sort, setSort] = useState({ key: "id", order: "desc" as "asc" | "desc" });
  const [page, setPage] = useState(1);
  const [limit, setLimit] = usePreference("activityLimit", 25);
  const [hidden, setHidden] = usePreference<Record<string, boolean>>("activityColumns", {});
  const [shown, setShown] = useState<{ key: string; page: ActivityPage } | null>(null);
  const [error, setError] = useState("");
  const [capture, setCapture] = useState<number | null>(null);
  const [exporting, setExporting] = useState("");
  const columns = COLUMNS.filter((c) => !(hidden[c.id] ?? !c.shown));
  const key = query(filter, sort.key, sort.order, page, limit);
  const result = shown?.page ?? null;
  /** The rows shown are not yet those of the current query. */
  const busy = shown?.key !== key;

  useEffect(() => {
    let current = true;
    // A new query is read at once; new requests finishing refresh the same query after a pause.
    const timer = setTimeout(() => {
      getJson<ActivityPage>(`/api/metrics/activity?${key}`).then(
        (next) => {
          if (!current) return;
          setShown({ key, page: next });
          setError("");
        },
        (e: Error) => current && setError(e.message),
      );
    }, busy ? 0 : REFRESH_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [key, recent]);

  const change = (next: Partial<ActivityFilter>) => {
    setFilter({ ...filter, ...next });
    setPage(1);
  };
  const sortBy = (column: Column) => {
    setSort(sort.key === column.id ? { key: column.id, order: sort.order === "desc" ? "asc" : "desc" } : { key: column.id, order: "desc" });
    setPage(1);
  };
  const exportAs = async (kind: "csv" | "md") => {
    setExporting(kind);
    try {
      const rows: ActivityRow[] = [];
      for (let p = 1; rows.length < EXPORT_MAX_ROWS; p++) {
        const next = await getJson<ActivityPage>(`/api/metrics/activity?${query(filter, sort.key, sort.order, p, EXPORT_PAGE)}`);
        rows.push(...next.data);
        if (p >= next.total_pages || next.data.length === 0) break;
      }
      const exported = COLUMNS.filter((c) => c.id !== "capture");
      const table: Table = { columns: exported.map((c) => c.title), rows: rows.slice(0, EXPORT_MAX_ROWS).map((r) => exported.map((c) => c.text(r))) };
      const name = `modelswap-activity${model ? `-${model.replace(/[^\w.-]+/g, "_")}` : ""}`;
      if (kind === "csv") download(`${name}.csv`, toCsv(table), "text/csv");
      else download(`${name}.md`, toMarkdown(table), "text/markdown");
    } catch (e) {
      setError(`export failed: ${(e as Error).message}`);
    } finally {
      setExporting("");
    }
  };

  const total = result?.total ?? 0;
  const pages = Math.max(1, result?.total_pages ?? 1);
  const shownPage = result?.page ?? page;
  return html`
    <div class="activity-table">
      <div class="toolbar filters" role="group" aria-label="Filter requests">
        ${model === undefined ? html`<${ModelSelect} id="activity-model" label="Model" none="All models" value=${filter.model} onChange=${(m: string) => change({ model: m })} />` : null}
        <select id="activity-status" aria-label="Status" value=${filter.status} onChange=${(e: Event) => change({ status: (e.currentTarget as HTMLSelectElement).value })}>
          <option value="">Any status</option>
          <option value="2xx">2xx success</option>
          <option value="4xx">4xx client error</option>
          <option value="5xx">5xx server error</option>
        </select>
        <label class="field-inline"><span class="muted">from</span><input id="activity-from" type="datetime-local" step="1" value=${filter.from} onChange=${(e: Event) => change({ from: (e.currentTarget as HTMLInputElement).value })} /></label>
        <label class="field-inline"><span class="muted">to</span><input id="activity-to" type="datetime-local" step="1" value=${filter.to} onChange=${(e: Event) => change({ to: (e.currentTarget as HTMLInputElement).value })} /></label>
        ${filter.status || filter.from || filter.to || (model === undefined && filter.model)
    ? html`<button type="button" class="btn btn-quiet btn-small" onClick=${() => change({ ...NO_FILTER, model: model ?? "" })}>Clear filters</button>`
    : null}
        <span class="spacer"></span>
        <${ColumnChooser} hidden=${hidden} setHidden=${setHidden} />
        <button type="button" id="export-md" class="btn btn-small" disabled=${exporting !== ""} onClick=${() => exportAs("md")}>${exporting === "md" ? "Exporting…" : "Markdown"}</button>
        <button type="button" id="export-csv" class="btn btn-small" disabled=${exporting !== ""} onClick=${() => exportAs("csv")}>${exporting === "csv" ? "Exporting…" : "CSV"}</button>
      </div>
      ${error ? html`<p class="error-text" role="alert" id="activity-error">${error}</p>` : null}
      <div class="table-wrap">
        <table class="data" id="activity-table" aria-busy=${busy ? "true" : "false"}>
          <thead><tr>${columns.map((c) => html`<th class=${c.numeric ? "num" : ""} aria-sort=${sort.key === c.id ? (sort.order === "asc" ? "ascending" : "descending") : undefined} data-column=${c.id}>
            ${c.sortable ? html`<button type="button" class="th-sort" onClick=${() => sortBy(c)}>${c.title}${sort.key === c.id ? (sort.order === "asc" ? " ▲" : " ▼") : ""}</button>` : c.title}
          </th>`)}</tr></thead>
          <tbody>
            ${(result?.data ?? []).map((row) => html`
              <tr class=${row.resp_status_code >= 400 ? "failed" : ""} data-id=${row.id}>
                ${columns.map((c) => html`<td class=${c.numeric ? "num" : ""} data-column=${c.id}>${cell(c, row, setCapture)}</td>`)}
              </tr>`)}
          </tbody>
        </table>
        ${result && result.data.length === 0 ? html`<p class="muted empty" id="activity-empty">No requests${filter.model || filter.status || filter.from || filter.to ? " match this filter" : " yet"}.</p>` : null}
      </div>
      <div class="toolbar pager">
        <span class="muted" id="activity-count">${total.toLocaleString("en-US")} request${total === 1 ? "" : "s"}</span>
        <span class="spacer"></span>
        <label class="field-inline"><span class="muted">per page</span>
          <select id="activity-limit" aria-label="Rows per page" value=${String(limit)} onChange=${(e: Event) => {
    setLimit(Number((e.currentTarget as HTMLSelectElement).value));
    setPage(1);
  }}>${[10, 25, 50, 100].map((n) => html`<option value=${String(n)}>${n}</option>`)}</select>
        </label>
        <button type="button" class="btn btn-small" id="activity-prev" disabled=${shownPage <= 1} onClick=${() => setPage(shownPage - 1)} aria-label="Previous page">‹</button>
        <span class="muted" id="activity-page">page ${shownPage} of ${pages}</span>
        <button type="button" class="btn btn-small" id="activity-next" disabled=${shownPage >= pages} onClick=${() => setPage(shownPage + 1)} aria-label="Next page">›</button>
      </div>
      ${capture !== null ? html`<${CaptureDialog} id=${capture} onClose=${() => setCapture(null)} />` : null}
    </div>
  `;
}

/** A cell: the model links to its page, a kept capture opens in a dialog, the rest is text. */
function cell(column: Column, row: ActivityRow, openCapture: (id: number) => void) {
  if (column.id === "model") return html`<a href=${href("models", row.model, "activity")}>${row.model}</a>`;
  if (column.id === "capture") {
    return row.has_capture ? html`<button type="button" class="btn btn-quiet btn-small" onClick=${() => openCapture(row.id)}>View</button>` : "";
  }
  if (column.id === "error") return html`<span class="cell-error" title=${row.error_msg ?? ""}>${row.error_msg ?? ""}</span>`;
  return column.text(row);
}

/** Which columns are shown: a checkbox per column in a disclosure. */
function ColumnChooser({ hidden, setHidden }: { hidden: Record<string, boolean>; setHidden(value: Record<string, boolean>): void }) {
  return html`
    <details class="menu" id="column-chooser">
      <summary class="btn btn-small">Columns</summary>
      <div class="menu-body" role="group" aria-label="Shown columns">
        ${COLUMNS.map((c) => html`
          <label class="check"><input type="checkbox" data-column=${c.id} checked=${!(hidden[c.id] ?? !c.shown)}
            onChange=${(e: Event) => setHidden({ ...hidden, [c.id]: !(e.currentTarget as HTMLInputElement).checked })} /> ${c.title}</label>`)}
      </div>
    </details>
  `;
}
