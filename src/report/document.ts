/**
 * A report as plain data: sections of charts, heatmaps, tables and facts,
 * which `html.ts` writes out and `client.js` draws in the browser. Charts
 * over time are downsampled here, on the server, to at most `MAX_CHART_POINTS`
 * points, each series by the rule that keeps what matters of it (a count is
 * summed, a high percentile keeps its maximum, a level its mean).
 */
import { assert } from '../engine/assert';

export const MAX_CHART_POINTS = 2_000;

/** How a series' values in one bucket become one value. */
export type Aggregate = 'sum' | 'mean' | 'min' | 'max';

/**
 * `lines`; `stacked` (areas, each on the ones before it); `band` (three
 * series: low, middle, high, the space between low and high filled); `bars`;
 * `points` (a scatter: no lines); `grouped` (bars per category, one per series).
 */
export type ChartStyle = 'lines' | 'stacked' | 'band' | 'bars' | 'points' | 'grouped';

/** `elapsed`: seconds from the start, shown as d h:mm; `value`: a plain number; `category`: x indexes `categories`. */
export type AxisKind = 'elapsed' | 'value' | 'category';

export interface ChartSeries {
  readonly label: string;
  readonly values: readonly (number | null)[];
  readonly colour: string;
  /** The right-hand axis (`y2` of the chart) rather than the left. */
  readonly right?: boolean;
}

export interface ChartBlock {
  readonly kind: 'chart';
  readonly id: string;
  readonly title: string;
  readonly style: ChartStyle;
  readonly x: { readonly kind: AxisKind; readonly label: string; readonly values: readonly number[]; readonly categories?: readonly string[] };
  readonly y: { readonly label: string };
  readonly y2?: { readonly label: string };
  readonly series: readonly ChartSeries[];
  readonly note?: string;
}

export interface HeatmapBlock {
  readonly kind: 'heatmap';
  readonly id: string;
  readonly title: string;
  readonly rows: readonly string[];
  /** Each column's start, seconds from the start. */
  readonly x: readonly number[];
  /** Column after column, a byte per row (see `HEATMAP_ASLEEP`), base64. */
  readonly cells: string;
  readonly note?: string;
}

export interface TableBlock {
  readonly kind: 'table';
  readonly title: string;
  readonly header: readonly string[];
  readonly rows: readonly (readonly TableCell[])[];
}

/** A cell's text, and the exact number it shows when it shows one (kept in the page as `data-value`). */
export type TableCell = string | { readonly text: string; readonly value: number };

export interface FactsBlock {
  readonly kind: 'facts';
  readonly title: string;
  readonly rows: readonly (readonly [string, string])[];
}

export interface TextBlock {
  readonly kind: 'preformatted';
  readonly title: string;
  readonly text: string;
}

export type Block = ChartBlock | HeatmapBlock | TableBlock | FactsBlock | TextBlock;

export interface Section {
  readonly title: string;
  readonly blocks: readonly Block[];
}

export interface ReportDocument {
  readonly title: string;
  readonly subtitle: string;
  readonly sections: readonly Section[];
}

/** Colours that stay apart for the colour-blind (Okabe and Ito), then greys. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000', '#999999', '#666666'] as const;

export function colourAt(index: number): string {
  return PALETTE[index % PALETTE.length];
}

export interface SeriesInput extends ChartSeries {
  readonly aggregate: Aggregate;
}

function aggregateBucket(values: readonly (number | null)[], from: number, to: number, rule: Aggregate): number | null {
  let result: number | null = null;
  let count = 0;
  for (let i = from; i < to; i++) {
    const value = values[i];
    if (value === null) continue;
    count += 1;
    if (result === null) result = value;
    else if (rule === 'sum' || rule === 'mean') result += value;
    else if (rule === 'min') result = Math.min(result, value);
    else result = Math.max(result, value);
  }
  return result !== null && rule === 'mean' ? result / count : result;
}

/**
 * At most `maxPoints` points: x cut into equal spans, each non-empty span one
 * point at its first x, each series' values in it aggregated by its rule.
 * Fewer points than that are kept as they are.
 */
export function downsample(x: readonly number[], series: readonly SeriesInput[], maxPoints = MAX_CHART_POINTS):
{ readonly x: number[]; readonly values: (number | null)[][] } {
  assert(maxPoints >= 1, 'downsampling needs at least one point');
  for (const s of series) assert(s.values.length === x.length, () => `series "${s.label}" has ${s.values.length} values for ${x.length} x values`);
  if (x.length <= maxPoints) return { x: [...x], values: series.map((s) => [...s.values]) };
  const first = x[0];
  const spanS = (x[x.length - 1] - first) / maxPoints;
  const starts: number[] = [];
  let lastBucket = -1;
  for (let i = 0; i < x.length; i++) {
    assert(i === 0 || x[i] >= x[i - 1], 'x must not go back to be downsampled');
    const bucket = spanS === 0 ? 0 : Math.min(maxPoints - 1, Math.floor((x[i] - first) / spanS));
    if (bucket > lastBucket) starts.push(i);
    lastBucket = bucket;
  }
  const ends = [...starts.slice(1), x.length];
  return {
    x: starts.map((i) => x[i]),
    values: series.map((s) => starts.map((from, b) => aggregateBucket(s.values, from, ends[b], s.aggregate))),
  };
}

export interface TimeChartInput {
  readonly id: string;
  readonly title: string;
  readonly style: ChartStyle;
  readonly xValues: readonly number[];
  readonly y: { readonly label: string };
  readonly y2?: { readonly label: string };
  readonly series: readonly SeriesInput[];
  readonly note?: string;
}

/** A chart over time (seconds from the start), downsampled. */
export function timeChart(input: TimeChartInput): ChartBlock {
  const sampled = downsample(input.xValues, input.series);
  return {
    kind: 'chart', id: input.id, title: input.title, style: input.style,
    x: { kind: 'elapsed', label: 'time from the start', values: sampled.x }, y: input.y, ...(input.y2 === undefined ? {} : { y2: input.y2 }),
    series: input.series.map((s, i) => ({ label: s.label, values: sampled.values[i], colour: s.colour, ...(s.right === true ? { right: true } : {}) })),
    ...(input.note === undefined ? {} : { note: input.note }),
  };
}

/** The charts and heatmaps of a document, in order: what the page draws. */
export function drawnBlocks(document: ReportDocument): (ChartBlock | HeatmapBlock)[] {
  return document.sections.flatMap((section) => section.blocks.filter((block): block is ChartBlock | HeatmapBlock =>
    block.kind === 'chart' || block.kind === 'heatmap'));
}

/** A number in a table: its text, and the exact value behind it. */
export function numberCell(value: number, text: string): TableCell {
  return { text, value };
}
