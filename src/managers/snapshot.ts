/**
 * The global manager's snapshot: its projections as of one position of the
 * log, so that a restart folds only the events after it. Two lines: a header
 * (format, version, the position and the id of the event there, the history
 * length, the body's size and sha256), then the body. A snapshot is checked
 * whole before anything of it is used; one that fails a check is reported
 * and ignored, and the state is rebuilt from the log, which is the truth.
 *
 * The open requests are kept as their ids: a restart folds each one's own
 * stream up to the snapshot's position, with the fold that built them.
 */
import { createHash } from 'node:crypto';
import { REQUEST_OUTCOMES } from '../events/catalogue';
import { decodeDataCentre, encodeDataCentre, SnapshotDataError } from '../events/dataCentreSnapshot';
import type { EncodedDataCentre } from '../events/dataCentreSnapshot';
import type { DataCentreState } from '../events/dataCentre';
import type { RecordedEvent } from '../events/envelope';
import type { EventLog } from '../log/port';
import type { ManagerCounters } from './globalManager';
import { evolveRequests, requestStream } from './requests';
import type { RequestRecord } from './requests';

export const SNAPSHOT_FORMAT = 'neat-manager-snapshot';
/** Changes whenever the body's shape or meaning does: a snapshot of another version is rebuilt over. */
export const SNAPSHOT_VERSION = 1;

export interface SnapshotHeader {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: number;
  /** The last event folded into the snapshot, its id and digest (`eventDigest`): a snapshot of another log, or of a log since cut, is refused. */
  readonly position: number;
  readonly eventId: string;
  readonly eventSha256: string;
  readonly historyLength: number;
  readonly bodyBytes: number;
  readonly bodySha256: string;
}

export interface SnapshotBody {
  readonly dataCentre: EncodedDataCentre;
  /** The open requests, each with the position of the last event correlated to it (`RequestRecord.lastPosition`). */
  readonly openRequests: readonly (readonly [requestId: string, lastPosition: number])[];
  readonly counters: EncodedCounters;
  readonly streamRevisions: readonly (readonly [stream: string, revision: number])[];
}

export interface EncodedCounters {
  readonly requestsReceived: [string, number][];
  readonly requestsRejected: [number, number][];
  readonly requestsCompleted: [string, number][];
  readonly totals: Record<string, number>;
}

const COUNTER_TOTALS = ['migrationsCompleted', 'migrationsFailed', 'migrationsAbandoned', 'hostsSuspended', 'hostsWoken', 'powerFailures'] as const;

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

/** An event's digest: its id alone would not tell apart two seeded runs' logs. */
export function eventDigest(event: RecordedEvent): string {
  const { position, id, stream, revision, type, version, data, metadata } = event;
  return createHash('sha256').update(JSON.stringify([position, id, stream, revision, type, version, data, metadata])).digest('hex');
}

export interface SnapshotSource {
  /** The last event folded into the state. */
  readonly event: RecordedEvent;
  readonly historyLength: number;
  readonly dataCentre: DataCentreState;
  readonly openRequests: readonly (readonly [string, number])[];
  readonly counters: ManagerCounters;
  readonly streamRevisions: readonly (readonly [string, number])[];
}

/** The counters as JSON: in a snapshot, and in a `SamplesCompacted` event, whose fold adopts them (the refusals it removes are counted there). */
export function encodeCounters(counters: ManagerCounters): EncodedCounters {
  return {
    requestsReceived: [...counters.requestsReceived.entries()],
    requestsRejected: [...counters.requestsRejected.entries()],
    requestsCompleted: [...counters.requestsCompleted.entries()],
    totals: Object.fromEntries(COUNTER_TOTALS.map((key) => [key, counters[key]])),
  };
}

