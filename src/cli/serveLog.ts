/**
 * What `neat serve` prints. By default one line per request, written when the
 * request reaches its outcome: its host, reason, VMs, the placement, the
 * outcome and how long deciding and the whole took. Refusals get a line each;
 * samples and the simulated state history are never printed by default.
 * `--verbose` adds every event as it is recorded; `--quiet` keeps warnings,
 * errors and the end summary.
 *
 * On a terminal the lines are text; otherwise (or with `--log-format json`)
 * each is one JSON object (pino), for journald, Loki or Elasticsearch.
 */
import type { RecordedEvent } from '../events/envelope';
import { consoleLog } from './console';
import type { ConsoleLog, ConsoleOptions, Fields } from './console';

export interface ServeLog extends ConsoleLog {
  /** Every recorded event goes through here; it prints what the verbosity asks for. */
  event(event: RecordedEvent): void;
}

export interface ServeLogOptions extends Omit<ConsoleOptions, 'command'> {
  /** How an event's time reads: the wall clock's time of day, or a simulation's time since its start. */
  readonly timeLabel: (timeMs: number) => string;
}

/** A request from its receipt to its outcome, as far as the events have told. */
interface OpenRequest {
  readonly requestId: string;
  readonly host: string;
  readonly reason: string;
  readonly protocol: string;
  readonly vmIds: readonly string[];
  readonly receivedAtMs: number;
  decidedAtMs: number | null;
  mapping: Readonly<Record<string, string>> | null;
  hostsToWake: readonly string[];
  hostsToSuspend: readonly string[];
  nothingToDo: string | null;
  suspended: string[];
  woken: string[];
}

/** Requests followed at once at most; past it the oldest is forgotten (its line then says less). */
const MAX_OPEN_REQUESTS = 100_000;

export function timeOfDay(timeMs: number): string {
  return new Date(timeMs).toISOString().slice(11, 19);
}

/** A simulation's time since its start: `+05:00:00`, `+1d02:00:00`. */
export function simulatedTime(timeMs: number): string {
  const totalS = Math.floor(timeMs / 1000);
  const days = Math.floor(totalS / 86_400);
  const clock = new Date((totalS % 86_400) * 1000).toISOString().slice(11, 19);
  return `+${days > 0 ? `${days}d` : ''}${clock}`;
}

function seconds(durationMs: number): string {
  return `${(durationMs / 1000).toFixed(1)} s`;
}

/** The request's line, as fields (JSON) and as text. */
function requestLine(open: OpenRequest | null, completed: RecordedEvent & { type: 'RequestCompleted' }, timeLabel: (timeMs: number) => string): { text: string; fields: Fields } {
  const { requestId, outcome, detail } = completed.data;
  const endMs = completed.metadata.timeMs;
  const fields: Record<string, unknown> = { requestId, outcome, detail, migrationsCompleted: completed.data.migrationsCompleted, migrationsFailed: completed.data.migrationsFailed };
  if (open === null) {
    return { text: `${timeLabel(endMs)} request ${requestId} (received before this start) → ${outcome}: ${detail}`, fields };
  }
  Object.assign(fields, {
    host: open.host, reason: open.reason, protocol: open.protocol, vmIds: open.vmIds, mapping: open.mapping,
    hostsToWake: open.hostsToWake, hostsToSuspend: open.hostsToSuspend, suspended: open.suspended, woken: open.woken,
    nothingToDo: open.nothingToDo, receivedAtMs: open.receivedAtMs,
    decisionMs: open.decidedAtMs === null ? null : open.decidedAtMs - open.receivedAtMs, durationMs: endMs - open.receivedAtMs,
  });
  const parts = [`${timeLabel(open.receivedAtMs)} ${open.host} ${open.reason}${open.vmIds.length > 0 ? ` [${open.vmIds.join(', ')}]` : ''} (${open.protocol})`
    + ` → ${outcome} in ${seconds(endMs - open.receivedAtMs)}: ${detail}`];
  const moves = Object.entries(open.mapping ?? {}).map(([vm, host]) => `${vm}→${host}`);
  if (moves.length > 0) parts.push(moves.join(', '));
  if (open.woken.length > 0 || open.hostsToWake.length > 0) parts.push(`woke ${open.woken.join(', ') || 'none'} of ${open.hostsToWake.join(', ')}`);
  if (open.suspended.length > 0) parts.push(`suspended ${open.suspended.join(', ')}`);
  if (open.decidedAtMs !== null) parts.push(`decided ${seconds(open.decidedAtMs - open.receivedAtMs)} after receipt`);
  parts.push(`request ${requestId}`);
  return { text: parts.join(' · '), fields };
}

