/**
 * What a mode-`neat` run is made of, built one way for the batch run (`neat
 * sim --mode neat`) and the simulated service (`neat serve --sim`): the
 * simulated data centre and its local managers, the global manager's
 * settings, the seeds, and the run's `SimulationStarted`. Given the same
 * trace, configuration and seed, both make the same decisions at the same
 * virtual times, so they report the same figures.
 */
import type { ManagerConfig } from '../../src/config';
import { parseNeatPolicy } from '../../src/engine/neatPolicies';
import type { AlgorithmChoice } from '../../src/engine/registry';
import type { Rng } from '../../src/engine/types';
import type { EventData } from '../../src/events/catalogue';
import { seededIds } from '../../src/ids';
import type { IdSource } from '../../src/ids';
import type { ManagerSettings } from '../../src/managers/globalManager';
import { managerSettings } from '../../src/managers/settings';
import { createRng } from '../../src/rng';
import { CODE_VERSION } from '../../src/version';
import { traceSummary } from '../../traces/trace';
import type { Trace } from '../../traces/trace';
import { simulationConfigFor } from '../config';
import type { SimulationConfig } from '../config';
import type { PowerTransitions } from '../datacentre';
import { Scheduler } from '../scheduler';
import type { AgentSettings } from '../../src/agent/loop';
import { NeatWorld } from './world';

/** A bound on the scheduler events of a run (a PlanetLab day takes about a million). */
export const MAX_NEAT_EVENTS = 50_000_000;

export interface NeatRunOptions {
  readonly trace: Trace;
  readonly hosts: number;
  /** The global manager's configuration (`neat.conf` and `NEAT_*`): its algorithms, queue, migration and power settings. */
  readonly managerConfig: ManagerConfig;
  /** A policy naming the local managers' overload detection and VM selection; '' takes them from the configuration. */
  readonly policy: string;
  readonly seed: string;
  readonly transitions: PowerTransitions;
  /**
   * A run resumed from its log: its id, and the log's head, which seeds new
   * ids (the first run's seed would make its ids again).
   */
  readonly resume: { readonly runId: string; readonly headPosition: number } | null;
  readonly recordUpdate: (update: EventData<'DataCentreUpdated'>) => Promise<unknown>;
  readonly settle: () => Promise<void>;
  readonly onProgress?: (fraction: number) => void;
  readonly onDecision?: (durationMs: number) => void;
}

export interface NeatRun {
  readonly scheduler: Scheduler;
  /** Names events, requests, and the data centre's migrations. */
  readonly ids: IdSource;
  readonly runId: string;
  /** The stream of the run's own events (start, state history, end). */
  readonly stream: string;
  readonly world: NeatWorld;
  readonly settings: ManagerSettings;
  /** The simulation's configuration with the manager's settings, as recorded: what its metrics are computed against. */
  readonly config: SimulationConfig;
  readonly managerRng: Rng;
  readonly started: EventData<'SimulationStarted'>;
}

/** The local managers' algorithms: the policy's overload detection and VM selection when it names them, else the configuration's. */
function localAlgorithms(policy: string, config: ManagerConfig): { name: string; overload: AlgorithmChoice; selection: AlgorithmChoice } {
  if (policy !== '') return parseNeatPolicy(policy);
  return { name: 'neat.conf', overload: config.algorithms.overload, selection: config.algorithms.selection };
}

export function neatRun(options: NeatRunOptions): NeatRun {
  const { trace, managerConfig, seed } = options;
  const simulation = simulationConfigFor(trace, options.hosts, 'neat');
  const algorithms = localAlgorithms(options.policy, managerConfig);
  const scheduler = new Scheduler();
  const idSeed = options.resume === null ? `${seed}/ids` : `${seed}/ids/resumed-at-${options.resume.headPosition}`;
  const ids = seededIds(createRng(idSeed), scheduler);
  const runId = options.resume?.runId ?? ids.next();
  // Every simulated host is managed; the queue is the configuration's, as in production.
  const settings: ManagerSettings = { ...managerSettings(managerConfig), computeHosts: null };
  const localManager: AgentSettings = {
    underload: managerConfig.algorithms.underload, overload: algorithms.overload, selection: algorithms.selection,
    timeStepS: simulation.schedulingIntervalS, migrationBandwidthMbPerS: managerConfig.networkMigrationBandwidthMbPerS,
    hostCpuUsableByVms: managerConfig.hostCpuUsableByVms, historyLength: managerConfig.dataCollectorDataLength,
  };
  const transitions = options.transitions;
  const config: SimulationConfig = { ...simulation, manager: { settings, localManager, transitions } };
  const world = new NeatWorld({
    config: simulation, trace, scheduler, ids, transitions, localManager, rng: createRng(`${seed}/policy`),
    recordUpdate: options.recordUpdate, settle: options.settle, onProgress: options.onProgress, onDecision: options.onDecision,
  });
  return {
    scheduler, ids, runId, stream: `simulation-${runId}`, world, settings, config, managerRng: createRng(`${seed}/manager`),
    started: { runId, mode: 'neat', policy: algorithms.name, seed, trace: traceSummary(trace), config, codeVersion: CODE_VERSION },
  };
}
