/**
 * Metrics from a run's event log alone: the configuration from its
 * `SimulationStarted`, then every event folded into the same projection the
 * run used. A replay therefore reports the run's numbers, and says whether they
 * equal the ones the run recorded in its `SimulationEnded`.
 */
import { performance } from 'node:perf_hooks';
import { validate } from '../src/events/schema';
import type { EventLog } from '../src/log/port';
import { checkSimulationConfig, simulationConfigSchema } from './config';
import { MetricsProjection } from './metrics';
import type { SimulationMetrics } from './metrics';
import { foldIntoMetrics } from './recorder';

const PAGE_EVENTS = 2_000;

export class ReplayError extends Error {
  override name = 'ReplayError';
}

export interface ReplayResult {
  readonly metrics: SimulationMetrics;
  /** The metrics the run recorded, when it ran to its end. */
  readonly recorded: SimulationMetrics | null;
  readonly seed: string;
  readonly policy: string;
  readonly mode: string;
  readonly trace: string;
  readonly events: number;
  readonly wallMs: number;
}

export async function replayRun(log: EventLog): Promise<ReplayResult> {
  const startMs = performance.now();
  const head = await log.headPosition();
  // `neat serve --sim` starts the service (which observes the inventory) before it records the run's start.
  const first = (head === 0 ? [] : await log.readAll(1, PAGE_EVENTS)).find((event) => event.type === 'SimulationStarted');
  if (first?.type !== 'SimulationStarted') {
    throw new ReplayError(`${log.description} has no SimulationStarted event among its first ${PAGE_EVENTS} events, so it is not a simulation run's log`);
  }
  const config = validate(simulationConfigSchema, first.data.config, 'SimulationStarted.config');
  checkSimulationConfig(config);
  const trace = first.data.trace as { name?: unknown };
  const metrics = new MetricsProjection(config, first.data.mode === 'neat' ? 'suspended' : 'idle');
  let recorded: SimulationMetrics | null = null;
  for (let from = first.position; from <= head; from += PAGE_EVENTS) {
    for (const event of await log.readAll(from, PAGE_EVENTS)) {
      foldIntoMetrics(metrics, event);
      if (event.type === 'SimulationEnded') recorded = event.data.metrics as SimulationMetrics;
    }
  }
  return {
    metrics: metrics.result(), recorded, seed: first.data.seed, policy: first.data.policy, mode: first.data.mode,
    trace: typeof trace.name === 'string' ? trace.name : '?', events: head, wallMs: performance.now() - startMs,
  };
}
