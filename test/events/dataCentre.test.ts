import fc from 'fast-check';
import type { DomainEvent } from '../../src/events/catalogue';
import {
  AnomalyError, ANOMALIES_KEPT, evolveDataCentre, initialDataCentreState, isStale, observedPower, snapshotDataCentre, UNREPORTED_VMS_KEPT,
} from '../../src/events/dataCentre';
import type { DataCentreState, PowerState } from '../../src/events/dataCentre';
import type { RecordedEvent } from '../../src/events/envelope';
import { TestEvents } from '../support/events';
import { validEventSequence } from '../support/sequences';

/** Given these events, recorded in order, then the state is… (Emmett's given/when/then, on the projection). */
function given(events: readonly DomainEvent[], options = { historyLength: 3, strict: false }): DataCentreState {
  const make = new TestEvents();
  const state = initialDataCentreState(options);
  events.forEach((event, i) => {
    make.timeMs = 1000 * (i + 1);
    const recorded = { ...make.make(event.type, event.data), stream: 's', revision: i, position: i + 1 } as RecordedEvent;
    evolveDataCentre(state, recorded);
  });
  return state;
}

const inventory: DomainEvent = {
  type: 'InventoryObserved',
  data: {
    hosts: [{ host: 'a', cpuMhz: 8000, ramMb: 16384, state: 'up' }, { host: 'b', cpuMhz: 8000, ramMb: 16384, state: 'up' },
      { host: 'c', cpuMhz: 4000, ramMb: 8192, state: 'down' }],
    vms: [{ vmId: 'v1', host: 'a', ramMb: 1024, vcpus: 1 }, { vmId: 'v2', host: 'a', ramMb: 2048, vcpus: 2 }],
  },
};
const migration = { migrationId: 'm1', vmId: 'v1', sourceHost: 'a', targetHost: 'b' };

describe('data-centre projection: placement and migrations', () => {
  test('given an inventory, hosts and VMs are where the cloud says', () => {
    const state = given([inventory]);
    expect(state.hosts.get('a')?.power).toBe('active');
    expect(state.hosts.get('c')?.power).toBe('asleep');
    expect(state.vms.get('v2')?.host).toBe('a');
    expect(state.anomalyCount).toBe(0);
  });

  test('when a migration starts and completes, the VM is on the target and nothing is in flight', () => {
    const started = given([inventory, { type: 'MigrationStarted', data: { ...migration, requestId: 'r1', attempt: 1 } }]);
    expect(started.migrations.get('v1')).toMatchObject({ migrationId: 'm1', targetHost: 'b', requestId: 'r1', startedAtMs: 2000 });
    expect(started.vms.get('v1')?.host).toBe('a');
    const done = given([inventory, { type: 'MigrationStarted', data: { ...migration, requestId: 'r1', attempt: 1 } },
      { type: 'MigrationCompleted', data: { ...migration, attempt: 1, durationMs: 9000 } }]);
    expect(done.vms.get('v1')?.host).toBe('b');
    expect(done.migrations.size).toBe(0);
    expect(done.anomalyCount).toBe(0);
  });

  test('when a migration fails, the VM stays on its source', () => {
    const state = given([inventory, { type: 'MigrationStarted', data: { ...migration, requestId: null, attempt: 1 } },
      { type: 'MigrationFailed', data: { ...migration, attempt: 1, error: 'x', retryable: true } }]);
    expect(state.vms.get('v1')?.host).toBe('a');
    expect(state.migrations.size).toBe(0);
  });

  test('a VM found on its target before any start is there; a step skipped for another reason leaves the VM where it was', () => {
    const skipped = { requestId: 'r1', vmId: 'v1', sourceHost: 'a', targetHost: 'b', detail: 'x' };
    const found = given([inventory, { type: 'MigrationSkipped', data: { ...skipped, reason: 'already-on-target' } }]);
    expect(found.vms.get('v1')?.host).toBe('b');
    expect(found.anomalyCount).toBe(0);
    const moved = given([inventory, { type: 'MigrationSkipped', data: { ...skipped, reason: 'vm-moved' } }]);
    expect(moved.vms.get('v1')?.host).toBe('a');
    expect(moved.anomalyCount).toBe(0);
  });

  test('a migration that completes without having started is reported, and still takes effect', () => {
    const state = given([inventory, { type: 'MigrationCompleted', data: { ...migration, attempt: 1, durationMs: 1 } }]);
    expect(state.anomalies).toEqual([{ position: 2, type: 'MigrationCompleted', problem: 'migration m1 of VM "v1" never started' }]);
    expect(state.vms.get('v1')?.host).toBe('b');
  });

  test('a migration from the wrong source, of a VM already migrating, or to a sleeping host is reported', () => {
    const state = given([inventory,
      { type: 'MigrationStarted', data: { ...migration, sourceHost: 'b', requestId: null, attempt: 1 } },
      { type: 'MigrationStarted', data: { ...migration, migrationId: 'm2', requestId: null, attempt: 2 } },
      { type: 'MigrationStarted', data: { migrationId: 'm3', vmId: 'v2', sourceHost: 'a', targetHost: 'c', requestId: null, attempt: 1 } }]);
    expect(state.anomalies.map((a) => a.problem)).toEqual([
      'VM "v1" is on "a", not on the source "b"',
      'VM "v1" is already migrating',
      'target host "c" is asleep, not up',
    ]);
  });
});

