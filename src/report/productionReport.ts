/**
 * A manager's log as a report: what its requests came to, its migrations
 * (how long they took, which failed), suspends and wakes, how long deciding
 * took and the energy its hosts drew by the configured power model, all from
 * the log's `ProductionAnalysis`.
 */
import { basename } from 'node:path';
import { percentileCommonsMath } from '../engine/numeric';
import { colourAt, numberCell, timeChart } from './document';
import { formatNumber } from './format';
import type { Block, ChartBlock, FactsBlock, ReportDocument, SeriesInput, TableBlock } from './document';
import type { ProductionAnalysis, ProductionMetrics, Provenance } from './model';
import { provenanceFacts } from './simulationReport';
import type { MetricRow } from './simulationReport';

/** Bins of the migration-duration histogram, from the shortest duration to the longest. */
const DURATION_BINS = 30;

const PRODUCTION_METRIC_ROWS: readonly (readonly [keyof ProductionMetrics, string, (value: number) => string])[] = [
  ['energyKwh', 'energy (estimated)', (v) => `${formatNumber(v, 2)} kWh`],
  ['migrations', 'VM migrations started', (v) => formatNumber(v, 0)],
  ['migrationsCompleted', 'completed', (v) => formatNumber(v, 0)],
  ['migrationsFailed', 'failed (attempts)', (v) => formatNumber(v, 0)],
  ['migrationsAbandoned', 'abandoned', (v) => formatNumber(v, 0)],
  ['slatah', 'SLATAH', (v) => `${formatNumber(v * 100, 3)} %`],
  ['pdm', 'PDM', (v) => `${formatNumber(v * 100, 4)} %`],
  ['slav', 'SLAV (SLATAH × PDM)', (v) => v.toExponential(4)],
  ['esv', 'ESV (energy × SLAV)', (v) => v.toExponential(4)],
  ['hostShutdowns', 'host suspends', (v) => formatNumber(v, 0)],
  ['meanTimeBeforeHostShutdownS', 'mean time up before a suspend', (v) => `${formatNumber(v, 1)} s`],
  ['meanMigrationDurationS', 'mean migration duration', (v) => `${formatNumber(v, 2)} s`],
  ['hosts', 'hosts', (v) => formatNumber(v, 0)],
  ['vms', 'VMs', (v) => formatNumber(v, 0)],
  ['observedS', 'observed', (v) => `${formatNumber(v, 0)} s`],
];

export function productionMetricCells(metrics: ProductionMetrics): MetricRow[] {
  return PRODUCTION_METRIC_ROWS.flatMap(([key, label, format]) => {
    const value = metrics[key];
    return typeof value === 'number' ? [{ key, label, cell: numberCell(value, format(value)), format }] : [];
  });
}

/** Bucket k's start, seconds from the first bucket's. */
export function bucketTimes(analysis: ProductionAnalysis): number[] {
  return Array.from({ length: analysis.buckets.count }, (_, k) => k * analysis.buckets.bucketS);
}

function startText(analysis: ProductionAnalysis): string {
  const { startS } = analysis.buckets;
  // A mode-neat run's clock starts at 0: its times are the simulation's, not dates.
  return startS < 365 * 86_400 ? `simulated time from ${formatNumber(startS, 0)} s` : `from ${new Date(startS * 1000).toISOString()}`;
}

function metricsTable(metrics: ProductionMetrics): TableBlock {
  return {
    kind: 'table', title: `Metrics (power model ${metrics.powerModel})`,
    header: ['metric', 'value'], rows: productionMetricCells(metrics).map(({ label, cell }) => [label, cell]),
  };
}

function latencyFacts(analysis: ProductionAnalysis): FactsBlock {
  const latencies = analysis.decisionLatency.latencyMs;
  const at = (p: number): string => (latencies.length === 0 ? '–' : `${formatNumber(percentileCommonsMath(latencies, p), 1)} ms`);
  return {
    kind: 'facts', title: 'Decision latency (request received → decided)',
    rows: [['decisions', formatNumber(latencies.length, 0)], ['median', at(50)], ['p99', at(99)],
      ['max', latencies.length === 0 ? '–' : `${formatNumber(latencies.reduce((a, b) => Math.max(a, b)), 1)} ms`]],
  };
}

const REQUEST_OUTCOMES = [
  ['completed', 'completed'], ['partial', 'partial'], ['recorded', 'recorded (manual, off)'], ['superseded', 'superseded'],
  ['failed', 'failed'], ['rejected', 'rejected'],
] as const;

function requestsChart(analysis: ProductionAnalysis, times: readonly number[]): ChartBlock {
  const outcomes: SeriesInput[] = REQUEST_OUTCOMES.map(([key, label], i) => ({
    label, values: analysis.series.requests[key], colour: colourAt(i), aggregate: 'sum',
  }));
  const nothing: SeriesInput[] = Object.entries(analysis.series.nothingToDo).map(([reason, values], i) => ({
    label: `nothing to do: ${reason}`, values, colour: colourAt(REQUEST_OUTCOMES.length + i), aggregate: 'sum',
  }));
  return timeChart({
    id: 'requests', title: 'Requests by outcome, per interval', style: 'stacked', xValues: times, y: { label: 'requests' },
    series: [...outcomes, ...nothing],
  });
}

