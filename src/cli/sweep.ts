/**
 * `neat sweep`: every (day × policy) simulation on worker threads. The runs go
 * to the data stream (`--output`, else stdout) as they finish, one JSON line or
 * one CSV row each; the summary (per policy across days) goes to the other
 * stream, so that each stream holds one kind of record: `> runs.csv 2>
 * summary.csv`, or `--output runs.csv > summary.csv`.
 */
import { appendFileSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { PLANETLAB_HOSTS } from '../../sim/config';
import type { SimulationMetrics } from '../../sim/metrics';
import { SIMULATION_MODES } from '../../sim/run';
import { runSweep, SUMMARISED_METRICS, summariseSweep } from '../../sim/sweep';
import type { MeanAndSd, PolicySummary, SweepJob, SweepOutcome } from '../../sim/sweep';
import { TraceError } from '../../traces/trace';
import { EXIT_FAILURE, EXIT_OK, integerOption, oneOfOption, requiredOption, stringOption, UsageError } from './command';
import type { Command } from './command';
import { progressBar } from './progress';
import { formatNumber, SUMMARY_COLUMNS } from '../report/format';
import { checkPolicy, modeConfig, reportJson } from './simulate';

const SWEEP_FORMATS = ['jsonl', 'csv'] as const;

const SWEEP_USAGE = 'neat sweep --trace <dir> --days <list|all> --policies <list> [--mode cloudsim|neat] [--config <neat.conf>] '
  + '[--seed <n>] [--hosts <n>] [--workers <n>] [--output <file>] [--format jsonl|csv]';

function listDays(root: string, days: string): string[] {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new TraceError(`${root}: not a directory of trace days`);
  const available = readdirSync(root).filter((entry) => !entry.startsWith('.') && statSync(join(root, entry)).isDirectory()).sort();
  if (days === 'all') {
    if (available.length === 0) throw new TraceError(`${root}: no day directories`);
    return available;
  }
  const chosen = days.split(',').map((day) => day.trim()).filter((day) => day !== '');
  const missing = chosen.filter((day) => !available.includes(day));
  if (chosen.length === 0 || missing.length > 0) {
    throw new UsageError(`--days: ${missing.length > 0 ? `no such day ${missing.join(', ')}` : 'no day given'}; available: ${available.join(', ')}`);
  }
  return chosen;
}

/** Columns padded to their widest cell: the first `left` to the left, numbers to the right. */
function alignedTable(header: readonly string[], rows: readonly (readonly string[])[], left: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => (i < left ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n');
}

function runsTable(outcomes: readonly SweepOutcome[]): string {
  const header = ['day', 'policy', 'energy kWh', 'migrations', 'SLATAH %', 'PDM %', 'SLAV', 'ESV', 'wall s'];
  const rows = outcomes.map((o) => (o.result === undefined
    ? [o.job.day, o.job.policy, `failed: ${o.error}`, '', '', '', '', '', '']
    : [o.job.day, o.job.policy, formatNumber(o.result.metrics.energyKwh, 2), String(o.result.metrics.migrations),
      formatNumber(o.result.metrics.slatah * 100, 3), formatNumber(o.result.metrics.pdm * 100, 4), o.result.metrics.slav.toExponential(3),
      o.result.metrics.esv.toExponential(3), formatNumber(o.result.wallMs / 1000, 2)]));
  return alignedTable(header, rows, 2);
}


function meanAndSdText(value: MeanAndSd, format: (value: number) => string): string {
  return value.sd === null ? format(value.mean) : `${format(value.mean)} ± ${format(value.sd)}`;
}

function summaryTable(summaries: readonly PolicySummary[]): string {
  const header = ['policy', 'days', ...SUMMARISED_METRICS.map((name) => SUMMARY_COLUMNS[name].title)];
  const rows = summaries.map((s) => [
    s.policy, s.failed === 0 ? String(s.days) : `${s.days} (${s.failed} failed)`,
    ...SUMMARISED_METRICS.map((name) => (s.metrics === null ? '' : meanAndSdText(s.metrics[name], SUMMARY_COLUMNS[name].format))),
  ]);
  return `Per policy across days: mean ± sample standard deviation\n${alignedTable(header, rows, 1)}`;
}

/** RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled. */
function csvRow(fields: readonly (string | number)[]): string {
  return fields.map((field) => {
    const text = String(field);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  }).join(',');
}

/** The per-run CSV columns: the `--json` keys, so that both formats name a figure alike. */
const RUN_METRICS = ['energyKwh', 'migrations', 'slatah', 'pdm', 'slav', 'esv', 'overallSlaViolation', 'averageSlaViolation', 'hostShutdowns',
  'meanTimeBeforeHostShutdownS', 'meanMigrationDurationS', 'hosts', 'vms', 'simulatedS'] as const satisfies readonly (keyof SimulationMetrics)[];
const RUN_CSV_HEADER = csvRow(['day', 'policy', 'mode', 'seed', ...RUN_METRICS, 'wallMs', 'events', 'error']);

function runCsv(outcome: SweepOutcome): string {
  const { job, result } = outcome;
  if (result === undefined) return csvRow([job.day, job.policy, job.mode, job.seed, ...RUN_METRICS.map(() => ''), '', '', outcome.error]);
  return csvRow([job.day, job.policy, job.mode, job.seed, ...RUN_METRICS.map((name) => result.metrics[name]), Math.round(result.wallMs), result.events, '']);
}

function summaryCsv(summaries: readonly PolicySummary[]): string {
  const header = csvRow(['policy', 'days', 'failed', ...SUMMARISED_METRICS.flatMap((name) => [`${name}Mean`, `${name}Sd`])]);
  const rows = summaries.map((s) => csvRow([s.policy, s.days, s.failed,
    ...SUMMARISED_METRICS.flatMap((name) => (s.metrics === null ? ['', ''] : [s.metrics[name].mean, s.metrics[name].sd ?? '']))]));
  return [header, ...rows].join('\n');
}

function runJsonLine(outcome: SweepOutcome): string {
  return JSON.stringify({ day: outcome.job.day, policy: outcome.job.policy,
    ...(outcome.result === undefined ? { error: outcome.error } : reportJson(outcome.result)) });
}

export const sweepCommand: Command = {
  summary: 'run every (day × policy) simulation on worker threads: a JSON line or CSV row per run, then a summary per policy',
  usage: SWEEP_USAGE,
  options: {
    trace: { type: 'string' }, days: { type: 'string' }, policies: { type: 'string' }, mode: { type: 'string' }, config: { type: 'string' },
    seed: { type: 'string' }, hosts: { type: 'string' }, workers: { type: 'string' }, output: { type: 'string' }, format: { type: 'string' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    const root = requiredOption(values, 'trace', SWEEP_USAGE);
    const days = listDays(root, requiredOption(values, 'days', SWEEP_USAGE));
    const mode = oneOfOption(values, 'mode', SIMULATION_MODES) ?? 'cloudsim';
    const policies = [...new Set(requiredOption(values, 'policies', SWEEP_USAGE).split(',').map((p) => p.trim()).filter((p) => p !== ''))];
    if (policies.length === 0) throw new UsageError(`--policies: no policy given\nUsage: ${SWEEP_USAGE}`);
    policies.forEach((policy) => { checkPolicy(policy, mode, 'policies'); });
    const managerConfig = modeConfig(values, mode, 'sweep', io);
    const seed = stringOption(values, 'seed') ?? '1';
    const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? PLANETLAB_HOSTS;
    const workers = integerOption(values, 'workers', { min: 1, max: 64 }) ?? availableParallelism();
    const format = oneOfOption(values, 'format', SWEEP_FORMATS) ?? 'jsonl';
    const output = stringOption(values, 'output');
    const writeRun = output === undefined ? (line: string): void => { io.out(line); } : (line: string): void => { appendFileSync(output, line + '\n'); };
    const writeSummary = output === undefined ? (text: string): void => { io.err(text); } : (text: string): void => { io.out(text); };
    if (output !== undefined) writeFileSync(output, '');
    if (format === 'csv') writeRun(RUN_CSV_HEADER);
    const jobs: SweepJob[] = days.flatMap((day) => policies.map((policy) => ({ day, dayPath: join(root, day), mode, policy, seed, hosts })));
    const outcomes: SweepOutcome[] = [];
    const progress = progressBar({ label: `sweep ${basename(root)}`, stream: process.stderr, nowMs: Date.now });
    await runSweep(jobs, {
      workers, managerConfig,
      onOutcome: (outcome) => {
        outcomes.push(outcome);
        writeRun(format === 'csv' ? runCsv(outcome) : runJsonLine(outcome));
      },
      onProgress: (runsDone) => { progress.update(runsDone / jobs.length, `${outcomes.length}/${jobs.length} runs`); },
    });
    progress.finish();
    // Outcomes come back from the workers as copies, in finishing order; the tables follow the job order.
    const position = new Map(jobs.map((job, i) => [`${job.day}/${job.policy}`, i]));
    const order = (o: SweepOutcome): number => position.get(`${o.job.day}/${o.job.policy}`) ?? 0;
    const sorted = [...outcomes].sort((a, b) => order(a) - order(b));
    const summaries = summariseSweep(policies, sorted);
    writeSummary(format === 'csv' ? summaryCsv(summaries) : `${runsTable(sorted)}\n\n${summaryTable(summaries)}`);
    return outcomes.some((o) => o.error !== undefined) ? EXIT_FAILURE : EXIT_OK;
  },
};
