/**
 * The global manager's only way to change its state: append events to the
 * log, then fold what the log acknowledged into the projections, in position
 * order, so the in-memory state is always exactly the fold of the log's
 * prefix; on start the same fold runs over the whole log. When the log gives
 * positions in call order, an append starts at once (concurrent requests
 * share a group commit) and only the folds wait for each other; otherwise
 * each append waits for the previous one.
 */
import { assert } from '../engine/assert';
import type { EventData, EventType } from '../events/catalogue';
import { newEvent } from '../events/envelope';
import type { Causes, EventContext, NewEvent, RecordedEvent } from '../events/envelope';
import { MAX_BATCH_EVENTS, NO_STREAM } from '../log/port';
import { checkBatch } from '../log/batch';
import type { AppendResult, EventLog } from '../log/port';

export interface PendingEvent<T extends EventType = EventType> {
  readonly type: T;
  readonly data: EventData<T>;
}

interface Appended {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expected: number;
  readonly result: AppendResult;
}

/** Events read per page when the log is folded on start. */
const REBUILD_PAGE_EVENTS = MAX_BATCH_EVENTS;

export class Journal {
  /** Last revision of each stream still written to. */
  private readonly revisions = new Map<string, number>();
  private readonly folds: ((event: RecordedEvent) => void)[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  /** The position of the last event folded, 0 before the first. */
  private foldedPosition = 0;
  /** Last revision of each stream still written to, among the events folded (`revisions` counts appends in flight too). */
  private readonly foldedRevisions = new Map<string, number>();

  /** Positions given to events when there is no log to give them. */
  private unloggedPosition = 0;
  /** Appends called and not yet acknowledged and folded. */
  private appending = 0;

  /**
   * Without a log (a simulation run whose events are not kept), events are
   * checked and folded, and numbered as a log would number them, but not stored.
   */
  constructor(readonly log: EventLog | null, private readonly context: EventContext) {}

  /** Adds a projection: every event rebuilt or recorded from now on is folded into it, in position order. */
  onRecorded(fold: (event: RecordedEvent) => void): void {
    this.folds.push(fold);
  }

  private fold(event: RecordedEvent): void {
    this.foldedRevisions.set(event.stream, event.revision);
    for (const fold of this.folds) fold(event);
  }

  /** Each stream still written to, with the revision of its last event folded: for a snapshot taken in a fold. */
  foldedStreamRevisions(): [string, number][] {
    return [...this.foldedRevisions.entries()];
  }

  /**
   * Starts from a snapshot instead of the log's first event: as if the events
   * up to `position` had been folded, leaving the streams at these revisions.
   * Only before anything is folded; `rebuild` then folds the events after it.
   */
  restore(position: number, streamRevisions: readonly (readonly [string, number])[]): void {
    assert(this.foldedPosition === 0 && this.revisions.size === 0 && this.appending === 0, 'a journal is restored before it folds or appends');
    assert(Number.isInteger(position) && position >= 0, 'a snapshot position');
    this.foldedPosition = position;
    for (const [stream, revision] of streamRevisions) {
      this.revisions.set(stream, revision);
      this.foldedRevisions.set(stream, revision);
    }
  }

  get clock(): EventContext['clock'] {
    return this.context.clock;
  }

  /** Folds every stored event not folded yet (a run may record its start before its manager starts), page by page; returns how many. */
  async rebuild(): Promise<number> {
    if (this.log === null) return 0;
    let position = this.foldedPosition + 1;
    let total = 0;
    for (;;) {
      const page = await this.log.readAll(position, REBUILD_PAGE_EVENTS);
      for (const event of page) {
        this.fold(event);
        this.revisions.set(event.stream, event.revision);
        this.foldedPosition = event.position;
      }
      total += page.length;
      if (page.length < REBUILD_PAGE_EVENTS) return total;
      position = page[page.length - 1].position + 1;
    }
  }

  /**
   * Folds what another process appends, as it comes, until `stop`: a
   * standby's view of the leader's log. Nothing may be appended meanwhile;
   * after `stop`, `rebuild` folds whatever came since.
   */
  follow(onError: (error: unknown) => void): { stop(): Promise<void> } {
    const log = this.log;
    assert(log !== null && this.appending === 0, 'a journal follows a log it does not write');
    const subscription = log.subscribe(this.foldedPosition + 1);
    const following = (async () => {
      for await (const event of subscription) {
        this.fold(event);
        this.revisions.set(event.stream, event.revision);
        this.foldedPosition = event.position;
      }
    })().catch(onError);
    return {
      async stop(): Promise<void> {
        await subscription.close();
        await following;
      },
    };
  }

  /** A stream that will not be written again (a completed request): its revision need not be kept. */
  forget(stream: string): void {
    this.revisions.delete(stream);
    this.foldedRevisions.delete(stream);
  }

  /**
   * Appends the events to `stream` as one atomic batch, then folds them.
   * Resolves with the recorded events once they are durable.
   */
  record(stream: string, pending: readonly PendingEvent[], causes: Causes): Promise<RecordedEvent[]> {
    this.appending += 1;
    let result: Promise<RecordedEvent[]>;
    if (this.log !== null && !this.log.appendsInCallOrder) {
      result = this.tail.then(() => this.foldAppended(this.append(stream, pending, causes)));
    } else {
      const appended = this.append(stream, pending, causes);
      // Not rejected unhandled while it waits for the folds before it; the caller gets the rejection below.
      appended.catch(() => undefined);
      result = this.tail.then(() => this.foldAppended(appended));
    }
    this.tail = result.catch(() => undefined).finally(() => { this.appending -= 1; });
    return result;
  }

  /** True when no append is waiting for the log: what a simulation waits for before its clock moves. */
  get idle(): boolean {
    return this.appending === 0;
  }

  /** Resolves once every append called so far is acknowledged (or failed) and folded. */
  async settled(): Promise<void> {
    await this.tail;
  }

  /** Starts the append with the stream's next revision, counted before the log acknowledges the previous one. */
  private append(stream: string, pending: readonly PendingEvent[], causes: Causes): Promise<Appended> {
    assert(pending.length > 0 && pending.length <= MAX_BATCH_EVENTS, 'a batch holds 1..MAX_BATCH_EVENTS events');
    const events: NewEvent[] = pending.map((p) => newEvent(this.context, p.type, p.data, causes));
    const expected = this.revisions.get(stream) ?? NO_STREAM;
    this.revisions.set(stream, expected + events.length);
    if (this.log === null) return Promise.resolve({ stream, events, expected, result: this.numberUnlogged(stream, events, expected) });
    return this.log.append(stream, events, expected).then(
      (result) => ({ stream, events, expected, result }),
      (error: unknown) => {
        // Later appends to this stream counted on this one and will fail too; a fresh one starts from what is stored.
        if (this.revisions.get(stream) === expected + events.length) this.revisions.set(stream, expected);
        throw error;
      },
    );
  }

  private async foldAppended(appending: Promise<Appended>): Promise<RecordedEvent[]> {
    const { stream, events, expected, result } = await appending;
    assert(!result.duplicate, 'fresh event ids cannot be stored already');
    assert(result.lastPosition - result.firstPosition + 1 === events.length, 'the log assigns one position per event');
    assert(result.firstPosition === this.foldedPosition + 1,
      () => `the log put ${stream}'s events at ${result.firstPosition}, after ${this.foldedPosition}: another writer shares the log`);
    // Named fields rather than a spread of the event: V8 copies a spread object on a slow path.
    const recorded = events.map((event, i) => ({
      id: event.id, type: event.type, version: event.version, data: event.data, metadata: event.metadata,
      stream, revision: expected + 1 + i, position: result.firstPosition + i,
    }) as RecordedEvent);
    this.foldedPosition = result.lastPosition;
    for (const event of recorded) this.fold(event);
    return recorded;
  }

  private numberUnlogged(stream: string, events: readonly NewEvent[], expected: number): AppendResult {
    checkBatch(stream, events, expected);
    const firstPosition = this.unloggedPosition + 1;
    this.unloggedPosition += events.length;
    return { firstPosition, lastPosition: this.unloggedPosition, streamRevision: expected + events.length, duplicate: false };
  }
}
