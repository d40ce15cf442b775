import { snapshotDataCentre } from '../../src/events/dataCentre';
import type { EventData, EventType } from '../../src/events/catalogue';
import type { EventLog } from '../../src/log/port';
import { MemoryEventLog } from '../../src/log/memory';
import type { SimulatedDataCentre } from '../../sim/datacentre';
import { CloudError } from '../../src/managers/ports';
import type { Cloud } from '../../src/managers/ports';
import { faultyPower, World } from './harness';

// Hosts alternate G4 (3720 MHz) and G5 (5320 MHz), 4096 MB each; VMs of 870 MB unless said otherwise.
// 870 MB at 1 Gbit/s / 2 take 13.92 s to migrate: with Neat's 10 s wait and 3 s polls, a migration is seen done at 16 s.

async function dataOf<T extends EventType>(world: World, requestId: string, type: T): Promise<EventData<T>[]> {
  return (await world.eventsOf(requestId)).filter((e) => e.type === type).map((e) => e.data as EventData<T>);
}

describe('underload: move every VM of the host, then switch off the emptied and the idle hosts', () => {
  test('given two VMs on host-1 and room on host-3, when host-1 reports underload, then both move and three hosts are suspended', async () => {
    const world = new World({ hosts: 4, placement: [1, 1, 3, 3] });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 1000, 'vm-3': 800 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect(await world.typesOf(requestId)).toEqual([
      'RequestReceived', 'PlacementDecided',
      'MigrationStarted', 'MigrationCompleted', 'MigrationStarted', 'MigrationCompleted',
      'HostSuspendRequested', 'HostSuspended', 'HostSuspendRequested', 'HostSuspended', 'HostSuspendRequested', 'HostSuspended',
      'RequestCompleted',
    ]);
    const [decision] = await dataOf(world, requestId, 'PlacementDecided');
    expect(decision).toMatchObject({
      algorithm: 'best_fit_decreasing', automation: 'automatic', activeHosts: 1, inactiveHosts: 0,
      mapping: { 'vm-0': 'host-3', 'vm-1': 'host-3' }, hostsToWake: [], hostsToSuspend: ['host-0', 'host-1', 'host-2'],
    });
    expect((await dataOf(world, requestId, 'MigrationCompleted')).map((m) => m.durationMs)).toEqual([16_000, 16_000]);
    expect(await world.hostOf('vm-0')).toBe('host-3');
    expect(world.dc.powerStates).toEqual(['asleep', 'asleep', 'asleep', 'active']);
    expect(await dataOf(world, requestId, 'RequestCompleted')).toEqual([expect.objectContaining({
      outcome: 'completed', migrationsCompleted: 2, migrationsFailed: 0,
    })]);
  });

  test('a disabled host (maintenance) is never a target and never suspended; reporting underload, it is emptied and left on', async () => {
    // host-3 has the room but is disabled; host-2 is empty and disabled; host-1, disabled too, asks to be emptied.
    const disabled = new Set(['host-1', 'host-2', 'host-3']);
    const world = new World({
      hosts: 5, placement: [1, 3, 4], vmRamMb: [870, 870, 870],
      cloud: (dc) => ({
        listHosts: async () => (await dc.listHosts()).map((h) => ({ ...h, enabled: !disabled.has(h.name) })),
        listVms: () => dc.listVms(), getVm: (id) => dc.getVm(id),
        startLiveMigration: (id, target) => dc.startLiveMigration(id, target), migrationStatus: (handle) => dc.migrationStatus(handle),
      }),
    });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 300 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    const [decision] = await dataOf(world, requestId, 'PlacementDecided');
    expect(decision).toMatchObject({ activeHosts: 1, mapping: { 'vm-0': 'host-4' }, hostsToSuspend: ['host-0'] });
    expect(world.dc.powerStates).toEqual(['asleep', 'active', 'active', 'active', 'active']);
    expect(world.manager.dataCentre.hosts.get('host-2')?.enabled).toBe(false);
  });

  test('given no room elsewhere, when a host reports underload, then it stays on and only the idle hosts are switched off (as Neat)', async () => {
    const world = new World({ hosts: 4, placement: [1, 3, 3], vmRamMb: [1740, 1740, 1740] });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 300 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    const [decision] = await dataOf(world, requestId, 'PlacementDecided');
    expect(decision).toMatchObject({ mapping: {}, hostsToSuspend: ['host-0', 'host-2'], unplaced: [{ vmId: 'vm-0', reason: 'no-host-fits' }] });
    expect(world.dc.powerStates).toEqual(['asleep', 'active', 'asleep', 'active']);
  });

  test('a VM without data keeps its host out of the placement and on; a request to move it is dropped (Neat bug 9.2 fixed)', async () => {
    const world = new World({ hosts: 4, placement: [1, 3, 3] });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const fromHost1 = await world.request('host-1', 'underload');
    await world.settle();
    const [decision] = await dataOf(world, fromHost1, 'PlacementDecided');
    expect(decision).toMatchObject({ activeHosts: 0, mapping: {}, hostsToSuspend: ['host-0', 'host-2'] });
    const fromHost3 = await world.request('host-3', 'underload');
    await world.settle();
    expect(await dataOf(world, fromHost3, 'NothingToDo')).toEqual([expect.objectContaining({ reason: 'no-data' })]);
    expect(await dataOf(world, fromHost3, 'RequestCompleted')).toEqual([expect.objectContaining({ outcome: 'nothing-to-do' })]);
    expect(world.dc.powerStates[3]).toBe('active');
  });

  test('a host whose VM appeared after the decision is not suspended', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { automation: 'manual' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect((await dataOf(world, requestId, 'PlacementDecided'))[0].hostsToSuspend).toEqual(['host-0', 'host-1', 'host-2']);
    await world.dc.startLiveMigration('vm-1', 'host-2');
    world.scheduler.run(world.scheduler.timeS + 60, 100);
    expect(await world.run(world.manager.approve(requestId, 'operator'))).toBe('done');
    await world.settle();
    const skipped = await dataOf(world, requestId, 'HostSuspendSkipped');
    expect(skipped).toEqual([expect.objectContaining({ host: 'host-2', reason: 'host-has-vms' })]);
    expect(world.dc.powerStates).toEqual(['asleep', 'asleep', 'active', 'active']);
  });
});

