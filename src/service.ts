/**
 * The global-manager service wired together: the configuration's settings,
 * the manager on its ports, the HTTP app on a socket. `neat serve` and the
 * tests start it the same way; only the ports differ (Nova, SSH and
 * Wake-on-LAN in production, the simulated data centre otherwise).
 */
import { createServer } from 'node:http';
import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { createApp } from './api/app';
import type { AppOptions } from './api/app';
import { systemClock, systemTimer } from './clock';
import type { Clock, Timer } from './clock';
import type { ManagerConfig } from './config';
import { neatCredentialHashes } from './config';
import { AssertionError, assert } from './engine/assert';
import type { Rng } from './engine/types';
import { randomIds } from './ids';
import type { IdSource } from './ids';
import type { EventLog } from './log/port';
import { GlobalManager } from './managers/globalManager';
import { Journal } from './managers/journal';
import { SampleImporter } from './sources/importer';
import type { ImporterLog } from './sources/importer';
import type { SampleSource } from './sources/port';
import type { ManagerSettings } from './managers/globalManager';
import { managerSettings } from './managers/settings';
import type { Cloud, Power } from './managers/ports';
import { createRng } from './rng';
import type { ManagerPorts, SnapshotUse } from './managers/globalManager';

export interface ServicePorts {
  readonly cloud: Cloud;
  readonly power: Power;
  readonly log: EventLog;
  readonly clock: Clock;
  readonly timer: Timer;
  readonly ids: IdSource;
  readonly rng: Rng;
  /** Where to keep snapshots of the manager's state; absent: none, every start folds the whole log. */
  readonly snapshots?: ManagerPorts['snapshots'];
}

export interface ServiceOptions {
  readonly config: ManagerConfig;
  readonly ports: ServicePorts;
  /** Overrides of the configuration's settings (the simulated service manages every simulated host). */
  readonly settings?: Partial<ManagerSettings>;
  /** Address and port to listen on; port 0 picks a free one. */
  readonly listen: { readonly host: string; readonly port: number };
  readonly onError: (error: unknown) => void;
  /**
   * Called with the journal before the log is folded and the manager starts:
   * to add projections, or record what must come first (a simulation's start).
   */
  readonly prepare?: (journal: Journal) => Promise<void>;
  /** More metric families for `/metrics`, in Prometheus' text format. */
  readonly extraMetrics?: () => string;
  /** Where samples come from besides `POST /v1/samples` (`samples_source`), polled every `data_collector_interval`. */
  readonly samples?: { readonly source: SampleSource; readonly log: ImporterLog };
}

/** The service could not start: the message names what (the address, the cloud); nothing was served. */
export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
}

export interface RunningService {
  readonly manager: GlobalManager;
  /** The log as the manager writes it: other recorders of this process append through it too. */
  readonly journal: Journal;
  readonly server: Server;
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  readonly recovery: { readonly events: number; readonly resumed: number; readonly requeued: number; readonly snapshot: SnapshotUse };
  close(): Promise<void>;
}

/** Tries per poll of a sample source, and the wait before the second (doubled for each further one). */
const SOURCE_POLL_ATTEMPTS = 3;
const SOURCE_RETRY_BACKOFF_MS = 1_000;

/** SSE streams open at once, and the keep-alive comment period. */
const MAX_EVENT_STREAMS = 64;
const KEEP_ALIVE_MS = 15_000;

/** Answers while the manager rebuilds its state: clients (local managers) retry later. */
const starting: RequestListener = (_request, response) => {
  response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
  response.end(JSON.stringify({ error: { status: 503, message: 'the service is starting: it is rebuilding its state from the log', field: null } }));
};

/** Binds the address first, so that a taken port is reported before the log or the cloud is touched. */
/**
 * Connections waiting to be accepted (the kernel caps it at net.core.somaxconn):
 * Node's 511 would leave some of a few thousand agents that reconnect at once,
 * after a restart, to retry their SYN a second or three later.
 */
const LISTEN_BACKLOG = 4096;

interface Bound {
  readonly server: Server;
  /** Sets what answers the socket's requests from now on. */
  readonly handle: (listener: RequestListener) => void;
}

