/**
 * The global manager's only way to change its state: append events to the
 * log, then fold what the log acknowledged into the projections, in position
 * order. Appends are serialised, so the in-memory state is always exactly the
 * fold of the log's prefix; on start the same fold runs over the whole log.
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

/** Events read per page when the log is folded on start. */
const REBUILD_PAGE_EVENTS = MAX_BATCH_EVENTS;

export class Journal {
  /** Last revision of each stream still written to. */
  private readonly revisions = new Map<string, number>();
  private readonly folds: ((event: RecordedEvent) => void)[] = [];
  private tail: Promise<unknown> = Promise.resolve();

  /** Positions given to events when there is no log to give them. */
  private unloggedPosition = 0;

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
    for (const fold of this.folds) fold(event);
  }

  get clock(): EventContext['clock'] {
    return this.context.clock;
  }

  /** Folds every stored event, page by page; returns how many there were. */
  async rebuild(): Promise<number> {
    if (this.log === null) return 0;
    let position = 1;
    let total = 0;
    for (;;) {
      const page = await this.log.readAll(position, REBUILD_PAGE_EVENTS);
      for (const event of page) {
        this.fold(event);
        this.revisions.set(event.stream, event.revision);
      }
      total += page.length;
      if (page.length < REBUILD_PAGE_EVENTS) return total;
      position = page[page.length - 1].position + 1;
    }
  }

  /** A stream that will not be written again (a completed request): its revision need not be kept. */
  forget(stream: string): void {
    this.revisions.delete(stream);
  }

  /**
   * Appends the events to `stream` as one atomic batch, then folds them.
   * Resolves with the recorded events once they are durable.
   */
  record(stream: string, pending: readonly PendingEvent[], causes: Causes): Promise<RecordedEvent[]> {
    const result = this.tail.then(() => this.append(stream, pending, causes));
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async append(stream: string, pending: readonly PendingEvent[], causes: Causes): Promise<RecordedEvent[]> {
    assert(pending.length > 0 && pending.length <= MAX_BATCH_EVENTS, 'a batch holds 1..MAX_BATCH_EVENTS events');
    const events: NewEvent[] = pending.map((p) => newEvent(this.context, p.type, p.data, causes));
    const expected = this.revisions.get(stream) ?? NO_STREAM;
    const result = this.log === null ? this.numberUnlogged(stream, events, expected) : await this.log.append(stream, events, expected);
    assert(!result.duplicate, 'fresh event ids cannot be stored already');
    assert(result.lastPosition - result.firstPosition + 1 === events.length, 'the log assigns one position per event');
    const recorded = events.map((event, i): RecordedEvent => ({
      ...event, stream, revision: expected + 1 + i, position: result.firstPosition + i,
    }));
    this.revisions.set(stream, result.streamRevision);
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
