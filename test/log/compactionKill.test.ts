import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { assert } from '../../src/engine/assert';
import { initialDataCentreState } from '../../src/events/dataCentre';
import { encodeDataCentre } from '../../src/events/dataCentreSnapshot';
import { SqliteEventLog } from '../../src/log/sqlite';
import { NO_STREAM } from '../../src/log/port';
import { createRng } from '../../src/rng';
import { TestEvents } from '../support/events';

const KILLS = 10;
const HOSTS = 8;
const SAMPLES_PER_HOST = 8_000;
const BATCH_EVENTS = 500;

interface Row {
  readonly position: number;
  readonly event_id: string;
  readonly stream: string;
  readonly revision: number;
  readonly type: string;
  readonly body: string;
}

let directory: string;
let pristine: string;
let throughPosition: number;

function rowsOf(path: string, table = 'events'): Row[] {
  if (!existsSync(path)) return [];
  // Not read-only: an archive killed mid-write has a hot journal, which the next connection rolls back.
  const db = new Database(path, { fileMustExist: true });
  try {
    // Killed before it made its table, an archive is an empty file: the next compaction makes it.
    if (db.prepare("SELECT count(*) FROM sqlite_master WHERE name = ?").pluck().get(table) === 0) return [];
    return db.prepare(`SELECT position, event_id, stream, revision, type, body FROM ${table} ORDER BY position`).all() as Row[];
  } finally {
    db.close();
  }
}

/** Given a log of HOSTS sample streams, then the checkpoint that makes the samples through `throughPosition` redundant. */
beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'neat-compaction-kill-'));
  pristine = join(directory, 'pristine.sqlite');
  const log = new SqliteEventLog(pristine, { durable: false });
  const make = new TestEvents('compaction-kill');
  const revisions = new Array<number>(HOSTS).fill(NO_STREAM);
  for (let batch = 0; batch < (HOSTS * SAMPLES_PER_HOST) / BATCH_EVENTS; batch++) {
    const host = batch % HOSTS;
    const events = Array.from({ length: BATCH_EVENTS }, (_, i) => make.sample(`host-${host}`, { [`vm-${host}`]: i }));
    revisions[host] = (await log.append(`samples-host-${host}`, events, revisions[host])).streamRevision;
  }
  throughPosition = Math.floor((await log.headPosition()) * 0.8);
  await log.append('compactions', [make.make('SamplesCompacted', {
    throughPosition, archive: 'archive', dataCentre: encodeDataCentre(initialDataCentreState({ historyLength: 10, strict: false })),
  })], NO_STREAM);
  await log.close();
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** The rows' digest: comparing tens of thousands of rows field by field would take the test's time. */
function digestOf(rows: readonly Row[]): string {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(JSON.stringify(row));
  return hash.digest('hex');
}

interface KillAt {
  /** After this many of the compaction's writes (0: after its start). */
  readonly chunks: number;
  readonly afterMs: number;
}

/** Runs the compaction in a child, SIGKILLs it at `killAt` (or lets it finish): `killed`, or how long the compaction took and in how many writes. */
function compactAndKill(path: string, archive: string, killAt: KillAt | null): Promise<'killed' | { durationMs: number; chunks: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'compactionWorker.js'), path, archive, String(throughPosition)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    let armed = false;
    const mark = killAt === null ? null : killAt.chunks === 0 ? 'start\n' : `chunk ${killAt.chunks}\n`;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (mark === null || armed || !stdout.includes(mark)) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), killAt!.afterMs);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const done = /done \d+ (\d+) (\d+)/.exec(stdout);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && done !== null) resolve({ durationMs: Number(done[1]), chunks: Number(done[2]) });
      else reject(new Error(`the compaction failed (code ${String(code)}): ${stderr}`));
    });
  });
}

test(`a compaction SIGKILLed at ${KILLS} seeded moments leaves a consistent log, and finishing it gives what an uninterrupted one gives`, async () => {
  const originalRows = rowsOf(pristine);
  const original = digestOf(originalRows);
  const originalCount = originalRows.length;
  const reference = join(directory, 'reference.sqlite');
  copyFileSync(pristine, reference);
  const uninterrupted = await compactAndKill(reference, `${reference}.archive`, null);
  assert(uninterrupted !== 'killed', 'the reference compaction runs to its end');
  const compacted = digestOf(rowsOf(reference));
  const archivedRows = rowsOf(`${reference}.archive`);
  expect(archivedRows.length).toBeGreaterThan(HOSTS * SAMPLES_PER_HOST * 0.7);
  const archived = digestOf(archivedRows);
  const rng = createRng('compaction-kill');
  let killed = 0;
  for (let round = 0; round < KILLS; round++) {
    const path = join(directory, `round-${round}.sqlite`);
    const archive = `${path}.archive`;
    copyFileSync(pristine, path);
    // Within one of its writes, seeded: which one, and how far into it.
    const perChunkMs = uninterrupted.durationMs / (uninterrupted.chunks + 1);
    const killAt = { chunks: Math.floor(rng.next() * (uninterrupted.chunks + 1)), afterMs: Math.floor(rng.next() * perChunkMs / 2) };
    if (await compactAndKill(path, archive, killAt) === 'killed') killed += 1;
    // The log, with its archive attached as a reader attaches it, reads whole; together they hold every event once, unchanged.
    const log = SqliteEventLog.openExisting(path);
    let position = 1;
    let read = 0;
    for (let page = 0; page < 1000; page++) {
      const events = await log.readAll(position, 10_000);
      read += events.length;
      if (events.length < 10_000) break;
      position = events[events.length - 1].position + 1;
    }
    await log.close();
    const main = rowsOf(path);
    expect(read).toBe(originalCount);
    const byPosition = new Map(rowsOf(archive).map((row) => [row.position, row]));
    for (const row of main) byPosition.set(row.position, row);
    expect(digestOf([...byPosition.values()].sort((a, b) => a.position - b.position))).toBe(original);
    // A compaction run again finishes the work: the same log and archive as one never interrupted.
    expect(await compactAndKill(path, archive, null)).not.toBe('killed');
    expect(digestOf(rowsOf(path))).toBe(compacted);
    expect(digestOf(rowsOf(archive))).toBe(archived);
    rmSync(path, { force: true });
    rmSync(archive, { force: true });
  }
  expect(killed).toBeGreaterThan(KILLS / 2);
}, 120_000);

test('a gap that no compaction left is a damaged file: reading names the missing position', async () => {
  const path = join(directory, 'damaged.sqlite');
  copyFileSync(pristine, path);
  const db = new Database(path);
  db.prepare('DELETE FROM events WHERE position = 10').run();
  db.close();
  const log = SqliteEventLog.openExisting(path);
  await expect(log.readAll(1, 100)).rejects.toThrow(/position 10.*no compaction removed those between/);
  // Compacted through 10, the same gap is the compaction's, and reads.
  const compacting = new Database(path);
  compacting.prepare('INSERT INTO compactions (through_position, archive, completed) VALUES (10, NULL, 1)').run();
  compacting.close();
  expect((await log.readAll(1, 100)).map((e) => e.position).slice(8, 11)).toEqual([9, 11, 12]);
  await log.close();
});
