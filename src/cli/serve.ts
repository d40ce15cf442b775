/**
 * `neat serve`: the global manager as a service. `--sim <trace>` is the
 * embedded default that needs no OpenStack: the service on a SQLite log,
 * managing a simulated data centre that runs `--speed` times faster than the
 * wall clock, whose simulated local managers send real HTTP requests to
 * `PUT /`. Every event is printed as it is recorded (samples and state
 * history counted, not printed). `--config` alone runs it against a real
 * OpenStack.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { RecordedEvent } from '../events/envelope';
import { loadConfig, DEFAULT_CONFIG } from '../config';
import type { ManagerConfig } from '../config';
import { systemClock, systemTimer } from '../clock';
import { novaCloud } from '../drivers/production';
import { productionPower } from '../drivers/power';
import { randomIds } from '../ids';
import { openEventLog } from '../log/open';
import { SqliteEventLog } from '../log/sqlite';
import { CloudError } from '../managers/ports';
import { createRng } from '../rng';
import { startService } from '../service';
import type { RunningService } from '../service';
import { INSTANT_TRANSITIONS } from '../../sim/datacentre';
import { startSimulatedService } from '../../sim/service';
import type { SimulatedService } from '../../sim/service';
import { EXIT_FAILURE, EXIT_OK, integerOption, oneOfOption, stringOption, UsageError } from './command';
import type { Command, Output } from './command';
import { loadTrace, reportTable, TRACE_FORMATS } from './simulate';

const SERVE_USAGE = 'neat serve --sim <trace> [--format planetlab|csv] [--config <neat.conf>] [--hosts <n>] [--speed <x>] '
  + '[--listen <host:port>] [--events <file.sqlite>] [--seed <n>] [--exit]\n'
  + '       neat serve --config <neat.conf> [--listen <host:port>]   (a real OpenStack through Nova, SSH suspend and Wake-on-LAN)';

/** PlanetLab's ratio: 800 hosts for 1052 VMs. */
function defaultHosts(vms: number): number {
  return Math.max(2, Math.ceil((vms * 800) / 1052));
}