async function bind(listen: ServiceOptions['listen']): Promise<Bound> {
  let listener = starting;
  const server = createServer((request, response) => { listener(request, response); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = error.code === 'EADDRINUSE' ? 'the address is already in use'
        : error.code === 'EACCES' ? 'permission denied'
          : error.code === 'EADDRNOTAVAIL' ? 'no such address on this machine' : error.message;
      reject(new ServiceStartError(`cannot listen on ${listen.host}:${listen.port}: ${why}`));
    });
    server.listen({ port: listen.port, host: listen.host, backlog: LISTEN_BACKLOG }, resolve);
  });
  return { server, handle: (next) => { listener = next; } };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => { server.close((error) => { if (error) reject(error); else resolve(); }); });
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

function serviceApp(config: ManagerConfig, manager: GlobalManager, log: EventLog, options: Pick<AppOptions, 'onError' | 'extraMetrics' | 'standby'>): Koa {
  const hashes = neatCredentialHashes(config);
  return createApp({
    // Neat's `time` field is the local manager's wall clock, whatever clock stamps the events.
    manager, log, clock: systemClock,
    neat: { usernameSha1: hashes.username, passwordSha1: hashes.password, stalenessS: config.requestStalenessS },
    tokenDigestsHex: config.apiTokensSha256, bodyLimitBytes: config.apiBodyLimitBytes,
    maxStreams: MAX_EVENT_STREAMS, keepAliveMs: KEEP_ALIVE_MS, ...options,
  });
}

function neverActs(what: string): never {
  throw new AssertionError(`a standby never acts, yet it called ${what}`);
}

/** A standby's manager folds the log and never starts: a call to its cloud or its power is a bug. */
const STANDBY_CLOUD: Cloud = {
  listHosts: () => neverActs('listHosts'), listVms: () => neverActs('listVms'), getVm: () => neverActs('getVm'),
  startLiveMigration: () => neverActs('startLiveMigration'), migrationStatus: () => neverActs('migrationStatus'),
};
const STANDBY_POWER: Power = { suspend: () => neverActs('suspend'), wake: () => neverActs('wake') };

export interface StandbyService {
  readonly url: string;
  /** The last position folded from the leader's log. */
  readonly position: () => number;
  /** Stops following and serving; the address is free again when it resolves. */
  close(): Promise<void>;
  /**
   * Set when the standby was started `promotable`: stops following and
   * becomes the service proper on the same socket. Its manager already holds
   * the state folded so far, so its start folds only what was appended since
   * (not the whole log), then reconciles with the cloud as every start does.
   * The caller holds the leadership and has fenced the log.
   */
  readonly promote: ((options: Pick<ServiceOptions, 'onError' | 'extraMetrics'>) => Promise<RunningService>) | null;
}

/** A manager on its ports with its journal (and the sample importer), nothing read or started yet. */
interface Assembly {
  readonly log: EventLog;
  readonly journal: Journal;
  readonly manager: GlobalManager;
  readonly importer: SampleImporter | null;
  readonly source: SampleSource | null;
}

function assemble(options: Pick<ServiceOptions, 'config' | 'ports' | 'settings' | 'samples'>): Assembly {
  const { config, ports } = options;
  const journal = new Journal(ports.log, { ids: ports.ids, clock: ports.clock, source: 'global-manager' });
  const importer: SampleImporter | null = options.samples === undefined ? null : new SampleImporter({
    source: options.samples.source, intervalMs: config.dataCollectorIntervalS * 1000, maxAttempts: SOURCE_POLL_ATTEMPTS,
    retryBackoffMs: SOURCE_RETRY_BACKOFF_MS, record: (sample): Promise<void> => manager.recordSample(sample),
    vmHost: (vmId): string | null => manager.dataCentre.vms.get(vmId)?.host ?? null, nowMs: () => ports.clock.nowMs(), log: options.samples.log,
  });
  const manager = new GlobalManager({
    cloud: ports.cloud, power: ports.power, timer: ports.timer, journal, ids: ports.ids, rng: ports.rng, samples: importer ?? undefined,
    ...(ports.snapshots === undefined ? {} : { snapshots: ports.snapshots }),
  }, { ...managerSettings(config), ...options.settings });
  return { log: ports.log, journal, manager, importer, source: options.samples?.source ?? null };
}

