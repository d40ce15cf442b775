/**
 * One simulation run: a trace, a mode and a policy, a seed; events recorded
 * (and written to a SQLite log when asked), metrics computed from them.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { parseCloudsimPolicy } from '../src/engine/cloudsim/policies';
import { seededIds } from '../src/ids';
import type { SqliteEventLog } from '../src/log/sqlite';
import { createRng } from '../src/rng';
import { CODE_VERSION } from '../src/version';
import type { ManagerConfig } from '../src/config';
import type { EventLog } from '../src/log/port';
import { traceSummary } from '../traces/trace';
import type { Trace } from '../traces/trace';
import { PLANETLAB_HOSTS, simulationConfigFor } from './config';
import type { PowerTransitions } from './datacentre';
import { CloudsimWorld } from './cloudsim/world';
import { MetricsProjection } from './metrics';
import type { SimulationMetrics } from './metrics';
import { RunRecorder } from './recorder';
import { Scheduler } from './scheduler';

/**
 * Mode `neat` (the production managers, a configuration) and the SQLite log are
 * loaded only by the runs that use them: a CloudSim-mode run without `--events`
 * starts without either (a third of the CLI's start-up).
 */
const load = createRequire(__filename);

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
  /** Mode `cloudsim`: CloudSim's consolidation at each interval. Mode `neat`: the global manager's decisions, one request each. */
  readonly decisionTimes: DecisionTimes;
  /** Mode `neat`: the hosts' local-manager steps (detection and selection); null in mode `cloudsim`. */
  readonly localStepTimes: DecisionTimes | null;
  readonly wallMs: number;
  readonly events: number;
  readonly seed: string;
  readonly policy: string;
  readonly mode: SimulationMode;
  readonly trace: string;
}

export class SimulationSetupError extends Error {
  override name = 'SimulationSetupError';
}

export function decisionTimes(samplesMs: number[]): DecisionTimes {
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

/** A run's log commits in batches: its appends are many and small, and a killed run is rerun, not resumed. */
const SIMULATION_APPENDS_PER_COMMIT = 10_000;

export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const { trace } = options;
  if (trace.vms.length === 0) throw new SimulationSetupError(`trace ${trace.name} has no VMs`);
  if (options.eventsPath !== undefined && options.eventsPath !== null && existsSync(options.eventsPath) && statSync(options.eventsPath).size > 0) {
    throw new SimulationSetupError(`${options.eventsPath} already exists; a run writes a new event log and never adds to an old one`);
  }
  const runMode = options.mode === 'cloudsim' ? runCloudsim : (load('./runNeat') as typeof import('./runNeat')).runNeat;
  const log = options.eventsPath === undefined || options.eventsPath === null ? null
    : new (load('../src/log/sqlite') as { SqliteEventLog: typeof SqliteEventLog }).SqliteEventLog(
      options.eventsPath, { durable: false, appendsPerCommit: SIMULATION_APPENDS_PER_COMMIT });
  try {
    return await runMode(options, log);
  } finally {
    await log?.close();
  }
}

async function runCloudsim(options: SimulationOptions, log: EventLog | null): Promise<SimulationResult> {
  const policy = parseCloudsimPolicy(options.policy);
  const { trace } = options;
  const config = simulationConfigFor(trace, options.hosts ?? PLANETLAB_HOSTS, 'cloudsim');
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
    metrics: result, decisionTimes: decisionTimes(decisionSamplesMs), localStepTimes: null, wallMs: performance.now() - startMs,
    events: recorder.eventCount, seed: options.seed, policy: policy.name, mode: options.mode, trace: trace.name,
  };
}
