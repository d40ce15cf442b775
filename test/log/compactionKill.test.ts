import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { assert } from '../../src/engine/assert';
import { SqliteEventLog } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';
import { compactableLog, compactAndKill, readableEvents } from '../support/compactionChild';
import type { KillAt } from '../support/compactionChild';

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
  throughPosition = await compactableLog(log, { hosts: HOSTS, samplesPerHost: SAMPLES_PER_HOST, batchEvents: BATCH_EVENTS, archive: 'archive', seed: 'compaction-kill' });
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

/** The compaction of `path` into `archive` in a child (compactionWorker.ts). */
function compactPath(path: string, archive: string, killAt: KillAt | null): ReturnType<typeof compactAndKill> {
  return compactAndKill([join(__dirname, 'compactionWorker.js'), path, archive, String(throughPosition)], killAt);
}

test(`a compaction SIGKILLed at ${KILLS} seeded moments leaves a consistent log, and finishing it gives what an uninterrupted one gives`, async () => {
  const originalRows = rowsOf(pristine);
  const original = digestOf(originalRows);
  const originalCount = originalRows.length;
  const reference = join(directory, 'reference.sqlite');
  copyFileSync(pristine, reference);
  const uninterrupted = await compactPath(reference, `${reference}.archive`, null);
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
    if (await compactPath(path, archive, killAt) === 'killed') killed += 1;
    // The log, with its archive attached as a reader attaches it, reads whole; together they hold every event once, unchanged.
    const log = SqliteEventLog.openExisting(path);
    const read = await readableEvents(log);
    await log.close();
    const main = rowsOf(path);
    expect(read).toBe(originalCount);
    const byPosition = new Map(rowsOf(archive).map((row) => [row.position, row]));
    for (const row of main) byPosition.set(row.position, row);
    expect(digestOf([...byPosition.values()].sort((a, b) => a.position - b.position))).toBe(original);
    // A compaction run again finishes the work: the same log and archive as one never interrupted.
    expect(await compactPath(path, archive, null)).not.toBe('killed');
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