/** The ports of a standby that is never promoted: it folds the log and never starts, so a call to its cloud or its power is a bug. */
function standbyPorts(log: EventLog): ServicePorts {
  return { cloud: STANDBY_CLOUD, power: STANDBY_POWER, log, clock: systemClock, timer: systemTimer, ids: randomIds, rng: createRng('standby') };
}

/**
 * A standby of a highly available deployment: it listens, folds the log and
 * follows what the leader appends, answers reads from that state, and
 * redirects writes to the leader (see `createApp`'s `standby`). Started
 * `promotable`, its manager is on the service's own ports, never started
 * until `promote`.
 */
export async function startStandbyService(options: {
  readonly config: ManagerConfig;
  readonly log: EventLog;
  readonly listen: ServiceOptions['listen'];
  readonly settings?: Partial<ManagerSettings>;
  readonly leaderUrl: () => string | null;
  readonly onError: (error: unknown) => void;
  readonly promotable?: Pick<ServiceOptions, 'ports' | 'samples'>;
}): Promise<StandbyService> {
  const { promotable } = options;
  assert(promotable === undefined || promotable.ports.log === options.log, 'a promotable standby follows the log its service will write');
  const bound = await bind(options.listen);
  const assembly = assemble({
    config: options.config, ports: promotable?.ports ?? standbyPorts(options.log), settings: options.settings, samples: promotable?.samples,
  });
  const { journal, manager } = assembly;
  let following: { stop(): Promise<void> };
  try {
    // From the leader's snapshot when the ports have one: a standby's own start need not fold the whole log either.
    await manager.catchUp();
    following = journal.follow(options.onError);
  } catch (error) {
    await closeServer(bound.server);
    throw error;
  }
  const app = serviceApp(options.config, manager, options.log, { onError: options.onError, standby: { leaderUrl: options.leaderUrl } });
  const callback = app.callback();
  bound.handle((request, response) => { void callback(request, response); });
  let ended = false;
  return {
    url: urlOf(bound.server),
    position: () => manager.dataCentre.position,
    async close(): Promise<void> {
      assert(!ended, 'a standby is closed or promoted once');
      ended = true;
      await closeServer(bound.server);
      await following.stop();
    },
    promote: promotable === undefined ? null : async (more) => {
      assert(!ended, 'a standby is closed or promoted once');
      ended = true;
      bound.handle(starting);
      await following.stop();
      return serveAssembled({ ...more, config: options.config, samples: promotable.samples }, bound, assembly);
    },
  };
}

/** Listens, rebuilds the state from the log and settles interrupted plans' order, then serves. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const bound = await bind(options.listen);
  return serveAssembled(options, bound, assemble(options));
}

/** Starts the assembled manager (the log folded from where it stands, the cloud observed), then serves it on the bound socket. */
async function serveAssembled(
  options: Pick<ServiceOptions, 'config' | 'onError' | 'extraMetrics' | 'samples' | 'prepare'>, bound: Bound, assembly: Assembly,
): Promise<RunningService> {
  const { config } = options;
  const { server, handle } = bound;
  const { journal, manager, importer, source } = assembly;
  let recovery: RunningService['recovery'];
  try {
    await options.prepare?.(journal);
    recovery = await manager.start();
  } catch (error) {
    await manager.stop();
    await closeServer(server);
    throw error;
  }
  const app = serviceApp(config, manager, assembly.log, {
    onError: options.onError, extraMetrics: () => (options.extraMetrics?.() ?? '') + (importer?.metrics() ?? ''),
  });
  if (source?.recorded !== undefined && importer !== null) {
    // In order, one at a time: Neat's host_states rows follow the log's order.
    let writing = Promise.resolve();
    journal.onRecorded((event) => {
      writing = writing.then(() => source.recorded?.(event)).catch((error: unknown) => {
        options.samples?.log.error(`${source.description}: could not record ${event.type}: ${error instanceof Error ? error.message : String(error)}`);
      });
    });
  }
  importer?.start();
  const callback = app.callback();
  handle((request, response) => { void callback(request, response); });
  return {
    manager, journal, server, url: urlOf(server), recovery,
    async close(): Promise<void> {
      await closeServer(server);
      await importer?.stop();
      await manager.stop();
      await source?.close();
    },
  };
}
