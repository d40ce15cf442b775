/** Checks shared by the adapters before a batch is written. */
import { assertStreamName, validateNewEvent } from '../events/envelope';
import type { NewEvent } from '../events/envelope';
import { assertExpectedRevision, DuplicateEventIdError, MAX_BATCH_EVENTS } from './port';
import type { AppendResult } from './port';

export function checkBatch(stream: string, events: readonly NewEvent[], expectedRevision: number): void {
  assertStreamName(stream);
  assertExpectedRevision(expectedRevision);
  if (events.length > MAX_BATCH_EVENTS) {
    throw new RangeError(`a batch holds at most ${MAX_BATCH_EVENTS} events, got ${events.length}`);
  }
  const ids = new Set<string>();
  for (const event of events) {
    validateNewEvent(event);
    if (ids.has(event.id)) throw new DuplicateEventIdError(event.id, 'earlier in the same batch');
    ids.add(event.id);
  }
}

/** Where a stored event sits. */
export interface StoredRef {
  readonly stream: string;
  readonly revision: number;
  readonly position: number;
}

/**
 * A batch whose ids are all stored already, in this stream and in this order,
 * is a retry of an acknowledged append: it returns the original result. Any
 * other overlap with stored ids is an error, so an id never means two events.
 */
export function resolveRetry(
  stream: string,
  events: readonly NewEvent[],
  lookup: (eventId: string) => StoredRef | null,
): AppendResult | null {
  const refs = events.map((event) => lookup(event.id));
  const stored = refs.filter((ref) => ref !== null);
  if (stored.length === 0) return null;
  const retry = stored.length === events.length && stored.every((ref, i) =>
    ref.stream === stream
    && (i === 0 || (ref.position === stored[i - 1].position + 1 && ref.revision === stored[i - 1].revision + 1)));
  if (!retry) {
    const index = refs.findIndex((ref) => ref !== null);
    const ref = refs[index]!;
    throw new DuplicateEventIdError(events[index].id,
      `at position ${ref.position} (stream "${ref.stream}"), and this batch is not a retry of the batch that stored it`);
  }
  const first = stored[0];
  const last = stored[stored.length - 1];
  return { firstPosition: first.position, lastPosition: last.position, streamRevision: last.revision, duplicate: true };
}
