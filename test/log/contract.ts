/**
 * The one contract every event log adapter must meet. Each adapter's test file
 * calls `describeEventLogContract` with a factory for fresh, empty logs.
 */
import fc from 'fast-check';
import { evolveDataCentre, initialDataCentreState, snapshotDataCentre } from '../../src/events/dataCentre';
import type { NewEvent, RecordedEvent } from '../../src/events/envelope';
import { InvalidEventError } from '../../src/events/envelope';
import { DuplicateEventIdError, NO_STREAM, WrongExpectedRevisionError } from '../../src/log/port';
import type { EventLog } from '../../src/log/port';
import { TestEvents } from '../support/events';
import { validEventSequence } from '../support/sequences';

export interface LogFixture {
  /** A fresh, empty log. */
  open(): Promise<EventLog>;
  /** The same log opened again after `close`, for adapters that persist. */
  reopen?(): Promise<EventLog>;
}

function envelopeOf(event: NewEvent): unknown {
  return { id: event.id, type: event.type, version: event.version, data: event.data, metadata: event.metadata };
}

async function take(iterator: AsyncIterator<RecordedEvent>, count: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const next = await iterator.next();
    if (next.done === true) break;
    events.push(next.value);
  }
  return events;
}

export function describeEventLogContract(name: string, fixture: LogFixture): void {
  describe(`${name}: event log contract`, () => {
    let log: EventLog;
    let make: TestEvents;

    beforeEach(async () => {
      log = await fixture.open();
      make = new TestEvents();
    });

    afterEach(async () => {
      await log.close();
    });

    test('an empty log has head 0 and reads nothing', async () => {
      expect(await log.headPosition()).toBe(0);
      expect(await log.readAll(1, 10)).toEqual([]);
      expect(await log.readStream('nothing-here')).toEqual([]);
    });

    test('appends get gap-free positions and stream revisions, and read back exactly as written', async () => {
      const a = [make.sample('h1', { v1: 100 }), make.sample('h1', { v1: 200, 'vm-ü': 1.5 })];
      const b = [make.make('HostWakeRequested', { host: 'h2', requestId: null })];
      expect(await log.append('host-h1', a, NO_STREAM)).toEqual({ firstPosition: 1, lastPosition: 2, streamRevision: 1, duplicate: false });
      expect(await log.append('host-h2', b, NO_STREAM)).toEqual({ firstPosition: 3, lastPosition: 3, streamRevision: 0, duplicate: false });
      expect(await log.append('host-h1', [make.sample('h1', {})], 1)).toEqual({ firstPosition: 4, lastPosition: 4, streamRevision: 2, duplicate: false });
      const all = await log.readAll(1, 100);
      expect(all.map((e) => [e.position, e.stream, e.revision])).toEqual([[1, 'host-h1', 0], [2, 'host-h1', 1], [3, 'host-h2', 0], [4, 'host-h1', 2]]);
      expect(all.slice(0, 2).map(envelopeOf)).toEqual(a.map(envelopeOf));
      expect(envelopeOf(all[2])).toEqual(envelopeOf(b[0]));
      expect((await log.readStream('host-h1')).map((e) => e.position)).toEqual([1, 2, 4]);
      expect(await log.headPosition()).toBe(4);
    });

    test('a wrong expected revision is a typed conflict and appends nothing', async () => {
      await log.append('s', [make.sample('h', {})], NO_STREAM);
      await expect(log.append('s', [make.sample('h', {})], NO_STREAM)).rejects.toThrow(WrongExpectedRevisionError);
      await expect(log.append('s', [make.sample('h', {})], 5)).rejects.toMatchObject({ stream: 's', expectedRevision: 5, actualRevision: 0 });
      await expect(log.append('new', [make.sample('h', {})], 0)).rejects.toMatchObject({ actualRevision: NO_STREAM });
      expect(await log.headPosition()).toBe(1);
    });

    test('a batch is all or nothing: one invalid event and none is stored', async () => {
      const bad = { ...make.sample('h', {}), data: { host: 'h', hypervisorCpuMhz: -1, vms: [] } } as NewEvent;
      await expect(log.append('s', [make.sample('h', {}), bad], NO_STREAM)).rejects.toThrow(InvalidEventError);
      await expect(log.append('s', [make.sample('h', {}), bad], NO_STREAM)).rejects.toThrow(/data.hypervisorCpuMhz: expected a finite number >= 0/);
      expect(await log.headPosition()).toBe(0);
      expect(await log.readStream('s')).toEqual([]);
    });

    test('appending a stored batch again is idempotent and returns the original positions', async () => {
      await log.append('other', [make.sample('x', {})], NO_STREAM);
      const batch = [make.sample('h', { v: 1 }), make.sample('h', { v: 2 })];
      const first = await log.append('s', batch, NO_STREAM);
      const again = await log.append('s', batch, NO_STREAM);
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await log.headPosition()).toBe(3);
    });

    test('an event id cannot be reused by a different batch', async () => {
      const event = make.sample('h', {});
      await log.append('s', [event], NO_STREAM);
      await expect(log.append('s', [make.sample('h', {}), event], 0)).rejects.toThrow(DuplicateEventIdError);
      await expect(log.append('t', [event], NO_STREAM)).rejects.toThrow(DuplicateEventIdError);
      await expect(log.append('u', [event, event].map((e) => ({ ...e })), NO_STREAM)).rejects.toThrow(DuplicateEventIdError);
      expect(await log.headPosition()).toBe(1);
    });

    test('two writers with the same expected revision: exactly one wins', async () => {
      await log.append('s', [make.sample('h', {})], NO_STREAM);
      const results = await Promise.allSettled([
        log.append('s', [make.sample('h', { a: 1 })], 0),
        log.append('s', [make.sample('h', { b: 1 })], 0),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected');
      expect(rejected?.reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect(await log.headPosition()).toBe(2);
    });

    test('readAll and readStream page by position and revision', async () => {
      for (let i = 0; i < 5; i++) await log.append('s', [make.sample('h', { v: i }), make.sample('h', { v: i })], 2 * i - 1);
      expect((await log.readAll(3, 4)).map((e) => e.position)).toEqual([3, 4, 5, 6]);
      expect((await log.readAll(9, 100)).map((e) => e.position)).toEqual([9, 10]);
      expect(await log.readAll(11, 100)).toEqual([]);
      expect((await log.readStream('s', { fromRevision: 7, limit: 2 })).map((e) => e.revision)).toEqual([7, 8]);
    });

    test('bad arguments are rejected with a message naming them', async () => {
      await expect(log.readAll(0, 10)).rejects.toThrow(/fromPosition must be a position >= 1/);
      await expect(log.readAll(1, 0)).rejects.toThrow(/limit must be an integer/);
      await expect(log.append('bad stream name', [make.sample('h', {})], NO_STREAM)).rejects.toThrow(/stream name/);
      await expect(log.append('s', [make.sample('h', {})], -2)).rejects.toThrow(/expected revision/);
      await expect(log.append('s', [{ ...make.sample('h', {}), id: 'not-a-uuid' }], NO_STREAM)).rejects.toThrow(/not a UUID/);
    });

    test('a subscription catches up, then follows live appends, until closed', async () => {
      await log.append('s', [make.sample('h', { v: 1 }), make.sample('h', { v: 2 })], NO_STREAM);
      const subscription = log.subscribe(1);
      const iterator = subscription[Symbol.asyncIterator]();
      expect((await take(iterator, 2)).map((e) => e.position)).toEqual([1, 2]);
      const live = take(iterator, 3);
      await log.append('s', [make.sample('h', { v: 3 })], 1);
      await log.append('t', [make.sample('h', { v: 4 }), make.sample('h', { v: 5 })], NO_STREAM);
      expect((await live).map((e) => e.position)).toEqual([3, 4, 5]);
      const pending = iterator.next();
      await subscription.close();
      expect((await pending).done).toBe(true);
    });

    test('a subscription can start in the middle, and a for-await break closes it', async () => {
      for (let i = 0; i < 4; i++) await log.append('s', [make.sample('h', { v: i })], i - 1);
      const seen: number[] = [];
      for await (const event of log.subscribe(3)) {
        seen.push(event.position);
        if (event.position === 4) break;
      }
      expect(seen).toEqual([3, 4]);
    });

    const reopen = fixture.reopen?.bind(fixture);
    if (reopen !== undefined) {
      test('what was acknowledged is there after reopening, and appends continue', async () => {
        await log.append('s', [make.sample('h', { v: 1 }), make.sample('h', { v: 2 })], NO_STREAM);
        await log.close();
        log = await reopen();
        expect((await log.readAll(1, 10)).map((e) => e.position)).toEqual([1, 2]);
        expect(await log.append('s', [make.sample('h', { v: 3 })], 1)).toMatchObject({ firstPosition: 3, streamRevision: 2 });
      });
    }

    test('folding live (through a subscription) equals rebuilding from the log, for random valid histories', async () => {
      await fc.assert(fc.asyncProperty(validEventSequence(10), async ({ seed, batches }) => {
        await log.close();
        log = await fixture.open();
        const options = { historyLength: 5, strict: true };
        const live = initialDataCentreState(options);
        const subscription = log.subscribe(1);
        const iterator = subscription[Symbol.asyncIterator]();
        const streams = new Map<string, number>();
        let total = 0;
        const events = new TestEvents(seed);
        for (const batch of batches) {
          const built = batch.events.map((e) => events.make(e.type, e.data as never));
          const revision = streams.get(batch.stream) ?? NO_STREAM;
          const result = await log.append(batch.stream, built, revision);
          streams.set(batch.stream, result.streamRevision);
          total += built.length;
          for (const event of await take(iterator, built.length)) evolveDataCentre(live, event);
        }
        await subscription.close();
        const rebuilt = initialDataCentreState(options);
        for (let from = 1; from <= total; from += 7) {
          for (const event of await log.readAll(from, 7)) evolveDataCentre(rebuilt, event);
        }
        expect(rebuilt.position).toBe(total);
        expect(snapshotDataCentre(live)).toEqual(snapshotDataCentre(rebuilt));
      }), { numRuns: 25 });
    });
  });
}
