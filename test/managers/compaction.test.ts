import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { snapshotDataCentre } from '../../src/events/dataCentre';
import { MemoryEventLog } from '../../src/log/memory';
import { SQLITE_ARCHIVE_APPLICATION_ID, SqliteEventLog } from '../../src/log/sqlite';
import type { GlobalManager } from '../../src/managers/globalManager';
import { World } from './harness';

let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-compaction-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

const PLACEMENT = [1, 1, 3, 3, 5];
const SAMPLES_MHZ = { 'vm-0': 300, 'vm-1': 200, 'vm-2': 150, 'vm-3': 120, 'vm-4': 90 };
const INTERVAL_S = 300;
const HISTORY_LENGTH = 4;

interface Row {
  readonly position: number;
  readonly type: string;
  readonly stream: string;
  readonly body: string;
}

function rowsOf(path: string, table = 'events'): Row[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(`SELECT position, type, stream, body FROM ${table} ORDER BY position`).all() as Row[];
  } finally {
    db.close();
  }
}

/**
 * Given a manager on a SQLite log whose agents report every interval for
 * `intervals` intervals, and asks now and then (manual automation: plans stay
 * open), with histories of HISTORY_LENGTH values; host-5's agent goes silent
 * after three intervals, so that its VM's history is made of samples older
 * than any retention below, which compaction removes (all but the last).
 * Every other interval a request is refused (as a full queue refuses it),
 * and compaction removes the refusals too.
 */
async function sampledWorld(name: string, intervals: number): Promise<{ world: World; path: string; log: SqliteEventLog }> {
  const path = join(directory, `${name}.sqlite`);
  const log = new SqliteEventLog(path);
  const world = new World({ hosts: 6, placement: PLACEMENT, log, settings: { automation: 'manual', historyLength: HISTORY_LENGTH } });
  await world.start(SAMPLES_MHZ);
  for (let interval = 0; interval < intervals; interval++) {
    world.advance(INTERVAL_S);
    await world.report(Object.fromEntries(Object.entries(SAMPLES_MHZ).map(([vm, mhz]) => [vm, mhz + interval])),
      (host) => host !== 'host-5' || interval < 3);
    if (interval % 3 === 1) await world.request(`host-${[1, 3, 5][interval % 3]}`, 'underload');
    if (interval % 2 === 0) {
      await world.run(world.manager.reject({ host: 'host-3', status: 503 - (interval % 4), reason: 'the queue is full', protocol: 'neat', remoteAddress: null }));
    }
    await world.settle();
  }
  return { world, path, log };
}

function stateOf(manager: GlobalManager): unknown {
  return { dataCentre: snapshotDataCentre(manager.dataCentre), openRequests: manager.openRequests, counters: manager.counters };
}

