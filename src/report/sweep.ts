/**
 * A sweep's JSON lines (`neat sweep --format jsonl`) as a report draws them:
 * each run's metrics by day and policy, the runs that failed, and per policy
 * the summary `neat sweep` prints (the same function computes it).
 */
import { readFileSync } from 'node:fs';
import { SUMMARISED_METRICS, summariseSweep } from '../../sim/sweep';
import type { PolicySummary, SummarisedMetric } from '../../sim/sweep';
import { CODE_VERSION } from '../version';
import { colourAt, numberCell } from './document';
import { SUMMARY_COLUMNS } from './format';
import type { ChartBlock, ReportDocument, TableBlock, TableCell } from './document';
import { fileSha256, ReportError } from './input';
import type { Provenance } from './model';
import { provenanceFacts } from './simulationReport';

/** A bound on the runs of one sweep file (the 10-day × 5-policy sweep has 50). */
const MAX_SWEEP_RUNS = 100_000;

export interface SweepRun {
  readonly day: string;
  readonly policy: string;
  readonly metrics: Readonly<Record<SummarisedMetric, number>>;
  readonly mode: string | null;
  readonly seed: string | null;
}

export interface SweepAnalysis {
  readonly provenance: Provenance;
  readonly runs: readonly SweepRun[];
  readonly failed: readonly { readonly day: string; readonly policy: string; readonly error: string }[];
  /** Sorted: a sweep writes its runs as they finish, in no set order. */
  readonly policies: readonly string[];
  /** Sorted (days are named by their date). */
  readonly days: readonly string[];
  readonly summaries: readonly PolicySummary[];
}

type ParsedLine =
  | { readonly day: string; readonly policy: string; readonly run: SweepRun }
  | { readonly day: string; readonly policy: string; readonly error: string };

function parseLine(text: string, where: string): ParsedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ReportError(`${where}: not JSON (${(error as Error).message}), so not a line of neat sweep --format jsonl`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ReportError(`${where}: not a JSON object`);
  const line = value as Record<string, unknown>;
  const { day, policy, error } = line;
  if (typeof day !== 'string' || day === '') throw new ReportError(`${where}: no "day" (a sweep's line names its day)`);
  if (typeof policy !== 'string' || policy === '') throw new ReportError(`${where}: no "policy" (a sweep's line names its policy)`);
  if (typeof error === 'string') return { day, policy, error };
  const metrics: Partial<Record<SummarisedMetric, number>> = {};
  for (const name of SUMMARISED_METRICS) {
    const metric = line[name];
    if (typeof metric !== 'number' || !Number.isFinite(metric)) throw new ReportError(`${where}: "${name}" must be a number; got ${metric === undefined ? 'nothing' : JSON.stringify(metric)}`);
    metrics[name] = metric;
  }
  const optionalText = (key: string): string | null => (typeof line[key] === 'string' ? line[key] : null);
  return { day, policy, run: { day, policy, metrics: metrics as Record<SummarisedMetric, number>, mode: optionalText('mode'), seed: optionalText('seed') } };
}

export function analyseSweepFile(path: string, input: string): SweepAnalysis {
  const lines = readFileSync(path, 'utf8').split('\n');
  const runs: SweepRun[] = [];
  const failed: { day: string; policy: string; error: string }[] = [];
  const seen = new Set<string>();
  lines.forEach((text, index) => {
    if (text.trim() === '') return;
    const where = `${input}:${index + 1}`;
    const parsed = parseLine(text, where);
    const key = `${parsed.day}\n${parsed.policy}`;
    if (seen.has(key)) throw new ReportError(`${where}: a second run of ${parsed.policy} on ${parsed.day}`);
    seen.add(key);
    if ('error' in parsed) failed.push({ day: parsed.day, policy: parsed.policy, error: parsed.error });
    else runs.push(parsed.run);
    if (seen.size > MAX_SWEEP_RUNS) throw new ReportError(`${where}: more than ${MAX_SWEEP_RUNS} runs`);
  });
  if (seen.size === 0) throw new ReportError(`${input}: no runs (only blank lines)`);
  const all = [...runs, ...failed];
  const policies = [...new Set(all.map((r) => r.policy))].sort();
  const days = [...new Set(all.map((r) => r.day))].sort();
  const outcomes = [...runs.map((run) => ({ job: { policy: run.policy }, result: { metrics: run.metrics } })), ...failed.map((f) => ({ job: { policy: f.policy }, error: f.error }))];
  return {
    provenance: { input, inputSha256: fileSha256(path), reportVersion: CODE_VERSION, logVersion: null, events: seen.size },
    runs, failed, policies, days, summaries: summariseSweep(policies, outcomes),
  };
}