describe('data-centre projection: host power state machine', () => {
  test('active → suspending → asleep → waking → active', () => {
    const empty: DomainEvent = { ...inventory, data: { ...inventory.data, vms: [] } };
    const steps: [DomainEvent, string][] = [
      [{ type: 'HostSuspendRequested', data: { host: 'b', requestId: null } }, 'suspending'],
      [{ type: 'HostSuspended', data: { host: 'b', durationMs: 2000 } }, 'asleep'],
      [{ type: 'HostWakeRequested', data: { host: 'b', requestId: 'r' } }, 'waking'],
      [{ type: 'HostWoken', data: { host: 'b', durationMs: 60000 } }, 'active'],
    ];
    const history: DomainEvent[] = [empty];
    for (const [event, power] of steps) {
      history.push(event);
      expect(given(history).hosts.get('b')?.power).toBe(power);
    }
    expect(given(history).anomalyCount).toBe(0);
  });

  test('failures are states of their own, with the error kept', () => {
    const suspendFailed = given([inventory, { type: 'HostSuspendRequested', data: { host: 'b', requestId: null } },
      { type: 'HostSuspendFailed', data: { host: 'b', error: 'exit status 1', stderr: 'denied' } }]);
    expect(suspendFailed.hosts.get('b')).toMatchObject({ power: 'suspend-failed', lastPowerError: 'exit status 1' });
    const wakeFailed = given([inventory, { type: 'HostWakeRequested', data: { host: 'c', requestId: null } },
      { type: 'HostWakeFailed', data: { host: 'c', error: 'not up after 300 s' } }]);
    expect(wakeFailed.hosts.get('c')).toMatchObject({ power: 'wake-failed', lastPowerError: 'not up after 300 s' });
    expect(suspendFailed.anomalyCount + wakeFailed.anomalyCount).toBe(0);
  });

  test('a host woken while active, or suspended while it still has VMs, is reported', () => {
    const state = given([inventory,
      { type: 'HostWakeRequested', data: { host: 'a', requestId: null } },
      { type: 'HostSuspendRequested', data: { host: 'a', requestId: null } }]);
    expect(state.anomalies.map((a) => a.problem)).toEqual([
      'host "a" is active, so it cannot become waking',
      'host "a" still has 2 VM(s)',
      'host "a" is waking, so it cannot become suspending',
    ]);
  });

  test('a host whose suspend failed is up: it may receive a migration and be suspended again once empty (issue 11 D)', () => {
    const failed: DomainEvent[] = [inventory, { type: 'HostSuspendRequested', data: { host: 'b', requestId: null } },
      { type: 'HostSuspendFailed', data: { host: 'b', error: 'exit status 1', stderr: 'denied' } }];
    const received = given([...failed, { type: 'MigrationStarted', data: { ...migration, requestId: 'r1', attempt: 1 } },
      { type: 'MigrationCompleted', data: { ...migration, attempt: 1, durationMs: 9000 } }], { historyLength: 3, strict: true });
    expect(received.vms.get('v1')?.host).toBe('b');
    expect(received.hosts.get('b')?.power).toBe('suspend-failed');
    const again = given([...failed, { type: 'HostSuspendRequested', data: { host: 'b', requestId: null } },
      { type: 'HostSuspended', data: { host: 'b', durationMs: 2000 } }], { historyLength: 3, strict: true });
    expect(again.hosts.get('b')).toMatchObject({ power: 'asleep', lastPowerError: null });
  });

  test('a migration from or to a host that is not up (waking, wake-failed, asleep) is reported', () => {
    const state = given([inventory,
      { type: 'HostWakeRequested', data: { host: 'c', requestId: null } },
      { type: 'MigrationStarted', data: { ...migration, targetHost: 'c', requestId: null, attempt: 1 } },
      { type: 'HostWakeFailed', data: { host: 'c', error: 'not up after 300 s' } },
      { type: 'MigrationStarted', data: { migrationId: 'm2', vmId: 'v2', sourceHost: 'a', targetHost: 'c', requestId: null, attempt: 1 } },
      { type: 'InventoryObserved', data: { ...inventory.data, hosts: inventory.data.hosts.map((h) => (h.host === 'a' ? { ...h, state: 'down' as const } : h)) } },
      { type: 'MigrationFailed', data: { ...migration, targetHost: 'c', attempt: 1, error: 'x', retryable: true } },
      { type: 'MigrationStarted', data: { ...migration, migrationId: 'm3', requestId: null, attempt: 2 } }]);
    expect(state.anomalies.map((a) => a.problem)).toEqual([
      'target host "c" is waking, not up',
      'target host "c" is wake-failed, not up',
      'source host "a" is asleep, not up',
    ]);
  });

  test('the cloud\'s report changes a power state only when it contradicts it; a transition in progress is its own events\' to settle', () => {
    const expected: Record<PowerState, Record<'up' | 'down', PowerState>> = {
      'active': { up: 'active', down: 'asleep' },
      'suspend-failed': { up: 'suspend-failed', down: 'asleep' },
      'asleep': { up: 'active', down: 'asleep' },
      // Kept, not reset to asleep: a host whose wake failed is not woken again until the cloud reports it up.
      'wake-failed': { up: 'active', down: 'wake-failed' },
      'suspending': { up: 'suspending', down: 'suspending' },
      'waking': { up: 'waking', down: 'waking' },
    };
    const toState: Record<PowerState, DomainEvent[]> = {
      'active': [],
      'suspend-failed': [{ type: 'HostSuspendRequested', data: { host: 'b', requestId: null } },
        { type: 'HostSuspendFailed', data: { host: 'b', error: 'exit status 1', stderr: null } }],
      'asleep': [{ type: 'HostSuspendRequested', data: { host: 'b', requestId: null } }, { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } }],
      'wake-failed': [{ type: 'HostSuspendRequested', data: { host: 'b', requestId: null } }, { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } },
        { type: 'HostWakeRequested', data: { host: 'b', requestId: null } }, { type: 'HostWakeFailed', data: { host: 'b', error: 'not up' } }],
      'suspending': [{ type: 'HostSuspendRequested', data: { host: 'b', requestId: null } }],
      'waking': [{ type: 'HostSuspendRequested', data: { host: 'b', requestId: null } }, { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } },
        { type: 'HostWakeRequested', data: { host: 'b', requestId: null } }],
    };
    for (const [from, byReport] of Object.entries(expected) as [PowerState, Record<'up' | 'down', PowerState>][]) {
      for (const reported of ['up', 'down'] as const) {
        const observed: DomainEvent = { type: 'InventoryObserved', data: { ...inventory.data, hosts: inventory.data.hosts.map((h) => (h.host === 'b' ? { ...h, state: reported } : h)) } };
        const state = given([inventory, ...toState[from], observed], { historyLength: 3, strict: true });
        expect([from, reported, state.hosts.get('b')?.power]).toEqual([from, reported, byReport[reported]]);
        expect(observedPower(from, reported)).toBe(byReport[reported]);
      }
    }
  });

  test('in strict mode an illegal transition throws, naming the position', () => {
    expect(() => given([inventory, { type: 'HostWoken', data: { host: 'a', durationMs: 1 } }], { historyLength: 3, strict: true }))
      .toThrow(AnomalyError);
    expect(() => given([inventory, { type: 'HostWoken', data: { host: 'a', durationMs: 1 } }], { historyLength: 3, strict: true }))
      .toThrow('event at position 2 (HostWoken): host "a" is active, so it cannot become active');
  });
});

