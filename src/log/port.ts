/**
 * The event log port: append to a stream with optimistic concurrency, read a
 * stream, read everything in order, and follow new events. Every adapter
 * (memory, SQLite, KurrentDB) passes the same contract suite.
 */
import { assert } from '../engine/assert';
import type { NewEvent, RecordedEvent } from '../events/envelope';

/** The expected revision of a stream that must not exist yet. */
export const NO_STREAM = -1;

/** A bound on every batch and page, so that no call is unbounded. */
export const MAX_BATCH_EVENTS = 10_000;

/** The page of a reader that folds a whole log: memory stays bounded, and each read's cost is spread over many events. */
export const READ_PAGE_EVENTS = 2_000;

export interface AppendResult {
  /** Positions of the first and last appended events (both 0 for an empty batch). */
  readonly firstPosition: number;
  readonly lastPosition: number;
  /** The stream's revision after the append: pass it as the next expected revision. */
  readonly streamRevision: number;
  /** True when every event id was already stored by an earlier append of the same batch. */
  readonly duplicate: boolean;
}

export interface ReadStreamOptions {
  /** First revision to return (inclusive), 0 by default. */
  readonly fromRevision?: number;
  readonly limit?: number;
}

/** Catch up from a position, then follow live appends, until closed. */
export interface Subscription extends AsyncIterable<RecordedEvent> {
  close(): Promise<void>;
}

export interface EventLog {
  /** Which adapter, for messages: `memory`, `sqlite:<path>`, `kurrentdb`. */
  readonly description: string;
  /**
   * True when positions go to appends in the order `append` was called, so a
   * single writer may start an append before the previous one is acknowledged
   * and still fold them in position order.
   */
  readonly appendsInCallOrder: boolean;
  /**
   * Appends all events or none. `expectedRevision` is the stream's current last
   * revision, or NO_STREAM for a new stream; anything else fails with
   * `WrongExpectedRevisionError`. Re-appending an already stored batch (same
   * event ids, same stream) returns its original result with `duplicate: true`.
   */
  append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult>;
  readStream(stream: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]>;
  /** Events with position >= `fromPosition`, in order, at most `limit` of them. */
  readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]>;
  /** The position of the last event, 0 when the log is empty. */
  headPosition(): Promise<number>;
  subscribe(fromPosition: number): Subscription;
  close(): Promise<void>;
  /**
   * Removes the `UtilizationSampled` events at or before `throughPosition`,
   * except each stream's last, the `RequestRejected` and `SamplesCompacted`
   * events there (a checkpoint is superseded by the one past the cut), and
   * the whole streams of the requests completed there with an outcome of
   * COMPACTED_REQUEST_OUTCOMES (a request that moved nothing), moving
   * them to `archive` (a file beside SQLite, a table beside PostgreSQL; or dropping them when it is null); other
   * events stay. Only after a `SamplesCompacted`
   * event past `throughPosition` has made them redundant to a fold. The log
   * then has gaps at or below `throughPosition`, and only there. Absent: the
   * adapter keeps every event (KurrentDB, memory). `pause` is awaited
   * between the short writes it is done in, so that the caller's other work
   * (appends, requests) goes on meanwhile, on whichever clock it runs.
   */
  compactSamples?(throughPosition: number, archive: string | null, pause: () => Promise<void>): Promise<CompactionResult>;
}

/**
 * Requests that changed nothing but counters: a local manager's underload
 * request that found nothing to do (most of them, asked every interval), or
 * one a newer request of its host replaced. Compaction takes their streams.
 */
export const COMPACTED_REQUEST_OUTCOMES = ['nothing-to-do', 'superseded'] as const;

/** `COMPACTED_REQUEST_OUTCOMES` as an SQL list. */
export const COMPACTED_REQUEST_OUTCOMES_SQL = COMPACTED_REQUEST_OUTCOMES.map((outcome) => `'${outcome}'`).join(', ');

export interface CompactionResult {
  /** Samples removed from the log (and written to the archive, when there is one). */
  readonly removed: number;
  /** The first position looked at: the one after the previous compaction's. */
  readonly fromPosition: number;
}

export class WrongExpectedRevisionError extends Error {
  override name = 'WrongExpectedRevisionError';
  constructor(readonly stream: string, readonly expectedRevision: number, readonly actualRevision: number) {
    super(`stream "${stream}" is at revision ${actualRevision}, not the expected ${expectedRevision}`);
  }
}

/**
 * The log refused an append because another writer has been elected since
 * this one's leadership began: its epoch is older than the one the log now
 * allows. Nothing was written; the process is no longer the leader.
 */
export class FencedError extends Error {
  override name = 'FencedError';
  constructor(description: string, readonly epoch: number | null, readonly allowedEpoch: number) {
    super(`the event log ${description} refused an append of epoch ${epoch ?? 'none'}: the leader of epoch ${allowedEpoch} writes it now`);
  }
}

/** An event id is stored already, but not as part of this very batch: ids must not be reused. */
export class DuplicateEventIdError extends Error {
  override name = 'DuplicateEventIdError';
  constructor(readonly eventId: string, readonly detail: string) {
    super(`event id ${eventId} is already stored ${detail}`);
  }
}

/** A log file that cannot be opened as an event log; nothing in it was changed. */
export class LogFileError extends Error {
  override name = 'LogFileError';
}

export class LogClosedError extends Error {
  override name = 'LogClosedError';
  constructor(description: string) {
    super(`the event log ${description} is closed`);
  }
}

export function assertPosition(position: number, what: string): void {
  if (!Number.isSafeInteger(position) || position < 1) {
    throw new RangeError(`${what} must be a position >= 1, got ${position}`);
  }
}

export function assertLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_BATCH_EVENTS) {
    throw new RangeError(`limit must be an integer in 1..${MAX_BATCH_EVENTS}, got ${limit}`);
  }
}

export function assertExpectedRevision(expectedRevision: number): void {
  if (!Number.isSafeInteger(expectedRevision) || expectedRevision < NO_STREAM) {
    throw new RangeError(`expected revision must be an integer >= ${NO_STREAM}, got ${expectedRevision}`);
  }
}

/**
 * The last position of an event stamped before `timeMs`, or 0, by bisection,
 * one event read a step: events are stamped in position order, and a
 * compacted gap is skipped to the event after it.
 */
export async function lastPositionBefore(log: EventLog, timeMs: number): Promise<number> {
  let low = 0;
  let high = await log.headPosition();
  for (let step = 0; low < high; step++) {
    assert(step < 64, 'the bisection ends');
    const middle = Math.ceil((low + high) / 2);
    const event = (await log.readAll(middle, 1)).at(0);
    // A gap: the event found stands for the positions before it.
    if (event !== undefined && event.metadata.timeMs < timeMs) low = Math.max(middle, Math.min(event.position, high));
    else high = middle - 1;
  }
  return low;
}
