/**
 * One simulation run: a trace, a mode and a policy, a seed; events recorded
 * (and written to a SQLite log when asked), metrics computed from them.
 */
import { existsSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseCloudsimPolicy } from '../src/engine/cloudsim/policies';
import { seededIds } from '../src/ids';
import { SqliteEventLog } from '../src/log/sqlite';
import { createRng } from '../src/rng';
import { CODE_VERSION } from '../src/version';
import { DEFAULT_CONFIG } from '../src/config';
import type { ManagerConfig } from '../src/config';
import { parseNeatPolicy } from '../src/engine/neatPolicies';
import type { AlgorithmChoice } from '../src/engine/registry';
import type { EventLog } from '../src/log/port';
import { Journal } from '../src/managers/journal';
import { managerSettings } from '../src/managers/settings';
import type { Trace } from '../traces/trace';
import { checkSimulationConfig, PLANETLAB_HOSTS, planetLabConfig } from './config';
import type { SimulationConfig } from './config';
import { INSTANT_TRANSITIONS } from './datacentre';
import type { PowerTransitions } from './datacentre';
import { inProcessTransport, NeatWorld } from './neat/world';
import { runScheduled, runUntilSettled, VirtualTimer } from './virtualTime';
import { GlobalManager } from '../src/managers/globalManager';
import { CloudsimWorld } from './cloudsim/world';
import { MetricsProjection } from './metrics';
import { foldIntoMetrics } from './recorder';
import type { SimulationMetrics } from './metrics';
import { RunRecorder } from './recorder';
import { Scheduler } from './scheduler';

export const SIMULATION_MODES = ['cloudsim', 'neat'] as const;
export type SimulationMode = (typeof SIMULATION_MODES)[number];

export interface SimulationOptions {
  readonly trace: Trace;
  readonly mode: SimulationMode;
  readonly policy: string;
  readonly seed: string;
  /** Hosts in the data centre (CloudSim's experiments: 800). */
  readonly hosts?: number;
  /** Write the run's event log to this new SQLite file. */
  readonly eventsPath?: string | null;
  /**
   * Mode `neat`: the global manager's configuration (`neat.conf`): its
   * algorithms, unless the policy names the overload detection and VM
   * selection, and its migration and power settings.
   */
  readonly managerConfig?: ManagerConfig;
  /** Mode `neat`: how long suspending and waking take; CloudSim's instant ones by default. */
  readonly transitions?: PowerTransitions;
  readonly onProgress?: (fraction: number) => void;
}

/** Wall-clock time of the consolidation decisions: a property of this machine, so not part of the log. */
export interface DecisionTimes {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface SimulationResult {
  readonly metrics: SimulationMetrics;
  readonly decisionTimes: DecisionTimes;
  readonly wallMs: number;
  readonly events: number;
  readonly seed: string;
  readonly policy: string;
  readonly mode: SimulationMode;
  readonly trace: string;
}

/** A bound on the scheduler events of a mode-`neat` run (a PlanetLab day takes about a million). */
const MAX_NEAT_EVENTS = 50_000_000;

export class SimulationSetupError extends Error {
  override name = 'SimulationSetupError';
}

function decisionTimes(samplesMs: number[]): DecisionTimes {
  if (samplesMs.length === 0) return { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 };
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    count: sorted.length,
    meanMs: sorted.reduce((a, b) => a + b, 0) / sorted.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: sorted[sorted.length - 1],
  };
}

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const { trace } = options;
  if (trace.vms.length === 0) throw new SimulationSetupError(`trace ${trace.name} has no VMs`);
  const config = planetLabConfig(trace.vms.length, trace.vms.map((vm) => vm.ramMb), options.hosts ?? PLANETLAB_HOSTS);
  checkSimulationConfig(config);
  if (options.eventsPath !== undefined && options.eventsPath !== null && existsSync(options.eventsPath) && statSync(options.eventsPath).size > 0) {
    throw new SimulationSetupError(`${options.eventsPath} already exists; a run writes a new event log and never adds to an old one`);
  }
  const run = options.mode === 'cloudsim' ? runCloudsim : runNeat;
  const log = options.eventsPath === undefined || options.eventsPath === null ? null : new SqliteEventLog(options.eventsPath, { durable: false });
  try {
    return await run(options, config, log);
  } finally {
    await log?.close();
  }
}

function traceSummary(trace: Trace): unknown {
  return { name: trace.name, format: trace.format, digest: trace.digest, vms: trace.vms.length, stepS: trace.stepS };
}

