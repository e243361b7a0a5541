/**
 * A canvas chart (uPlot) as a Preact component: time series lines or the
 * bars of a histogram, sized to its container and drawn in the theme's
 * colours (redrawn when the theme changes).
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "../lib/html.ts";
import { useServices } from "../lib/services.ts";
import { useStore } from "../lib/store.ts";

/** Shortest time axis, in seconds. */
const MIN_TIME_SPAN_S = 300;

/** Colours of successive series, readable on both themes. */
const PALETTE = ["#4f6bed", "#1f9d55", "#d08a00", "#d33a3a", "#8e59d9", "#1aa3b8", "#c2548a", "#7a8b2e"];

/** One line or bar series. */
export interface ChartSeries {
  label: string;
  /** How a value is shown in the legend. */
  format?: (value: number) => string;
}

/** Props of {@link Chart}. */
export interface ChartProps {
  /** x values, then one array per series (null for a gap). */
  data: [number[], ...(number | null)[][]];
  series: ChartSeries[];
  /** x is seconds since the epoch (time axis) or plain numbers. */
  time?: boolean;
  bars?: boolean;
  height?: number;
  /** Fixed y range (e.g. [0, 100] for percentages); default: fit the data. */
  yRange?: [number, number];
  /** Accessible description. */
  label: string;
}

/** The chart; re-created when the series or the theme change, updated in place when only data changes. */
export function Chart({ data, series, time = true, bars = false, height = 180, yRange, label }: ChartProps) {
  const { theme } = useServices();
  const dark = useStore(theme.effective) === "dark";
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join("\n");

  useEffect(() => {
    const element = holder.current!;
    const axis = { stroke: dark ? "#8d97a8" : "#6a7383", grid: { stroke: dark ? "#283040" : "#e2e5ea", width: 1 }, ticks: { show: false } };
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      // A time axis spans at least a few minutes, so a fresh page's first readings are not stretched edge to edge.
      scales: { x: time ? { time, range: (_u, min, max) => [Math.min(min, max - MIN_TIME_SPAN_S), max] } : { time }, y: yRange ? { range: yRange } : {} },
      axes: [axis, { ...axis, size: 50 }],
      legend: { show: true, live: !bars },
      cursor: { drag: { x: false, y: false } },
      series: [
        { label: time ? "time" : "", value: time ? "{HH}:{mm}:{ss}" : undefined },
        ...series.map((s, i): uPlot.Series => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          fill: bars ? `${PALETTE[i % PALETTE.length]}99` : undefined,
          width: bars ? 0 : 2,
          points: { show: false },
          paths: bars ? uPlot.paths.bars!({ size: [0.9, 60] }) : undefined,
          value: s.format ? (_u: uPlot, v: number | null) => (v === null ? "–" : s.format!(v)) : undefined,
        })),
      ],
    };
    plot.current = new uPlot(options, data as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, element.clientWidth), height }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape, dark, time, bars, height, yRange?.join(",")]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  return html`<div class="chart" ref=${holder} role="img" aria-label=${label}></div>`;
}