/** Per bucket, the median and the maximum latency of the decisions made in it (null: none). */
function latencyByBucket(analysis: ProductionAnalysis): { readonly median: (number | null)[]; readonly max: (number | null)[] } {
  const { startS, bucketS, count } = analysis.buckets;
  const perBucket: number[][] = Array.from({ length: count }, () => []);
  analysis.decisionLatency.timeS.forEach((timeS, i) => {
    const k = Math.min(count - 1, Math.max(0, Math.floor((timeS - startS) / bucketS)));
    perBucket[k].push(analysis.decisionLatency.latencyMs[i]);
  });
  return {
    median: perBucket.map((values) => (values.length === 0 ? null : percentileCommonsMath(values, 50))),
    max: perBucket.map((values) => (values.length === 0 ? null : values.reduce((a, b) => Math.max(a, b)))),
  };
}

function durationHistogram(durationsS: readonly number[]): ChartBlock {
  const minS = durationsS.reduce((a, b) => Math.min(a, b), Infinity);
  const maxS = durationsS.reduce((a, b) => Math.max(a, b), -Infinity);
  const fromS = Number.isFinite(minS) ? minS : 0;
  // Durations all alike (or none): one bin.
  const bins = maxS > fromS ? DURATION_BINS : 1;
  const binS = bins === 1 ? 0 : (maxS - fromS) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (const d of durationsS) counts[bins === 1 ? 0 : Math.min(bins - 1, Math.floor((d - fromS) / binS))] += 1;
  return {
    kind: 'chart', id: 'migration-durations', title: 'Migration durations (completed migrations)', style: 'bars',
    // Each bar at the middle of its bin.
    x: { kind: 'value', label: 'duration (s)', values: counts.map((_c, i) => fromS + (i + 0.5) * binS) }, y: { label: 'migrations' },
    series: [{ label: 'migrations', values: counts, colour: colourAt(2) }],
    note: bins === 1 ? `${durationsS.length} completed, each in ${formatNumber(fromS, 2)} s` : `${durationsS.length} completed; bins of ${formatNumber(binS, 2)} s`,
  };
}

function failuresTable(analysis: ProductionAnalysis): TableBlock {
  const { startS } = analysis.buckets;
  return {
    kind: 'table', title: `Failed and abandoned migrations (${analysis.migrationFailures.length}, most recent last)`,
    header: ['time from the start (s)', 'VM', 'from', 'to', 'error'],
    rows: analysis.migrationFailures.map((f) => [numberCell(f.timeS - startS, formatNumber(f.timeS - startS, 1)), f.vmId, f.sourceHost, f.targetHost, f.error]),
  };
}

function overTime(analysis: ProductionAnalysis): Block[] {
  const times = bucketTimes(analysis);
  const s = analysis.series;
  const latency = latencyByBucket(analysis);
  return [
    requestsChart(analysis, times),
    timeChart({
      id: 'migrations', title: 'Migrations per interval', style: 'lines', xValues: times, y: { label: 'migrations' },
      series: [
        { label: 'started', values: s.migrationsStarted, colour: colourAt(0), aggregate: 'sum' },
        { label: 'completed', values: s.migrationsCompleted, colour: colourAt(2), aggregate: 'sum' },
        { label: 'failed', values: s.migrationsFailed, colour: colourAt(3), aggregate: 'sum' },
      ],
    }),
    durationHistogram(analysis.migrationDurations.durationS),
    failuresTable(analysis),
    timeChart({
      id: 'hosts', title: 'Hosts up and suspended', style: 'stacked', xValues: times, y: { label: 'hosts' },
      series: [
        { label: 'up', values: s.hostsActive, colour: colourAt(0), aggregate: 'mean' },
        { label: 'suspended', values: s.hostsSuspended, colour: colourAt(8), aggregate: 'mean' },
      ],
    }),
    timeChart({
      id: 'power-events', title: 'Suspends and wakes per interval', style: 'lines', xValues: times, y: { label: 'hosts' },
      series: [
        { label: 'suspended', values: s.suspends, colour: colourAt(0), aggregate: 'sum' },
        { label: 'woken', values: s.wakes, colour: colourAt(1), aggregate: 'sum' },
        { label: 'suspend failed', values: s.suspendFailures, colour: colourAt(3), aggregate: 'sum' },
        { label: 'wake failed', values: s.wakeFailures, colour: colourAt(4), aggregate: 'sum' },
      ],
    }),
    timeChart({
      id: 'latency', title: 'Decision latency per interval', style: 'lines', xValues: times, y: { label: 'ms' },
      series: [
        { label: 'median', values: latency.median, colour: colourAt(0), aggregate: 'mean' },
        { label: 'max', values: latency.max, colour: colourAt(3), aggregate: 'max' },
      ],
    }),
    timeChart({
      id: 'power', title: `Power and energy (estimated with ${analysis.metrics.powerModel})`, style: 'lines', xValues: times,
      y: { label: 'W' }, y2: { label: 'kWh' },
      series: [
        { label: 'power (W, mean over each interval)', values: s.powerW, colour: colourAt(3), aggregate: 'mean' },
        { label: 'energy from the start (kWh)', values: s.energyKwh, colour: colourAt(0), right: true, aggregate: 'max' },
      ],
    }),
  ];
}

export function productionDocument(analysis: ProductionAnalysis, provenance: Provenance): ReportDocument {
  const m = analysis.metrics;
  return {
    title: `Global manager: ${basename(provenance.input)}`,
    subtitle: `${m.hosts} hosts, ${m.vms} VMs, ${formatNumber(m.observedS / 3600, 1)} h observed, ${startText(analysis)}; intervals of ${formatNumber(analysis.buckets.bucketS, 0)} s`,
    sections: [
      { title: 'Summary', blocks: [metricsTable(m), latencyFacts(analysis), provenanceFacts(provenance)] },
      { title: 'Over time', blocks: overTime(analysis) },
    ],
  };
}
