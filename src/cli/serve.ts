/**
 * `neat serve`: the global manager as a service. `--sim <trace>` is the
 * embedded default that needs no OpenStack: the service on a SQLite log,
 * managing a simulated data centre that runs `--speed` times faster than the
 * wall clock, whose simulated local managers send real HTTP requests to
 * `PUT /`; an existing `--events` log is resumed. `--config` alone runs it
 * against a real OpenStack.
 *
 * A start-up failure is one line naming the problem, and leaves no file the
 * run created. SIGINT, SIGTERM or SIGHUP stops it: the local managers first,
 * then the clock, the service and the log; a second signal exits at once.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '../config';
import type { ManagerConfig } from '../config';
import { systemClock, systemTimer } from '../clock';
import { novaCloud } from '../drivers/production';
import { productionPower } from '../drivers/power';
import { randomIds } from '../ids';
import { openEventLog } from '../log/open';
import type { EventLog } from '../log/port';
import { PostgresEventLog } from '../log/postgres';
import { removeSqliteLog, SqliteEventLog } from '../log/sqlite';
import { FileSnapshotStore, snapshotPathOf } from '../log/snapshotFile';
import { AssertionError, assert } from '../engine/assert';
import { ManagerStoppedError } from '../managers/globalManager';
import type { GlobalManager, SnapshotUse } from '../managers/globalManager';
import { CloudError } from '../managers/ports';
import { createRng } from '../rng';
import { ServiceStartError, startService } from '../service';
import type { ServicePorts } from '../service';
import type { SnapshotStore } from '../managers/ports';
import { openSampleSource } from '../sources';
import { INSTANT_TRANSITIONS } from '../../sim/datacentre';
import { startSimulatedService } from '../../sim/service';
import type { SimulatedService } from '../../sim/service';
import { loadCommandConfig } from './config';
import { EXIT_OK, integerOption, listenOption, oneOfOption, stringOption, UsageError } from './command';
import type { Command, Output, ParsedValues } from './command';
import { consoleOptions, errorText, firstSignal, stopWithin } from './console';
import { defaultInstance, standUntilLeading } from './serveHa';
import type { HaOptions, Leading } from './serveHa';
import { serveLog, simulatedTime, timeOfDay } from './serveLog';
import type { ServeLog } from './serveLog';
import { loadTrace, reportTable, TRACE_FORMATS } from './simulate';

const SERVE_USAGE = 'neat serve --sim <trace> [--format planetlab|csv] [--config <neat.conf>] [--hosts <n>] [--speed <x>] '
  + '[--listen <host:port>] [--events <file.sqlite|postgresql://…>] [--seed <n>] [--exit] [--instance <name>] [--advertise <url>] '
  + '[--log-format text|json] [--quiet|--verbose]\n'
  + '       neat serve --config <neat.conf> [--listen <host:port>] [--instance <name>] [--advertise <url>] [--log-format text|json] [--quiet|--verbose]'
  + '   (a real OpenStack through Nova, SSH suspend and Wake-on-LAN)\n'
  + '  On a PostgreSQL log several instances run at once: one leads, the others stand by (docs/ha.md).';

/** How often a simulated service looks at its pace; how often at most it says it cannot keep it, and from what wall-clock lag. */
const PACE_CHECK_MS = 5_000;
const PACE_WARNING_MS = 30_000;
const LAG_WARNING_S = 1;

