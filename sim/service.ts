/**
 * The global-manager service against a simulated data centre, paced by the
 * wall clock: the embedded default of `neat serve --sim`, and what the HTTP
 * tests run against. The service is the production one (same manager, same
 * app, a real socket, a real log); only the Cloud and Power ports, the clock
 * and the timer are the simulation's. With local managers on, every simulated
 * host's data collector and local manager talk to it over real HTTP, as
 * Neat's do: samples to `POST /v1/samples`, requests to `PUT /`.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ManagerConfig } from '../src/config';
import { neatCredentialHashes } from '../src/config';
import { seededIds } from '../src/ids';
import type { EventLog } from '../src/log/port';
import type { ManagerSettings } from '../src/managers/globalManager';
import { createRng } from '../src/rng';
import { startService } from '../src/service';
import type { RunningService } from '../src/service';
import { CODE_VERSION } from '../src/version';
import type { Trace } from '../traces/trace';
import { planetLabConfig } from './config';
import type { PowerTransitions } from './datacentre';
import { MetricsProjection } from './metrics';
import { NeatWorld } from './neat/world';
import type { LocalManagerSettings, LocalManagerTransport } from './neat/world';
import { PacedScheduler } from './realTime';
import { foldIntoMetrics } from './recorder';
import { Scheduler } from './scheduler';

export interface SimulatedServiceOptions {
  readonly trace: Trace;
  readonly hosts: number;
  readonly config: ManagerConfig;
  readonly settings?: Partial<ManagerSettings>;
  readonly log: EventLog;
  readonly transitions: PowerTransitions;
  /** Virtual seconds per wall-clock second. */
  readonly speed: number;
  readonly seed: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** Run the simulated data collectors and local managers (off: only what a test sends happens). */
  readonly localManagers: boolean;
  readonly onError: (error: unknown) => void;
}

export interface SimulatedService {
  readonly service: RunningService;
  readonly world: NeatWorld;
  readonly scheduler: Scheduler;
  readonly pacing: PacedScheduler;
  readonly metrics: MetricsProjection;
  /** A bearer token for the JSON API, made for this run. */
  readonly token: string;
  close(): Promise<void>;
}

interface Credentials {
  readonly usernameSha1: string;
  readonly passwordSha1: string;
  readonly token: string;
}

/** Tries per message: a second one when the first met a reset keep-alive connection, as HTTP clients do. */
const TRANSPORT_TRIES = 2;

/** Sends one message; a network failure after every try is reported, not thrown: a local manager logs it and goes on. */
async function send(what: string, url: string, init: RequestInit, accepted: readonly number[], onRefused: (what: string) => void): Promise<void> {
  let failure = '';
  for (let attempt = 1; attempt <= TRANSPORT_TRIES; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      failure = `${error instanceof Error ? error.message : String(error)}${cause}`;
      continue;
    }
    if (!accepted.includes(response.status)) onRefused(`${what}: ${response.status} ${await response.text()}`);
    else await response.arrayBuffer();
    return;
  }
  onRefused(`${what}: ${failure} (${TRANSPORT_TRIES} tries)`);
}

/** Neat's local-manager client (a form PUT) and a data collector posting samples, over real HTTP. */
export function httpTransport(baseUrl: string, credentials: Credentials, onRefused: (what: string) => void): LocalManagerTransport {
  return {
    recordSample: (sample) => send(`sample of ${sample.host}`, `${baseUrl}/v1/samples`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${credentials.token}` }, body: JSON.stringify(sample),
    }, [202], onRefused),
    request(host, reason, vmIds) {
      const form = new URLSearchParams({
        username: credentials.usernameSha1, password: credentials.passwordSha1, time: String(Date.now() / 1000), host,
        reason: reason === 'underload' ? '0' : '1',
      });
      if (reason === 'overload') form.set('vm_uuids', vmIds.join(','));
      // Neat's local manager logs the answer and goes on; a full queue (503) is an answer like any other.
      return send(`request of ${host}`, `${baseUrl}/`, { method: 'PUT', body: form }, [200, 503], onRefused);
    },
  };
}

function localManagerSettings(config: ManagerConfig, intervalS: number): LocalManagerSettings {
  return {
    underload: config.algorithms.underload, overload: config.algorithms.overload, selection: config.algorithms.selection,
    timeStepS: intervalS, migrationBandwidthMbPerS: config.networkMigrationBandwidthMbPerS,
    hostCpuUsableByVms: config.hostCpuUsableByVms, historyLength: config.dataCollectorDataLength,
  };
}

export async function startSimulatedService(options: SimulatedServiceOptions): Promise<SimulatedService> {
  const scheduler = new Scheduler();
  const simulation = planetLabConfig(options.trace.vms.length, options.trace.vms.map((vm) => vm.ramMb), options.hosts);
  const pacing = new PacedScheduler(scheduler, { speed: options.speed, epochMs: Date.now(), tickMs: 10, maxEventsPerTick: 10_000 });
  const ids = seededIds(createRng(`${options.seed}/manager`), pacing.clock);
  const runId = ids.next();
  const stream = `simulation-${runId}`;
  const causes = { correlationId: runId, causationId: null };
  const token = randomBytes(24).toString('hex');
  const config: ManagerConfig = { ...options.config, apiTokensSha256: [...options.config.apiTokensSha256, createHash('sha256').update(token).digest('hex')] };
  const localManager = localManagerSettings(config, simulation.schedulingIntervalS);
  let running: RunningService | null = null;
  const world = new NeatWorld({
    config: simulation, trace: options.trace, scheduler, ids, transitions: options.transitions, localManager, rng: createRng(`${options.seed}/policy`),
    recordUpdate: async (update) => { await running?.journal.record(stream, [{ type: 'DataCentreUpdated', data: update }], causes); },
  });
  const settings: Partial<ManagerSettings> = { computeHosts: null, queueLimit: simulation.hosts.length, ...options.settings };
  const recordedConfig = { ...simulation, manager: { settings, localManager, transitions: options.transitions } };
  const metrics = new MetricsProjection(recordedConfig, 'suspended');
  pacing.start();
  try {
    running = await startService({
      config,
      ports: { cloud: world.dataCentre, power: world.dataCentre, log: options.log, clock: pacing.clock, timer: pacing.timer, ids, rng: createRng(`${options.seed}/rng`) },
      settings, listen: options.listen, onError: options.onError,
    });
    const service = running;
    service.journal.onRecorded((event) => { foldIntoMetrics(metrics, event); });
    await service.journal.record(stream, [{
      type: 'SimulationStarted',
      data: {
        runId, mode: 'neat', policy: 'neat.conf', seed: options.seed, config: recordedConfig, codeVersion: CODE_VERSION,
        trace: { name: options.trace.name, format: options.trace.format, digest: options.trace.digest, vms: options.trace.vms.length, stepS: options.trace.stepS },
      },
    }], causes);
    const hashes = neatCredentialHashes(config);
    const transport = httpTransport(service.url, { usernameSha1: hashes.username, passwordSha1: hashes.password, token }, (what) => {
      options.onError(new Error(`a simulated local manager was refused: ${what}`));
    });
    world.start(options.localManagers ? transport : { recordSample: async () => undefined, request: async () => undefined });
    return {
      service, world, scheduler, pacing, metrics, token,
      async close(): Promise<void> {
        await service.close();
        await pacing.stop();
      },
    };
  } catch (error) {
    await running?.close();
    await pacing.stop();
    throw error;
  }
}
