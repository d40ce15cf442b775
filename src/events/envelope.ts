/**
 * The envelope around every event: identity, stream, schema version and
 * metadata when written; position and stream revision once the log has it.
 */
import type { Clock } from '../clock';
import type { IdSource } from '../ids';
import { UUID_PATTERN } from '../ids';
import { EVENT_CATALOGUE, isEventType } from './catalogue';
import type { DomainEvent, EventData, EventType } from './catalogue';
import { nullable, number, object, SchemaError, string, validate } from './schema';
import type { Infer, Schema } from './schema';

const metadataSchema = object({
  /** The request this event serves. */
  correlationId: nullable(string({ minLength: 1, maxLength: 128 })),
  /** The event (id) that caused this one. */
  causationId: nullable(string({ minLength: 1, maxLength: 128 })),
  /** From the Clock: wall time in production, virtual time in a simulation. */
  timeMs: number({ min: 0 }),
  /** Which component wrote it (`global-manager`, `simulator`, …). */
  source: string({ minLength: 1, maxLength: 128 }),
});

export type EventMetadata = Infer<typeof metadataSchema>;

export type NewEvent = DomainEvent & {
  readonly id: string;
  readonly version: number;
  readonly metadata: EventMetadata;
};

export type RecordedEvent = NewEvent & {
  readonly stream: string;
  /** 0 for the first event of a stream. */
  readonly revision: number;
  /** 1 for the first event of the log; gap-free. */
  readonly position: number;
};

/** An event exactly as a log stores it, before it is checked. */
export interface StoredEvent {
  readonly id: string;
  readonly stream: string;
  readonly revision: number;
  readonly position: number;
  readonly type: string;
  readonly version: number;
  readonly data: unknown;
  readonly metadata: unknown;
}

/** An event read back from a log that does not match the catalogue. */
export class EventDecodeError extends Error {
  override name = 'EventDecodeError';
  constructor(readonly position: number, readonly stream: string, problem: string) {
    super(`event at position ${position} (stream "${stream}"): ${problem}`);
  }
}

/** An event about to be appended that does not match the catalogue: a bug in its writer. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

const STREAM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,254}$/;

export function assertStreamName(stream: string): void {
  if (!STREAM_PATTERN.test(stream)) {
    throw new InvalidEventError(`stream name ${JSON.stringify(stream)} must match ${STREAM_PATTERN.source}`);
  }
}

export function decodeStoredEvent(stored: StoredEvent): RecordedEvent {
  const { position, stream } = stored;
  if (!isEventType(stored.type)) throw new EventDecodeError(position, stream, `unknown event type "${stored.type}"`);
  const entry: { readonly version: number; readonly schema: Schema<unknown> } = EVENT_CATALOGUE[stored.type];
  if (stored.version !== entry.version) {
    throw new EventDecodeError(position, stream,
      `${stored.type} has schema version ${stored.version}; this build reads version ${entry.version}`);
  }
  try {
    validate(entry.schema, stored.data, 'data');
    validate(metadataSchema, stored.metadata, 'metadata');
  } catch (error) {
    if (error instanceof SchemaError) throw new EventDecodeError(position, stream, `${stored.type}: ${error.message}`);
    throw error;
  }
  return stored as RecordedEvent;
}

/** Checks an event before it is appended, so that nothing a reader would reject is ever written. */
export function validateNewEvent(event: NewEvent): void {
  if (!UUID_PATTERN.test(event.id)) throw new InvalidEventError(`event id ${JSON.stringify(event.id)} is not a UUID`);
  const type: string = event.type;
  if (!isEventType(type)) throw new InvalidEventError(`unknown event type "${type}"`);
  const entry: { readonly version: number; readonly schema: Schema<unknown> } = EVENT_CATALOGUE[type];
  if (event.version !== entry.version) {
    throw new InvalidEventError(`${type} is written at schema version ${entry.version}, not ${event.version}`);
  }
  try {
    validate(entry.schema, event.data, 'data');
    validate(metadataSchema, event.metadata, 'metadata');
  } catch (error) {
    if (error instanceof SchemaError) throw new InvalidEventError(`${type}: ${error.message}`);
    throw error;
  }
}

export interface EventContext {
  readonly ids: IdSource;
  readonly clock: Clock;
  readonly source: string;
}

export interface Causes {
  readonly correlationId: string | null;
  readonly causationId: string | null;
}

const NO_CAUSES: Causes = { correlationId: null, causationId: null };

/** A new event of the current schema version, stamped with an id and the clock's time. */
export function newEvent<T extends EventType>(
  context: EventContext,
  type: T,
  data: EventData<T>,
  causes: Causes = NO_CAUSES,
): NewEvent {
  return {
    id: context.ids.next(),
    type,
    version: EVENT_CATALOGUE[type].version,
    data,
    // Named fields rather than a spread of `causes`: V8 copies a spread object on a slow path, microseconds per event.
    metadata: { correlationId: causes.correlationId, causationId: causes.causationId, timeMs: context.clock.nowMs(), source: context.source },
  } as NewEvent;
}