describe('data-centre projection: requests and samples', () => {
  test('a request is open until completed; decisions and completions of unknown requests are reported', () => {
    const open = given([{ type: 'RequestReceived', data: { requestId: 'r1', host: 'a', reason: 'overload', vmIds: ['v1'], protocol: 'neat', remoteAddress: null, clientTimeS: 5 } },
      { type: 'NothingToDo', data: { requestId: 'r1', reason: 'no-capacity', detail: 'full' } }]);
    expect(open.requests.get('r1')).toMatchObject({ host: 'a', reason: 'overload', decided: true });
    const closed = given([{ type: 'RequestReceived', data: { requestId: 'r1', host: 'a', reason: 'underload', vmIds: [], protocol: 'json', remoteAddress: null, clientTimeS: null } },
      { type: 'RequestCompleted', data: { requestId: 'r1', outcome: 'nothing-to-do', migrationsCompleted: 0, migrationsFailed: 0, detail: '' } },
      { type: 'RequestCompleted', data: { requestId: 'r2', outcome: 'completed', migrationsCompleted: 1, migrationsFailed: 0, detail: '' } }]);
    expect(closed.requests.size).toBe(0);
    expect(closed.requestsCompleted).toBe(2);
    expect(closed.anomalies.map((a) => a.problem)).toEqual(['request r2 is not open']);
  });

  test('utilisation history is bounded to the last N samples, per VM and per host', () => {
    const samples: DomainEvent[] = [1, 2, 3, 4, 5].map((k) => ({
      type: 'UtilizationSampled', data: { host: 'a', hypervisorCpuMhz: 10, vms: [{ vmId: 'v1', cpuMhz: 100 * k, ramMb: null }] },
    }));
    const state = given([inventory, ...samples]);
    expect(state.vms.get('v1')?.cpuMhzHistory.toArray()).toEqual([300, 400, 500]);
    expect(state.hosts.get('a')?.cpuMhzHistory.toArray()).toEqual([310, 410, 510]);
  });

  test('a sample never creates a VM: entries of VMs the cloud has not reported are held aside, counted, no anomaly in strict mode', () => {
    const sample: DomainEvent = {
      type: 'UtilizationSampled',
      data: { host: 'a', hypervisorCpuMhz: 10, vms: [{ vmId: 'v1', cpuMhz: 100, ramMb: 900 }, { vmId: 'ghost', cpuMhz: 5000, ramMb: 64 }] },
    };
    const state = given([inventory, sample, sample], { historyLength: 3, strict: true });
    expect([...state.vms.keys()].sort()).toEqual(['v1', 'v2']);
    expect(state.vms.get('v1')).toMatchObject({ ramMb: 900 });
    expect(state.vms.get('v1')?.cpuMhzHistory.toArray()).toEqual([100, 100]);
    expect(state.hosts.get('a')?.cpuMhzHistory.toArray()).toEqual([110, 110]);
    expect({ unreported: state.unreportedVmSamples, anomalies: state.anomalyCount }).toEqual({ unreported: 2, anomalies: 0 });
    // Before any inventory, every entry is held; only the host is an anomaly, as before.
    const early = given([sample]);
    expect({ vms: early.vms.size, unreported: early.unreportedVmSamples, anomalies: early.anomalies.map((a) => a.problem) })
      .toEqual({ vms: 0, unreported: 2, anomalies: ['host "a" was never observed'] });
  });

  test('a VM the agents saw before the cloud reported it starts with their samples as its history; the held samples are bounded', () => {
    const newcomer = (cpuMhz: number): DomainEvent => ({
      type: 'UtilizationSampled', data: { host: 'a', hypervisorCpuMhz: 0, vms: [{ vmId: 'v9', cpuMhz, ramMb: null }] },
    });
    const reported: DomainEvent = {
      type: 'InventoryObserved',
      data: {
        hosts: [{ host: 'a', cpuMhz: 8000, ramMb: 16384, state: 'up' }, { host: 'b', cpuMhz: 8000, ramMb: 16384, state: 'up' },
          { host: 'c', cpuMhz: 4000, ramMb: 8192, state: 'down' }],
        vms: [{ vmId: 'v1', host: 'a', ramMb: 1024, vcpus: 1 }, { vmId: 'v2', host: 'a', ramMb: 2048, vcpus: 2 }, { vmId: 'v9', host: 'a', ramMb: 512, vcpus: 1 }],
      },
    };
    const state = given([inventory, newcomer(10), newcomer(20), newcomer(30), newcomer(40), reported, newcomer(50)], { historyLength: 3, strict: true });
    expect(state.vms.get('v9')?.cpuMhzHistory.toArray()).toEqual([30, 40, 50]);
    expect(state.unreportedVms.size).toBe(0);
    const flood = Array.from({ length: UNREPORTED_VMS_KEPT + 5 }, (_, i): DomainEvent => ({
      type: 'UtilizationSampled', data: { host: 'a', hypervisorCpuMhz: 0, vms: [{ vmId: `ghost-${i}`, cpuMhz: 1, ramMb: null }] },
    }));
    const flooded = given([inventory, ...flood]);
    expect(flooded.unreportedVms.size).toBe(UNREPORTED_VMS_KEPT);
    expect(flooded.unreportedVms.has('ghost-0')).toBe(false);
    expect(flooded.unreportedVms.has(`ghost-${UNREPORTED_VMS_KEPT + 4}`)).toBe(true);
  });

  test('an event out of order is reported; a gap is the log\'s to check (compaction leaves them)', () => {
    const make = new TestEvents();
    const state = initialDataCentreState({ historyLength: 3, strict: false });
    const rejected = make.make('RequestRejected', { requestId: 'x', host: null, status: 401, reason: 'no credentials', protocol: 'neat', remoteAddress: null });
    evolveDataCentre(state, { ...rejected, stream: 's', revision: 0, position: 2 });
    expect(state.anomalyCount).toBe(0);
    evolveDataCentre(state, { ...rejected, stream: 's', revision: 1, position: 2 });
    expect(state.anomalies[0]?.problem).toBe('follows position 2: events are out of order');
  });

  test('only the last ANOMALIES_KEPT anomalies are kept, and all are counted', () => {
    const wakes: DomainEvent[] = Array.from({ length: ANOMALIES_KEPT + 20 }, () => ({ type: 'HostWoken', data: { host: 'a', durationMs: 1 } }));
    const state = given([inventory, ...wakes]);
    expect(state.anomalyCount).toBe(ANOMALIES_KEPT + 20);
    expect(state.anomalies).toHaveLength(ANOMALIES_KEPT);
  });

  test('random valid histories produce no anomaly, and folding twice gives the same state', () => {
    // Enough runs that histories with a migration to a host whose suspend failed (about one in fifteen) are always among them.
    fc.assert(fc.property(validEventSequence(60), ({ batches }) => {
      const events = batches.flatMap((b) => b.events);
      const once = given(events, { historyLength: 4, strict: true });
      expect(snapshotDataCentre(given(events, { historyLength: 4, strict: true }))).toEqual(snapshotDataCentre(once));
    }), { numRuns: 300 });
  });
});

