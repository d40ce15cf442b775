/**
 * Sample retention on PostgreSQL under SIGKILL: a compaction killed at seeded
 * moments (within one of its chunk statements, or between two) leaves every
 * event in the log or in its archive table, once and unchanged; the log reads
 * across the gaps; and running it again gives exactly what an uninterrupted
 * run gives.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { assert } from '../../src/engine/assert';
import { initialDataCentreState } from '../../src/events/dataCentre';
import { encodeDataCentre } from '../../src/events/dataCentreSnapshot';
import { PostgresEventLog } from '../../src/log/postgres';
import { NO_STREAM } from '../../src/log/port';
import { createRng } from '../../src/rng';
import { TestEvents } from '../support/events';
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
    const make = new TestEvents('postgres-compaction-kill');
    const revisions = new Array<number>(HOSTS).fill(NO_STREAM);
    for (let batch = 0; batch < (HOSTS * SAMPLES_PER_HOST) / BATCH_EVENTS; batch++) {
      const host = batch % HOSTS;
      const events = Array.from({ length: BATCH_EVENTS }, (_, i) => make.sample(`host-${host}`, { [`vm-${host}`]: i }));
      revisions[host] = (await log.append(`samples-host-${host}`, events, revisions[host])).streamRevision;
    }
    throughPosition = Math.floor((await log.headPosition()) * 0.8);
    await log.append('compactions', [make.make('SamplesCompacted', {
      throughPosition, archive: 'pristine.events_archive', dataCentre: encodeDataCentre(initialDataCentreState({ historyLength: 10, strict: false })),
    })], NO_STREAM);
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

  /** Runs the compaction in a child, SIGKILLs it after `killAt.chunks` writes and `afterMs` (or lets it finish). */
  function compactAndKill(schema: string, killAt: { chunks: number; afterMs: number } | null): Promise<'killed' | { durationMs: number; chunks: number }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [join(__dirname, 'postgresCompactionWorker.js'), server.url, schema, String(throughPosition), WORKER_APPLICATION], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
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

  test(`a compaction SIGKILLed at ${KILLS} seeded moments leaves every event once in the log or its archive, and finishing it gives an uninterrupted one's tables`, async () => {
    const originalRows = await rowsOf('pristine', 'events');
    const original = digestOf(originalRows);
    await copyOfPristine('reference');
    const uninterrupted = await compactAndKill('reference', null);
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
      if (await compactAndKill(schema, killAt) === 'killed') killed += 1;
      await sessionsEnded();
      // The log reads across whatever gaps the killed run left; with the archive, it holds every event once, unchanged.
      const log = new PostgresEventLog(server.url, { schema });
      let position = 1;
      let read = 0;
      for (let page = 0; page < 1000; page++) {
        const events = await log.readAll(position, 10_000);
        read += events.length;
        if (events.length < 10_000) break;
        position = events[events.length - 1].position + 1;
      }
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
      expect(await compactAndKill(schema, null)).not.toBe('killed');
      expect(digestOf(await rowsOf(schema, 'events'))).toBe(compacted);
      expect(digestOf(await rowsOf(schema, 'events_archive'))).toBe(archived);
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    }
    expect(killed).toBeGreaterThan(KILLS / 2);
  }, 240_000);
} else {
  test.skip('skipped: install postgresql (apt-get install postgresql) to run the PostgreSQL compaction kill test', () => undefined);
}
