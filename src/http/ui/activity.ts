/** The activity table: recent requests, newest first, with tokens and speed. */
import type { ActivityRecord } from "./api.ts";
import { h } from "./dom.ts";
import { clock, count, duration, speed } from "./format.ts";

/** Rows kept in the table. */
const MAX_ROWS = 200;

/** The activity table body and its "no requests yet" note. */
export class ActivityTable {
  readonly #body: HTMLElement;
  readonly #empty: HTMLElement;

  constructor(body: HTMLElement, empty: HTMLElement) {
    this.#body = body;
    this.#empty = empty;
  }

  /** Replace the rows (snapshot; newest first). */
  reset(records: ActivityRecord[]): void {
    this.#body.replaceChildren(...records.slice(0, MAX_ROWS).map(row));
    this.#empty.hidden = records.length > 0;
  }

  /** Add one finished request at the top. */
  add(record: ActivityRecord): void {
    this.#body.prepend(row(record));
    while (this.#body.children.length > MAX_ROWS) this.#body.lastElementChild?.remove();
    this.#empty.hidden = true;
  }
}

function row(record: ActivityRecord): HTMLTableRowElement {
  const failed = record.status >= 400;
  const tokens = record.promptTokens === null && record.completionTokens === null
    ? "–"
    : `${count(record.promptTokens)} → ${count(record.completionTokens)}`;
  return h(
    "tr",
    { "data-id": String(record.id), class: failed ? "failed" : "", title: record.error ?? "" },
    h("td", {}, clock(record.time)),
    h("td", {}, record.model),
    h("td", { class: "opt" }, record.path),
    h("td", { class: "opt" }, String(record.status)),
    h("td", { class: "num" }, duration(record.durationMs)),
    h("td", { class: "num opt" }, duration(record.queueWaitMs)),
    h("td", { class: "num" }, tokens),
    h("td", { class: "num" }, speed(record.tokensPerSecond)),
  );
}
