import { Client } from 'pg';
import { PostgresEventLog, POSTGRES_SCHEMA_VERSION } from '../../src/log/postgres';
import { LogFileError, NO_STREAM } from '../../src/log/port';
import { TestEvents } from '../support/events';
import { requirePostgres, startPostgres } from '../support/postgres';
import type { PostgresServer } from '../support/postgres';
import { describeEventLogContract } from './contract';

// initdb and the first start take a few seconds on a busy machine.
const START_TIMEOUT_MS = 120_000;

if (requirePostgres()) {
  let server: PostgresServer;
  let counter = 0;
  let schema = '';

  beforeAll(async () => {
    server = await startPostgres();
  }, START_TIMEOUT_MS);

  afterAll(() => {
    server.remove();
  });

  /** Each log in a schema of its own: a fresh, empty log without a fresh database. */
  function freshSchema(): string {
    counter += 1;
    schema = `log_${counter}`;
    return schema;
  }

  describeEventLogContract('postgresql', {
    open: () => Promise.resolve(new PostgresEventLog(server.url, { schema: freshSchema(), pollIntervalMs: 200 })),
    reopen: () => Promise.resolve(new PostgresEventLog(server.url, { schema, pollIntervalMs: 200 })),
  });

  describe('postgresql: the adapter', () => {
    test('appends from two logs on one database (two processes) serialize into gap-free positions', async () => {
      const name = freshSchema();
      const logs = [new PostgresEventLog(server.url, { schema: name }), new PostgresEventLog(server.url, { schema: name })];
      try {
        const make = new TestEvents();
        const perWriter = 40;
        await Promise.all(logs.map(async (log, w) => {
          let revision = NO_STREAM;
          for (let i = 0; i < perWriter; i++) {
            revision = (await log.append(`writer-${w}`, [make.sample(`h${w}`, { v: i }), make.sample(`h${w}`, { v: i })], revision)).streamRevision;
          }
        }));
        const all = await logs[0].readAll(1, 1000);
        expect(all.map((e) => e.position)).toEqual(Array.from({ length: 2 * 2 * perWriter }, (_, i) => i + 1));
        expect(await logs[1].headPosition()).toBe(4 * perWriter);
        // Each append's two events are adjacent: no other batch got between them.
        for (let i = 0; i < all.length; i += 2) expect([all[i].stream, all[i].revision + 1]).toEqual([all[i + 1].stream, all[i + 1].revision]);
      } finally {
        await Promise.all(logs.map((log) => log.close()));
      }
    });

    test('a subscription wakes on another process\'s append through NOTIFY, well before its poll', async () => {
      const name = freshSchema();
      const reader = new PostgresEventLog(server.url, { schema: name, pollIntervalMs: 60_000 });
      const writer = new PostgresEventLog(server.url, { schema: name });
      try {
        const make = new TestEvents();
        await writer.append('s', [make.sample('h', {})], NO_STREAM);
        const iterator = reader.subscribe(1)[Symbol.asyncIterator]();
        expect((await iterator.next()).value).toMatchObject({ position: 1 });
        const next = iterator.next();
        // Long enough for the subscription to find nothing more and wait: only a wake-up brings the next event.
        await new Promise((resolve) => { setTimeout(resolve, 300); });
        await writer.append('s', [make.sample('h', {})], 0);
        const started = Date.now();
        const event = await next;
        expect(event.done).toBe(false);
        expect(Date.now() - started).toBeLessThan(10_000);
        await iterator.return?.();
      } finally {
        await Promise.all([reader.close(), writer.close()]);
      }
    });

    test('the schema: a log_head row with a writer epoch, and a log of another schema version is refused untouched', async () => {
      const name = freshSchema();
      const log = new PostgresEventLog(server.url, { schema: name });
      await log.append('s', [new TestEvents().sample('h', {})], NO_STREAM);
      await log.close();
      const client = new Client({ connectionString: server.url });
      await client.connect();
      try {
        expect((await client.query(`SELECT position, writer_epoch FROM ${name}.log_head`)).rows).toEqual([{ position: '1', writer_epoch: '0' }]);
        await client.query(`UPDATE ${name}.neat_log_meta SET schema_version = $1`, [POSTGRES_SCHEMA_VERSION + 1]);
        const newer = new PostgresEventLog(server.url, { schema: name });
        await expect(newer.headPosition()).rejects.toThrow(LogFileError);
        await newer.close();
        expect((await client.query(`SELECT count(*)::int AS n FROM ${name}.events`)).rows).toEqual([{ n: 1 }]);
      } finally {
        await client.end();
      }
    });

    test('a lost connection is replaced: appends and reads go on after the server ends every session', async () => {
      const log = new PostgresEventLog(server.url, { schema: freshSchema() });
      const client = new Client({ connectionString: server.url });
      await client.connect();
      try {
        const make = new TestEvents();
        await log.append('s', [make.sample('h', {})], NO_STREAM);
        await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()');
        // The append that meets the dead connection may fail (its outcome unknown to it); the one after is on a new one.
        const batch = [make.sample('h', { v: 2 })];
        const first = await log.append('s', batch, 0).catch((error: unknown) => error);
        const result = first instanceof Error ? await log.append('s', batch, 0) : first;
        expect(result).toMatchObject({ firstPosition: 2, streamRevision: 1 });
        expect((await log.readAll(1, 10)).map((e) => e.position)).toEqual([1, 2]);
      } finally {
        await client.end();
        await log.close();
      }
    });

    test('an unreachable server is an error from the first call, and close still returns', async () => {
      const log = new PostgresEventLog('postgresql://neat@127.0.0.1:1/postgres', { schema: freshSchema() });
      await expect(log.headPosition()).rejects.toThrow(/ECONNREFUSED|connect/);
      await expect(log.append('s', [new TestEvents().sample('h', {})], NO_STREAM)).rejects.toThrow(/ECONNREFUSED|connect/);
      await log.close();
    });
  });
} else {
  describe('postgresql: event log contract', () => {
    test.skip('skipped: install postgresql (apt-get install postgresql) to run it', () => undefined);
  });
}
