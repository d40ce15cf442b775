/**
 * Sample retention on PostgreSQL under SIGKILL: a compaction killed at seeded
 * moments (within one of its chunk statements, or between two) leaves every
 * event in the log or in its archive table, once and unchanged; the log reads
 * across the gaps; and running it again gives exactly what an uninterrupted
 * run gives.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { assert } from '../../src/engine/assert';
import { PostgresEventLog } from '../../src/log/postgres';
import { createRng } from '../../src/rng';
import { compactableLog, compactAndKill, readableEvents } from '../support/compactionChild';
import type { KillAt } from '../support/compactionChild';
import { requirePostgres, startPostgres } from '../support/postgres';
import type { PostgresServer } from '../support/postgres';

const KILLS = 10;
const HOSTS = 8;
const SAMPLES_PER_HOST = 6_000;
const BATCH_EVENTS = 500;
const START_TIMEOUT_MS = 120_000;
/** The worker's sessions' application_name: the test waits for them to end (a statement in flight runs on after its client is killed). */
const WORKER_APPLICATION = 'neat-compaction-worker';

interface Row {
  readonly position: string;
  readonly event_id: string;
  readonly stream: string;
  readonly revision: string;
  readonly type: string;
  readonly body: string;
}

function digestOf(rows: readonly Row[]): string {
  const hash = createHash('sha256');
  for (const row of rows) hash.update(JSON.stringify(row));
  return hash.digest('hex');
}

if (requirePostgres()) {
  let server: PostgresServer;
  let admin: Client;
  let throughPosition: number;

  async function rowsOf(schema: string, table: string): Promise<Row[]> {
    const exists = await admin.query('SELECT to_regclass($1) AS t', [`${schema}.${table}`]);
    if ((exists.rows[0] as { t: string | null }).t === null) return [];
    return (await admin.query<Row>(`SELECT position, event_id, stream, revision, type, body FROM ${schema}.${table} ORDER BY position`)).rows;
  }

  /** A copy of the prepared log in schema `name`: its tables made by the adapter, its rows copied. */
  async function copyOfPristine(name: string): Promise<void> {
    const log = new PostgresEventLog(server.url, { schema: name });
    await log.headPosition();
    await log.close();
    await admin.query(`INSERT INTO ${name}.events SELECT * FROM pristine.events; UPDATE ${name}.log_head SET position = (SELECT position FROM pristine.log_head)`);
  }

  /** Given a log of HOSTS sample streams, then the checkpoint that makes the samples through `throughPosition` redundant. */
  beforeAll(async () => {
    server = await startPostgres();
    admin = new Client({ connectionString: server.url });
    await admin.connect();
    const log = new PostgresEventLog(server.url, { schema: 'pristine' });
    throughPosition = await compactableLog(log, {
      hosts: HOSTS, samplesPerHost: SAMPLES_PER_HOST, batchEvents: BATCH_EVENTS, archive: 'pristine.events_archive', seed: 'postgres-compaction-kill',
    });
    await log.close();
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    await admin.end();
    server.remove();
  });

  /**
   * The server runs a statement whose client was killed to its end (or its
   * abort), and only then notices: what the kill left is known once the
   * worker's sessions are gone.
   */
  async function sessionsEnded(): Promise<void> {
    for (let poll = 0; poll < 600; poll++) {
      const left = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [WORKER_APPLICATION]);
      if ((left.rows[0] as { n: number }).n === 0) return;
      await new Promise((resolve) => { setTimeout(resolve, 50); });
    }
    throw new Error('the killed compaction\'s sessions did not end within 30 s');
  }

  /** The compaction of the log in `schema` in a child (postgresCompactionWorker.ts). */
  function compactSchema(schema: string, killAt: KillAt | null): ReturnType<typeof compactAndKill> {
    return compactAndKill([join(__dirname, 'postgresCompactionWorker.js'), server.url, schema, String(throughPosition), WORKER_APPLICATION], killAt);
  }

  test(`a compaction SIGKILLed at ${KILLS} seeded moments leaves every event once in the log or its archive, and finishing it gives an uninterrupted one's tables`, async () => {
    const originalRows = await rowsOf('pristine', 'events');
    const original = digestOf(originalRows);
    await copyOfPristine('reference');
    const uninterrupted = await compactSchema('reference', null);
    assert(uninterrupted !== 'killed', 'the reference compaction runs to its end');
    const compacted = digestOf(await rowsOf('reference', 'events'));
    const archivedRows = await rowsOf('reference', 'events_archive');
    expect(archivedRows.length).toBeGreaterThan(HOSTS * SAMPLES_PER_HOST * 0.7);
    const archived = digestOf(archivedRows);
    const rng = createRng('postgres-compaction-kill');
    let killed = 0;
    for (let round = 0; round < KILLS; round++) {
      const schema = `round_${round}`;
      await copyOfPristine(schema);
      const perChunkMs = uninterrupted.durationMs / (uninterrupted.chunks + 1);
      const killAt = { chunks: Math.floor(rng.next() * (uninterrupted.chunks + 1)), afterMs: Math.floor(rng.next() * perChunkMs / 2) };
      if (await compactSchema(schema, killAt) === 'killed') killed += 1;
      await sessionsEnded();
      // The log reads across whatever gaps the killed run left; with the archive, it holds every event once, unchanged.
      const log = new PostgresEventLog(server.url, { schema });
      const read = await readableEvents(log);
      await log.close();
      const main = await rowsOf(schema, 'events');
      expect(read).toBe(main.length);
      const byPosition = new Map((await rowsOf(schema, 'events_archive')).map((row) => [row.position, row]));
      for (const row of main) {
        expect(byPosition.has(row.position)).toBe(false);
        byPosition.set(row.position, row);
      }
      expect(digestOf([...byPosition.values()].sort((a, b) => Number(a.position) - Number(b.position)))).toBe(original);
      // Run again, it finishes the work: the same tables as a run never interrupted.
      expect(await compactSchema(schema, null)).not.toBe('killed');
      expect(digestOf(await rowsOf(schema, 'events'))).toBe(compacted);
      expect(digestOf(await rowsOf(schema, 'events_archive'))).toBe(archived);
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
    expect(killed).toBeGreaterThan(KILLS / 2);
  }, 240_000);
} else {
  test.skip('skipped: install postgresql (apt-get install postgresql) to run the PostgreSQL compaction kill test', () => undefined);
}