async function runCloudsim(options: SimulationOptions, config: SimulationConfig, log: EventLog | null): Promise<SimulationResult> {
  const policy = parseCloudsimPolicy(options.policy);
  const { trace } = options;
  const scheduler = new Scheduler();
  const ids = seededIds(createRng(`${options.seed}/ids`), scheduler);
  const runId = ids.next();
  const metrics = new MetricsProjection(config, 'idle');
  const recorder = new RunRecorder(`simulation-${runId}`, { ids, clock: scheduler, source: 'simulator' }, runId, metrics, log);
  const decisionSamplesMs: number[] = [];
  const startMs = performance.now();
  recorder.record('SimulationStarted', {
    runId, mode: options.mode, policy: policy.name, seed: options.seed, trace: traceSummary(trace), config, codeVersion: CODE_VERSION,
  });
  const world = new CloudsimWorld({
    config, trace, policy, scheduler, recorder, rng: createRng(`${options.seed}/policy`), ids,
    onProgress: options.onProgress, onDecision: (ms) => decisionSamplesMs.push(ms),
  });
  world.run();
  const result = metrics.result();
  recorder.record('SimulationEnded', { runId, simulatedS: result.simulatedS, metrics: { ...result } });
  await recorder.finish();
  return {
    metrics: result, decisionTimes: decisionTimes(decisionSamplesMs), wallMs: performance.now() - startMs,
    events: recorder.eventCount, seed: options.seed, policy: policy.name, mode: options.mode, trace: trace.name,
  };
}

/** The local managers' algorithms: the policy's overload detection and VM selection when it names them, else the configuration's. */
function neatAlgorithms(options: SimulationOptions, managerConfig: ManagerConfig): { name: string; overload: AlgorithmChoice; selection: AlgorithmChoice } {
  if (options.policy !== '') return parseNeatPolicy(options.policy);
  return { name: 'neat.conf', overload: managerConfig.algorithms.overload, selection: managerConfig.algorithms.selection };
}

async function runNeat(options: SimulationOptions, config: SimulationConfig, log: EventLog | null): Promise<SimulationResult> {
  const managerConfig = options.managerConfig ?? DEFAULT_CONFIG;
  const algorithms = neatAlgorithms(options, managerConfig);
  const { trace } = options;
  const scheduler = new Scheduler();
  const ids = seededIds(createRng(`${options.seed}/ids`), scheduler);
  const runId = ids.next();
  const stream = `simulation-${runId}`;
  // Every simulated host is managed, and each may have one request waiting.
  const settings = { ...managerSettings(managerConfig), computeHosts: null, queueLimit: config.hosts.length };
  const localManager = {
    underload: managerConfig.algorithms.underload, overload: algorithms.overload, selection: algorithms.selection,
    timeStepS: config.schedulingIntervalS, migrationBandwidthMbPerS: managerConfig.networkMigrationBandwidthMbPerS,
    hostCpuUsableByVms: managerConfig.hostCpuUsableByVms, historyLength: managerConfig.dataCollectorDataLength,
  };
  const transitions = options.transitions ?? INSTANT_TRANSITIONS;
  const recordedConfig: SimulationConfig = { ...config, manager: { settings, localManager, transitions } };
  const journal = new Journal(log, { ids, clock: scheduler, source: 'simulator' });
  const metrics = new MetricsProjection(recordedConfig, 'suspended');
  let events = 0;
  journal.onRecorded((event) => {
    foldIntoMetrics(metrics, event);
    events += 1;
  });
  const causes = { correlationId: runId, causationId: null };
  const decisionSamplesMs: number[] = [];
  const startMs = performance.now();
  await journal.record(stream, [{
    type: 'SimulationStarted',
    data: { runId, mode: options.mode, policy: algorithms.name, seed: options.seed, trace: traceSummary(trace), config: recordedConfig, codeVersion: CODE_VERSION },
  }], causes);
  const world = new NeatWorld({
    config, trace, scheduler, ids, transitions, localManager, rng: createRng(`${options.seed}/policy`),
    recordUpdate: (update) => journal.record(stream, [{ type: 'DataCentreUpdated', data: update }], causes),
    onProgress: options.onProgress, onDecision: (ms) => decisionSamplesMs.push(ms),
  });
  const manager = new GlobalManager({
    cloud: world.dataCentre, power: world.dataCentre, timer: new VirtualTimer(scheduler), journal, ids, rng: createRng(`${options.seed}/manager`),
  }, settings);
  await runUntilSettled(scheduler, manager.start(), MAX_NEAT_EVENTS);
  world.start(inProcessTransport(manager, scheduler));
  await runScheduled(scheduler, world.limitS, MAX_NEAT_EVENTS, () => { world.checkFailure(); });
  await world.finish();
  const result = metrics.result();
  await journal.record(stream, [{ type: 'SimulationEnded', data: { runId, simulatedS: result.simulatedS, metrics: { ...result } } }], causes);
  return {
    metrics: result, decisionTimes: decisionTimes(decisionSamplesMs), wallMs: performance.now() - startMs,
    events, seed: options.seed, policy: algorithms.name, mode: options.mode, trace: trace.name,
  };
}
