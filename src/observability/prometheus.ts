/**
 * A minimal Prometheus client: counters, gauges and histograms with labels,
 * rendered in the text exposition format (version 0.0.4) that Prometheus,
 * VictoriaMetrics and `promtool check metrics` read. Small on purpose: the
 * router needs a dozen series, not a client library.
 */

/** Label values of one series, by label name. */
export type Labels = Record<string, string>;

/** The Content-Type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label value escaping required by the text format (backslash, quote, newline). */
function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value as the text format spells it. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** `{a="1",b="2"}` for these names and values ("" when there are none). */
function renderLabels(names: readonly string[], values: readonly string[], extra = ""): string {
  const parts = names.map((name, i) => `${name}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** What every metric family shares: a name, help text and label names. */
abstract class Family<T> {
  readonly #series = new Map<string, { values: string[]; data: T }>();

  constructor(readonly name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  /** The per-series data for these labels, created on first use. */
  protected series(labels: Labels): T {
    // Built without intermediate arrays: this runs several times per request.
    let key = "";
    for (const name of this.labelNames) key += (labels[name] ?? "") + "\u0000";
    let entry = this.#series.get(key);
    if (!entry) {
      entry = { values: this.labelNames.map((name) => labels[name] ?? ""), data: this.create() };
      this.#series.set(key, entry);
    }
    return entry.data;
  }

  /** Forget every series (gauges recomputed at each scrape). */
  reset(): void {
    this.#series.clear();
  }

  protected abstract create(): T;
  protected abstract sample(name: string, labels: string[], data: T): string[];
  abstract readonly type: "counter" | "gauge" | "histogram";

  /** This family in the text format (HELP, TYPE, then one line per sample). */
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")}`, `# TYPE ${this.name} ${this.type}`];
    const entries = [...this.#series.values()].sort((a, b) => a.values.join("\u0000").localeCompare(b.values.join("\u0000")));
    for (const { values, data } of entries) lines.push(...this.sample(this.name, values, data));
    return lines.join("\n") + "\n";
  }
}

/** A family whose series each hold one number (counters and gauges). */
abstract class ValueFamily extends Family<{ value: number }> {
  protected create() {
    return { value: 0 };
  }

  protected sample(name: string, values: string[], data: { value: number }): string[] {
    return [`${name}${renderLabels(this.labelNames, values)} ${formatValue(data.value)}`];
  }
}

/** A value that only goes up (requests, swaps, tokens). */
export class Counter extends ValueFamily {
  readonly type = "counter";

  /** Add `by` (>= 0) to the series with these labels. */
  inc(labels: Labels = {}, by = 1): void {
    if (by > 0) this.series(labels).value += by;
  }

  /** Set the series to an externally kept total that only grows (e.g. an upstream's restart count). */
  setTotal(labels: Labels, total: number): void {
    this.series(labels).value = total;
  }
}

/** A value that goes up and down (queue length, state). */
export class Gauge extends ValueFamily {
  readonly type = "gauge";

  /** Set the series with these labels. */
  set(labels: Labels, value: number): void {
    this.series(labels).value = value;
  }
}

interface HistogramData {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into cumulative buckets (durations, speeds). */
export class Histogram extends Family<HistogramData> {
  readonly type = "histogram";
  readonly #bounds: number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    this.#bounds = [...buckets].sort((a, b) => a - b);
  }

  /** Record one observation; non-finite values are ignored. */
  observe(labels: Labels, value: number): void {
    if (!Number.isFinite(value)) return;
    const data = this.series(labels);
    const index = this.#bounds.findIndex((bound) => value <= bound);
    if (index >= 0) data.counts[index]++;
    data.sum += value;
    data.count++;
  }

  protected create(): HistogramData {
    return { counts: this.#bounds.map(() => 0), sum: 0, count: 0 };
  }

  protected sample(name: string, values: string[], data: HistogramData): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.#bounds.forEach((bound, i) => {
      cumulative += data.counts[i];
      lines.push(`${name}_bucket${renderLabels(this.labelNames, values, `le="${formatValue(bound)}"`)} ${cumulative}`);
    });
    lines.push(`${name}_bucket${renderLabels(this.labelNames, values, 'le="+Inf"')} ${data.count}`);
    lines.push(`${name}_sum${renderLabels(this.labelNames, values)} ${formatValue(data.sum)}`);
    lines.push(`${name}_count${renderLabels(this.labelNames, values)} ${data.count}`);
    return lines;
  }
}

/** An ordered set of metric families rendered together at `/metrics`. */
export class Registry {
  readonly #families: Array<Counter | Gauge | Histogram> = [];

  /** Register and return a counter; the name should end in `_total`. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** Register and return a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  /** Register and return a histogram with these upper bucket bounds. */
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  /** Every family in the text exposition format. */
  render(): string {
    return this.#families.map((family) => family.render()).join("");
  }

  #add<T extends Counter | Gauge | Histogram>(family: T): T {
    if (this.#families.some((f) => f.name === family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.#families.push(family);
    return family;
  }
}
