/**
 * Issue 11: the global manager with the production Nova driver, over real HTTP
 * on 127.0.0.1, against a Nova stand-in that takes os-migrateLive on a reused
 * keep-alive connection and then loses the answer (stalls it, drops the
 * connection, answers 409 or 502). Real timers, short settings. A VM gets
 * os-migrateLive at most once per attempt that provably failed, and the log
 * ends in agreement with the stand-in.
 */
import { systemClock, systemTimer } from '../../src/clock';
import { KeystoneSession } from '../../src/drivers/keystone';
import { NovaCloud } from '../../src/drivers/nova';
import type { EventData, EventType } from '../../src/events/catalogue';
import type { RecordedEvent } from '../../src/events/envelope';
import { randomIds } from '../../src/ids';
import { MemoryEventLog } from '../../src/log/memory';
import { GlobalManager } from '../../src/managers/globalManager';
import type { ManagerSettings } from '../../src/managers/globalManager';
import { Journal } from '../../src/managers/journal';
import { PowerError } from '../../src/managers/ports';
import type { Power } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { NovaStandIn } from '../support/novaStandIn';
import type { ActionAnswer } from '../support/novaStandIn';
import { NEAT_LIKE } from './harness';

const HOSTS = ['compute-1', 'compute-2', 'compute-3'];
const MOVED = ['vm-a', 'vm-b'];
const SETTINGS: ManagerSettings = {
  ...NEAT_LIKE, migrationInitialWaitMs: 50, migrationPollIntervalMs: 50, migrationTimeoutMs: 2_000, migrationMaxAttempts: 3,
};
/** The driver gives up on an answer after this: shorter than the stand-in's migrations, so a stalled answer is lost mid-way. */
const NOVA_TIMEOUT_MS = 300;

/** An overload plan moves VMs and switches nothing: a call to Power fails the test. */
const NO_POWER: Power = {
  suspend: (host) => Promise.reject(new PowerError(`this test suspends no host (asked: ${host})`)),
  wake: (host) => Promise.reject(new PowerError(`this test wakes no host (asked: ${host})`)),
};

let standIn: NovaStandIn | null = null;
afterEach(async () => { await standIn?.close(); });

interface Run {
  readonly standIn: NovaStandIn;
  readonly manager: GlobalManager;
  readonly events: readonly RecordedEvent[];
  /** The plan's target of each VM. */
  readonly mapping: Readonly<Record<string, string>>;
}

/** compute-1 runs vm-a and vm-b and reports them overloaded; compute-2 runs vm-c. */
async function overload(answers: readonly ActionAnswer[]): Promise<Run> {
  const started = await NovaStandIn.start({
    hosts: HOSTS, migrationMs: 400, answers,
    servers: [{ id: 'vm-a', host: 'compute-1' }, { id: 'vm-b', host: 'compute-1' }, { id: 'vm-c', host: 'compute-2' }],
  });
  standIn = started;
  const session = new KeystoneSession({
    authUrl: started.authUrl, user: 'admin', password: 'x', userDomainName: 'Default', project: 'admin', projectDomainName: 'Default',
    interface: 'public', region: null, timeoutMs: NOVA_TIMEOUT_MS, ca: null, clock: systemClock, renewBeforeMs: 60_000,
  });
  const cloud = new NovaCloud({
    session, microversion: '2.87', computeHosts: HOSTS, vcpuMhz: 2000, blockMigration: false, timeoutMs: NOVA_TIMEOUT_MS, ca: null,
    maxAttempts: 3, backoffMs: 20, timer: systemTimer, warn: () => undefined,
  });
  const log = new MemoryEventLog();
  const manager = new GlobalManager({
    cloud, power: NO_POWER, timer: systemTimer, journal: new Journal(log, { ids: randomIds, clock: systemClock, source: 'global-manager' }),
    ids: randomIds, rng: createRng('lost-answers'),
  }, SETTINGS);
  await manager.start();
  await manager.recordSample({ host: 'compute-1', hypervisorCpuMhz: 0, vms: MOVED.map((vmId) => ({ vmId, cpuMhz: 500, ramMb: null })) });
  await manager.recordSample({ host: 'compute-2', hypervisorCpuMhz: 0, vms: [{ vmId: 'vm-c', cpuMhz: 500, ramMb: null }] });
  const submitted = await manager.submit({ host: 'compute-1', reason: 'overload', vmIds: MOVED, protocol: 'in-process', remoteAddress: null, clientTimeS: null });
  if (submitted.status !== 'accepted') throw new Error(`request refused: ${submitted.status}`);
  await manager.idle();
  const events = await log.readStream(`request-${submitted.requestId}`);
  const decided = dataOf(events, 'PlacementDecided');
  expect(decided).toHaveLength(1);
  expect(Object.keys(decided[0].mapping).sort()).toEqual(MOVED);
  return { standIn: started, manager, events, mapping: decided[0].mapping };
}

