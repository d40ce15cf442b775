/**
 * Freshness: decisions ignore samples older than `sampleMaxAgeMs`, and never
 * target a stale host (up, and neither sampled nor come up within it). Given
 * events at given times, when a request is decided at a time, then…
 */
import type { DomainEvent, EventData } from '../../src/events/catalogue';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import type { DataCentreState } from '../../src/events/dataCentre';
import { decideRequest } from '../../src/managers/decide';
import type { Decision } from '../../src/managers/decide';
import { foldRequest } from '../../src/managers/requests';
import { TestEvents } from '../support/events';
import { NEAT_LIKE, World } from './harness';

type Timed = readonly [timeS: number, event: DomainEvent];

function given(events: readonly Timed[]): DataCentreState {
  const make = new TestEvents();
  const state = initialDataCentreState({ historyLength: 10, strict: true });
  events.forEach(([timeS, event], i) => {
    make.timeMs = timeS * 1000;
    evolveDataCentre(state, { ...make.make(event.type, event.data), stream: 's', revision: i, position: i + 1 });
  });
  return state;
}

/** When `host` reports `reason` (naming `vmIds`) and the manager decides at `nowS`. */
function decidedAt(state: DataCentreState, nowS: number, host: string, reason: 'underload' | 'overload', vmIds: string[] = []): Decision {
  const make = new TestEvents('request');
  const received = make.make('RequestReceived', { requestId: 'r1', host, reason, vmIds, protocol: 'in-process', remoteAddress: null, clientTimeS: null });
  const request = foldRequest([{ ...received, stream: 'request-r1', revision: 0, position: 1 }]);
  if (request === null) throw new Error('the request folds');
  return decideRequest(request, state, NEAT_LIKE, nowS * 1000);
}

function placement(decision: Decision): EventData<'PlacementDecided'> {
  if (decision.type !== 'PlacementDecided') throw new Error(`expected a placement, got NothingToDo: ${decision.data.detail}`);
  return decision.data;
}

/** Hosts of 8000 MHz and 16 GB, up unless named down; VMs of 1 GB. */
function inventory(hosts: Record<string, 'up' | 'down'>, vms: Record<string, string>): DomainEvent {
  return {
    type: 'InventoryObserved',
    data: {
      hosts: Object.entries(hosts).map(([host, state]) => ({ host, cpuMhz: 8000, ramMb: 16384, state })),
      vms: Object.entries(vms).map(([vmId, host]) => ({ vmId, host, ramMb: 1024, vcpus: 1 })),
    },
  };
}

function sample(host: string, vms: Record<string, number>): DomainEvent {
  return { type: 'UtilizationSampled', data: { host, hypervisorCpuMhz: 0, vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: null })) } };
}

function woken(host: string): DomainEvent[] {
  return [{ type: 'HostWakeRequested', data: { host, requestId: null } }, { type: 'HostWoken', data: { host, durationMs: 1 } }];
}

function migrated(vmId: string, sourceHost: string, targetHost: string, completed: boolean): DomainEvent[] {
  const fields = { migrationId: `m-${vmId}`, vmId, sourceHost, targetHost, attempt: 1 };
  const started: DomainEvent = { type: 'MigrationStarted', data: { ...fields, requestId: null } };
  return completed ? [started, { type: 'MigrationCompleted', data: { ...fields, durationMs: 1 } }] : [started];
}

