/**
 * Two runs side by side (`neat report --compare a b`): production as it
 * happened against a policy replayed on its load, or any two runs. Both are
 * analysed alike (two simulations by the simulation's analysis, runs with
 * the manager's events by the production analysis); their curves are drawn
 * over one axis of time from each run's start, their metrics in one table
 * with the differences.
 */
import { assert } from '../engine/assert';
import { colourAt, numberCell, timeChart } from './document';
import { formatNumber } from './format';
import type { Aggregate, Block, ReportDocument, TableBlock, TableCell } from './document';
import type { ProductionAnalysis, Provenance } from './model';
import { bucketTimes, productionMetricCells } from './productionReport';
import type { SimulationAnalysis } from './simulation';
import { provenanceFacts, simulationMetricCells } from './simulationReport';
import type { MetricRow } from './simulationReport';

export interface CompareCurve {
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  readonly aggregate: Aggregate;
  /** Seconds from the run's start. */
  readonly timeS: readonly number[];
  readonly values: readonly (number | null)[];
}

export interface ComparedRun {
  /** How the page names the run: `a: what-if.sqlite`. */
  readonly label: string;
  readonly description: string;
  readonly provenance: Provenance;
  readonly metrics: readonly MetricRow[];
  readonly curves: readonly CompareCurve[];
}

function cumulative(values: readonly number[]): number[] {
  let total = 0;
  return values.map((v) => (total += v));
}

/** A curve maker for one run's times. */
function curveOn(timeS: readonly number[]) {
  return (id: string, title: string, yLabel: string, aggregate: Aggregate, values: readonly (number | null)[]): CompareCurve =>
    ({ id, title, yLabel, aggregate, timeS, values });
}

export function simulationCompared(label: string, analysis: SimulationAnalysis): ComparedRun {
  const { series, run } = analysis;
  const curve = curveOn(analysis.timeS);
  return {
    label, description: `${run.policy === '' ? 'neat.conf' : run.policy}, ${run.mode} mode, seed ${run.seed}`, provenance: analysis.provenance,
    metrics: simulationMetricCells(analysis.metrics),
    curves: [
      curve('hosts-active', 'Hosts with VMs', 'hosts', 'mean', series.hostsActive),
      curve('power', 'Power (mean over each interval)', 'W', 'mean', series.powerW),
      curve('energy', 'Energy from the start', 'kWh', 'max', series.energyKwh),
      curve('migrations', 'VM migrations started, from the start', 'migrations', 'max', cumulative(series.migrationsStarted)),
    ],
  };
}

/** `origin`: what wrote the log (production, or a simulation whose manager's events these are). */
export function productionCompared(label: string, origin: string, analysis: ProductionAnalysis, provenance: Provenance): ComparedRun {
  const s = analysis.series;
  const curve = curveOn(bucketTimes(analysis));
  return {
    label, description: `${origin}, ${analysis.metrics.hosts} hosts, ${analysis.metrics.vms} VMs, power model ${analysis.metrics.powerModel}`, provenance,
    metrics: productionMetricCells(analysis.metrics),
    curves: [
      curve('hosts-active', 'Hosts up', 'hosts', 'mean', s.hostsActive),
      curve('power', 'Power (mean over each interval, estimated)', 'W', 'mean', s.powerW),
      curve('energy', 'Energy from the start (estimated)', 'kWh', 'max', s.energyKwh),
      curve('migrations', 'VM migrations started, from the start', 'migrations', 'max', cumulative(s.migrationsStarted)),
      curve('requests', 'Requests completed, from the start', 'requests', 'max', cumulative(s.requests.completed)),
    ],
  };
}

/** Both runs' values on the union of their times, each null where it has no value. */
export function alignCurves(a: CompareCurve, b: CompareCurve): { readonly x: number[]; readonly a: (number | null)[]; readonly b: (number | null)[] } {
  const x = [...new Set([...a.timeS, ...b.timeS])].sort((p, q) => p - q);
  const index = new Map(x.map((t, i) => [t, i]));
  const place = (curve: CompareCurve): (number | null)[] => {
    const values = new Array<number | null>(x.length).fill(null);
    curve.timeS.forEach((t, i) => { values[index.get(t)!] = curve.values[i]; });
    return values;
  };
  return { x, a: place(a), b: place(b) };
}

/** b − a, written as the metric is (a share's difference in percentage points), and b relative to a. */
function differenceCells(a: MetricRow, b: MetricRow): TableCell[] {
  if (typeof a.cell === 'string' || typeof b.cell === 'string') return ['', ''];
  const difference = b.cell.value - a.cell.value;
  const sign = difference > 0 ? '+' : difference < 0 ? '−' : '';
  const base = Math.abs(a.cell.value);
  const relative = difference === 0 ? '0 %' : base === 0 ? '–' : `${sign}${formatNumber((Math.abs(difference) / base) * 100, 1)} %`;
  return [numberCell(difference, `${sign}${a.format(Math.abs(difference))}`), relative];
}

function metricsTable(a: ComparedRun, b: ComparedRun): TableBlock {
  const bByKey = new Map(b.metrics.map((m) => [m.key, m]));
  return {
    kind: 'table', title: 'Metrics',
    header: ['metric', a.label, b.label, 'b − a', 'b vs a'],
    rows: a.metrics.flatMap((m) => {
      const other = bByKey.get(m.key);
      return other === undefined ? [] : [[m.label, m.cell, other.cell, ...differenceCells(m, other)]];
    }),
  };
}

function overlays(a: ComparedRun, b: ComparedRun): Block[] {
  return a.curves.flatMap((curveA) => {
    const curveB = b.curves.find((c) => c.id === curveA.id);
    if (curveB === undefined) return [];
    const aligned = alignCurves(curveA, curveB);
    return [timeChart({
      id: `compare-${curveA.id}`, title: curveA.title, style: 'lines', xValues: aligned.x, y: { label: curveA.yLabel },
      series: [
        { label: a.label, values: aligned.a, colour: colourAt(0), aggregate: curveA.aggregate },
        { label: b.label, values: aligned.b, colour: colourAt(3), aggregate: curveA.aggregate },
      ],
    })];
  });
}

export function compareDocument(a: ComparedRun, b: ComparedRun): ReportDocument {
  assert(a.curves.length > 0 && b.curves.length > 0, 'compared runs have curves');
  return {
    title: `Comparison: ${a.label} vs ${b.label}`,
    subtitle: `a: ${a.description}; b: ${b.description}. Times from each run's start.`,
    sections: [
      { title: 'Metrics', blocks: [metricsTable(a, b)] },
      { title: 'Over time', blocks: overlays(a, b) },
      { title: 'Provenance', blocks: [{ ...provenanceFacts(a.provenance), title: `Provenance of ${a.label}` }, { ...provenanceFacts(b.provenance), title: `Provenance of ${b.label}` }] },
    ],
  };
}