function dataOf<T extends EventType>(events: readonly RecordedEvent[], type: T): EventData<T>[] {
  return events.filter((e) => e.type === type).map((e) => e.data as EventData<T>);
}

/** Where the manager's data-centre projection has each VM. */
function loggedPlacement(manager: GlobalManager): Record<string, string | null> {
  return Object.fromEntries([...manager.dataCentre.vms.values()].map((vm) => [vm.id, vm.host]));
}

describe('os-migrateLive taken on a reused connection, its answer lost: followed, never sent again', () => {
  test.each(['stall', 'drop', 'bad-gateway'] as const)('%s: each VM gets one action, both move, and the log says 2 of 2', async (answer) => {
    const run = await overload([answer, answer]);
    expect(run.standIn.actions.map((a) => a.answer)).toEqual([answer, answer]);
    expect(run.standIn.actions.every((a) => a.reusedConnection)).toBe(true);
    for (const vmId of MOVED) expect(run.standIn.actionsFor(vmId)).toBe(1);
    expect(run.standIn.placement()).toMatchObject(run.mapping);
    expect(dataOf(run.events, 'MigrationStarted')).toHaveLength(2);
    expect(dataOf(run.events, 'MigrationFailed')).toEqual([]);
    expect(dataOf(run.events, 'MigrationCompleted').map((m) => m.vmId).sort()).toEqual(MOVED);
    expect(dataOf(run.events, 'RequestCompleted')).toEqual([expect.objectContaining({
      outcome: 'completed', migrationsCompleted: 2, migrationsFailed: 0, detail: expect.stringMatching(/^2 of 2 migration\(s\) completed/) as unknown,
    })]);
    expect(loggedPlacement(run.manager)).toEqual(run.standIn.placement());
    expect(run.manager.dataCentre.anomalyCount).toBe(0);
  });

  test('409 because the VM is migrating already: the VM is followed until it settles on the target, which counts as migrated', async () => {
    const run = await overload(['conflict', 'conflict']);
    for (const vmId of MOVED) expect(run.standIn.actionsFor(vmId)).toBe(1);
    expect(run.standIn.placement()).toMatchObject(run.mapping);
    const conflict = expect.objectContaining({ attempt: 1, retryable: true, error: expect.stringMatching(/HTTP 409/) as unknown }) as unknown;
    expect(dataOf(run.events, 'MigrationFailed')).toEqual([conflict, conflict]);
    expect(dataOf(run.events, 'MigrationSkipped').map((s) => s.reason)).toEqual(['already-on-target', 'already-on-target']);
    expect(dataOf(run.events, 'RequestCompleted')).toEqual([expect.objectContaining({
      outcome: 'completed', migrationsCompleted: 2, detail: expect.stringMatching(/^2 of 2 migration\(s\) completed/) as unknown,
    })]);
    expect(loggedPlacement(run.manager)).toEqual(run.standIn.placement());
    expect(run.manager.dataCentre.anomalyCount).toBe(0);
  });

  test('the connection dropped before Nova acted: the migration fails, is not sent again, and the log keeps the VM on its source', async () => {
    const run = await overload(['drop-unapplied']);
    const [dropped] = run.standIn.actions;
    expect(dropped).toMatchObject({ answer: 'drop-unapplied', reusedConnection: true });
    const other = MOVED.find((vmId) => vmId !== dropped.vmId) ?? '';
    expect(run.standIn.actionsFor(dropped.vmId)).toBe(1);
    expect(run.standIn.placement()).toMatchObject({ [dropped.vmId]: 'compute-1', [other]: run.mapping[other] });
    expect(dataOf(run.events, 'MigrationFailed')).toEqual([expect.objectContaining({
      vmId: dropped.vmId, attempt: 1, retryable: false, error: expect.stringMatching(/answer to the start was lost.*not asked for again/) as unknown,
    })]);
    expect(dataOf(run.events, 'MigrationAbandoned')).toEqual([expect.objectContaining({ vmId: dropped.vmId, attempts: 1 })]);
    expect(dataOf(run.events, 'RequestCompleted')).toEqual([expect.objectContaining({
      outcome: 'partial', migrationsCompleted: 1, migrationsFailed: 1, detail: expect.stringMatching(/^1 of 2 migration\(s\) completed/) as unknown,
    })]);
    expect(loggedPlacement(run.manager)).toEqual(run.standIn.placement());
    expect(run.manager.dataCentre.anomalyCount).toBe(0);
  });
});