describe('decisions ignore samples older than the max age (900 s here)', () => {
  test('given v1 sampled 900 s before the decision, it is placed; given one millisecond more, the request is dropped naming v1 and its age', () => {
    // host-a runs v1, sampled at 100 s; host-b has room, and its agent reports (no VMs) every 300 s.
    const state = given([
      [0, inventory({ 'host-a': 'up', 'host-b': 'up' }, { v1: 'host-a' })], [100, sample('host-a', { v1: 500 })],
      [300, sample('host-b', {})], [600, sample('host-b', {})], [900, sample('host-b', {})],
    ]);
    expect(placement(decidedAt(state, 1000, 'host-a', 'overload', ['v1'])).mapping).toEqual({ v1: 'host-b' });
    expect(decidedAt(state, 1000.001, 'host-a', 'overload', ['v1']).data).toEqual({
      requestId: 'r1', reason: 'no-data',
      detail: 'no usable utilisation data for VM(s) (samples count for 900 s): sampled too long ago: v1 (900.001 s ago); the request is dropped, as Neat drops it',
      noDataVms: [{ vmId: 'v1', reason: 'sample-too-old', sampleAgeS: 900.001 }],
    });
  });

  test('a VM never sampled, one sampled 1000 s ago and one migrating are each named, apart, in the detail and the list', () => {
    const state = given([
      [0, inventory({ 'host-a': 'up', 'host-b': 'up' }, { v1: 'host-a', v2: 'host-a', v3: 'host-a', v4: 'host-a' })],
      [0, sample('host-a', { v2: 100 })],
      [990, sample('host-a', { v3: 100, v4: 100 })], [990, sample('host-b', {})],
      [995, migrated('v3', 'host-a', 'host-b', false)[0]],
    ]);
    const decision = decidedAt(state, 1000, 'host-a', 'overload', ['v1', 'v2', 'v3', 'v4']);
    expect(decision.data).toEqual({
      requestId: 'r1', reason: 'no-data',
      detail: 'no usable utilisation data for VM(s) (samples count for 900 s): never sampled: v1; sampled too long ago: v2 (1000 s ago); '
        + 'migration in flight: v3; the request is dropped, as Neat drops it',
      noDataVms: [
        { vmId: 'v1', reason: 'never-sampled', sampleAgeS: null },
        { vmId: 'v2', reason: 'sample-too-old', sampleAgeS: 1000 },
        { vmId: 'v3', reason: 'migrating', sampleAgeS: 10 },
      ],
    });
    // v4 alone is fresh: it moves.
    expect(placement(decidedAt(state, 1000, 'host-a', 'overload', ['v4'])).mapping).toEqual({ v4: 'host-b' });
  });

  test('a host whose VM\'s last sample is too old is not a target: it receives nothing', () => {
    const history: Timed[] = [
      [0, inventory({ 'host-a': 'up', 'host-b': 'up', 'host-c': 'up' }, { v1: 'host-a', v2: 'host-b', v3: 'host-c' })],
      [0, sample('host-b', { v2: 100 })],
      [950, sample('host-a', { v1: 500 })], [950, sample('host-c', { v3: 100 })],
      [950, sample('host-b', {})],
    ];
    // host-b's agent reports, but not v2: v2's data is too old, so host-b's load is unknown.
    expect(placement(decidedAt(given(history), 1000, 'host-a', 'underload'))).toMatchObject({ activeHosts: 1, mapping: { v1: 'host-c' }, hostsToSuspend: ['host-a'] });
    expect(placement(decidedAt(given([...history, [960, sample('host-b', { v2: 100 })]]), 1000, 'host-a', 'underload')).activeHosts).toBe(2);
  });
});