describe('sample compaction: the log keeps the samples of the retention, and still folds to the state it had', () => {
  test('samples older than the retention move to the archive; a restart on the compacted log ends in the live state', async () => {
    const { world, path, log } = await sampledWorld('archived', 12);
    const archive = `${path}.archive`;
    const before = rowsOf(path);
    const live = world.manager;
    // When the samples older than 5 intervals are compacted,
    const result = await world.run(live.compactSamples(5 * INTERVAL_S * 1000, archive));
    expect(result).not.toBeNull();
    const { throughPosition, checkpointPosition, removed } = result!;
    // then the samples at or before the cut are gone, but each host's last, and nothing else is;
    const after = rowsOf(path);
    const lastOfStream = new Map<string, number>();
    for (const row of before) if (row.type === 'UtilizationSampled') lastOfStream.set(row.stream, row.position);
    // (a request that moved nothing goes whole: a stored body is [position, id, stream, revision, type, version, data, …]),
    const idleStreams = new Set(before.filter((row) => row.type === 'RequestCompleted' && row.position <= throughPosition
      && ['nothing-to-do', 'superseded'].includes((JSON.parse(row.body) as [unknown, unknown, unknown, unknown, unknown, unknown, { outcome: string }])[6].outcome))
      .map((row) => row.stream));
    const expectedGone = before.filter((row) => row.position <= throughPosition && (row.type === 'RequestRejected' || idleStreams.has(row.stream)
      || (row.type === 'UtilizationSampled' && lastOfStream.get(row.stream) !== row.position)));
    expect(removed).toBe(expectedGone.length);
    expect(expectedGone.filter((row) => row.type === 'UtilizationSampled').length).toBeGreaterThan(0);
    expect(expectedGone.filter((row) => row.type === 'RequestRejected').length).toBeGreaterThan(1);
    expect(expectedGone.filter((row) => row.type === 'RequestReceived').length).toBeGreaterThan(0);
    const gone = new Set(expectedGone.map((row) => row.position));
    expect(after.filter((row) => row.position < checkpointPosition)).toEqual(before.filter((row) => !gone.has(row.position)));
    // they are in the archive, byte for byte;
    expect(rowsOf(archive)).toEqual(expectedGone);
    // the samples of the retention are all still there;
    expect(after.some((row) => row.type === 'UtilizationSampled' && row.position > throughPosition)).toBe(true);
    expect(live.dataCentre.vms.get('vm-4')?.cpuMhzHistory.length).toBe(4);
    // a reader of the log (a what-if export, a report) reads the whole history, archive and all;
    const reader = SqliteEventLog.openExisting(path);
    expect(reader.archives).toEqual([archive]);
    expect((await reader.readAll(1, 10_000)).map((e) => e.position)).toEqual([...before.map((row) => row.position), checkpointPosition]);
    await reader.close();
    // the log reads across its gaps, and a restart that folds it whole ends in the live state;
    expect(after.length).toBeLessThan(10_000);
    expect((await log.readAll(1, 10_000)).map((e) => e.position)).toEqual(after.map((row) => row.position));
    const restarted = world.newManager('second');
    expect(await world.run(restarted.start())).toMatchObject({ events: after.length, snapshot: { used: 'none' } });
    // (the refusals it removed still counted, by status),
    expect(stateOf(restarted)).toEqual(stateOf(live));
    expect([...restarted.counters.requestsRejected.values()].reduce((a, b) => a + b, 0)).toBe(6);
    expect(snapshotDataCentre(await world.replayStrictly())).toEqual(snapshotDataCentre(live.dataCentre));
    // and the service goes on: its streams' revisions follow on from what is kept.
    world.advance(INTERVAL_S);
    await world.report(SAMPLES_MHZ);
    const [open] = [...restarted.openRequests.values()].filter((r) => r.status === 'recommended');
    expect(await world.run(restarted.approve(open.requestId, 'test'))).toBe('done');
    await world.settle();
    expect(snapshotDataCentre(await world.replayStrictly())).toEqual(snapshotDataCentre(restarted.dataCentre));
    await log.close();
  });

  test('a second compaction starts where the first ended; without an archive the samples are dropped', async () => {
    const { world, path, log } = await sampledWorld('twice', 16);
    const first = await world.run(world.manager.compactSamples(10 * INTERVAL_S * 1000, null));
    const second = await world.run(world.manager.compactSamples(5 * INTERVAL_S * 1000, null));
    expect(second?.fromPosition).toBe(first!.throughPosition + 1);
    expect(second?.removed).toBeGreaterThan(0);
    expect(existsSync(`${path}.archive`)).toBe(false);
    const live = stateOf(world.manager);
    const restarted = world.newManager('second');
    await world.run(restarted.start());
    expect(stateOf(restarted)).toEqual(live);
    await log.close();
  });

  test('a later compaction takes the checkpoints its own supersedes; a restart still ends in the live state', async () => {
    const { world, path, log } = await sampledWorld('superseded', 12);
    const archive = `${path}.archive`;
    const first = await world.run(world.manager.compactSamples(5 * INTERVAL_S * 1000, archive));
    for (let interval = 0; interval < 6; interval++) {
      world.advance(INTERVAL_S);
      await world.report(SAMPLES_MHZ);
    }
    const second = await world.run(world.manager.compactSamples(5 * INTERVAL_S * 1000, archive));
    expect(second!.throughPosition).toBeGreaterThanOrEqual(first!.checkpointPosition);
    const checkpoints = (table: string): number[] => rowsOf(table === 'events' ? path : archive).filter((row) => row.type === 'SamplesCompacted').map((row) => row.position);
    expect(checkpoints('events')).toEqual([second!.checkpointPosition]);
    expect(checkpoints('archive')).toEqual([first!.checkpointPosition]);
    const live = stateOf(world.manager);
    const restarted = world.newManager('second');
    await world.run(restarted.start());
    expect(stateOf(restarted)).toEqual(live);
    await log.close();
  });

  test('an archive a killed first run left with its id and no table yet gets its table, and takes the samples', async () => {
    const { world, path, log } = await sampledWorld('half-made-archive', 12);
    const archive = `${path}.archive`;
    const halfMade = new Database(archive);
    halfMade.pragma(`application_id = ${SQLITE_ARCHIVE_APPLICATION_ID}`);
    halfMade.close();
    const result = await world.run(world.manager.compactSamples(5 * INTERVAL_S * 1000, archive));
    expect(result?.removed).toBeGreaterThan(0);
    expect(rowsOf(archive)).toHaveLength(result!.removed);
    await log.close();
  });

  test('nothing older than the retention: nothing to do', async () => {
    const { world, log } = await sampledWorld('young', 2);
    expect(await world.run(world.manager.compactSamples(100 * INTERVAL_S * 1000, null))).toBeNull();
    await log.close();
  });

  test('a log that keeps every event says so', async () => {
    const world = new World({ hosts: 2, placement: [0], log: new MemoryEventLog() });
    await world.start({ 'vm-0': 100 });
    world.advance(3600);
    await expect(world.run(world.manager.compactSamples(60_000, null))).rejects.toThrow(/memory keeps every event: it cannot compact samples/);
  });
});