/** The counters `encodeCounters` wrote; throws SnapshotDataError naming the first problem. */
export function decodeCounters(value: unknown, path: string): ManagerCounters {
  if (typeof value !== 'object' || value === null) throw new SnapshotDataError(`${path} is not an object`);
  const counters = value as Record<string, unknown>;
  const totals = counters.totals as Record<string, unknown> | null;
  if (typeof totals !== 'object' || totals === null) throw new SnapshotDataError(`${path}.totals is not an object`);
  const total = (key: (typeof COUNTER_TOTALS)[number]): number => {
    const count = totals[key];
    if (!Number.isInteger(count) || (count as number) < 0) throw new SnapshotDataError(`${path}.totals.${key} is not a count`);
    return count as number;
  };
  return {
    requestsReceived: new Map(pairs(counters.requestsReceived, `${path}.requestsReceived`, isString)),
    requestsRejected: new Map(pairs(counters.requestsRejected, `${path}.requestsRejected`, isInteger)),
    requestsCompleted: new Map(pairs(counters.requestsCompleted, `${path}.requestsCompleted`, isOutcome)),
    migrationsCompleted: total('migrationsCompleted'), migrationsFailed: total('migrationsFailed'), migrationsAbandoned: total('migrationsAbandoned'),
    hostsSuspended: total('hostsSuspended'), hostsWoken: total('hostsWoken'), powerFailures: total('powerFailures'),
  };
}

export function encodeSnapshot(source: SnapshotSource): string {
  const { counters } = source;
  const body: SnapshotBody = {
    dataCentre: encodeDataCentre(source.dataCentre),
    openRequests: source.openRequests,
    counters: encodeCounters(counters),
    streamRevisions: source.streamRevisions,
  };
  const text = JSON.stringify(body);
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, position: source.event.position, eventId: source.event.id, eventSha256: eventDigest(source.event),
    historyLength: source.historyLength, bodyBytes: Buffer.byteLength(text), bodySha256: createHash('sha256').update(text).digest('hex'),
  };
  return `${JSON.stringify(header)}\n${text}`;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SnapshotError(`its ${what} is not JSON (${(error as Error).message})`);
  }
}

function checkHeader(value: unknown, historyLength: number): SnapshotHeader {
  if (typeof value !== 'object' || value === null) throw new SnapshotError('its header is not an object');
  const header = value as Partial<SnapshotHeader>;
  if (header.format !== SNAPSHOT_FORMAT) throw new SnapshotError(`it is not a ${SNAPSHOT_FORMAT} (format ${String(header.format)})`);
  if (header.version !== SNAPSHOT_VERSION) throw new SnapshotError(`it is of version ${String(header.version)}; this build reads version ${SNAPSHOT_VERSION}`);
  if (!Number.isInteger(header.position) || (header.position ?? 0) < 1 || typeof header.eventId !== 'string' || typeof header.eventSha256 !== 'string') {
    throw new SnapshotError('its header names no valid position and event id');
  }
  if (header.historyLength !== historyLength) {
    throw new SnapshotError(`it keeps histories of ${String(header.historyLength)} values; the configuration asks for ${historyLength}`);
  }
  if (!Number.isInteger(header.bodyBytes) || typeof header.bodySha256 !== 'string') throw new SnapshotError('its header gives no body size and checksum');
  return header as SnapshotHeader;
}

function pairs<K>(value: unknown, path: string, key: (k: unknown) => k is K): [K, number][] {
  if (!Array.isArray(value)) throw new SnapshotDataError(`${path} is not an array`);
  return value.map((item: unknown, i) => {
    if (!Array.isArray(item) || item.length !== 2 || !key(item[0]) || !Number.isInteger(item[1]) || (item[1] as number) < 0) {
      throw new SnapshotDataError(`${path}[${i}] is not a [key, count] pair`);
    }
    return [item[0], item[1] as number];
  });
}

const isString = (k: unknown): k is string => typeof k === 'string';
const isInteger = (k: unknown): k is number => Number.isInteger(k);
const isOutcome = (k: unknown): k is (typeof REQUEST_OUTCOMES)[number] => REQUEST_OUTCOMES.includes(k as (typeof REQUEST_OUTCOMES)[number]);

