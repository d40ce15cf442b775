/**
 * Metrics from a run's event log alone: the configuration from its
 * `SimulationStarted`, then every event folded into the same projection the
 * run used. A replay therefore reports the run's numbers, and says whether they
 * equal the ones the run recorded in its `SimulationEnded`.
 */
import { performance } from 'node:perf_hooks';
import type { RecordedEvent } from '../src/events/envelope';
import { validate } from '../src/events/schema';
import { READ_PAGE_EVENTS } from '../src/log/port';
import type { EventLog } from '../src/log/port';
import { isManagerEvent } from '../src/report/production';
import { checkSimulationConfig, simulationConfigSchema } from './config';
import { MetricsProjection } from './metrics';
import type { SimulationMetrics } from './metrics';
import { foldIntoMetrics } from './recorder';

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

export interface ReplayOptions {
  /** The log's first page, when the caller has read it already (to tell the log's kind). */
  readonly firstPage?: readonly RecordedEvent[];
  /** Called after each page with the share of the log read. */
  readonly onProgress?: (fraction: number) => void;
}

export async function replayRun(log: EventLog, options: ReplayOptions = {}): Promise<ReplayResult> {
  const startMs = performance.now();
  const head = await log.headPosition();
  const firstPage = options.firstPage ?? (head === 0 ? [] : await log.readAll(1, READ_PAGE_EVENTS));
  // `neat serve --sim` starts the service (which observes the inventory) before it records the run's start.
  const first = firstPage.find((event) => event.type === 'SimulationStarted');
  if (first?.type !== 'SimulationStarted') {
    const noManager = firstPage.some(isManagerEvent) ? '' : ', nor any event a global manager writes, so it is no production log either';
    throw new ReplayError(`${log.description} has no SimulationStarted event among its first ${READ_PAGE_EVENTS} events, so it is not a simulation run's log${noManager}`);
  }
  const config = validate(simulationConfigSchema, first.data.config, 'SimulationStarted.config');
  checkSimulationConfig(config);
  const trace = first.data.trace as { name?: unknown };
  const metrics = new MetricsProjection(config, first.data.mode === 'neat' ? 'suspended' : 'idle');
  let recorded: SimulationMetrics | null = null;
  for (let from = first.position; from <= head; from += READ_PAGE_EVENTS) {
    const page = await log.readAll(from, READ_PAGE_EVENTS);
    for (const event of page) {
      foldIntoMetrics(metrics, event);
      if (event.type === 'SimulationEnded') recorded = event.data.metrics as SimulationMetrics;
    }
    options.onProgress?.((from - 1 + page.length) / head);
  }
  return {
    metrics: metrics.result(), recorded, seed: first.data.seed, policy: first.data.policy, mode: first.data.mode,
    trace: typeof trace.name === 'string' ? trace.name : '?', events: head, wallMs: performance.now() - startMs,
  };
}