function summaryTable(analysis: SweepAnalysis): TableBlock {
  return {
    kind: 'table', title: 'Per policy across days: mean ± sample standard deviation',
    header: ['policy', 'days', ...SUMMARISED_METRICS.map((name) => SUMMARY_COLUMNS[name].title)],
    rows: analysis.summaries.map((s): TableCell[] => [s.policy, s.failed === 0 ? String(s.days) : `${s.days} (${s.failed} failed)`,
      ...SUMMARISED_METRICS.map((name): TableCell => {
        if (s.metrics === null) return '';
        const { mean, sd } = s.metrics[name];
        const { format } = SUMMARY_COLUMNS[name];
        return numberCell(mean, sd === null ? format(mean) : `${format(mean)} ± ${format(sd)}`);
      })]),
  };
}

function runsTable(analysis: SweepAnalysis): TableBlock {
  const sorted = [...analysis.runs].sort((a, b) => a.day.localeCompare(b.day) || analysis.policies.indexOf(a.policy) - analysis.policies.indexOf(b.policy));
  return {
    kind: 'table', title: 'Runs',
    header: ['day', 'policy', ...SUMMARISED_METRICS.map((name) => SUMMARY_COLUMNS[name].title)],
    rows: [
      ...sorted.map((run) => [run.day, run.policy, ...SUMMARISED_METRICS.map((name) => numberCell(run.metrics[name], SUMMARY_COLUMNS[name].format(run.metrics[name])))]),
      ...analysis.failed.map((f) => [f.day, f.policy, `failed: ${f.error}`, '', '', '', '', '']),
    ],
  };
}

/** One point per run, a series per policy: x the run's energy, y its SLAV (a policy's series is empty where another's run is). */
function scatter(analysis: SweepAnalysis): ChartBlock {
  const byEnergy = [...analysis.runs].sort((a, b) => a.metrics.energyKwh - b.metrics.energyKwh);
  return {
    kind: 'chart', id: 'energy-slav', title: 'Energy vs SLAV, one point per day × policy', style: 'points',
    x: { kind: 'value', label: 'energy (kWh)', values: byEnergy.map((run) => run.metrics.energyKwh) }, y: { label: 'SLAV' },
    series: analysis.policies.map((policy, i) => ({
      label: policy, colour: colourAt(i), values: byEnergy.map((run) => (run.policy === policy ? run.metrics.slav : null)),
    })),
  };
}

function perDay(analysis: SweepAnalysis, metric: SummarisedMetric, title: string, yLabel: string): ChartBlock {
  const value = (day: string, policy: string): number | null => {
    const run = analysis.runs.find((r) => r.day === day && r.policy === policy);
    return run === undefined ? null : run.metrics[metric];
  };
  return {
    kind: 'chart', id: `per-day-${metric}`, title, style: 'grouped',
    x: { kind: 'category', label: 'day', values: analysis.days.map((_day, i) => i), categories: analysis.days }, y: { label: yLabel },
    series: analysis.policies.map((policy, i) => ({ label: policy, colour: colourAt(i), values: analysis.days.map((day) => value(day, policy)) })),
  };
}

export function sweepDocument(analysis: SweepAnalysis): ReportDocument {
  const charts = [
    scatter(analysis),
    perDay(analysis, 'energyKwh', 'Energy per day', 'kWh'),
    perDay(analysis, 'slav', 'SLAV per day', 'SLAV'),
    perDay(analysis, 'migrations', 'VM migrations per day', 'migrations'),
  ];
  const modes = [...new Set(analysis.runs.map((r) => r.mode).filter((m) => m !== null))];
  return {
    title: `Sweep: ${analysis.policies.length} ${analysis.policies.length === 1 ? 'policy' : 'policies'} × ${analysis.days.length} ${analysis.days.length === 1 ? 'day' : 'days'}`,
    subtitle: `${analysis.runs.length} runs${analysis.failed.length > 0 ? `, ${analysis.failed.length} failed` : ''}${modes.length > 0 ? `, ${modes.join(', ')} mode` : ''}`,
    sections: [
      { title: 'Summary', blocks: [summaryTable(analysis), provenanceFacts(analysis.provenance)] },
      { title: 'Policies side by side', blocks: charts },
      { title: 'Runs', blocks: [runsTable(analysis)] },
    ],
  };
}
