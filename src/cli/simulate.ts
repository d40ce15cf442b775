/** `neat sim` and `neat replay`: the simulator from the command line, and what `neat sweep` shares with them. */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseCloudsimPolicy, UnknownPolicyError } from '../engine/cloudsim/policies';
import type { SqliteEventLog } from '../log/sqlite';
import { PLANETLAB_HOSTS } from '../../sim/config';
import type { SimulationMetrics } from '../../sim/metrics';
import type { ReplayOptions } from '../../sim/replay';
import { runSimulation, SIMULATION_MODES } from '../../sim/run';
import type { DecisionTimes, SimulationMode } from '../../sim/run';
import type { ManagerConfig } from '../config';
import { readPlanetLabTrace } from '../../traces/planetlab';
import { TraceError } from '../../traces/trace';
import type { Trace } from '../../traces/trace';
import { EXIT_FAILURE, EXIT_OK, integerOption, oneOfOption, requiredOption, stringOption, UsageError } from './command';
import type { Command, Output, ParsedValues } from './command';
import { ignoredConfigWarning, loadCommandConfig } from './config';
import { progressBar } from './progress';
import { formatNumber } from '../report/format';
import type { ProductionAnalysis } from '../report/model';

/**
 * What only some runs use (mode neat's policies, CSV traces, the SQLite log,
 * replays) is loaded when used: `neat sim` in mode cloudsim starts without it.
 */
const load = createRequire(__filename);
const sqlite = (): typeof import('../log/sqlite') => load('../log/sqlite') as typeof import('../log/sqlite');
const production = (): typeof import('../report/production') => load('../report/production') as typeof import('../report/production');

export const TRACE_FORMATS = ['planetlab', 'csv'] as const;

export function loadTrace(path: string, format: (typeof TRACE_FORMATS)[number] | undefined): Trace {
  if (!existsSync(path)) throw new TraceError(`${path}: no such file or directory`);
  const directory = statSync(path).isDirectory();
  const chosen = format ?? (directory ? 'planetlab' : 'csv');
  if (chosen === 'planetlab' && !directory) throw new TraceError(`${path}: a PlanetLab trace is a directory with one file per VM`);
  if (chosen === 'csv' && directory) throw new TraceError(`${path}: a CSV trace is a file, not a directory`);
  return chosen === 'planetlab' ? readPlanetLabTrace(path) : (load('../../traces/csv') as typeof import('../../traces/csv')).readCsvTrace(path);
}

/** A usage error naming `option` (`--policy`, `--policies`) when the mode knows no such policy. */
export function checkPolicy(policy: string, mode: SimulationMode, option: string): void {
  try {
    if (mode === 'cloudsim') parseCloudsimPolicy(policy);
    else (load('../engine/neatPolicies') as typeof import('../engine/neatPolicies')).parseNeatPolicy(policy);
  } catch (error) {
    if (error instanceof UnknownPolicyError) throw new UsageError(`--${option}: ${error.message}`);
    throw error;
  }
}

/**
 * Mode `neat`: the global manager's configuration, from `--config` or the
 * defaults, with the `NEAT_` overrides. Mode `cloudsim` reads none (its policy
 * names every algorithm): `--config` is a usage error, and `NEAT_` variables
 * set get a warning that they change nothing.
 */
export function modeConfig(values: ParsedValues, mode: SimulationMode, command: string, io: Output): ManagerConfig | null {
  const configPath = stringOption(values, 'config');
  if (mode === 'neat') return loadCommandConfig({ configPath, env: process.env });
  if (configPath !== undefined) throw new UsageError('--config is for --mode neat (the global manager\'s neat.conf)');
  const warning = ignoredConfigWarning(process.env, '--mode cloudsim reads no configuration (its policy names every algorithm)');
  if (warning !== null) io.err(`neat ${command}: ${warning}`);
  return null;
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
  /** Mode `neat`: the local managers' steps. */
  readonly localStepTimes?: DecisionTimes | null;
}

export function reportJson(report: Report): Record<string, unknown> {
  return { kind: 'simulation', ...report.metrics, wallMs: Math.round(report.wallMs), seed: report.seed, policy: report.policy, mode: report.mode,
    trace: report.trace, events: report.events, decisionTimeMs: report.decisionTimes,
    ...(report.localStepTimes == null ? {} : { localStepTimeMs: report.localStepTimes }) };
}


