/** `neat sim`, `neat replay` and `neat sweep`: the simulator from the command line. */
import { existsSync, readdirSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { parseCloudsimPolicy, UnknownPolicyError } from '../engine/cloudsim/policies';
import { SqliteEventLog } from '../log/sqlite';
import { PLANETLAB_HOSTS } from '../../sim/config';
import type { SimulationMetrics } from '../../sim/metrics';
import { replayRun } from '../../sim/replay';
import { runSimulation, SIMULATION_MODES } from '../../sim/run';
import type { DecisionTimes, SimulationMode } from '../../sim/run';
import { loadConfig } from '../config';
import { parseNeatPolicy } from '../engine/neatPolicies';
import { runSweep } from '../../sim/sweep';
import type { SweepJob, SweepOutcome } from '../../sim/sweep';
import { readCsvTrace } from '../../traces/csv';
import { readPlanetLabTrace } from '../../traces/planetlab';
import { TraceError } from '../../traces/trace';
import type { Trace } from '../../traces/trace';
import { EXIT_FAILURE, EXIT_OK, integerOption, oneOfOption, requiredOption, stringOption, UsageError } from './command';
import type { Command } from './command';
import { progressBar } from './progress';

export const TRACE_FORMATS = ['planetlab', 'csv'] as const;

export function loadTrace(path: string, format: (typeof TRACE_FORMATS)[number] | undefined): Trace {
  if (!existsSync(path)) throw new TraceError(`${path}: no such file or directory`);
  const directory = statSync(path).isDirectory();
  const chosen = format ?? (directory ? 'planetlab' : 'csv');
  if (chosen === 'planetlab' && !directory) throw new TraceError(`${path}: a PlanetLab trace is a directory with one file per VM`);
  if (chosen === 'csv' && directory) throw new TraceError(`${path}: a CSV trace is a file, not a directory`);
  return chosen === 'planetlab' ? readPlanetLabTrace(path) : readCsvTrace(path);
}

function checkPolicy(policy: string, mode: SimulationMode): void {
  try {
    if (mode === 'cloudsim') parseCloudsimPolicy(policy);
    else parseNeatPolicy(policy);
  } catch (error) {
    if (error instanceof UnknownPolicyError) throw new UsageError(`--policy: ${error.message}`);
    throw error;
  }
}

export interface Report {
  readonly metrics: SimulationMetrics;
  readonly wallMs: number;
  readonly seed: string;
  readonly policy: string;
  readonly mode: string;
  readonly trace: string;
  readonly events: number;
  readonly decisionTimes: DecisionTimes | null;
}

function reportJson(report: Report): Record<string, unknown> {
  return { ...report.metrics, wallMs: Math.round(report.wallMs), seed: report.seed, policy: report.policy, mode: report.mode,
    trace: report.trace, events: report.events, decisionTimeMs: report.decisionTimes };
}

const number = (value: number, digits: number): string => value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function reportTable(report: Report, title: string): string {
  const m = report.metrics;
  const rows: [string, string][] = [
    ['hosts / VMs', `${m.hosts} / ${m.vms}`],
    ['simulated', `${number(m.simulatedS, 1)} s`],
    ['energy', `${number(m.energyKwh, 2)} kWh`],
    ['VM migrations', number(m.migrations, 0)],
    ['SLATAH', `${number(m.slatah * 100, 3)} %`],
    ['PDM', `${number(m.pdm * 100, 4)} %`],
    ['SLAV (SLATAH × PDM)', m.slav.toExponential(4)],
    ['ESV (energy × SLAV)', m.esv.toExponential(4)],
    ['overall SLA violation', `${number(m.overallSlaViolation * 100, 3)} %`],
    ['host shutdowns', `${number(m.hostShutdowns, 0)} (mean ${number(m.meanTimeBeforeHostShutdownS, 1)} s before each)`],
    ['mean migration duration', `${number(m.meanMigrationDurationS, 2)} s`],
  ];
  const times = report.decisionTimes;
  if (times !== null && times.count > 0) {
    rows.push(['decision time', `mean ${number(times.meanMs, 2)} ms, p99 ${number(times.p99Ms, 2)} ms, max ${number(times.maxMs, 2)} ms (${times.count})`]);
  }
  rows.push(['wall time', `${number(report.wallMs / 1000, 2)} s (${number(report.events, 0)} events)`]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return [title, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join('\n');
}

const SIM_USAGE = 'neat sim --trace <dir|file> [--format planetlab|csv] [--mode cloudsim] --policy <name> [--seed <n>] '
  + '[--hosts <n>] [--events <file.sqlite>] [--json]\n'
  + '       neat sim --trace <dir|file> [--format planetlab|csv] --mode neat [--policy <name>] [--config <neat.conf>] [--seed <n>] '
  + '[--hosts <n>] [--events <file.sqlite>] [--json]';

export const simCommand: Command = {
  summary: 'replay a workload trace in the simulated data centre and report energy, SLA and migration metrics',
  usage: SIM_USAGE,
  options: {
    trace: { type: 'string' }, format: { type: 'string' }, mode: { type: 'string' }, policy: { type: 'string' },
    seed: { type: 'string' }, hosts: { type: 'string' }, events: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    const tracePath = requiredOption(values, 'trace', SIM_USAGE);
    const format = oneOfOption(values, 'format', TRACE_FORMATS);
    const mode = oneOfOption(values, 'mode', SIMULATION_MODES) ?? 'cloudsim';
    // Mode neat takes its algorithms from the configuration unless a policy names them.
    const policy = mode === 'neat' ? stringOption(values, 'policy') ?? '' : requiredOption(values, 'policy', SIM_USAGE);
    if (policy !== '') checkPolicy(policy, mode);
    const configPath = stringOption(values, 'config');
    if (configPath !== undefined && mode !== 'neat') throw new UsageError('--config is for --mode neat (the global manager\'s neat.conf)');
    const managerConfig = configPath === undefined ? undefined : loadConfig({ files: [configPath], env: process.env });
    const seed = stringOption(values, 'seed') ?? '1';
    const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? PLANETLAB_HOSTS;
    const events = stringOption(values, 'events');
    const trace = loadTrace(tracePath, format);
    const progress = progressBar(`${policy || 'neat.conf'} ${trace.name}`);
    const result = await runSimulation({
      trace, mode, policy, seed, hosts, eventsPath: events ?? null, managerConfig, onProgress: (fraction) => { progress.update(fraction, 1); },
    });
    progress.finish();
    const report: Report = { ...result, trace: result.trace, decisionTimes: result.decisionTimes };
    io.out(values.json === true ? JSON.stringify(reportJson(report))
      : reportTable(report, `Simulation: ${result.policy} on ${result.trace} (${result.mode} mode, seed ${result.seed})`));
    return EXIT_OK;
  },
};

export const replayCommand: Command = {
  summary: "recompute a simulation's metrics from its event log alone",
  usage: 'neat replay <file.sqlite> [--json]',
  options: { json: { type: 'boolean' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError('neat replay takes exactly one event log file\nUsage: neat replay <file.sqlite> [--json]');
    const path = positionals[0];
    if (!existsSync(path)) throw new UsageError(`${path}: no such file`);
    const log = new SqliteEventLog(path);
    try {
      const replay = await replayRun(log);
      const report: Report = { ...replay, decisionTimes: null };
      const matches = replay.recorded === null ? null : JSON.stringify(replay.recorded) === JSON.stringify(replay.metrics);
      io.out(values.json === true ? JSON.stringify({ ...reportJson(report), recordedMetricsMatch: matches })
        : reportTable(report, `Replay of ${path}: ${replay.policy} on ${replay.trace} (${replay.mode} mode, seed ${replay.seed})`)
          + `\n  recorded metrics          ${matches === null ? 'none (the run did not finish)' : matches ? 'equal' : 'DIFFERENT'}`);
      return matches === false ? EXIT_FAILURE : EXIT_OK;
    } finally {
      await log.close();
    }
  },
};

const SWEEP_USAGE = 'neat sweep --trace <dir> --days <list|all> --policies <list> [--seed <n>] [--hosts <n>] [--workers <n>] [--output <file.jsonl>]';

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

function sweepTable(outcomes: readonly SweepOutcome[]): string {
  const header = ['day', 'policy', 'energy kWh', 'migrations', 'SLATAH %', 'PDM %', 'SLAV', 'ESV', 'wall s'];
  const rows = outcomes.map((o) => (o.result === undefined
    ? [o.job.day, o.job.policy, `failed: ${o.error}`, '', '', '', '', '', '']
    : [o.job.day, o.job.policy, number(o.result.metrics.energyKwh, 2), String(o.result.metrics.migrations),
      number(o.result.metrics.slatah * 100, 3), number(o.result.metrics.pdm * 100, 4), o.result.metrics.slav.toExponential(3),
      o.result.metrics.esv.toExponential(3), number(o.result.wallMs / 1000, 2)]));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n');
}

export const sweepCommand: Command = {
  summary: 'run every (day × policy) simulation on worker threads: one JSON line per run, then a summary table',
  usage: SWEEP_USAGE,
  options: {
    trace: { type: 'string' }, days: { type: 'string' }, policies: { type: 'string' }, seed: { type: 'string' },
    hosts: { type: 'string' }, workers: { type: 'string' }, output: { type: 'string' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    const root = requiredOption(values, 'trace', SWEEP_USAGE);
    const days = listDays(root, requiredOption(values, 'days', SWEEP_USAGE));
    const policies = requiredOption(values, 'policies', SWEEP_USAGE).split(',').map((p) => p.trim()).filter((p) => p !== '');
    policies.forEach((policy) => { checkPolicy(policy, 'cloudsim'); });
    const seed = stringOption(values, 'seed') ?? '1';
    const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? PLANETLAB_HOSTS;
    const workers = integerOption(values, 'workers', { min: 1, max: 64 }) ?? availableParallelism();
    const output = stringOption(values, 'output');
    if (output !== undefined) writeFileSync(output, '');
    const jobs: SweepJob[] = days.flatMap((day) => policies.map((policy) => ({ day, dayPath: join(root, day), policy, seed, hosts })));
    const outcomes: SweepOutcome[] = [];
    const progress = progressBar(`sweep ${basename(root)}`);
    await runSweep(jobs, workers, (outcome) => {
      outcomes.push(outcome);
      const line = JSON.stringify({ day: outcome.job.day, policy: outcome.job.policy,
        ...(outcome.result === undefined ? { error: outcome.error } : reportJson({ ...outcome.result, decisionTimes: outcome.result.decisionTimes })) });
      if (output === undefined) io.out(line);
      else appendFileSync(output, line + '\n');
      progress.update(outcomes.length, jobs.length);
    });
    progress.finish();
    // Outcomes come back from the workers as copies, in finishing order; the table follows the job order.
    const position = new Map(jobs.map((job, i) => [`${job.day}/${job.policy}`, i]));
    const order = (o: SweepOutcome): number => position.get(`${o.job.day}/${o.job.policy}`) ?? 0;
    const table = sweepTable([...outcomes].sort((a, b) => order(a) - order(b)));
    if (output === undefined) io.err(table);
    else io.out(table);
    return outcomes.some((o) => o.error !== undefined) ? EXIT_FAILURE : EXIT_OK;
  },
};
