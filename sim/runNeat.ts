/** One simulation run in mode `neat`: Neat's local managers and the production global manager on the simulated data centre. */
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '../src/config';
import { assert } from '../src/engine/assert';
import type { EventLog } from '../src/log/port';
import { GlobalManager } from '../src/managers/globalManager';
import { Journal } from '../src/managers/journal';
import { PLANETLAB_HOSTS } from './config';
import { INSTANT_TRANSITIONS } from './datacentre';
import { MetricsProjection } from './metrics';
import { MAX_NEAT_EVENTS, neatRun } from './neat/setup';
import { inProcessTransport } from './neat/world';
import { foldIntoMetrics } from './recorder';
import { decisionTimes } from './run';
import type { SimulationOptions, SimulationResult } from './run';
import { quiesce, runScheduled, runUntilSettled, VirtualTimer } from './virtualTime';

export async function runNeat(options: SimulationOptions, log: EventLog | null): Promise<SimulationResult> {
  const { trace } = options;
  let journal: Journal | null = null;
  const decisionSamplesMs: number[] = [];
  const localStepSamplesMs: number[] = [];
  const run = neatRun({
    trace, hosts: options.hosts ?? PLANETLAB_HOSTS, managerConfig: options.managerConfig ?? DEFAULT_CONFIG, policy: options.policy,
    seed: options.seed, transitions: options.transitions ?? INSTANT_TRANSITIONS, resume: null,
    recordUpdate: (update) => journalOf().record(run.stream, [{ type: 'DataCentreUpdated', data: update }], causes),
    settle: () => quiesce([journalOf()]),
    onProgress: options.onProgress, onDecision: (ms) => localStepSamplesMs.push(ms),
  });
  const journalOf = (): Journal => {
    assert(journal !== null, 'the journal exists before the world runs');
    return journal;
  };
  const { scheduler, world } = run;
  journal = new Journal(log, { ids: run.ids, clock: scheduler, source: 'simulator' });
  const metrics = new MetricsProjection(run.config, 'suspended');
  let events = 0;
  journal.onRecorded((event) => {
    foldIntoMetrics(metrics, event);
    events += 1;
  });
  const causes = { correlationId: run.runId, causationId: null };
  const startMs = performance.now();
  await journal.record(run.stream, [{ type: 'SimulationStarted', data: run.started }], causes);
  const manager = new GlobalManager({
    cloud: world.dataCentre, power: world.dataCentre, timer: new VirtualTimer(scheduler), journal, ids: run.ids, rng: run.managerRng,
    timeDecision: (decide) => {
      const decidedFromMs = performance.now();
      const decision = decide();
      decisionSamplesMs.push(performance.now() - decidedFromMs);
      return decision;
    },
  }, run.settings);
  await runUntilSettled(scheduler, manager.start(), MAX_NEAT_EVENTS);
  world.start(inProcessTransport(manager, scheduler));
  await runScheduled(scheduler, world.limitS, MAX_NEAT_EVENTS, [journal, world], () => { world.checkFailure(); });
  await world.finish();
  const result = metrics.result();
  await journal.record(run.stream, [{ type: 'SimulationEnded', data: { runId: run.runId, simulatedS: result.simulatedS, metrics: { ...result } } }], causes);
  return {
    metrics: result, decisionTimes: decisionTimes(decisionSamplesMs), localStepTimes: decisionTimes(localStepSamplesMs), wallMs: performance.now() - startMs,
    events, seed: options.seed, policy: run.started.policy, mode: options.mode, trace: trace.name,
  };
}
