import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotDataCentre } from '../../src/events/dataCentre';
import { FileSnapshotStore } from '../../src/log/snapshotFile';
import type { GlobalManager } from '../../src/managers/globalManager';
import { decodeSnapshot, SnapshotError } from '../../src/managers/snapshot';
import { World } from './harness';

let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-snapshot-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

const PLACEMENT = [1, 1, 3, 3, 5, 5];
const SAMPLES_MHZ = { 'vm-0': 300, 'vm-1': 200, 'vm-2': 150, 'vm-3': 120, 'vm-4': 90, 'vm-5': 60 };

interface Run {
  readonly world: World;
  readonly store: FileSnapshotStore;
  readonly problems: string[];
}

/**
 * Given a manager that keeps a snapshot every `intervalEvents` events, when it
 * works through a few intervals of samples and requests (manual automation: the
 * plans stay open as recommendations, so the snapshot holds open requests).
 */
async function busyWorld(name: string, intervalEvents: number, managerSeed = 'first'): Promise<Run> {
  const store = new FileSnapshotStore(join(directory, `${name}.snapshot`));
  const problems: string[] = [];
  const world = new World({
    hosts: 6, placement: PLACEMENT, settings: { automation: 'manual' },
    snapshots: { store, intervalEvents, onProblem: (message) => { problems.push(message); } },
  });
  if (managerSeed !== 'first') world.newManager(managerSeed);
  await world.start(SAMPLES_MHZ);
  for (let interval = 0; interval < 4; interval++) {
    world.advance(300);
    await world.report(Object.fromEntries(Object.entries(SAMPLES_MHZ).map(([vm, mhz]) => [vm, mhz + 10 * interval])));
    await world.request(`host-${[1, 3, 5, 1][interval]}`, 'underload');
    await world.settle();
  }
  return { world, store, problems };
}

function stateOf(manager: GlobalManager): unknown {
  return { dataCentre: snapshotDataCentre(manager.dataCentre), openRequests: manager.openRequests, counters: manager.counters };
}

describe('snapshots: a restart folds only the events after the snapshot, and ends where a fold of the whole log does', () => {
  test.each([1, 2, 5, 13, 29])('a snapshot every %i events', async (intervalEvents) => {
    const { world, problems } = await busyWorld(`every-${intervalEvents}`, intervalEvents);
    const live = world.manager;
    const head = await world.log.headPosition();
    expect(head).toBeGreaterThan(29);
    expect(live.openRequests.size).toBeGreaterThan(0);
    const restarted = world.newManager('second');
    const report = await world.run(restarted.start());
    expect(report.snapshot.used).toBe('restored');
    const position = report.snapshot.used === 'restored' ? report.snapshot.position : -1;
    expect(position + report.events).toBe(head);
    expect(report.events).toBeLessThan(intervalEvents);
    expect(stateOf(restarted)).toEqual(stateOf(live));
    // Then it goes on: a recommended plan approved is carried out, appended at the streams' right revisions.
    const [open] = [...restarted.openRequests.values()].filter((r) => r.status === 'recommended');
    expect(await world.run(restarted.approve(open.requestId, 'test'))).toBe('done');
    await world.settle();
    expect(restarted.openRequests.has(open.requestId)).toBe(false);
    expect(snapshotDataCentre(await world.replayStrictly())).toEqual(snapshotDataCentre(restarted.dataCentre));
    expect(problems).toEqual([]);
  });

  test('a clean stop leaves a snapshot of the last event: the next start folds nothing', async () => {
    const { world } = await busyWorld('stop', 1_000_000);
    const live = world.manager;
    await world.run(live.stop());
    const restarted = world.newManager('second');
    const report = await world.run(restarted.start());
    expect(report).toMatchObject({ events: 0, snapshot: { used: 'restored', position: await world.log.headPosition() } });
    expect(stateOf(restarted)).toEqual(stateOf(live));
  });
});

describe('a snapshot that fails a check is reported and refused, and the whole log is folded: nothing is lost', () => {
  async function restartOn(run: Run, damage: (text: Buffer) => Buffer | string): Promise<{ reason: string; restarted: GlobalManager; live: GlobalManager }> {
    const live = run.world.manager;
    writeFileSync(run.store.path, damage(readFileSync(run.store.path)));
    const restarted = run.world.newManager('second');
    const report = await run.world.run(restarted.start());
    expect(report.events).toBe(await run.world.log.headPosition());
    expect(report.snapshot.used).toBe('refused');
    expect(stateOf(restarted)).toEqual(stateOf(live));
    expect(run.problems).toHaveLength(1);
    return { reason: report.snapshot.used === 'refused' ? report.snapshot.reason : '', restarted, live };
  }

  test('truncated', async () => {
    const { reason } = await restartOn(await busyWorld('truncated', 7), (data) => data.subarray(0, Math.floor(data.length * 0.6)));
    expect(reason).toMatch(/truncated/);
  });

  test('a damaged byte in the body', async () => {
    const { reason } = await restartOn(await busyWorld('damaged', 7), (data) => {
      const copy = Buffer.from(data);
      const at = copy.indexOf('"hosts"'.charCodeAt(0), copy.indexOf(0x0a) + 10);
      copy[at + 3] ^= 0x01;
      return copy;
    });
    expect(reason).toMatch(/checksum/);
  });

  test('of another version', async () => {
    const { reason } = await restartOn(await busyWorld('version', 7), (data) => data.toString('utf8').replace('"version":1,', '"version":2,'));
    expect(reason).toMatch(/version 2; this build reads version 1/);
  });

  test('not a snapshot at all', async () => {
    const { reason } = await restartOn(await busyWorld('garbage', 7), () => 'SQLite format 3\0 and then some');
    expect(reason).toMatch(/header/);
  });

  test('of another log', async () => {
    // The same world with other ids: a log of the same length and shape, whose events differ.
    const other = await busyWorld('other', 5, 'other-log');
    const run = await busyWorld('mine', 5);
    const { reason } = await restartOn({ ...run, store: run.store }, () => readFileSync(other.store.path));
    expect(reason).toMatch(/another log/);
  });

  test('the snapshot refused is replaced by the next one written', async () => {
    const run = await busyWorld('replaced', 7);
    const { restarted } = await restartOn(run, (data) => data.subarray(0, 10));
    await run.world.run(restarted.stop());
    expect(() => decodeSnapshot(readFileSync(run.store.path), 100)).not.toThrow();
    expect(existsSync(`${run.store.path}.tmp`)).toBe(false);
  });
});

test('decodeSnapshot refuses histories of another length than the configuration\'s', async () => {
  const { store } = await busyWorld('history', 5);
  expect(() => decodeSnapshot(readFileSync(store.path), 50)).toThrow(SnapshotError);
  expect(() => decodeSnapshot(readFileSync(store.path), 50)).toThrow(/histories of 100 values; the configuration asks for 50/);
});

test('a refused request leaves nothing behind in the journal: the snapshot keeps no stream of it', async () => {
  const { world, store } = await busyWorld('refused', 1_000_000);
  const refused = await world.run(world.manager.reject({ host: 'host-1', status: 503, reason: 'queue full', protocol: 'neat', remoteAddress: null }));
  await world.run(world.manager.stop());
  const { streamRevisions } = decodeSnapshot(readFileSync(store.path), 100);
  expect(streamRevisions.map(([stream]) => stream)).not.toContain(`request-${refused}`);
  expect(streamRevisions.some(([stream]) => stream.startsWith('samples-'))).toBe(true);
});