describe('overload: move the named VMs, waking a host first when the active ones are full', () => {
  async function fullWorld(transitions: { wakeLatencyS: number }, settings = {}): Promise<World> {
    const world = new World({
      hosts: 3, placement: [1, 1, 2, 2], vmRamMb: [870, 870, 1740, 1740],
      transitions: { suspendLatencyS: 0, wakeLatencyS: transitions.wakeLatencyS, suspendEnergyWs: 0, wakeEnergyWs: 0, sleepPowerW: 0 },
      settings,
    });
    await world.dc.suspend('host-0');
    world.scheduler.run(0, 10);
    await world.start({ 'vm-0': 2500, 'vm-1': 2000, 'vm-2': 100, 'vm-3': 100 });
    return world;
  }

  test('given host-2 full and host-0 asleep, when host-1 reports overload of vm-0, then host-0 is woken, waited for, and receives vm-0', async () => {
    const world = await fullWorld({ wakeLatencyS: 60 });
    const requestId = await world.request('host-1', 'overload', ['vm-0']);
    await world.settle();
    expect(await world.typesOf(requestId)).toEqual([
      'RequestReceived', 'PlacementDecided', 'HostWakeRequested', 'HostWoken', 'MigrationStarted', 'MigrationCompleted', 'RequestCompleted',
    ]);
    expect((await dataOf(world, requestId, 'PlacementDecided'))[0]).toMatchObject({ mapping: { 'vm-0': 'host-0' }, hostsToWake: ['host-0'], hostsToSuspend: [] });
    expect((await dataOf(world, requestId, 'HostWoken'))[0].durationMs).toBe(60_000);
    expect(await world.hostOf('vm-0')).toBe('host-0');
  });

  test('a host that does not come up within the wake timeout fails the wake, and its migrations are skipped', async () => {
    const world = await fullWorld({ wakeLatencyS: 1000 });
    const requestId = await world.request('host-1', 'overload', ['vm-0']);
    await world.settle();
    expect(await world.typesOf(requestId)).toEqual([
      'RequestReceived', 'PlacementDecided', 'HostWakeRequested', 'HostWakeFailed', 'MigrationSkipped', 'RequestCompleted',
    ]);
    expect((await dataOf(world, requestId, 'MigrationSkipped'))[0].reason).toBe('target-not-awake');
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0].outcome).toBe('failed');
    expect(world.manager.dataCentre.hosts.get('host-0')?.power).toBe('wake-failed');
  });

  test('VMs named that are not on the host are left out and said so; none at all is nothing to do', async () => {
    const world = await fullWorld({ wakeLatencyS: 0 });
    const partly = await world.request('host-1', 'overload', ['vm-0', 'vm-2', 'nope']);
    await world.settle();
    expect((await dataOf(world, partly, 'PlacementDecided'))[0].unplaced).toEqual([
      { vmId: 'vm-2', reason: 'not-on-host' }, { vmId: 'nope', reason: 'not-on-host' }]);
    const none = await world.request('host-1', 'overload', ['nope']);
    await world.settle();
    expect(await dataOf(world, none, 'NothingToDo')).toEqual([expect.objectContaining({ reason: 'no-vms' })]);
  });
});