export interface DecodedSnapshot {
  readonly header: SnapshotHeader;
  readonly dataCentre: DataCentreState;
  readonly openRequests: readonly [string, number][];
  readonly counters: ManagerCounters;
  readonly streamRevisions: readonly [string, number][];
}

/** The snapshot, checked whole; throws SnapshotError naming the first problem. */
export function decodeSnapshot(data: Buffer, historyLength: number): DecodedSnapshot {
  const newline = data.indexOf(0x0a);
  if (newline < 0) throw new SnapshotError('it has no header line (truncated?)');
  const header = checkHeader(parseJson(data.subarray(0, newline).toString('utf8'), 'header'), historyLength);
  const body = data.subarray(newline + 1);
  if (body.length !== header.bodyBytes) throw new SnapshotError(`its body has ${body.length} bytes, its header says ${header.bodyBytes} (truncated?)`);
  if (createHash('sha256').update(body).digest('hex') !== header.bodySha256) throw new SnapshotError('its body does not match its checksum (damaged)');
  const parsed = parseJson(body.toString('utf8'), 'body');
  try {
    if (typeof parsed !== 'object' || parsed === null) throw new SnapshotDataError('body is not an object');
    const value = parsed as Record<string, unknown>;
    const dataCentre = decodeDataCentre(value.dataCentre, { historyLength, strict: false });
    if (dataCentre.position !== header.position) throw new SnapshotDataError(`dataCentre.position ${dataCentre.position} is not the header's ${header.position}`);
    return {
      header,
      dataCentre,
      openRequests: pairs(value.openRequests, 'openRequests', isString),
      counters: decodeCounters(value.counters, 'counters'),
      streamRevisions: pairs(value.streamRevisions, 'streamRevisions', isString),
    };
  } catch (error) {
    if (error instanceof SnapshotDataError) throw new SnapshotError(`its data cannot be restored: ${error.message}`);
    throw error;
  }
}

/** A snapshot checked whole and against the log: the state to adopt, as of `event`. */
export interface LoadedSnapshot {
  /** The log's event at the snapshot's position, which its header names. */
  readonly event: RecordedEvent;
  readonly dataCentre: DataCentreState;
  readonly openRequests: ReadonlyMap<string, RequestRecord>;
  readonly counters: ManagerCounters;
  readonly streamRevisions: readonly [string, number][];
}

/**
 * Decodes the snapshot and checks it against the log: its event must be the
 * log's at its position, and each request it holds open must be open in the
 * log, whose stream is folded up to that position to rebuild it. Throws
 * SnapshotError naming the first problem.
 */
export async function loadSnapshot(data: Buffer, log: EventLog, historyLength: number): Promise<LoadedSnapshot> {
  const snapshot = decodeSnapshot(data, historyLength);
  const { position, eventId, eventSha256 } = snapshot.header;
  const event = (await log.readAll(position, 1)).at(0);
  if (event === undefined || event.position !== position || event.id !== eventId || eventDigest(event) !== eventSha256) {
    throw new SnapshotError(`the log does not hold the snapshot's event ${eventId} at position ${position}: the snapshot is of another log, or of this one before it was cut`);
  }
  const openRequests = new Map<string, RequestRecord>();
  for (const [requestId, lastPosition] of snapshot.openRequests) {
    for (const stored of await log.readStream(requestStream(requestId))) if (stored.position <= position) evolveRequests(openRequests, stored);
    const record = openRequests.get(requestId);
    if (record === undefined || record.status === 'completed') throw new SnapshotError(`request ${requestId}, open in the snapshot, is not open in the log`);
    record.lastPosition = lastPosition;
  }
  return { event, dataCentre: snapshot.dataCentre, openRequests, counters: snapshot.counters, streamRevisions: snapshot.streamRevisions };
}
