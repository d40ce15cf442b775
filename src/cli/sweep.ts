/**
 * `neat sweep`: every (day × policy) simulation on worker threads. The runs go
 * to the data stream (`--output`, else stdout) as they finish, one JSON line or
 * one CSV row each; the summary (per policy across days) goes to the other
 * stream, so that each stream holds one kind of record: `> runs.csv 2>
 * summary.csv`, or `--output runs.csv > summary.csv`.
 *
 * On a cluster: `--shard i/n` runs one deterministic slice of the grid into a
 * file headed by the sweep's digest; `neat sweep merge` checks the shards and
 * joins them; `neat sweep slurm` submits the slices as a Slurm job array.
 */
import { appendFileSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { PLANETLAB_HOSTS } from '../../sim/config';
import type { SimulationMetrics } from '../../sim/metrics';
import { SIMULATION_MODES } from '../../sim/run';
import { canonicalGrid, parseShard, runSweep, shardJobs, SUMMARISED_METRICS, summariseSweep, sweepDigest } from '../../sim/sweep';
import type { MeanAndSd, PolicySummary, Shard, SummarisedMetric, SweepIdentity, SweepJob, SweepOutcome } from '../../sim/sweep';
import { readPlanetLabTrace } from '../../traces/planetlab';
import type { ManagerConfig } from '../config';
import { CODE_VERSION } from '../version';
import { TraceError } from '../../traces/trace';
import { EXIT_FAILURE, EXIT_OK, integerOption, oneOfOption, requiredOption, stringOption, UsageError } from './command';
import type { Command, Output, ParsedValues } from './command';
import { progressBar } from './progress';
import { formatNumber, SUMMARY_COLUMNS } from '../report/format';
import { checkPolicy, modeConfig, reportJson } from './simulate';
import { runMerge, SHARD_KIND } from './sweepMerge';
import type { ShardHeader } from './sweepMerge';
import { runSlurm, SLURM_USAGE } from './sweepSlurm';

const SWEEP_FORMATS = ['jsonl', 'csv'] as const;

const SWEEP_USAGE = 'neat sweep --trace <dir> --days <list|all> --policies <list> [--mode cloudsim|neat] [--config <neat.conf>] '
  + '[--seed <n>] [--hosts <n>] [--workers <n>] [--output <file>] [--format jsonl|csv] [--shard <i>/<n>]';
const MERGE_USAGE = 'neat sweep merge <shard.jsonl>... [--output <merged.jsonl>]';

/** The options of `neat sweep` itself (run or shard); merge and slurm check theirs. */
export const SWEEP_OPTIONS = ['trace', 'days', 'policies', 'mode', 'config', 'seed', 'hosts', 'workers', 'output', 'format', 'shard'] as const;

export function listDays(root: string, days: string): string[] {
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

/** What the runs table reads of a run: a sweep's outcome, or a line of a shard. */
export interface TableRun {
  readonly job: { readonly day: string; readonly policy: string };
  readonly result?: { readonly metrics: Readonly<Record<SummarisedMetric, number>>; readonly wallMs: number };
  readonly error?: string;
}

export function runsTable(outcomes: readonly TableRun[]): string {
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

export function summaryTable(summaries: readonly PolicySummary[]): string {
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

/** The grid and what every run of it shares, from the command line. */
export interface SweepGrid {
  readonly root: string;
  readonly days: readonly string[];
  readonly policies: readonly string[];
  readonly mode: SweepJob['mode'];
  readonly managerConfig: ManagerConfig | null;
  /** Mode `neat`: the file given, which a Slurm task reads again. */
  readonly configPath: string | undefined;
  readonly seed: string;
  readonly hosts: number;
}

export function sweepGrid(values: ParsedValues, io: Output, usage: string): SweepGrid {
  const root = requiredOption(values, 'trace', usage);
  const days = listDays(root, requiredOption(values, 'days', usage));
  const mode = oneOfOption(values, 'mode', SIMULATION_MODES) ?? 'cloudsim';
  const policies = [...new Set(requiredOption(values, 'policies', usage).split(',').map((p) => p.trim()).filter((p) => p !== ''))];
  if (policies.length === 0) throw new UsageError(`--policies: no policy given\nUsage: ${usage}`);
  policies.forEach((policy) => { checkPolicy(policy, mode, 'policies'); });
  const managerConfig = modeConfig(values, mode, 'sweep', io);
  const seed = stringOption(values, 'seed') ?? '1';
  const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? PLANETLAB_HOSTS;
  return { root, days, policies, mode, managerConfig, configPath: stringOption(values, 'config'), seed, hosts };
}

export function gridJobs(grid: SweepGrid): SweepJob[] {
  const { root, mode, seed, hosts } = grid;
  return canonicalGrid(grid.days, grid.policies, (day, policy) => ({ day, dayPath: join(root, day), mode, policy, seed, hosts }));
}

/** Options given that `command` does not take: a usage error naming them, rather than an option silently ignored. */
export function refuseOptions(values: ParsedValues, allowed: readonly string[], command: string, usage: string): void {
  const foreign = Object.keys(values).filter((name) => name !== 'help' && values[name] !== undefined && !allowed.includes(name));
  if (foreign.length > 0) throw new UsageError(`${foreign.map((name) => `--${name}`).join(', ')}: not an option of ${command}\nUsage: ${usage}`);
}

/** The header line of a shard: the sweep it belongs to, and which slice of it the file holds. */
function shardHeader(grid: SweepGrid, shard: Shard, jobs: number, gridJobs: number): ShardHeader {
  // Each day is read once here for its digest: the sweep's identity covers the trace's bytes, not only its name.
  const identity: SweepIdentity = {
    days: [...grid.days].sort().map((day) => ({ day, traceDigest: readPlanetLabTrace(join(grid.root, day)).digest })),
    policies: grid.policies, mode: grid.mode, seed: grid.seed, hosts: grid.hosts, managerConfig: grid.managerConfig, codeVersion: CODE_VERSION,
  };
  return { kind: SHARD_KIND, sweep: sweepDigest(identity), shard: `${shard.index}/${shard.count}`, index: shard.index, count: shard.count,
    jobs, gridJobs, identity };
}

async function runLocal(values: ParsedValues, io: Output): Promise<number> {
  refuseOptions(values, SWEEP_OPTIONS, 'neat sweep', SWEEP_USAGE);
  const grid = sweepGrid(values, io, SWEEP_USAGE);
  const shardText = stringOption(values, 'shard');
  const shard = shardText === undefined ? null : parseShard(shardText);
  if (typeof shard === 'string') throw new UsageError(`--shard: ${shard}`);
  const workers = integerOption(values, 'workers', { min: 1, max: 64 }) ?? availableParallelism();
  const format = oneOfOption(values, 'format', SWEEP_FORMATS) ?? 'jsonl';
  if (shard !== null && format !== 'jsonl') throw new UsageError('--shard writes JSON lines (what neat sweep merge reads): --format csv is for a whole sweep');
  const output = stringOption(values, 'output');
  const writeRun = output === undefined ? (line: string): void => { io.out(line); } : (line: string): void => { appendFileSync(output, line + '\n'); };
  const writeSummary = output === undefined ? (text: string): void => { io.err(text); } : (text: string): void => { io.out(text); };
  const allJobs = gridJobs(grid);
  const jobs = shard === null ? allJobs : shardJobs(allJobs, shard);
  const header = shard === null ? null : shardHeader(grid, shard, jobs.length, allJobs.length);
  if (output !== undefined) writeFileSync(output, '');
  if (header !== null) writeRun(JSON.stringify(header));
  if (format === 'csv') writeRun(RUN_CSV_HEADER);
  const outcomes: SweepOutcome[] = [];
  const progress = progressBar({ label: `sweep ${basename(grid.root)}${shard === null ? '' : ` ${shard.index}/${shard.count}`}`, stream: process.stderr, nowMs: Date.now });
  if (jobs.length > 0) {
    await runSweep(jobs, {
      workers, managerConfig: grid.managerConfig,
      onOutcome: (outcome) => {
        outcomes.push(outcome);
        writeRun(format === 'csv' ? runCsv(outcome) : runJsonLine(outcome));
      },
      onProgress: (runsDone) => { progress.update(runsDone / jobs.length, `${outcomes.length}/${jobs.length} runs`); },
    });
  }
  progress.finish();
  // Outcomes come back from the workers as copies, in finishing order; the tables follow the job order.
  const position = new Map(jobs.map((job, i) => [`${job.day}/${job.policy}`, i]));
  const order = (o: SweepOutcome): number => position.get(`${o.job.day}/${o.job.policy}`) ?? 0;
  const sorted = [...outcomes].sort((a, b) => order(a) - order(b));
  const summaries = summariseSweep(grid.policies, sorted);
  writeSummary(format === 'csv' ? summaryCsv(summaries) : `${runsTable(sorted)}\n\n${summaryTable(summaries)}`);
  return outcomes.some((o) => o.error !== undefined) ? EXIT_FAILURE : EXIT_OK;
}

export const sweepCommand: Command = {
  summary: 'run every (day × policy) simulation on worker threads, or a shard of them; merge shards; submit a sweep to Slurm',
  usage: `${SWEEP_USAGE}\n       ${MERGE_USAGE}\n       ${SLURM_USAGE}`,
  options: {
    trace: { type: 'string' }, days: { type: 'string' }, policies: { type: 'string' }, mode: { type: 'string' }, config: { type: 'string' },
    seed: { type: 'string' }, hosts: { type: 'string' }, workers: { type: 'string' }, output: { type: 'string' }, format: { type: 'string' },
    shard: { type: 'string' }, shards: { type: 'string' }, 'output-dir': { type: 'string' }, partition: { type: 'string' },
    'time-limit': { type: 'string' }, account: { type: 'string' }, 'dry-run': { type: 'boolean' },
  },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length === 0) return runLocal(values, io);
    const [verb, ...rest] = positionals;
    if (verb === 'merge') return runMerge(values, rest, io, MERGE_USAGE);
    if (verb === 'slurm') {
      if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"\nUsage: ${SLURM_USAGE}`);
      return runSlurm(values, io);
    }
    throw new UsageError(`unknown sweep command "${verb}" (merge, slurm, or none to run a sweep)\nUsage: ${SWEEP_USAGE}`);
  },
};