describe('data-centre projection: how fresh each host and VM is', () => {
  /** Given these events at these times (s), recorded in order. */
  function givenAt(events: readonly (readonly [number, DomainEvent])[]): DataCentreState {
    const make = new TestEvents();
    const state = initialDataCentreState({ historyLength: 3, strict: true });
    events.forEach(([timeS, event], i) => {
      make.timeMs = timeS * 1000;
      evolveDataCentre(state, { ...make.make(event.type, event.data), stream: 's', revision: i, position: i + 1 });
    });
    return state;
  }
  const sample = (host: string, vms: Record<string, number>): DomainEvent => ({
    type: 'UtilizationSampled', data: { host, hypervisorCpuMhz: 0, vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: null })) },
  });
  const powerEvent = (type: 'HostSuspendRequested' | 'HostWakeRequested', host: string): DomainEvent => ({ type, data: { host, requestId: null } });
  const reportedAs = (host: string, state: 'up' | 'down'): DomainEvent => ({
    type: 'InventoryObserved', data: { ...inventory.data, hosts: inventory.data.hosts.map((h) => (h.host === host ? { ...h, state } : h)) },
  });
  const MAX_AGE_MS = 900_000;

  test('a sample stamps its host and its VMs with its time; a VM the cloud reports later keeps the time of the samples held for it', () => {
    const ghost: DomainEvent = sample('a', { v1: 100, v9: 50 });
    const reported: DomainEvent = { type: 'InventoryObserved', data: { ...inventory.data, vms: [...inventory.data.vms, { vmId: 'v9', host: 'a', ramMb: 512, vcpus: 1 }] } };
    const state = givenAt([[0, inventory], [10, sample('a', { v1: 100 })], [20, sample('b', {})], [30, ghost], [40, reported]]);
    expect(state.hosts.get('a')?.lastSampleAtMs).toBe(30_000);
    expect(state.hosts.get('b')?.lastSampleAtMs).toBe(20_000);
    expect(state.hosts.get('c')?.lastSampleAtMs).toBeNull();
    expect(state.vms.get('v1')?.lastSampleAtMs).toBe(30_000);
    expect(state.vms.get('v2')?.lastSampleAtMs).toBeNull();
    expect(state.vms.get('v9')).toMatchObject({ lastSampleAtMs: 30_000 });
    expect(state.vms.get('v9')?.cpuMhzHistory.toArray()).toEqual([50]);
    const held = givenAt([[0, inventory], [30, ghost]]);
    expect(snapshotDataCentre(held)).toMatchObject({ unreportedVms: [{ id: 'v9', cpuMhzHistory: [50], lastSampleAtMs: 30_000 }] });
    expect(snapshotDataCentre(state)).toMatchObject({
      hosts: [{ name: 'a', lastSampleAtMs: 30_000, becameUpAtMs: 0 }, { name: 'b', lastSampleAtMs: 20_000 }, { name: 'c', lastSampleAtMs: null, becameUpAtMs: null }],
      vms: [{ id: 'v1', lastSampleAtMs: 30_000 }, { id: 'v2', lastSampleAtMs: null }, { id: 'v9', lastSampleAtMs: 30_000 }],
    });
  });

  test('a host becomes up when first seen up, when woken, and when the cloud reports it up after down; a failed suspend is not a coming up', () => {
    const woken = givenAt([[0, inventory], [100, powerEvent('HostWakeRequested', 'c')], [160, { type: 'HostWoken', data: { host: 'c', durationMs: 60_000 } }]]);
    expect(woken.hosts.get('a')?.becameUpAtMs).toBe(0);
    expect(woken.hosts.get('c')?.becameUpAtMs).toBe(160_000);
    const reported = givenAt([[0, inventory], [100, reportedAs('c', 'up')], [200, reportedAs('c', 'up')]]);
    expect(reported.hosts.get('c')).toMatchObject({ power: 'active', becameUpAtMs: 100_000 });
    const suspendFailed = givenAt([[0, inventory], [100, powerEvent('HostSuspendRequested', 'b')],
      [110, { type: 'HostSuspendFailed', data: { host: 'b', error: 'exit status 1', stderr: null } }]]);
    expect(suspendFailed.hosts.get('b')).toMatchObject({ power: 'suspend-failed', becameUpAtMs: 0 });
    const slept = givenAt([[0, inventory], [100, powerEvent('HostSuspendRequested', 'b')], [110, { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } }],
      [5000, reportedAs('b', 'up')]]);
    expect(slept.hosts.get('b')).toMatchObject({ power: 'active', becameUpAtMs: 5_000_000 });
  });

  test('stale: up, with neither a sample nor a coming up within the max age; a host not up never is', () => {
    const state = givenAt([[0, inventory], [100, sample('a', { v1: 100 })], [200, powerEvent('HostWakeRequested', 'c')],
      [260, { type: 'HostWoken', data: { host: 'c', durationMs: 60_000 } }]]);
    const stale = (host: string, nowS: number): boolean => isStale(state.hosts.get(host)!, nowS * 1000, MAX_AGE_MS);
    // a: sampled at 100 s. b: up since 0 s, never sampled. c: woken at 260 s, not reporting yet.
    expect([stale('a', 1000), stale('a', 1000.001), stale('b', 900), stale('b', 900.001), stale('c', 1160), stale('c', 1160.001)])
      .toEqual([false, true, false, true, false, true]);
    for (const [events, expected] of [
      [[powerEvent('HostSuspendRequested', 'b')], 'suspending'],
      [[powerEvent('HostSuspendRequested', 'b'), { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } }], 'asleep'],
      [[powerEvent('HostSuspendRequested', 'b'), { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } }, powerEvent('HostWakeRequested', 'b')], 'waking'],
      [[powerEvent('HostSuspendRequested', 'b'), { type: 'HostSuspended', data: { host: 'b', durationMs: 1 } }, powerEvent('HostWakeRequested', 'b'),
        { type: 'HostWakeFailed', data: { host: 'b', error: 'not up' } }], 'wake-failed'],
    ] as const) {
      const host = givenAt([[0, inventory], ...events.map((event, i) => [10 + i, event] as const)]).hosts.get('b')!;
      expect([host.power, isStale(host, 1e9, MAX_AGE_MS)]).toEqual([expected, false]);
    }
  });
});
