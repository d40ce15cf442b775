/** A simulation run's report: its metrics, its configuration and provenance, and its course over time. */
import type { SimulationMetrics } from '../../sim/metrics';
import { colourAt, numberCell, timeChart } from './document';
import { formatNumber } from './format';
import type { Block, FactsBlock, HeatmapBlock, ReportDocument, Section, TableBlock, TableCell } from './document';
import type { Provenance } from './model';
import type { SimulationAnalysis, SimulationHeatmap, Spread } from './simulation';

/** Each metric of a run as a table shows it: label, the text of its value. */
const SIMULATION_METRIC_ROWS: readonly (readonly [keyof SimulationMetrics, string, (value: number) => string])[] = [
  ['energyKwh', 'energy', (v) => `${formatNumber(v, 2)} kWh`],
  ['migrations', 'VM migrations', (v) => formatNumber(v, 0)],
  ['slatah', 'SLATAH', (v) => `${formatNumber(v * 100, 3)} %`],
  ['pdm', 'PDM', (v) => `${formatNumber(v * 100, 4)} %`],
  ['slav', 'SLAV (SLATAH × PDM)', (v) => v.toExponential(4)],
  ['esv', 'ESV (energy × SLAV)', (v) => v.toExponential(4)],
  ['overallSlaViolation', 'overall SLA violation', (v) => `${formatNumber(v * 100, 3)} %`],
  ['averageSlaViolation', 'average SLA violation', (v) => `${formatNumber(v * 100, 3)} %`],
  ['hostShutdowns', 'host shutdowns', (v) => formatNumber(v, 0)],
  ['meanTimeBeforeHostShutdownS', 'mean time before a host shutdown', (v) => `${formatNumber(v, 1)} s`],
  ['meanMigrationDurationS', 'mean migration duration', (v) => `${formatNumber(v, 2)} s`],
  ['hosts', 'hosts', (v) => formatNumber(v, 0)],
  ['vms', 'VMs', (v) => formatNumber(v, 0)],
  ['simulatedS', 'simulated', (v) => `${formatNumber(v, 1)} s`],
];

/** A metric's row: its label, its cell, and how its values (or a difference of them) are written. */
export interface MetricRow {
  readonly key: string;
  readonly label: string;
  readonly cell: TableCell;
  readonly format: (value: number) => string;
}

export function simulationMetricCells(metrics: SimulationMetrics): MetricRow[] {
  return SIMULATION_METRIC_ROWS.map(([key, label, format]) => ({ key, label, cell: numberCell(metrics[key], format(metrics[key])), format }));
}

function metricsTable(analysis: SimulationAnalysis): TableBlock {
  const recorded = analysis.recorded;
  return {
    kind: 'table', title: 'Metrics (sim/metrics.ts; the values neat replay prints)',
    header: ['metric', 'value', 'as the run recorded it'],
    rows: SIMULATION_METRIC_ROWS.map(([key, label, format]) => [label, numberCell(analysis.metrics[key], format(analysis.metrics[key])),
      recorded === null ? 'the run did not finish' : recorded[key] === analysis.metrics[key] ? 'equal' : `DIFFERENT: ${recorded[key]}`]),
  };
}

export function provenanceFacts(provenance: Provenance): FactsBlock {
  return {
    kind: 'facts', title: 'Provenance',
    rows: [['input', provenance.input], ['input sha256', provenance.inputSha256], ['events', formatNumber(provenance.events, 0)],
      ['written by neat-next', provenance.logVersion ?? 'not recorded'], ['report by neat-next', provenance.reportVersion]],
  };
}

function traceText(trace: unknown): string {
  if (typeof trace !== 'object' || trace === null) return String(trace);
  const { name, format, digest, vms, stepS } = trace as Record<string, unknown>;
  return `${String(name)} (${String(format)}, ${String(vms)} VMs, ${String(stepS)} s step, sha256 ${String(digest)})`;
}

function runFacts(analysis: SimulationAnalysis): FactsBlock {
  const { run } = analysis;
  return {
    kind: 'facts', title: 'Run',
    rows: [['policy', run.policy === '' ? 'from the configuration' : run.policy], ['mode', run.mode], ['seed', run.seed],
      ['trace', traceText(run.trace)], ['hosts / VMs', `${run.config.hosts.length} / ${run.config.vms.length}`],
      ['scheduling interval', `${run.config.schedulingIntervalS} s`], ['time limit', `${run.config.limitS} s`]],
  };
}

function configurationBlocks(analysis: SimulationAnalysis): Block[] {
  const { config } = analysis.run;
  const hostsOf = (type: number): number => config.hosts.filter((t) => t === type).length;
  const vmsOf = (type: number): number => config.vms.filter((t) => t === type).length;
  const blocks: Block[] = [
    {
      kind: 'table', title: 'Host types', header: ['type', 'hosts', 'cores', 'MIPS per core', 'RAM MB', 'power model'],
      rows: config.hostTypes.map((t, i) => [t.name, String(hostsOf(i)), String(t.pes), String(t.peMips), String(t.ramMb), t.power]),
    },
    {
      kind: 'table', title: 'VM types', header: ['type', 'VMs', 'MIPS', 'cores', 'RAM MB'],
      rows: config.vmTypes.map((t, i) => [t.name, String(vmsOf(i)), String(t.mips), String(t.pes), String(t.ramMb)]),
    },
  ];
  if (config.manager !== undefined) {
    blocks.push({ kind: 'preformatted', title: "The global manager's settings and the local managers' algorithms", text: JSON.stringify(config.manager, null, 2) });
  }
  return blocks;
}