describe('a stale host (up, with neither a sample nor a coming up within 900 s) is never a target, but may be suspended', () => {
  test('given an idle host silent for 1000 s, an overload goes to a host woken 50 s ago and not reporting yet; once the silent one reports, it is a candidate again', () => {
    const history: Timed[] = [
      [0, inventory({ 'host-a': 'up', 'host-b': 'up', 'host-c': 'down' }, { v1: 'host-a' })],
      ...woken('host-c').map((event): Timed => [950, event]),
      [990, sample('host-a', { v1: 500 })],
    ];
    const stale = placement(decidedAt(given(history), 1000, 'host-a', 'overload', ['v1']));
    expect(stale).toMatchObject({ activeHosts: 0, inactiveHosts: 1, mapping: { v1: 'host-c' }, hostsToWake: [] });
    const reporting = placement(decidedAt(given([...history, [995, sample('host-b', {})]]), 1000, 'host-a', 'overload', ['v1']));
    expect(reporting).toMatchObject({ inactiveHosts: 2 });
  });

  test('given a stale host holding a VM sampled fresh elsewhere, it is not an active target, however much room it has', () => {
    const history: Timed[] = [
      [0, inventory({ 'host-a': 'up', 'host-b': 'up', 'host-e': 'up' }, { v1: 'host-a', v4: 'host-e' })],
      [990, sample('host-a', { v1: 500 })], [990, sample('host-e', { v4: 100 })],
      ...migrated('v4', 'host-e', 'host-b', true).map((event): Timed => [995, event]),
    ];
    const state = given(history);
    expect(state.vms.get('v4')).toMatchObject({ host: 'host-b', lastSampleAtMs: 990_000 });
    expect(placement(decidedAt(state, 1000, 'host-a', 'overload', ['v1']))).toMatchObject({ activeHosts: 0, inactiveHosts: 1, mapping: { v1: 'host-e' } });
    const reporting = given([...history, [996, sample('host-b', { v4: 100 })]]);
    expect(placement(decidedAt(reporting, 1000, 'host-a', 'overload', ['v1']))).toMatchObject({ activeHosts: 1, mapping: { v1: 'host-b' } });
  });

  test('a stale idle host is switched off with the emptied one: the cloud says it holds no VMs', () => {
    const state = given([
      [0, inventory({ 'host-a': 'up', 'host-b': 'up', 'host-c': 'up' }, { v1: 'host-a', v2: 'host-c' })],
      [990, sample('host-a', { v1: 500 })], [990, sample('host-c', { v2: 100 })],
    ]);
    expect(placement(decidedAt(state, 1000, 'host-a', 'underload'))).toMatchObject({ mapping: { v1: 'host-c' }, hostsToSuspend: ['host-a', 'host-b'] });
  });

  test('with no other room, the stale hosts left out are named', () => {
    const state = given([
      [0, inventory({ 'host-a': 'up', 'host-b': 'up' }, { v1: 'host-a' })],
      [990, sample('host-a', { v1: 500 })],
    ]);
    expect(decidedAt(state, 1000, 'host-a', 'overload', ['v1']).data).toMatchObject({
      reason: 'no-capacity', detail: 'best_fit_decreasing found no placement for v1 on 0 active and 0 inactive host(s); stale host(s) left out: host-b',
    });
  });

  test('an asleep host is never stale: after a day asleep it is offered, and woken, at full capacity', () => {
    const state = given([
      [0, inventory({ 'host-a': 'up', 'host-d': 'down' }, { v1: 'host-a' })],
      [86_390, sample('host-a', { v1: 500 })],
    ]);
    expect(placement(decidedAt(state, 86_400, 'host-a', 'overload', ['v1']))).toMatchObject({ inactiveHosts: 1, mapping: { v1: 'host-d' }, hostsToWake: ['host-d'] });
  });
});

describe('the global manager judges freshness by its own clock, at the decision', () => {
  async function dataOf<T extends 'PlacementDecided' | 'NothingToDo'>(world: World, requestId: string, type: T): Promise<EventData<T>[]> {
    return (await world.eventsOf(requestId)).filter((e) => e.type === type).map((e) => e.data as EventData<T>);
  }

  test('given samples 1000 s old, a request is dropped naming the VMs; once the agents report again, the same request is placed', async () => {
    const world = new World({ hosts: 4, placement: [1, 1, 3] });
    const samplesMhz = { 'vm-0': 300, 'vm-1': 200, 'vm-2': 100 };
    await world.start(samplesMhz);
    world.advance(1000);
    const old = await world.request('host-1', 'underload');
    await world.settle();
    expect(await dataOf(world, old, 'NothingToDo')).toEqual([expect.objectContaining({
      reason: 'no-data', noDataVms: [{ vmId: 'vm-0', reason: 'sample-too-old', sampleAgeS: 1000 }, { vmId: 'vm-1', reason: 'sample-too-old', sampleAgeS: 1000 }],
    })]);
    await world.report(samplesMhz);
    const fresh = await world.request('host-1', 'underload');
    await world.settle();
    expect(await dataOf(world, fresh, 'PlacementDecided')).toEqual([expect.objectContaining({ mapping: { 'vm-0': 'host-3', 'vm-1': 'host-3' } })]);
  });

  test('given host-2 idle with its agent silent for 1000 s, when host-1 reports overload, then asleep host-0 is woken for the VM, not host-2', async () => {
    const world = new World({ hosts: 3, placement: [1, 1] });
    await world.dc.suspend('host-0');
    world.scheduler.run(0, 10);
    const samplesMhz = { 'vm-0': 2500, 'vm-1': 2000 };
    await world.start(samplesMhz);
    world.advance(1000);
    await world.report(samplesMhz, (host) => host !== 'host-2');
    const requestId = await world.request('host-1', 'overload', ['vm-0']);
    await world.settle();
    expect(await dataOf(world, requestId, 'PlacementDecided')).toEqual([expect.objectContaining({
      activeHosts: 0, inactiveHosts: 1, mapping: { 'vm-0': 'host-0' }, hostsToWake: ['host-0'],
    })]);
    expect(await world.hostOf('vm-0')).toBe('host-0');
    expect(world.manager.dataCentre.hosts.get('host-2')).toMatchObject({ power: 'active', lastSampleAtMs: null, becameUpAtMs: 0 });
  });
});