describe('migrations: bounded, and honest about failure', () => {
  test('a failing migration is retried up to the attempt limit, then abandoned; the host is then not suspended', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { migrationMaxAttempts: 3 } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    world.dc.failNextMigrations(10);
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    const types = await world.typesOf(requestId);
    expect(types.filter((t) => t === 'MigrationStarted')).toHaveLength(3);
    expect(await dataOf(world, requestId, 'MigrationFailed')).toMatchObject([1, 2, 3].map((attempt) => ({ attempt, retryable: true })));
    expect(await dataOf(world, requestId, 'MigrationAbandoned')).toEqual([expect.objectContaining({ vmId: 'vm-0', attempts: 3 })]);
    expect(await dataOf(world, requestId, 'HostSuspendSkipped')).toEqual([expect.objectContaining({ host: 'host-1', reason: 'plan-failed' })]);
    expect(world.dc.powerStates[1]).toBe('active');
  });

  test('a VM in ERROR fails its migration at once instead of being polled forever (Neat bug 9.4 fixed)', async () => {
    const world = new World({ hosts: 4, placement: [1, 3] });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    world.scheduler.after(5, () => { world.dc.setVmError('vm-0'); });
    await world.settle();
    expect(await dataOf(world, requestId, 'MigrationFailed')).toEqual([expect.objectContaining({ attempt: 1, retryable: false, error: 'the VM went into ERROR' })]);
    expect(await dataOf(world, requestId, 'MigrationAbandoned')).toHaveLength(1);
    expect(world.scheduler.timeS).toBeLessThan(60);
  });

  test('a VM deleted before its turn is skipped, not migrated', async () => {
    const world = new World({ hosts: 4, placement: [1, 1, 3] });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 100 });
    const requestId = await world.request('host-1', 'underload');
    world.scheduler.after(5, () => { world.dc.deleteVm('vm-1'); });
    await world.settle();
    expect(await dataOf(world, requestId, 'MigrationSkipped')).toEqual([expect.objectContaining({ vmId: 'vm-1', reason: 'vm-gone' })]);
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0].outcome).toBe('partial');
  });

  test('a migration that outlives its timeout fails as such, bounded', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { migrationTimeoutMs: 5_000, migrationInitialWaitMs: 1_000, migrationMaxAttempts: 2 } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    const failed = await dataOf(world, requestId, 'MigrationFailed');
    expect(failed[0]).toMatchObject({ attempt: 1, retryable: false });
    expect(failed[0].error).toMatch(/not completed within 5 s; the VM is still migrating/);
    expect(await dataOf(world, requestId, 'MigrationAbandoned')).toHaveLength(1);
  });

  test('with concurrency 2, two migrations run at once', async () => {
    const world = new World({ hosts: 4, placement: [1, 1, 3], settings: { migrationConcurrency: 2 } });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 100 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    const types = await world.typesOf(requestId);
    expect(types.slice(2, 6)).toEqual(['MigrationStarted', 'MigrationStarted', 'MigrationCompleted', 'MigrationCompleted']);
  });
});