/** PlanetLab's ratio: 800 hosts for 1052 VMs. */
function defaultHosts(vms: number): number {
  return Math.max(2, Math.ceil((vms * 800) / 1052));
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

function consoleOf(values: ParsedValues, io: Output, timeLabel: (timeMs: number) => string, logLevel: ManagerConfig['logLevel']): ServeLog {
  return serveLog({ ...consoleOptions(values, logLevel), io, timeLabel });
}

/** Opens the log; on a failed start, closes it and deletes it if this run created it. */
async function withLog<T>(open: () => EventLog, sqlitePath: string | null, start: (log: EventLog) => Promise<T>): Promise<{ log: EventLog; started: T }> {
  const created = sqlitePath !== null && !existsSync(sqlitePath);
  const log = open();
  try {
    return { log, started: await start(log) };
  } catch (error) {
    await log.close();
    if (created) removeSqliteLog(sqlitePath);
    throw error;
  }
}

function watchPace(simulated: SimulatedService, speed: number, log: ServeLog): NodeJS.Timeout {
  let lastVirtualS = simulated.scheduler.timeS;
  let lastWallMs = performance.now();
  let warnedAtMs = -Infinity;
  const timer = setInterval(() => {
    const { lagS } = simulated.pacing;
    const virtualS = simulated.scheduler.timeS;
    const wallMs = performance.now();
    const actualSpeed = (virtualS - lastVirtualS) / ((wallMs - lastWallMs) / 1000);
    lastVirtualS = virtualS;
    lastWallMs = wallMs;
    if (lagS / speed > LAG_WARNING_S && wallMs - warnedAtMs >= PACE_WARNING_MS) {
      warnedAtMs = wallMs;
      log.warn(`the service cannot keep pace with ${speed}×: the simulated clock ran at ${actualSpeed.toFixed(0)}× over the last `
        + `${PACE_CHECK_MS / 1000} s and is ${(lagS / 3600).toFixed(1)} h behind; it waits for the service, so the figures are not affected`,
      { lagS, speed, actualSpeed });
    }
  }, PACE_CHECK_MS);
  timer.unref();
  return timer;
}

async function serveSimulated(values: ParsedValues, io: Output): Promise<number> {
  const config = loadCommandConfig({ configPath: stringOption(values, 'config'), env: process.env });
  const logger = consoleOf(values, io, simulatedTime, config.logLevel);
  const trace = loadTrace(stringOption(values, 'sim') ?? '', oneOfOption(values, 'format', TRACE_FORMATS));
  const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? defaultHosts(trace.vms.length);
  const speed = integerOption(values, 'speed', { min: 1, max: 1_000_000 }) ?? 300;
  // Neat's default address names the controller; a simulated data centre is served on this machine unless the configuration says where.
  const listen = listenOption(values, 'listen') ?? {
    host: config.globalManagerHost === DEFAULT_CONFIG.globalManagerHost ? '127.0.0.1' : config.globalManagerHost, port: config.globalManagerPort,
  };
  const seed = stringOption(values, 'seed') ?? '1';
  const eventsPath = stringOption(values, 'events') ?? `neat-sim-${timestamp(new Date())}.sqlite`;
  let samples = 0;
  const signalled = firstSignal(logger);
  const ha = POSTGRES_URL.test(eventsPath) ? await leadOrStop(values, { connectionString: eventsPath, listen, config, logger, signalled }, null) : null;
  if (ha === 'stopped') return EXIT_OK;
  // A simulation's log on SQLite is written without an fsync per append (a killed process loses nothing; a power cut may lose the last appends).
  const { log, started: simulated } = await withLog(() => ha?.log ?? new SqliteEventLog(eventsPath, { durable: false }), ha === null ? eventsPath : null, (eventLog) => startSimulatedService({
    trace, hosts, config, log: eventLog, transitions: INSTANT_TRANSITIONS, speed, seed, listen: ha?.listen ?? listen, localManagers: true,
    onError: (error) => { logger.error(`internal error: ${errorText(error)}`); },
    onRefused: (what) => { logger.warn(`a simulated local manager's message was refused: ${what}`); },
  }));
  const { service } = simulated;
  service.journal.onRecorded((event) => {
    if (event.type === 'UtilizationSampled') samples += 1;
    logger.event(event);
  });
  const startedMs = performance.now();
  const resumedAtS = simulated.resumed?.endS ?? 0;
  const leftS = Math.max(0, simulated.world.limitS - resumedAtS);
  logger.info([
    `neat serve: a simulated data centre of ${hosts} hosts and ${trace.vms.length} VMs (${trace.name}), ${speed}× real time: `
      + `${(leftS / 3600).toFixed(1)} h of trace in ${(leftS / speed / 60).toFixed(1)} min`,
    ...(simulated.resumed === null ? [] : [`  resumed at ${simulatedTime(resumedAtS * 1000)} from ${simulated.resumed.headPosition} events: `
      + `resumed ${service.recovery.resumed} plan(s), requeued ${service.recovery.requeued} request(s)`]),
    `  listening on ${service.url} (Neat's PUT /, the JSON API under /v1, /healthz, /metrics)`,
    `  dashboard ${service.url}/ui (it asks for the token below)`,
    `  event log ${log.description}`,
    `  follow it: curl -N -H 'Authorization: Bearer ${simulated.token}' '${service.url}/v1/events/stream?from=end&exclude=UtilizationSampled,DataCentreUpdated'`,
  ].join('\n'), {
    event: 'listening', url: service.url, dashboard: `${service.url}/ui`, log: log.description, hosts, vms: trace.vms.length, speed, token: simulated.token,
    resumedAtS: simulated.resumed === null ? null : resumedAtS, ...service.recovery,
  }, true);
  const pace = watchPace(simulated, speed, logger);
  if (await Promise.race([simulated.traceEnded.then(() => 'end' as const), signalled]) === 'end') {
    const metrics = await simulated.finish();
    const wallMs = performance.now() - startedMs;
    const plannedMs = (leftS / speed) * 1000;
    const keeps = values.exit === true ? 'exiting (--exit)' : 'the service keeps running until interrupted';
    const pacing = `pace: ${(wallMs / 1000).toFixed(1)} s of wall time for ${(plannedMs / 1000).toFixed(1)} s planned at ${speed}×; `
      + `the clock waited for the service up to ${(simulated.pacing.maxLagS / speed).toFixed(1)} s`;
    logger.info(reportTable({ metrics, wallMs, seed, policy: 'neat.conf', mode: 'neat', trace: trace.name, events: service.manager.dataCentre.position, decisionTimes: null },
      `End of the trace (${samples} samples recorded); ${keeps}`) + `\n  ${pacing}`,
    { event: 'end-of-trace', metrics, wallMs, plannedWallMs: plannedMs, maxLagS: simulated.pacing.maxLagS, samples }, true);
    if (values.exit !== true) await signalled;
  }
  clearInterval(pace);
  await stopWithin(logger, async () => {
    await simulated.close();
    await log.close();
    await ha?.leadership.close();
  });
  return EXIT_OK;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/**
 * For a log on PostgreSQL: stands by until this instance leads, then hands
 * the service its log (fenced with the epoch), its bound address and the
 * leadership to release at the end; 'stopped' when a signal came first.
 */
async function leadOrStop(
  values: ParsedValues, options: Pick<HaOptions, 'connectionString' | 'listen' | 'config' | 'logger' | 'signalled'>,
  promotable: ((log: PostgresEventLog) => NonNullable<HaOptions['promotable']>) | null,
): Promise<({ log: PostgresEventLog } & Omit<Leading, 'epoch'>) | 'stopped'> {
  const instance = stringOption(values, 'instance') ?? defaultInstance();
  const advertise = stringOption(values, 'advertise') ?? null;
  if (advertise !== null && !/^https?:\/\/[^/]+\/?$/.test(advertise)) throw new UsageError(`--advertise must be http(s)://<host>:<port>; got "${advertise}"`);
  const log = new PostgresEventLog(options.connectionString, { applicationName: `neat-serve:${instance}` });
  try {
    const leading = await standUntilLeading({ ...options, log, instance, advertise, ...(promotable === null ? {} : { promotable: promotable(log) }) });
    if (leading !== null) return { log, listen: leading.listen, leadership: leading.leadership, promote: leading.promote };
  } catch (error) {
    await log.close();
    if (error instanceof AssertionError || error instanceof ServiceStartError) throw error;
    throw new ServiceStartError(`the event log ${log.description} cannot be used: ${error instanceof Error ? error.message : String(error)}`);
  }
  await log.close();
  return 'stopped';
}

/** Until a signal: the service on the configured log, managing the real cloud through Nova, SSH and Wake-on-LAN. */
/** How often the samples past their retention are compacted away; the first run comes this long after the start too. */
const COMPACTION_PERIOD_MS = 3_600_000;

/** Compacts the log's old samples every COMPACTION_PERIOD_MS, one run at a time; `stop` waits for the run in progress. */
function compactPeriodically(manager: GlobalManager, retentionS: number, archive: string | null, logger: ServeLog): { stop(): Promise<void> } {
  let running: Promise<void> | null = null;
  const run = async (): Promise<void> => {
    try {
      const result = await manager.compactSamples(retentionS * 1000, archive);
      if (result === null) return;
      logger.info(`compacted ${result.removed} events (old samples, refusals, requests that moved nothing) at positions ${result.fromPosition}..${result.throughPosition}`
        + `${archive === null ? ' (dropped)' : ` into ${archive}`}; the state they made is event ${result.checkpointPosition}`,
      { event: 'samples-compacted', ...result, archive });
    } catch (error) {
      if (!(error instanceof ManagerStoppedError)) logger.error(`sample compaction failed: ${errorText(error)}`);
    }
  };
  const timer = setInterval(() => {
    if (running === null) running = run().finally(() => { running = null; });
  }, COMPACTION_PERIOD_MS);
  timer.unref();
  return {
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}

/** Where compacted events go: the configured file, or beside the log (`<file>.archive`; on PostgreSQL, its table events_archive); null: dropped. */
function archiveOf(config: ManagerConfig, log: EventLog): string | null {
  if (config.sampleArchive !== 'beside-log') return config.sampleArchive;
  if (log instanceof SqliteEventLog) return `${log.path}.archive`;
  if (log instanceof PostgresEventLog) return log.archiveTable;
  assert(false, 'only SQLite and PostgreSQL logs compact');
}

function recoveredFrom(snapshot: SnapshotUse): string {
  if (snapshot.used === 'restored') return ` after the snapshot at position ${snapshot.position}`;
  return snapshot.used === 'refused' ? ' (the snapshot was refused; the whole log was folded)' : '';
}

async function serveProduction(values: ParsedValues, io: Output): Promise<number> {
  for (const simOnly of ['format', 'hosts', 'speed', 'events', 'seed', 'exit'] as const) {
    if (values[simOnly] !== undefined) throw new UsageError(`--${simOnly} is for --sim only; the event log of a real deployment is the config's event_log`);
  }
  const config = loadCommandConfig({ configPath: stringOption(values, 'config'), env: process.env });
  const logger = consoleOf(values, io, timeOfDay, config.logLevel);
  const listen = listenOption(values, 'listen') ?? { host: config.globalManagerHost, port: config.globalManagerPort };
  const environment = { clock: systemClock, timer: systemTimer, warn: (message: string) => { logger.warn(message); } };
  const { cloud, session } = novaCloud(config, environment);
  const power = productionPower(config);
  const sqlitePath = config.eventLog.kind === 'sqlite' ? config.eventLog.path : null;
  const signalled = firstSignal(logger);
  // Opening a source only parses its address: an unreachable one is reported by its polls, and the service still starts.
  const source = openSampleSource(config, session);
  const samples = source === null ? {} : { samples: { source, log: logger } };
  // A snapshot file beside a SQLite log, a row beside a PostgreSQL one; none from a KurrentDB log.
  const portsOn = (eventLog: EventLog, store: SnapshotStore | null): ServicePorts => ({
    cloud, power, log: eventLog, clock: systemClock, timer: systemTimer, ids: randomIds, rng: createRng(randomBytes(16).toString('hex')),
    ...(store === null || config.snapshotIntervalEvents === 0 ? {} : {
      snapshots: { store, intervalEvents: config.snapshotIntervalEvents, onProblem: (message: string) => { logger.warn(message); } },
    }),
  });
  const ha = config.eventLog.kind === 'postgresql'
    ? await leadOrStop(values, { connectionString: config.eventLog.connectionString, listen, config, logger, signalled },
      (eventLog) => ({ ports: portsOn(eventLog, eventLog.snapshotStore()), ...samples }))
    : null;
  if (ha === 'stopped') {
    await source?.close();
    return EXIT_OK;
  }
  const onError = (error: unknown): void => { logger.error(`internal error: ${errorText(error)}`); };
  const { log, started: service } = await withLog(() => ha?.log ?? openEventLog(config.eventLog), sqlitePath, async (eventLog) => {
    try {
      if (ha?.promote) return await ha.promote({ onError });
      const store = sqlitePath === null ? null : new FileSnapshotStore(snapshotPathOf(sqlitePath));
      return await startService({ config, ports: portsOn(eventLog, store), listen: ha?.listen ?? listen, onError, ...samples });
    } catch (error) {
      await source?.close();
      if (!(error instanceof CloudError)) throw error;
      throw new ServiceStartError(`the cloud could not be read, so the log cannot be reconciled with it: ${error.message}`);
    }
  });
  service.journal.onRecorded((event) => { logger.event(event); });
  logger.info([
    `neat serve: managing ${config.computeHosts.length} compute hosts (${config.computeHosts.join(', ')}) through Nova at ${config.osAuthUrl}, automation ${config.automation}`,
    `  listening on ${service.url} (Neat's PUT /, the JSON API under /v1, /healthz, /metrics)`,
    `  dashboard ${service.url}/ui (it asks for a bearer token of api_tokens_sha256)`,
    `  samples from ${source === null ? 'the agents (POST /v1/samples)' : `${source.description}, every ${config.dataCollectorIntervalS} s, and the agents (POST /v1/samples)`}`,
    `  event log ${log.description}; recovered ${service.recovery.events} events${recoveredFrom(service.recovery.snapshot)}, resumed ${service.recovery.resumed} plans, requeued ${service.recovery.requeued} requests`,
  ].join('\n'), { event: 'listening', url: service.url, dashboard: `${service.url}/ui`, log: log.description, samples: source?.description ?? 'agents', ...service.recovery, snapshot: service.recovery.snapshot.used }, true);
  const compaction = log.compactSamples === undefined || config.sampleRetentionS === 0 ? null
    : compactPeriodically(service.manager, config.sampleRetentionS, archiveOf(config, log), logger);
  await signalled;
  await stopWithin(logger, async () => {
    await compaction?.stop();
    await service.close();
    await log.close();
    await ha?.leadership.close();
  });
  return EXIT_OK;
}

export const serveCommand: Command = {
  summary: 'run the global manager service (--sim <trace>: against a simulated data centre, no OpenStack needed)',
  usage: SERVE_USAGE,
  options: {
    sim: { type: 'string' }, format: { type: 'string' }, config: { type: 'string' }, hosts: { type: 'string' }, speed: { type: 'string' },
    listen: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, exit: { type: 'boolean' },
    instance: { type: 'string' }, advertise: { type: 'string' },
    'log-format': { type: 'string' }, quiet: { type: 'boolean' }, verbose: { type: 'boolean' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    if (stringOption(values, 'sim') !== undefined) return serveSimulated(values, io);
    if (stringOption(values, 'config') === undefined) throw new UsageError(`--sim <trace> or --config <neat.conf> is needed\nUsage: ${SERVE_USAGE}`);
    return serveProduction(values, io);
  },
};
