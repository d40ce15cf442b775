/**
 * The global-manager service against a simulated data centre, paced by the
 * wall clock: the embedded default of `neat serve --sim`, and what the HTTP
 * tests run against. The service is the production one (same manager, same
 * app, a real socket, a real log); only the Cloud and Power ports, the clock
 * and the timer are the simulation's. With local managers on, every simulated
 * host's data collector and local manager talk to it over real HTTP, as
 * Neat's do: samples to `POST /v1/samples`, requests to `PUT /`.
 *
 * The run is the batch run of mode `neat` (`sim/neat/setup.ts`) with HTTP in
 * the middle: the clock moves only when the service is quiet, so the figures
 * are the same at any speed. Its log can be resumed: see `sim/resume.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { historyOf, ManagerClient } from '../src/agent/client';
import type { AgentTransport } from '../src/agent/loop';
import { family } from '../src/api/metrics';
import { systemClock } from '../src/clock';
import type { ManagerConfig } from '../src/config';
import { neatCredentialHashes } from '../src/config';
import { assert } from '../src/engine/assert';
import { TransportError } from '../src/drivers/http';
import type { HttpAnswer } from '../src/drivers/http';
import type { EventData } from '../src/events/catalogue';
import type { EventLog } from '../src/log/port';
import type { ManagerSettings } from '../src/managers/globalManager';
import type { Journal } from '../src/managers/journal';
import { startService } from '../src/service';
import type { RunningService, ServiceOptions } from '../src/service';
import type { Trace } from '../traces/trace';
import type { PowerTransitions } from './datacentre';
import { MetricsProjection } from './metrics';
import type { SimulationMetrics } from './metrics';
import { neatRun } from './neat/setup';
import type { NeatWorld } from './neat/world';
import { PacedScheduler } from './realTime';
import { foldIntoMetrics } from './recorder';
import { readResumePoint, replayWorld } from './resume';
import type { ResumePoint } from './resume';
import type { Scheduler } from './scheduler';
import { quiesce } from './virtualTime';
import type { Activity } from './virtualTime';

export interface SimulatedServiceOptions {
  readonly trace: Trace;
  readonly hosts: number;
  readonly config: ManagerConfig;
  readonly settings?: Partial<ManagerSettings>;
  /** A new log starts a run; a log that holds one resumes it. */
  readonly log: EventLog;
  readonly transitions: PowerTransitions;
  /** Virtual seconds per wall-clock second. */
  readonly speed: number;
  readonly seed: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** Run the simulated data collectors and local managers (off: only what a test sends happens). */
  readonly localManagers: boolean;
  readonly onError: (error: unknown) => void;
  /** A simulated local manager's message that was refused or lost: reported, and the run goes on. */
  readonly onRefused: (what: string) => void;
  /** A sample source polled besides the local managers' samples (`samples_source`). */
  readonly samples?: ServiceOptions['samples'];
}

export interface SimulatedService {
  readonly service: RunningService;
  readonly world: NeatWorld;
  readonly scheduler: Scheduler;
  readonly pacing: PacedScheduler;
  readonly metrics: MetricsProjection;
  /** A bearer token for the JSON API, made for this run. */
  readonly token: string;
  /** Where a resumed run's log ended, or null for a new run. */
  readonly resumed: ResumePoint | null;
  /** Resolves once every event up to the end of the trace has run; the clock then waits for `finish`. */
  readonly traceEnded: Promise<void>;
  /** Records the end of the run (its last state and its metrics) and lets the clock go on. */
  finish(): Promise<SimulationMetrics>;
  /** Stops the local managers, then the clock, then the service; the log stays resumable. */
  close(): Promise<void>;
}

/** Tries per message: a second one when the first met a reset keep-alive connection, as HTTP clients do. */
const TRANSPORT_TRIES = 2;
/** A message not answered by then is lost: a local manager logs it and goes on. */
const TRANSPORT_TIMEOUT_MS = 30_000;

/**
 * The simulated agents' messages over real HTTP, each awaited until answered
 * (the clock waits for them, so the run is the batch run's); a failure after
 * every try is reported, not thrown. The production agent queues its samples
 * instead (`src/agent/outbox.ts`); the client is the same.
 */
function httpTransport(client: ManagerClient, onRefused: (what: string) => void): AgentTransport {
  const send = async (what: string, exchange: () => Promise<HttpAnswer>, accepted: readonly number[]): Promise<HttpAnswer | null> => {
    let failure = '';
    for (let attempt = 1; attempt <= TRANSPORT_TRIES && !client.closed; attempt++) {
      try {
        const answer = await exchange();
        if (!accepted.includes(answer.status)) onRefused(`${what}: ${answer.status} ${answer.text}`);
        return answer;
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        failure = error.message;
      }
    }
    if (!client.closed) onRefused(`${what}: ${failure} (${TRANSPORT_TRIES} tries)`);
    return null;
  };
  return {
    recordSample: async (sample) => { await send(`sample of ${sample.host}`, () => client.postSample(sample), [202]); },
    // Neat's local manager logs the answer and goes on; a full queue (503) is an answer like any other.
    request: async (host, reason, vmIds) => { await send(`request of ${host}`, () => client.putRequest(host, reason, vmIds), [200, 503]); },
    async vmHistory(vmId) {
      const answer = await send(`history of ${vmId}`, () => client.getVm(vmId), [200, 404]);
      return answer?.status === 200 ? historyOf(answer.text) : null;
    },
  };
}

