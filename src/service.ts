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
import { AssertionError } from './engine/assert';
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

async function bind(listen: ServiceOptions['listen']): Promise<{ server: Server; handle: (listener: RequestListener) => void }> {
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
}

/**
 * A standby of a highly available deployment: it listens, folds the log and
 * follows what the leader appends, answers reads from that state, and
 * redirects writes to the leader (see `createApp`'s `standby`).
 */
export async function startStandbyService(options: {
  readonly config: ManagerConfig;
  readonly log: EventLog;
  readonly listen: ServiceOptions['listen'];
  readonly settings?: Partial<ManagerSettings>;
  readonly leaderUrl: () => string | null;
  readonly onError: (error: unknown) => void;
}): Promise<StandbyService> {
  const { server, handle } = await bind(options.listen);
  const journal = new Journal(options.log, { ids: randomIds, clock: systemClock, source: 'global-manager' });
  const manager = new GlobalManager({
    cloud: STANDBY_CLOUD, power: STANDBY_POWER, timer: systemTimer, journal, ids: randomIds, rng: createRng('standby'),
  }, { ...managerSettings(options.config), ...options.settings });
  let following: { stop(): Promise<void> };
  try {
    await journal.rebuild();
    following = journal.follow(options.onError);
  } catch (error) {
    await closeServer(server);
    throw error;
  }
  const app = serviceApp(options.config, manager, options.log, { onError: options.onError, standby: { leaderUrl: options.leaderUrl } });
  const callback = app.callback();
  handle((request, response) => { void callback(request, response); });
  return {
    url: urlOf(server),
    position: () => manager.dataCentre.position,
    async close(): Promise<void> {
      await closeServer(server);
      await following.stop();
    },
  };
}

/** Listens, rebuilds the state from the log and settles interrupted plans' order, then serves. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config, ports } = options;
  const { server, handle } = await bind(options.listen);
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
  let recovery: RunningService['recovery'];
  try {
    await options.prepare?.(journal);
    recovery = await manager.start();
  } catch (error) {
    await manager.stop();
    await closeServer(server);
    throw error;
  }
  const app = serviceApp(config, manager, ports.log, {
    onError: options.onError, extraMetrics: () => (options.extraMetrics?.() ?? '') + (importer?.metrics() ?? ''),
  });
  const source = options.samples?.source;
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