export function reportTable(report: Report, title: string): string {
  const m = report.metrics;
  const rows: [string, string][] = [
    ['hosts / VMs', `${m.hosts} / ${m.vms}`],
    ['simulated', `${formatNumber(m.simulatedS, 1)} s`],
    ['energy', `${formatNumber(m.energyKwh, 2)} kWh`],
    ['VM migrations', formatNumber(m.migrations, 0)],
    ['SLATAH', `${formatNumber(m.slatah * 100, 3)} %`],
    ['PDM', `${formatNumber(m.pdm * 100, 4)} %`],
    ['SLAV (SLATAH × PDM)', m.slav.toExponential(4)],
    ['ESV (energy × SLAV)', m.esv.toExponential(4)],
    ['overall SLA violation', `${formatNumber(m.overallSlaViolation * 100, 3)} %`],
    ['host shutdowns', `${formatNumber(m.hostShutdowns, 0)} (mean ${formatNumber(m.meanTimeBeforeHostShutdownS, 1)} s before each)`],
    ['mean migration duration', `${formatNumber(m.meanMigrationDurationS, 2)} s`],
  ];
  const timed = (label: string, times: DecisionTimes | null | undefined): void => {
    if (times == null || times.count === 0) return;
    rows.push([label, `mean ${formatNumber(times.meanMs, 2)} ms, p99 ${formatNumber(times.p99Ms, 2)} ms, max ${formatNumber(times.maxMs, 2)} ms (${times.count})`]);
  };
  timed(report.mode === 'neat' ? 'decision time (global manager)' : 'decision time', report.decisionTimes);
  timed('local manager step time', report.localStepTimes);
  rows.push(wallTimeRow(report.wallMs, report.events));
  return `${title}\n${formatRows(rows)}`;
}

/** Label and value rows, labels padded to one column: the body of every metrics table. */
export function formatRows(rows: readonly (readonly [string, string])[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n');
}

function wallTimeRow(wallMs: number, events: number): [string, string] {
  return ['wall time', `${formatNumber(wallMs / 1000, 2)} s (${formatNumber(events, 0)} events)`];
}

/** Mean and largest of the decision latencies, or null when nothing was decided. */
function latencySummary(latenciesMs: readonly number[]): string | null {
  if (latenciesMs.length === 0) return null;
  let totalMs = 0;
  let maxMs = 0;
  for (const latencyMs of latenciesMs) {
    totalMs += latencyMs;
    maxMs = Math.max(maxMs, latencyMs);
  }
  return `mean ${formatNumber(totalMs / latenciesMs.length / 1000, 2)} s, max ${formatNumber(maxMs / 1000, 2)} s (${formatNumber(latenciesMs.length, 0)} decisions)`;
}

export function productionTable(analysis: ProductionAnalysis, wallMs: number, events: number, title: string): string {
  const m = analysis.metrics;
  const rows: [string, string][] = [
    ['hosts / VMs', `${m.hosts} / ${m.vms}`],
    ['observed', `${formatNumber(m.observedS, 1)} s (${formatNumber(m.observedS / 3600, 1)} h)`],
    ['energy (estimated)', `${formatNumber(m.energyKwh, 2)} kWh (power model ${m.powerModel})`],
    ['VM migrations', `${formatNumber(m.migrations, 0)} started: ${formatNumber(m.migrationsCompleted, 0)} completed, `
      + `${formatNumber(m.migrationsFailed, 0)} failed attempts, ${formatNumber(m.migrationsAbandoned, 0)} abandoned`],
    ['SLATAH', `${formatNumber(m.slatah * 100, 3)} %`],
    ['PDM', `${formatNumber(m.pdm * 100, 4)} %`],
    ['SLAV (SLATAH × PDM)', m.slav.toExponential(4)],
    ['ESV (energy × SLAV)', m.esv.toExponential(4)],
    ['host shutdowns', `${formatNumber(m.hostShutdowns, 0)} (mean ${formatNumber(m.meanTimeBeforeHostShutdownS, 1)} s before each)`],
    ['mean migration duration', `${formatNumber(m.meanMigrationDurationS, 2)} s`],
  ];
  const latency = latencySummary(analysis.decisionLatency.latencyMs);
  if (latency !== null) rows.push(['decision latency', latency]);
  rows.push(wallTimeRow(wallMs, events));
  return `${title}\n${formatRows(rows)}`;
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
    if (policy !== '') checkPolicy(policy, mode, 'policy');
    const managerConfig = modeConfig(values, mode, 'sim', io) ?? undefined;
    const seed = stringOption(values, 'seed') ?? '1';
    const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? PLANETLAB_HOSTS;
    const events = stringOption(values, 'events');
    const trace = loadTrace(tracePath, format);
    if (trace.dataCentre !== undefined && values.hosts !== undefined) {
      throw new UsageError(`--hosts: ${tracePath} names its own hosts (its #@host lines); drop --hosts`);
    }
    const progress = progressBar({ label: `${policy || 'neat.conf'} ${trace.name}`, stream: process.stderr, nowMs: Date.now });
    const result = await runSimulation({
      trace, mode, policy, seed, hosts, eventsPath: events ?? null, managerConfig, onProgress: (fraction) => { progress.update(fraction); },
    });
    progress.finish();
    const report: Report = { ...result, trace: result.trace, decisionTimes: result.decisionTimes, localStepTimes: result.localStepTimes };
    io.out(values.json === true ? JSON.stringify(reportJson(report))
      : reportTable(report, `Simulation: ${result.policy} on ${result.trace} (${result.mode} mode, seed ${result.seed})`));
    return EXIT_OK;
  },
};