describe('a start whose answer was lost, and VMs the cloud moves on its own: followed, never sent twice (issue 11)', () => {
  /** The simulated cloud, with its starts counted and, for the first `lose` of them, their answer lost after the move began. */
  function losingCloud(dc: SimulatedDataCentre, options: { lose: number; begin: boolean; starts: string[] }): Cloud {
    let lost = 0;
    return {
      listHosts: () => dc.listHosts(), listVms: () => dc.listVms(), getVm: (id) => dc.getVm(id),
      startLiveMigration: async (id, target) => {
        options.starts.push(id);
        if (lost >= options.lose) return dc.startLiveMigration(id, target);
        lost += 1;
        // As Nova's handle, known before the request is sent; a request that never arrived leaves no migration behind it.
        const handle = options.begin ? await dc.startLiveMigration(id, target) : NEVER_BEGUN;
        throw new CloudError('ambiguous', 'the answer was lost', handle);
      },
      migrationStatus: (handle) => (handle === NEVER_BEGUN ? Promise.resolve({ state: 'running', error: null }) : dc.migrationStatus(handle)),
    };
  }
  const NEVER_BEGUN = 'never-begun';

  test('given a start whose answer is lost after the move began, the move is followed to completion and not sent again', async () => {
    const starts: string[] = [];
    const world = new World({ hosts: 4, placement: [1, 1, 3, 3], cloud: (dc) => losingCloud(dc, { lose: 2, begin: true, starts }) });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 1000, 'vm-3': 800 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect(starts).toEqual(['vm-0', 'vm-1']);
    expect((await world.typesOf(requestId)).filter((t) => t.startsWith('Migration'))).toEqual([
      'MigrationStarted', 'MigrationCompleted', 'MigrationStarted', 'MigrationCompleted',
    ]);
    expect(await dataOf(world, requestId, 'RequestCompleted')).toEqual([expect.objectContaining({ outcome: 'completed', migrationsCompleted: 2 })]);
    expect(world.dc.powerStates[1]).toBe('asleep');
    expect(world.manager.dataCentre.anomalyCount).toBe(0);
  });

  test('given a start whose answer is lost and of which nothing ever shows, it fails at the timeout and is not sent again', async () => {
    const starts: string[] = [];
    const world = new World({
      hosts: 4, placement: [1, 3], settings: { migrationTimeoutMs: 60_000 }, cloud: (dc) => losingCloud(dc, { lose: 1, begin: false, starts }),
    });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect(starts).toEqual(['vm-0']);
    const [failed] = await dataOf(world, requestId, 'MigrationFailed');
    expect(failed).toMatchObject({ attempt: 1, retryable: false });
    expect(failed.error).toMatch(/answer to the start was lost, and nothing of the migration showed within 60 s .*it may yet take effect, so it is not asked for again/);
    const started = (await world.eventsOf(requestId)).find((e) => e.type === 'MigrationStarted');
    const failedAt = (await world.eventsOf(requestId)).find((e) => e.type === 'MigrationFailed');
    expect((failedAt?.metadata.timeMs ?? 0) - (started?.metadata.timeMs ?? 0)).toBe(10_000 + 60_000);
    expect(await dataOf(world, requestId, 'MigrationAbandoned')).toHaveLength(1);
    expect(await world.hostOf('vm-0')).toBe('host-1');
    expect(world.manager.dataCentre.vms.get('vm-0')?.host).toBe('host-1');
  });

  test('given a VM the cloud is already moving to its target when its turn comes, it is waited for, not sent, and counts as migrated', async () => {
    const starts: string[] = [];
    const world = new World({
      hosts: 4, placement: [1, 1, 3, 3], settings: { automation: 'manual' }, cloud: (dc) => losingCloud(dc, { lose: 0, begin: true, starts }),
    });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 1000, 'vm-3': 800 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect((await dataOf(world, requestId, 'PlacementDecided'))[0].mapping).toEqual({ 'vm-0': 'host-3', 'vm-1': 'host-3' });
    await world.dc.startLiveMigration('vm-0', 'host-3');
    expect(await world.run(world.manager.approve(requestId, 'operator'))).toBe('done');
    await world.settle();
    expect(starts).toEqual(['vm-1']);
    expect(await dataOf(world, requestId, 'MigrationSkipped')).toEqual([expect.objectContaining({ vmId: 'vm-0', reason: 'already-on-target' })]);
    expect(await dataOf(world, requestId, 'RequestCompleted')).toEqual([expect.objectContaining({
      outcome: 'completed', migrationsCompleted: 2, detail: expect.stringMatching(/^2 of 2 migration\(s\) completed/) as unknown,
    })]);
    expect(world.dc.powerStates[1]).toBe('asleep');
    expect(world.manager.dataCentre.vms.get('vm-0')?.host).toBe('host-3');
    expect(world.manager.dataCentre.anomalyCount).toBe(0);
  });

  test('given a VM already ACTIVE on its target, it counts as migrated: no start, no inventory correction, the emptied host suspended', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { automation: 'manual' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    await world.dc.startLiveMigration('vm-0', 'host-3');
    world.scheduler.run(world.scheduler.timeS + 60, 100);
    const inventoriesBefore = (await world.log.readStream('inventory')).length;
    expect(await world.run(world.manager.approve(requestId, 'operator'))).toBe('done');
    await world.settle();
    expect(await world.typesOf(requestId)).toEqual([
      'RequestReceived', 'PlacementDecided', 'PlanApproved', 'MigrationSkipped',
      'HostSuspendRequested', 'HostSuspended', 'HostSuspendRequested', 'HostSuspended', 'HostSuspendRequested', 'HostSuspended', 'RequestCompleted',
    ]);
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0]).toMatchObject({ outcome: 'completed', migrationsCompleted: 1 });
    expect((await world.log.readStream('inventory')).length).toBe(inventoriesBefore);
    expect(world.manager.dataCentre.vms.get('vm-0')?.host).toBe('host-3');
    expect(world.manager.dataCentre.anomalyCount).toBe(0);
  });

  test('given a VM the cloud keeps moving past the migration timeout, it is skipped as migrating, never sent', async () => {
    const starts: string[] = [];
    const world = new World({
      hosts: 4, placement: [1, 3], settings: { automation: 'manual', migrationTimeoutMs: 5_000 }, cloud: (dc) => losingCloud(dc, { lose: 0, begin: true, starts }),
    });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    await world.dc.startLiveMigration('vm-0', 'host-2');
    expect(await world.run(world.manager.approve(requestId, 'operator'))).toBe('done');
    await world.settle();
    expect(starts).toEqual([]);
    expect(await dataOf(world, requestId, 'MigrationSkipped')).toEqual([expect.objectContaining({
      vmId: 'vm-0', reason: 'vm-migrating', detail: expect.stringMatching(/still migrating the VM .* after 5 s/) as unknown,
    })]);
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0].detail).toMatch(/^0 of 1 migration\(s\) completed/);
  });

  test('a conflict is tried again after a poll interval, not at once', async () => {
    let conflicts = 1;
    const world = new World({
      hosts: 4, placement: [1, 3],
      cloud: (dc) => ({
        listHosts: () => dc.listHosts(), listVms: () => dc.listVms(), getVm: (id) => dc.getVm(id), migrationStatus: (handle) => dc.migrationStatus(handle),
        startLiveMigration: (id, target) => {
          if (conflicts === 0) return dc.startLiveMigration(id, target);
          conflicts -= 1;
          return Promise.reject(new CloudError('conflict', 'HTTP 409 the VM is busy'));
        },
      }),
    });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    const events = await world.eventsOf(requestId);
    const failed = events.find((e) => e.type === 'MigrationFailed');
    const started = events.filter((e) => e.type === 'MigrationStarted');
    expect(started).toHaveLength(2);
    expect(failed?.data).toMatchObject({ attempt: 1, retryable: true });
    expect(started[1].metadata.timeMs - (failed?.metadata.timeMs ?? 0)).toBe(3_000);
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0].outcome).toBe('completed');
  });

  test('a VM moved elsewhere behind the plan is skipped as moved, and the log records where it is before the request completes', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { automation: 'manual' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    await world.dc.startLiveMigration('vm-0', 'host-2');
    world.scheduler.run(world.scheduler.timeS + 60, 100);
    expect(await world.run(world.manager.approve(requestId, 'operator'))).toBe('done');
    await world.settle();
    expect(await dataOf(world, requestId, 'MigrationSkipped')).toEqual([expect.objectContaining({ vmId: 'vm-0', reason: 'vm-moved' })]);
    const all = await world.log.readAll(1, 10_000);
    const completedAt = all.findIndex((e) => e.type === 'RequestCompleted' && e.data.requestId === requestId);
    const reconciled = all.findIndex((e) => e.type === 'InventoryObserved' && e.metadata.correlationId === requestId);
    expect(reconciled).toBeGreaterThan(0);
    expect(reconciled).toBeLessThan(completedAt);
    expect(world.manager.dataCentre.vms.get('vm-0')?.host).toBe('host-2');
    expect(world.manager.dataCentre.anomalyCount).toBe(0);
  });
});