/** One line for any event, for `--verbose`. */
export function describeEvent(event: RecordedEvent, timeLabel: (timeMs: number) => string): string {
  const at = `${timeLabel(event.metadata.timeMs)} #${event.position}`;
  switch (event.type) {
    case 'UtilizationSampled':
      return `${at} sample    ${event.data.host}: ${event.data.vms.length} VM(s), ${event.data.vms.reduce((sum, vm) => sum + vm.cpuMhz, event.data.hypervisorCpuMhz).toFixed(0)} MHz`;
    case 'DataCentreUpdated':
      return `${at} state     at ${event.data.timeS.toFixed(1)} s: ${event.data.hostAllocatedMips.filter((mips) => mips > 0).length} host(s) busy`;
    case 'MigrationStarted':
    case 'MigrationCompleted':
    case 'MigrationFailed':
    case 'MigrationAbandoned':
    case 'MigrationSkipped': {
      const d = event.data as Record<string, unknown>;
      return `${at} ${event.type.replace('Migration', 'migration ').toLowerCase().padEnd(9)} ${event.data.vmId} ${event.data.sourceHost}→${event.data.targetHost}`
        + (typeof d.error === 'string' ? `: ${d.error}` : typeof d.detail === 'string' ? `: ${d.detail}` : '');
    }
    default:
      return `${at} ${event.type} ${JSON.stringify(event.data).slice(0, 200)}`;
  }
}

class RequestLines {
  private readonly open = new Map<string, OpenRequest>();

  constructor(private readonly timeLabel: (timeMs: number) => string) {}

  /** The line of a request that reached its outcome (or was refused) with this event, or null. */
  fold(event: RecordedEvent): { text: string; fields: Fields } | null {
    const requestId = event.metadata.correlationId;
    const open = requestId === null ? undefined : this.open.get(requestId);
    switch (event.type) {
      case 'RequestReceived':
        if (this.open.size >= MAX_OPEN_REQUESTS) this.open.delete(this.open.keys().next().value as string);
        this.open.set(event.data.requestId, {
          requestId: event.data.requestId, host: event.data.host, reason: event.data.reason, protocol: event.data.protocol, vmIds: event.data.vmIds,
          receivedAtMs: event.metadata.timeMs, decidedAtMs: null, mapping: null, hostsToWake: [], hostsToSuspend: [], nothingToDo: null, suspended: [], woken: [],
        });
        return null;
      case 'RequestRejected': {
        const { status, host, reason, protocol } = event.data;
        return {
          text: `${this.timeLabel(event.metadata.timeMs)} ${host ?? '(no host)'} refused ${status} (${protocol}): ${reason} · request ${event.data.requestId}`,
          fields: { requestId: event.data.requestId, outcome: 'refused', status, host, reason, protocol },
        };
      }
      case 'PlacementDecided':
        if (open === undefined) return null;
        open.decidedAtMs = event.metadata.timeMs;
        open.mapping = event.data.mapping;
        open.hostsToWake = event.data.hostsToWake;
        open.hostsToSuspend = event.data.hostsToSuspend;
        return null;
      case 'NothingToDo':
        if (open === undefined) return null;
        open.decidedAtMs = event.metadata.timeMs;
        open.nothingToDo = event.data.reason;
        return null;
      case 'HostSuspended':
        open?.suspended.push(event.data.host);
        return null;
      case 'HostWoken':
        open?.woken.push(event.data.host);
        return null;
      case 'RequestCompleted':
        this.open.delete(event.data.requestId);
        return requestLine(open ?? null, event, this.timeLabel);
      default:
        return null;
    }
  }
}

export function serveLog(options: ServeLogOptions): ServeLog {
  const { io, verbosity, timeLabel } = options;
  const lines = new RequestLines(timeLabel);
  const base = consoleLog({ ...options, command: 'neat serve' });
  const showsRequests = verbosity === 'normal' || verbosity === 'verbose';
  const logger = base.pino;
  if (logger !== null) {
    return {
      ...base,
      event(event) {
        const line = lines.fold(event);
        if (line !== null && showsRequests) logger.info({ event: 'request', ...line.fields }, 'request');
        if (verbosity === 'verbose') {
          logger.info({ event: event.type, position: event.position, at: timeLabel(event.metadata.timeMs), stream: event.stream, data: event.data }, event.type);
        }
      },
    };
  }
  return {
    ...base,
    event(event) {
      const line = lines.fold(event);
      if (verbosity === 'verbose') io.out(describeEvent(event, timeLabel));
      if (line !== null && showsRequests) io.out(line.text);
    },
  };
}
