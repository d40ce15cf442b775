/**
 * The event log on KurrentDB / EventStoreDB, through the official client.
 *
 * Each of our streams is a KurrentDB stream (`<prefix><stream>`), appended with
 * `streamState` = the expected revision. Positions must be gap-free, which
 * KurrentDB's `$all` commit positions are not (they are byte offsets), so every
 * append also writes, in the same atomic `multiStreamAppend` (KurrentDB >= 25.1),
 * one link event per event to a global stream `<prefix>log`: the link's revision
 * + 1 is the event's position, and it is also kept in the event's metadata so
 * that a retried append can report its original positions. Reading all and
 * subscribing read that global stream, resolving the links.
 *
 * No KurrentDB server can run on our machines; the contract suite runs against
 * this adapter when KURRENTDB_CONNECTION_STRING is set (see README).
 */
import { randomUUID } from 'node:crypto';
import {
  BACKWARDS, binaryEvent, FORWARDS, jsonEvent, KurrentDBClient, NO_STREAM as KURRENT_NO_STREAM, START,
  StreamNotFoundError, WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import type { AppendStreamState, ResolvedEvent } from '@kurrent/kurrentdb-client';
import { decodeStoredEvent, EventDecodeError } from '../events/envelope';
import type { NewEvent, RecordedEvent } from '../events/envelope';
import { checkBatch } from './batch';
import { assertLimit, assertPosition, DuplicateEventIdError, LogClosedError, NO_STREAM, WrongExpectedRevisionError } from './port';
import type { AppendResult, EventLog, ReadStreamOptions, Subscription } from './port';

/** Appends lost to another writer of the global stream are retried this many times. */
const GLOBAL_CONFLICT_RETRIES = 5;

interface StoredMetadata {
  readonly schemaVersion: number;
  readonly position: number;
  readonly envelope: unknown;
}

function streamState(revision: number): AppendStreamState {
  return revision === NO_STREAM ? KURRENT_NO_STREAM : BigInt(revision);
}

export interface KurrentDbLogOptions {
  /** Prepended to every stream name, so that several logs can share a server. */
  readonly streamPrefix?: string;
}

export class KurrentDbEventLog implements EventLog {
  /** Concurrent appends race for the global stream's next position. */
  readonly appendsInCallOrder = false;
  readonly description: string;
  private readonly client: KurrentDBClient;
  private readonly prefix: string;
  private readonly globalStream: string;
  private closed = false;

  constructor(connectionString: string, options: KurrentDbLogOptions = {}) {
    this.client = KurrentDBClient.connectionString(connectionString);
    this.prefix = options.streamPrefix ?? 'neat-';
    this.globalStream = `${this.prefix}log`;
    this.description = `kurrentdb:${this.globalStream}`;
  }

  async append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    this.assertOpen();
    checkBatch(stream, events, expectedRevision);
    if (events.length === 0) {
      const current = await this.streamRevision(this.prefix + stream);
      if (current !== expectedRevision) throw new WrongExpectedRevisionError(stream, expectedRevision, current);
      return { firstPosition: 0, lastPosition: 0, streamRevision: current, duplicate: false };
    }
    for (let attempt = 0; attempt <= GLOBAL_CONFLICT_RETRIES; attempt++) {
      const head = await this.headPosition();
      try {
        await this.client.multiStreamAppend([
          { streamName: this.prefix + stream, events: this.toStored(events, head), expectedState: streamState(expectedRevision) },
          { streamName: this.globalStream, events: this.links(stream, expectedRevision, events.length), expectedState: streamState(head - 1) },
        ]);
        return { firstPosition: head + 1, lastPosition: head + events.length, streamRevision: expectedRevision + events.length, duplicate: false };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError)) throw error;
        if (error.streamName === this.globalStream) continue;
        return this.resolveConflict(stream, events, expectedRevision);
      }
    }
    throw new Error(`${this.description}: lost the global stream to other writers ${GLOBAL_CONFLICT_RETRIES + 1} times in a row`);
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    const read = this.client.readStream(this.prefix + stream, {
      direction: FORWARDS, fromRevision: BigInt(options.fromRevision ?? 0), maxCount: options.limit ?? Number.MAX_SAFE_INTEGER,
    });
    return this.collect(read, stream);
  }

  async readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    assertLimit(limit);
    const read = this.client.readStream(this.globalStream, {
      direction: FORWARDS, fromRevision: BigInt(fromPosition - 1), maxCount: limit, resolveLinkTos: true,
    });
    return this.collect(read, null);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return (await this.streamRevision(this.globalStream)) + 1;
  }

  subscribe(fromPosition: number): Subscription {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    // A subscription starts after the revision it is given; START means from the first event.
    const subscription = this.client.subscribeToStream(this.globalStream, {
      fromRevision: fromPosition <= 1 ? START : BigInt(fromPosition - 2), resolveLinkTos: true,
    });
    const toEvent = (resolved: ResolvedEvent): RecordedEvent => this.decode(resolved, null);
    async function* events(): AsyncGenerator<RecordedEvent> {
      for await (const resolved of subscription) {
        const event = toEvent(resolved);
        if (event.position >= fromPosition) yield event;
      }
    }
    const iterator = events();
    return {
      close: async () => {
        await subscription.unsubscribe();
        await iterator.return(undefined);
      },
      [Symbol.asyncIterator]: () => iterator,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.dispose();
  }

  private toStored(events: readonly NewEvent[], head: number) {
    return events.map((event, i) => jsonEvent({
      id: event.id,
      type: event.type,
      data: event.data,
      metadata: { schemaVersion: event.version, position: head + 1 + i, envelope: event.metadata } satisfies StoredMetadata,
    }));
  }

  private links(stream: string, expectedRevision: number, count: number) {
    return Array.from({ length: count }, (_, i) => binaryEvent({
      id: randomUUID(),
      type: '$>',
      data: Buffer.from(`${expectedRevision + 1 + i}@${this.prefix}${stream}`),
    }));
  }

  /** The stream moved: either this very batch is stored already (a retry), or it is a real conflict. */
  private async resolveConflict(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    const actual = await this.streamRevision(this.prefix + stream);
    const stored = actual > expectedRevision
      ? await this.readStream(stream, { fromRevision: expectedRevision + 1, limit: events.length })
      : [];
    const retry = stored.length === events.length && stored.every((event, i) => event.id === events[i].id);
    if (retry) {
      return {
        firstPosition: stored[0].position, lastPosition: stored[stored.length - 1].position,
        streamRevision: stored[stored.length - 1].revision, duplicate: true,
      };
    }
    const reused = stored.find((event) => events.some((e) => e.id === event.id));
    if (reused !== undefined) throw new DuplicateEventIdError(reused.id, `at position ${reused.position} (stream "${stream}")`);
    throw new WrongExpectedRevisionError(stream, expectedRevision, actual);
  }

  private async streamRevision(streamName: string): Promise<number> {
    try {
      for await (const resolved of this.client.readStream(streamName, { direction: BACKWARDS, fromRevision: 'end', maxCount: 1 })) {
        const recorded = resolved.link ?? resolved.event;
        if (recorded !== undefined) return Number(recorded.revision);
      }
      return NO_STREAM;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return NO_STREAM;
      throw error;
    }
  }

  private async collect(read: AsyncIterableIterator<ResolvedEvent>, stream: string | null): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of read) events.push(this.decode(resolved, stream));
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  private decode(resolved: ResolvedEvent, stream: string | null): RecordedEvent {
    const recorded = resolved.event;
    const positionOfLink = resolved.link === undefined ? null : Number(resolved.link.revision) + 1;
    if (recorded === undefined || !recorded.isJson) {
      throw new EventDecodeError(positionOfLink ?? 0, stream ?? this.globalStream, 'a link to a deleted or non-JSON event');
    }
    const metadata = recorded.metadata as Partial<StoredMetadata> | undefined;
    const position = positionOfLink ?? metadata?.position ?? 0;
    if (metadata?.position !== position) {
      throw new EventDecodeError(position, recorded.streamId, `metadata says position ${String(metadata?.position)}`);
    }
    return decodeStoredEvent({
      id: recorded.id,
      stream: recorded.streamId.slice(this.prefix.length),
      revision: Number(recorded.revision),
      position,
      type: recorded.type,
      version: metadata.schemaVersion ?? 0,
      data: recorded.data,
      metadata: metadata.envelope,
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError(this.description);
  }
}