function percent(values: readonly (number | null)[]): (number | null)[] {
  return values.map((v) => (v === null ? null : v * 100));
}

function spreadSeries(spread: Spread, colour: string): Parameters<typeof timeChart>[0]['series'] {
  return [
    { label: 'p10', values: percent(spread.p10), colour, aggregate: 'min' },
    { label: 'median', values: percent(spread.p50), colour, aggregate: 'mean' },
    { label: 'p90', values: percent(spread.p90), colour, aggregate: 'max' },
  ];
}

/** The heatmap's columns as one base64 string: column after column, a byte per host. */
export function heatmapBlock(id: string, title: string, heatmap: SimulationHeatmap, note: string): HeatmapBlock {
  const rows = heatmap.hosts.length;
  const cells = Buffer.alloc(rows * heatmap.columns.length);
  heatmap.columns.forEach((column, c) => { cells.set(column, c * rows); });
  return { kind: 'heatmap', id, title, rows: heatmap.hosts, x: heatmap.timeS, cells: cells.toString('base64'), note };
}

/**
 * Per-update counts summed on the run's scheduling grid (CloudSim also
 * processes between its intervals, when a migration ends): one bar an interval.
 */
export function onGrid(timeS: readonly number[], values: readonly number[], intervalS: number): { readonly x: number[]; readonly values: number[] } {
  const x: number[] = [];
  const sums: number[] = [];
  timeS.forEach((t, i) => {
    const cellS = Math.floor(t / intervalS) * intervalS;
    if (x.at(-1) !== cellS) {
      x.push(cellS);
      sums.push(0);
    }
    sums[sums.length - 1] += values[i];
  });
  return { x, values: sums };
}

function overTime(analysis: SimulationAnalysis): Block[] {
  const { series, timeS } = analysis;
  const intervalS = analysis.run.config.schedulingIntervalS;
  const migrations = onGrid(timeS, series.migrationsStarted, intervalS);
  const sla = onGrid(timeS, series.slaViolationHostS, intervalS);
  const asleep = analysis.run.mode === 'neat' ? 'suspended' : 'off (no VM; CloudSim switches it off)';
  return [
    timeChart({
      id: 'hosts', title: 'Hosts by power state', style: 'stacked', xValues: timeS, y: { label: 'hosts' },
      series: [
        { label: 'active (VMs running)', values: series.hostsActive, colour: colourAt(0), aggregate: 'mean' },
        { label: 'on, idle', values: series.hostsIdle, colour: colourAt(1), aggregate: 'mean' },
        { label: asleep, values: series.hostsAsleep, colour: colourAt(8), aggregate: 'mean' },
      ],
    }),
    timeChart({
      id: 'power', title: 'Power and energy', style: 'lines', xValues: timeS, y: { label: 'W' }, y2: { label: 'kWh' },
      series: [
        { label: 'power (W, mean over each interval)', values: series.powerW, colour: colourAt(3), aggregate: 'mean' },
        { label: 'energy from the start (kWh)', values: series.energyKwh, colour: colourAt(0), right: true, aggregate: 'max' },
      ],
    }),
    timeChart({
      id: 'vm-cpu', title: 'VM CPU utilisation (allocated over the VM\'s MIPS): p10–p90 and median', style: 'band',
      xValues: timeS, y: { label: '%' }, series: spreadSeries(series.vmUtilization, colourAt(2)),
    }),
    timeChart({
      id: 'host-cpu', title: 'Host CPU utilisation of hosts with VMs: p10–p90 and median', style: 'band',
      xValues: timeS, y: { label: '%' }, series: spreadSeries(series.hostUtilization, colourAt(0)),
    }),
    timeChart({
      id: 'migrations', title: `VM migrations started per interval (${intervalS} s)`, style: 'bars', xValues: migrations.x, y: { label: 'migrations' },
      series: [{ label: 'migrations started', values: migrations.values, colour: colourAt(4), aggregate: 'sum' }],
    }),
    timeChart({
      id: 'sla', title: `SLA violation time per interval (${intervalS} s): hosts with VMs that got less CPU than they requested`, style: 'bars',
      xValues: sla.x, y: { label: 'host·s' },
      series: [{ label: 'SLA violation (host·s)', values: sla.values, colour: colourAt(3), aggregate: 'sum' }],
    }),
    heatmapBlock('heatmap', 'Host CPU utilisation', analysis.heatmap, `grey: ${asleep}; from pale (idle) to dark red (100 %)`),
  ];
}

export function simulationDocument(analysis: SimulationAnalysis): ReportDocument {
  const { run } = analysis;
  const sections: Section[] = [
    { title: 'Summary', blocks: [metricsTable(analysis), runFacts(analysis), provenanceFacts(analysis.provenance)] },
    { title: 'Over time', blocks: overTime(analysis) },
    { title: 'Configuration', blocks: configurationBlocks(analysis) },
  ];
  return {
    title: `Simulation: ${run.policy === '' ? 'neat.conf' : run.policy} on ${traceText(run.trace).split(' (')[0]}`,
    subtitle: `${run.mode} mode, seed ${run.seed}, ${run.config.hosts.length} hosts, ${run.config.vms.length} VMs`,
    sections,
  };
}
