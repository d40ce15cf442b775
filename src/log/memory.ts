/** The in-memory event log: for simulation runs and tests. */
import type { NewEvent, RecordedEvent } from '../events/envelope';
import { checkBatch, resolveRetry } from './batch';
import type { StoredRef } from './batch';
import { assertLimit, assertPosition, LogClosedError, NO_STREAM, WrongExpectedRevisionError } from './port';
import type { AppendResult, EventLog, ReadStreamOptions, Subscription } from './port';
import { AppendSignal, pollingSubscription } from './subscription';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

export class MemoryEventLog implements EventLog {
  /** `append` does its work before its first await. */
  readonly appendsInCallOrder: boolean = true;
  readonly description = 'memory';
  private readonly events: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly byId = new Map<string, StoredRef>();
  private readonly signal = new AppendSignal();
  private closed = false;

  // async, so that every failure is a rejected promise as the port promises, never a synchronous throw.
  async append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    this.assertOpen();
    checkBatch(stream, events, expectedRevision);
    const retry = resolveRetry(stream, events, (id) => this.byId.get(id) ?? null);
    if (retry !== null) return retry;
    const streamEvents = this.streams.get(stream) ?? [];
    const currentRevision = streamEvents.length - 1;
    if (currentRevision !== expectedRevision) throw new WrongExpectedRevisionError(stream, expectedRevision, currentRevision);
    const firstPosition = this.events.length + 1;
    events.forEach((event, i) => {
      // A copy the writer cannot reach, frozen so that readers cannot change it either.
      const copy = JSON.parse(JSON.stringify(event)) as NewEvent;
      const recorded = deepFreeze({ ...copy, stream, revision: currentRevision + 1 + i, position: firstPosition + i });
      this.events.push(recorded);
      streamEvents.push(recorded);
      this.byId.set(recorded.id, recorded);
    });
    this.streams.set(stream, streamEvents);
    if (events.length > 0) this.signal.notify();
    return {
      firstPosition: events.length === 0 ? 0 : firstPosition,
      lastPosition: events.length === 0 ? 0 : this.events.length,
      streamRevision: streamEvents.length === 0 ? NO_STREAM : streamEvents.length - 1,
      duplicate: false,
    };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const fromRevision = options.fromRevision ?? 0;
    const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
    return (this.streams.get(stream) ?? []).slice(fromRevision, fromRevision + limit);
  }

  async readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    assertLimit(limit);
    return this.events.slice(fromPosition - 1, fromPosition - 1 + limit);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.events.length;
  }

  subscribe(fromPosition: number): Subscription {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    // Nothing outside this process writes here, so the poll is only a safety net.
    return pollingSubscription((from, limit) => this.readAll(from, limit), this.signal, () => this.closed, fromPosition, 60_000);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.signal.notify();
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError(this.description);
  }
}
