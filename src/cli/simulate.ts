/** `neat sim` and `neat replay`: the simulator from the command line, and what `neat sweep` shares with them. */
import { existsSync, statSync } from 'node:fs';
import { parseCloudsimPolicy, UnknownPolicyError } from '../engine/cloudsim/policies';
import { SqliteEventLog } from '../log/sqlite';
import { PLANETLAB_HOSTS } from '../../sim/config';
import type { SimulationMetrics } from '../../sim/metrics';
import { replayRun } from '../../sim/replay';
import { runSimulation, SIMULATION_MODES } from '../../sim/run';
import type { DecisionTimes, SimulationMode } from '../../sim/run';
import type { ManagerConfig } from '../config';
import { parseNeatPolicy } from '../engine/neatPolicies';
import { readCsvTrace } from '../../traces/csv';
import { readPlanetLabTrace } from '../../traces/planetlab';
import { TraceError } from '../../traces/trace';
import type { Trace } from '../../traces/trace';
import { EXIT_FAILURE, EXIT_OK, integerOption, oneOfOption, requiredOption, stringOption, UsageError } from './command';
import type { Command, Output, ParsedValues } from './command';
import { ignoredConfigWarning, loadCommandConfig } from './config';
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

/** A usage error naming `option` (`--policy`, `--policies`) when the mode knows no such policy. */
export function checkPolicy(policy: string, mode: SimulationMode, option: string): void {
  try {
    if (mode === 'cloudsim') parseCloudsimPolicy(policy);
    else parseNeatPolicy(policy);
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
}

export function reportJson(report: Report): Record<string, unknown> {
  return { ...report.metrics, wallMs: Math.round(report.wallMs), seed: report.seed, policy: report.policy, mode: report.mode,
    trace: report.trace, events: report.events, decisionTimeMs: report.decisionTimes };
}

export const number = (value: number, digits: number): string => value.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

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
    if (positionals.length !== 1) throw new UsageError(`expected one event log file; got ${positionals.length}\nUsage: neat replay <file.sqlite> [--json]`);
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