function parseListen(value: string | undefined, config: ManagerConfig | null): { host: string; port: number } {
  if (value === undefined) return config === null ? { host: '127.0.0.1', port: 60080 } : { host: config.globalManagerHost, port: config.globalManagerPort };
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65_535) throw new UsageError(`--listen must be <host>:<port> with a port up to 65535; got "${value}"`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

function clock(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(11, 19);
}

/** One line per event worth a human's attention; null for the frequent ones. */
export function describeEvent(event: RecordedEvent): string | null {
  const d = event.data as Record<string, unknown>;
  const at = `${clock(event.metadata.timeMs)} #${event.position}`;
  switch (event.type) {
    case 'UtilizationSampled':
    case 'DataCentreUpdated':
      return null;
    case 'RequestReceived':
      return `${at} request   ${event.data.reason} from ${event.data.host}${event.data.vmIds.length > 0 ? ` (${event.data.vmIds.join(', ')})` : ''} via ${event.data.protocol}`;
    case 'RequestRejected':
      return `${at} refused   ${event.data.status} ${event.data.host ?? ''}: ${event.data.reason}`;
    case 'PlacementDecided': {
      const moves = Object.entries(event.data.mapping).map(([vm, host]) => `${vm}→${host}`).join(', ') || 'no migrations';
      return `${at} decided   ${moves}; wake [${event.data.hostsToWake.join(', ')}], suspend [${event.data.hostsToSuspend.join(', ')}] (${event.data.automation})`;
    }
    case 'NothingToDo':
      return `${at} nothing   ${event.data.reason}: ${event.data.detail}`;
    case 'RequestCompleted':
      return `${at} completed ${event.data.outcome}: ${event.data.detail}`;
    case 'MigrationStarted':
    case 'MigrationCompleted':
    case 'MigrationFailed':
    case 'MigrationAbandoned':
    case 'MigrationSkipped':
      return `${at} ${event.type.replace('Migration', 'migration ').toLowerCase().padEnd(9)} ${event.data.vmId} ${event.data.sourceHost}→${event.data.targetHost}`
        + (typeof d.error === 'string' ? `: ${d.error}` : typeof d.detail === 'string' ? `: ${d.detail}` : '');
    default:
      return `${at} ${event.type} ${JSON.stringify(event.data).slice(0, 160)}`;
  }
}

async function serveSimulated(values: Parameters<Command['run']>[0], io: Output): Promise<number> {
  const tracePath = stringOption(values, 'sim') ?? '';
  const configPath = stringOption(values, 'config');
  const config = configPath === undefined ? null : loadConfig({ files: [configPath], env: process.env });
  const trace = loadTrace(tracePath, oneOfOption(values, 'format', TRACE_FORMATS));
  const hosts = integerOption(values, 'hosts', { min: 1, max: 100_000 }) ?? defaultHosts(trace.vms.length);
  const speed = integerOption(values, 'speed', { min: 1, max: 1_000_000 }) ?? 300;
  const listen = parseListen(stringOption(values, 'listen'), config);
  const seed = stringOption(values, 'seed') ?? '1';
  const eventsPath = stringOption(values, 'events') ?? `neat-sim-${timestamp(new Date())}.sqlite`;
  if (existsSync(eventsPath)) throw new UsageError(`${eventsPath} exists; a simulated service starts a new event log (pass --events <new file>)`);
  const log = new SqliteEventLog(eventsPath, { groupCommit: true });
  let samples = 0;
  let simulated: SimulatedService;
  try {
    simulated = await startSimulatedService({
      trace, hosts, config: config ?? DEFAULT_CONFIG, log, transitions: INSTANT_TRANSITIONS, speed, seed,
      listen, localManagers: true, onError: (error) => { io.err(`neat serve: ${error instanceof Error ? error.stack ?? error.message : String(error)}`); },
    });
  } catch (error) {
    await log.close();
    throw error;
  }
  const { service } = simulated;
  service.journal.onRecorded((event) => {
    if (event.type === 'UtilizationSampled') samples += 1;
    const line = describeEvent(event);
    if (line !== null) io.out(line);
  });
  const startedMs = performance.now();
  const dayS = simulated.world.limitS;
  io.out([
    `neat serve: a simulated data centre of ${hosts} hosts and ${trace.vms.length} VMs (${trace.name}), ${speed}× real time: `
      + `${(dayS / 3600).toFixed(1)} h of trace in ${(dayS / speed / 60).toFixed(1)} min`,
    `  listening on ${service.url} (Neat's PUT /, the JSON API under /v1, /healthz, /metrics)`,
    `  event log ${eventsPath}`,
    `  follow it: curl -N -H 'Authorization: Bearer ${simulated.token}' ${service.url}/v1/events/stream`,
  ].join('\n'));
  const ended = new Promise<'end'>((resolve) => { simulated.scheduler.at(dayS, () => { resolve('end'); }); });
  const stopped = new Promise<'signal'>((resolve) => {
    process.once('SIGINT', () => { resolve('signal'); });
    process.once('SIGTERM', () => { resolve('signal'); });
  });
  if (await Promise.race([ended, stopped]) === 'end') {
    await simulated.world.finish();
    const metrics = simulated.metrics.result();
    io.out(reportTable({ metrics, wallMs: performance.now() - startedMs, seed, policy: 'neat.conf', mode: 'neat', trace: trace.name, events: service.manager.dataCentre.position, decisionTimes: null },
      `End of the trace (${samples} samples recorded); the service keeps running${values.exit === true ? '' : ' until interrupted'}`));
    if (values.exit !== true) await stopped;
  }
  await simulated.close();
  await log.close();
  return EXIT_OK;
}

/** Until a signal: the service on the configured log, managing the real cloud through Nova, SSH and Wake-on-LAN. */
async function serveProduction(values: Parameters<Command['run']>[0], io: Output): Promise<number> {
  for (const simOnly of ['format', 'hosts', 'speed', 'events', 'seed', 'exit'] as const) {
    if (values[simOnly] !== undefined) throw new UsageError(`--${simOnly} is for --sim only; the event log of a real deployment is the config's event_log`);
  }
  const config = loadConfig({ files: [stringOption(values, 'config') ?? ''], env: process.env });
  const listen = parseListen(stringOption(values, 'listen'), config);
  const environment = { clock: systemClock, timer: systemTimer, warn: (message: string) => { io.err(`neat serve: ${message}`); } };
  const { cloud } = novaCloud(config, environment);
  const power = productionPower(config);
  const log = openEventLog(config.eventLog);
  let service: RunningService;
  try {
    service = await startService({
      config, ports: { cloud, power, log, clock: systemClock, timer: systemTimer, ids: randomIds, rng: createRng(randomBytes(16).toString('hex')) },
      listen, onError: (error) => { io.err(`neat serve: ${error instanceof Error ? error.stack ?? error.message : String(error)}`); },
    });
  } catch (error) {
    await log.close();
    if (!(error instanceof CloudError)) throw error;
    io.err(`neat serve: the cloud could not be read at start, so the log cannot be reconciled with it: ${error.message}`);
    return EXIT_FAILURE;
  }
  service.journal.onRecorded((event) => {
    const line = describeEvent(event);
    if (line !== null) io.out(line);
  });
  io.out([
    `neat serve: managing ${config.computeHosts.length} compute hosts (${config.computeHosts.join(', ')}) through Nova at ${config.osAuthUrl}, automation ${config.automation}`,
    `  listening on ${service.url} (Neat's PUT /, the JSON API under /v1, /healthz, /metrics)`,
    `  event log ${log.description}; recovered ${service.recovery.events} events, resumed ${service.recovery.resumed} plans, requeued ${service.recovery.requeued} requests`,
  ].join('\n'));
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => { resolve(); });
    process.once('SIGTERM', () => { resolve(); });
  });
  await service.close();
  await log.close();
  return EXIT_OK;
}

export const serveCommand: Command = {
  summary: 'run the global manager service (--sim <trace>: against a simulated data centre, no OpenStack needed)',
  usage: SERVE_USAGE,
  options: {
    sim: { type: 'string' }, format: { type: 'string' }, config: { type: 'string' }, hosts: { type: 'string' }, speed: { type: 'string' },
    listen: { type: 'string' }, events: { type: 'string' }, seed: { type: 'string' }, exit: { type: 'boolean' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    if (stringOption(values, 'sim') !== undefined) return serveSimulated(values, io);
    if (stringOption(values, 'config') === undefined) throw new UsageError(`neat serve needs --sim <trace> or --config <neat.conf>\nUsage: ${SERVE_USAGE}`);
    return serveProduction(values, io);
  },
};