const REPLAY_USAGE = 'neat replay <file.sqlite> [--config <neat.conf>] [--json]';

export const replayCommand: Command = {
  summary: "recompute a simulation's metrics, or analyse a production manager's, from its event log alone",
  usage: REPLAY_USAGE,
  options: { json: { type: 'boolean' }, config: { type: 'string' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError(`expected one event log file; got ${positionals.length}\nUsage: ${REPLAY_USAGE}`);
    const path = positionals[0];
    const log = sqlite().SqliteEventLog.openExisting(path);
    const progress = progressBar({ label: `replay ${basename(path)}`, stream: process.stderr, nowMs: Date.now });
    const onProgress = (fraction: number): void => { progress.update(fraction); };
    try {
      const firstPage = await production().readFirstPage(log);
      const replayed = production().isProductionLog(firstPage)
        ? await replayProduction(log, values, onProgress, io)
        : await replaySimulation(log, values, { firstPage, onProgress }, io);
      progress.finish();
      if (process.stderr.isTTY) {
        io.err(`neat replay: ${formatNumber(replayed.events, 0)} events of ${path} in ${formatNumber(replayed.wallMs / 1000, 2)} s `
          + `(${formatNumber(replayed.events / Math.max(replayed.wallMs / 1000, 1e-3), 0)} events/s)`);
      }
      return replayed.exitCode;
    } finally {
      progress.finish();
      await log.close();
    }
  },
};

interface Replayed {
  readonly events: number;
  readonly wallMs: number;
  readonly exitCode: number;
}

async function replaySimulation(log: SqliteEventLog, values: ParsedValues, options: ReplayOptions, io: Output): Promise<Replayed> {
  if (stringOption(values, 'config') !== undefined) io.err(`neat replay: ${log.path} is a simulation's log, which names its own configuration: --config ignored`);
  const replay = await (load('../../sim/replay') as typeof import('../../sim/replay')).replayRun(log, options);
  const report: Report = { ...replay, decisionTimes: null };
  const matches = replay.recorded === null ? null : JSON.stringify(replay.recorded) === JSON.stringify(replay.metrics);
  io.out(values.json === true ? JSON.stringify({ ...reportJson(report), recordedMetricsMatch: matches })
    : reportTable(report, `Replay of ${log.path}: ${replay.policy} on ${replay.trace} (${replay.mode} mode, seed ${replay.seed})`)
      + `\n  recorded metrics          ${matches === null ? 'none (the run did not finish)' : matches ? 'equal' : 'DIFFERENT'}`);
  return { events: replay.events, wallMs: replay.wallMs, exitCode: matches === false ? EXIT_FAILURE : EXIT_OK };
}

async function replayProduction(log: SqliteEventLog, values: ParsedValues, onProgress: (fraction: number) => void, io: Output): Promise<Replayed> {
  const { powerModel } = loadCommandConfig({ configPath: stringOption(values, 'config'), env: process.env });
  const startMs = performance.now();
  const analysis = await production().analyseProductionLog(log, { powerModel, onProgress });
  const wallMs = performance.now() - startMs;
  const events = await log.headPosition();
  io.out(values.json === true ? JSON.stringify({ kind: 'production', ...analysis.metrics, wallMs: Math.round(wallMs), events })
    : productionTable(analysis, wallMs, events, `Production log ${log.path}`));
  return { events, wallMs, exitCode: EXIT_OK };
}