/** Nothing is sent: the messages of a replayed past are in the log already. */
const SILENT_TRANSPORT: AgentTransport = { recordSample: async () => undefined, request: async () => undefined, vmHistory: async () => null };

function paceMetrics(pacing: PacedScheduler, scheduler: Scheduler, speed: number): string {
  return [
    family('neat_sim_time_seconds', 'gauge', 'Virtual time of the simulated data centre.', [{ labels: {}, value: scheduler.timeS }]),
    family('neat_sim_speed', 'gauge', 'Virtual seconds per wall-clock second asked for.', [{ labels: {}, value: speed }]),
    family('neat_sim_lag_seconds', 'gauge', 'Virtual seconds the clock is behind the pace asked for (the service could not keep up).',
      [{ labels: {}, value: pacing.lagS }]),
    family('neat_sim_max_lag_seconds', 'gauge', 'The largest lag so far.', [{ labels: {}, value: pacing.maxLagS }]),
  ].join('\n') + '\n';
}

export async function startSimulatedService(options: SimulatedServiceOptions): Promise<SimulatedService> {
  const resumed = await readResumePoint(options.log);
  const prepared: { journal: Journal | null } = { journal: null };
  /** Where the state history goes: nowhere while a resumed run replays what its log holds, then the log. */
  let recordUpdate: (update: EventData<'DataCentreUpdated'>) => Promise<unknown> = async () => undefined;
  const journalActivity: Activity = {
    get idle() { return prepared.journal?.idle ?? true; },
    settled: () => prepared.journal?.settled() ?? Promise.resolve(),
  };
  const run = neatRun({
    trace: options.trace, hosts: options.hosts, managerConfig: options.config, policy: '', seed: options.seed,
    transitions: options.transitions, resume: resumed === null ? null : { runId: resumed.started.runId, headPosition: resumed.headPosition },
    recordUpdate: (update) => recordUpdate(update), settle: () => quiesce([journalActivity]),
  });
  const { scheduler, world } = run;
  const causes = { correlationId: run.runId, causationId: null };
  const pending: EventData<'DataCentreUpdated'>[] = [];
  if (resumed !== null) {
    resumed.check(run.started);
    recordUpdate = async (update) => { if (update.timeS > resumed.lastUpdateTimeS) pending.push(update); };
    world.start(SILENT_TRANSPORT);
    await replayWorld(world, scheduler, resumed);
  }
  const token = randomBytes(24).toString('hex');
  const config: ManagerConfig = { ...options.config, apiTokensSha256: [...options.config.apiTokensSha256, createHash('sha256').update(token).digest('hex')] };
  const metrics = new MetricsProjection(run.config, 'suspended');
  // The events carry the simulation's own time (epoch 0), as a batch run's do.
  const pacing = new PacedScheduler(scheduler, { speed: options.speed, epochMs: 0, tickMs: 10, maxEventsPerTick: 1000, activities: [journalActivity, world] });
  const service = await startService({
    config,
    ports: { cloud: world.dataCentre, power: world.dataCentre, log: options.log, clock: pacing.clock, timer: pacing.timer, ids: run.ids, rng: run.managerRng },
    settings: { ...run.settings, ...options.settings }, listen: options.listen, onError: options.onError,
    extraMetrics: () => paceMetrics(pacing, scheduler, options.speed), samples: options.samples,
    async prepare(created) {
      prepared.journal = created;
      created.onRecorded((event) => { foldIntoMetrics(metrics, event); });
      if (resumed === null) await created.record(run.stream, [{ type: 'SimulationStarted', data: run.started }], causes);
    },
  });
  const live = prepared.journal;
  assert(live !== null, 'the service prepared its journal');
  recordUpdate = (update) => live.record(run.stream, [{ type: 'DataCentreUpdated', data: update }], causes);
  for (const update of pending) await recordUpdate(update);
  const client = new ManagerClient({
    baseUrl: service.url, token, credentials: neatCredentialHashes(config), timeoutMs: TRANSPORT_TIMEOUT_MS, clock: systemClock,
  });
  const localTransport = options.localManagers ? httpTransport(client, options.onRefused) : SILENT_TRANSPORT;
  if (resumed === null) world.start(localTransport);
  else world.useTransport(localTransport);
  const traceEnded = pacing.holdAfter(world.limitS);
  pacing.start();
  return {
    service, world, scheduler, pacing, metrics, token, resumed, traceEnded,
    async finish(): Promise<SimulationMetrics> {
      await world.finish();
      const result = metrics.result();
      await live.record(run.stream, [{ type: 'SimulationEnded', data: { runId: run.runId, simulatedS: result.simulatedS, metrics: { ...result } } }], causes);
      pacing.release();
      return result;
    },
    async close(): Promise<void> {
      world.stop();
      client.close();
      await pacing.stop();
      await service.close();
    },
  };
}