describe('the queue: one plan at a time, bounded, coalesced per host', () => {
  test('a second request for a host already waiting supersedes it; a full queue refuses with a retry time', async () => {
    const world = new World({ hosts: 6, placement: [1, 3, 5], settings: { queueLimit: 2 } });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 100 });
    const first = await world.request('host-1', 'underload');
    const second = await world.request('host-3', 'underload');
    const third = await world.request('host-3', 'underload');
    await world.request('host-5', 'underload');
    const full = await world.run(world.manager.submit({ host: 'host-0', reason: 'underload', vmIds: [], protocol: 'neat', remoteAddress: null, clientTimeS: null }));
    expect(full).toEqual({ status: 'queue-full', retryAfterS: expect.any(Number) as number });
    await world.settle();
    expect(await dataOf(world, second, 'RequestCompleted')).toEqual([expect.objectContaining({ outcome: 'superseded', detail: `superseded by request ${third} for the same host` })]);
    expect((await world.typesOf(second))).toEqual(['RequestReceived', 'RequestCompleted']);
    expect((await dataOf(world, first, 'RequestCompleted'))[0].outcome).not.toBe('superseded');
    expect((await dataOf(world, third, 'RequestCompleted'))).toHaveLength(1);
  });
});

describe('automation levels, as VMware DPM has them', () => {
  test('off: the plan is recorded and nothing moves', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { automation: 'off' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect(await world.typesOf(requestId)).toEqual(['RequestReceived', 'PlacementDecided', 'RequestCompleted']);
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0].outcome).toBe('recorded');
    expect(await world.hostOf('vm-0')).toBe('host-1');
  });

  test('manual: the plan waits for approval; approved it runs, rejected it ends; a newer plan supersedes an older one', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { automation: 'manual' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const older = await world.request('host-1', 'underload');
    await world.settle();
    expect(world.manager.openRequests.get(older)?.status).toBe('recommended');
    const newer = await world.request('host-1', 'underload');
    await world.settle();
    expect((await dataOf(world, older, 'RequestCompleted'))[0].outcome).toBe('superseded');
    expect(await world.hostOf('vm-0')).toBe('host-1');
    expect(await world.run(world.manager.approve(older, 'operator'))).toBe('not-found');
    expect(await world.run(world.manager.approve(newer, 'operator'))).toBe('done');
    await world.settle();
    expect(await world.hostOf('vm-0')).toBe('host-3');
    expect((await world.typesOf(newer)).slice(0, 4)).toEqual(['RequestReceived', 'PlacementDecided', 'PlanApproved', 'MigrationStarted']);
  });

  test('manual: a rejected plan ends the request and moves nothing', async () => {
    const world = new World({ hosts: 4, placement: [1, 3], settings: { automation: 'manual' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    const requestId = await world.request('host-1', 'underload');
    await world.settle();
    expect(await world.run(world.manager.rejectPlan(requestId, 'operator', 'not tonight'))).toBe('done');
    expect(await world.typesOf(requestId)).toEqual(['RequestReceived', 'PlacementDecided', 'PlanRejected', 'RequestCompleted']);
    expect(await dataOf(world, requestId, 'RequestCompleted')).toEqual([expect.objectContaining({ outcome: 'rejected' })]);
    expect(await world.run(world.manager.approve(requestId, 'operator'))).toBe('not-found');
    expect(await world.hostOf('vm-0')).toBe('host-1');
  });
});

/** A log that a simulated crash cuts off: the dead manager's writes never complete, as a killed process's never would. */
class CrashableLog implements EventLog {
  crashed = false;
  /** Crashes instead of appending a batch that holds an event of this type. */
  crashBefore: string | null = null;
  constructor(private readonly inner: EventLog) {}
  get description(): string { return this.inner.description; }
  get appendsInCallOrder(): boolean { return this.inner.appendsInCallOrder; }
  append(...args: Parameters<EventLog['append']>): ReturnType<EventLog['append']> {
    if (args[1].some((event) => event.type === this.crashBefore)) this.crashed = true;
    return this.crashed ? new Promise(() => undefined) : this.inner.append(...args);
  }
  readStream(...args: Parameters<EventLog['readStream']>): ReturnType<EventLog['readStream']> { return this.inner.readStream(...args); }
  readAll(...args: Parameters<EventLog['readAll']>): ReturnType<EventLog['readAll']> { return this.inner.readAll(...args); }
  headPosition(): Promise<number> { return this.inner.headPosition(); }
  subscribe(from: number): ReturnType<EventLog['subscribe']> { return this.inner.subscribe(from); }
  close(): Promise<void> { return this.inner.close(); }
}

describe('recovery: a restart finishes an interrupted plan', () => {
  test('given a crash with a migration in flight, when a new manager starts on the log, then it settles that migration and finishes the plan', async () => {
    const inner = new MemoryEventLog();
    const crashable = new CrashableLog(inner);
    const world = new World({ hosts: 4, placement: [1, 1, 3], log: crashable });
    await world.start({ 'vm-0': 300, 'vm-1': 200, 'vm-2': 100 });
    const requestId = await world.request('host-1', 'underload');
    crashable.crashed = true;
    expect(await world.typesOf(requestId)).toEqual(['RequestReceived', 'PlacementDecided', 'MigrationStarted']);
    expect(world.dc.vms.filter((vm) => vm.inMigration)).toHaveLength(1);
    const restarted = world.newManager('second', inner);
    const report = await world.run(restarted.start());
    expect(report).toMatchObject({ resumed: 1, requeued: 0 });
    await world.settle();
    const types = await world.typesOf(requestId);
    expect(types.filter((t) => t === 'MigrationCompleted')).toHaveLength(2);
    expect(types.at(-1)).toBe('RequestCompleted');
    expect((await dataOf(world, requestId, 'RequestCompleted'))[0].outcome).toBe('completed');
    expect(await world.hostOf('vm-0')).toBe('host-3');
    expect(world.dc.powerStates[1]).toBe('asleep');
    expect(snapshotDataCentre(await world.replayStrictly())).toEqual(snapshotDataCentre(restarted.dataCentre));
  });

  test('a request received but not decided before the crash is decided after the restart', async () => {
    const inner = new MemoryEventLog();
    const crashable = new CrashableLog(inner);
    const world = new World({ hosts: 4, placement: [1, 3], log: crashable, settings: { automation: 'manual' } });
    await world.start({ 'vm-0': 300, 'vm-1': 200 });
    crashable.crashBefore = 'PlacementDecided';
    const first = await world.request('host-1', 'underload');
    expect(await world.typesOf(first)).toEqual(['RequestReceived']);
    const restarted = world.newManager('second', inner);
    expect(await world.run(restarted.start())).toMatchObject({ resumed: 0, requeued: 1 });
    await world.settle();
    expect(await world.typesOf(first)).toEqual(['RequestReceived', 'PlacementDecided']);
    expect(restarted.openRequests.get(first)?.status).toBe('recommended');
  });
});

describe('a host whose suspend failed is up: the decisions and the projection agree on it (issue 11 D)', () => {
  /** host-1's VM moves to host-2; host-1 is suspended, host-0's suspend fails the first time and works after. */
  async function suspendFailedWorld(): Promise<World> {
    let host0Suspends = 0;
    const world = new World({
      hosts: 3, placement: [1, 2],
      power: (dc) => faultyPower(dc, {
        suspend: (host) => (host === 'host-0' && ++host0Suspends === 1 ? 'fails' : 'done'),
        wake: () => 'done',
      }),
    });
    await world.start({ 'vm-0': 1500, 'vm-1': 1000 });
    const underload = await world.request('host-1', 'underload');
    await world.settle();
    expect(await dataOf(world, underload, 'HostSuspendFailed')).toEqual([expect.objectContaining({ host: 'host-0' })]);
    expect(world.manager.dataCentre.hosts.get('host-0')?.power).toBe('suspend-failed');
    return world;
  }

  test('given host-0 suspend-failed, when host-2 reports overload, then host-0 receives the VM without a wake, and the log replays strictly', async () => {
    const world = await suspendFailedWorld();
    const overload = await world.request('host-2', 'overload', ['vm-0']);
    await world.settle();
    expect((await dataOf(world, overload, 'PlacementDecided'))[0]).toMatchObject({ mapping: { 'vm-0': 'host-0' }, hostsToWake: [] });
    expect(await world.typesOf(overload)).toEqual(['RequestReceived', 'PlacementDecided', 'MigrationStarted', 'MigrationCompleted', 'RequestCompleted']);
    expect(await world.hostOf('vm-0')).toBe('host-0');
    expect(world.manager.dataCentre.anomalyCount).toBe(0);
    expect((await world.replayStrictly()).hosts.get('host-0')?.power).toBe('suspend-failed');
  });

  test('given host-0 suspend-failed and idle, when host-2 reports underload with no room elsewhere, then host-0 is suspended again', async () => {
    const world = await suspendFailedWorld();
    const underload = await world.request('host-2', 'underload');
    await world.settle();
    expect((await dataOf(world, underload, 'PlacementDecided'))[0]).toMatchObject({ mapping: {}, hostsToSuspend: ['host-0'] });
    expect(await world.typesOf(underload)).toEqual(['RequestReceived', 'PlacementDecided', 'HostSuspendRequested', 'HostSuspended', 'RequestCompleted']);
    expect(world.dc.powerStates).toEqual(['asleep', 'asleep', 'active']);
    expect(world.manager.dataCentre.anomalyCount).toBe(0);
    expect((await world.replayStrictly()).hosts.get('host-0')?.power).toBe('asleep');
  });
});
