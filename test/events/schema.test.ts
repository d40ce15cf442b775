import { EVENT_CATALOGUE, EVENT_TYPES } from '../../src/events/catalogue';
import { decodeStoredEvent, EventDecodeError, validateNewEvent } from '../../src/events/envelope';
import { array, json, number, object, oneOf, optional, record, SchemaError, string, validate } from '../../src/events/schema';
import { TestEvents } from '../support/events';

describe('schemas', () => {
  const schema = object({ name: string({ minLength: 1 }), size: number({ integer: true, min: 0 }), tags: array(oneOf(['a', 'b'] as const)), note: optional(string()) });

  test('accept a valid value and name the path of the first problem otherwise', () => {
    expect(validate(schema, { name: 'x', size: 3, tags: ['a'] }, 'v')).toEqual({ name: 'x', size: 3, tags: ['a'] });
    expect(() => validate(schema, { name: 'x', size: 3.5, tags: [] }, 'v')).toThrow('v.size: expected an integer >= 0, got number 3.5');
    expect(() => validate(schema, { name: 'x', size: 1, tags: ['a', 'c'] }, 'v')).toThrow('v.tags[1]: expected one of "a", "b", got the string "c"');
    expect(() => validate(schema, { name: 'x', tags: [] }, 'v')).toThrow('v.size: missing');
    expect(() => validate(schema, { name: 'x', size: 1, tags: [], extra: 1 }, 'v')).toThrow('v.extra: unknown key');
    expect(() => validate(schema, [], 'v')).toThrow(SchemaError);
    expect(() => validate(record(number()), { a: 1, b: 'x' }, 'r')).toThrow('r.b: expected a finite number');
  });

  test('json() takes any JSON value but no NaN, Infinity or undefined', () => {
    expect(validate(json(), { a: [1, 'x', null, { b: true }] }, 'p')).toEqual({ a: [1, 'x', null, { b: true }] });
    expect(() => validate(json(), { a: [Number.NaN] }, 'p')).toThrow('p.a[0]: expected a finite number');
    expect(() => validate(json(), { a: undefined }, 'p')).toThrow('p.a');
  });
});

describe('the event catalogue', () => {
  test('every event type has a schema version', () => {
    expect(EVENT_TYPES.length).toBeGreaterThanOrEqual(19);
    for (const type of EVENT_TYPES) expect(EVENT_CATALOGUE[type].version).toBeGreaterThanOrEqual(1);
  });

  test('decoding checks type, version, data and metadata, naming the position', () => {
    const event = new TestEvents().sample('h', { v: 1 });
    const stored = { ...event, stream: 'host-h', revision: 0, position: 42 };
    expect(decodeStoredEvent(stored)).toEqual(stored);
    expect(() => decodeStoredEvent({ ...stored, type: 'Nope' })).toThrow('event at position 42 (stream "host-h"): unknown event type "Nope"');
    expect(() => decodeStoredEvent({ ...stored, version: 2 })).toThrow('UtilizationSampled has schema version 2; this build reads version 1');
    expect(() => decodeStoredEvent({ ...stored, metadata: { ...event.metadata, timeMs: -1 } })).toThrow('metadata.timeMs');
    expect(() => decodeStoredEvent({ ...stored, data: null })).toThrow(EventDecodeError);
  });

  test('NothingToDo lists its VMs without data in an optional field: events written before it decode, a bad entry is named', () => {
    const make = new TestEvents();
    const before = make.make('NothingToDo', { requestId: 'r', reason: 'no-data', detail: 'no utilisation data yet for VM(s) v1' });
    expect(decodeStoredEvent({ ...before, stream: 'request-r', revision: 1, position: 7 }).data).not.toHaveProperty('noDataVms');
    const listed = make.make('NothingToDo', {
      requestId: 'r', reason: 'no-data', detail: 'x', noDataVms: [{ vmId: 'v1', reason: 'sample-too-old', sampleAgeS: 1000 }, { vmId: 'v2', reason: 'never-sampled', sampleAgeS: null }],
    });
    expect(() => { validateNewEvent(listed); }).not.toThrow();
    const stored = { ...listed, stream: 'request-r', revision: 1, position: 8 };
    expect(decodeStoredEvent(stored)).toEqual(stored);
    expect(() => decodeStoredEvent({ ...stored, data: { ...stored.data, noDataVms: [{ vmId: 'v1', reason: 'stale', sampleAgeS: null }] } }))
      .toThrow(/noDataVms\[0\]\.reason: expected one of "never-sampled", "sample-too-old", "migrating", "ram-unknown"/);
  });

  test('an event is checked before it is appended', () => {
    const event = new TestEvents().make('HostSuspendFailed', { host: 'h', error: 'e', stderr: null });
    expect(() => { validateNewEvent(event); }).not.toThrow();
    expect(() => { validateNewEvent({ ...event, version: 0 }); }).toThrow('HostSuspendFailed is written at schema version 1, not 0');
    expect(() => { validateNewEvent({ ...event, metadata: { ...event.metadata, source: '' } }); }).toThrow('metadata.source');
  });
});
