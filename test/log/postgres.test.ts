import { Client } from 'pg';
import { PostgresEventLog, POSTGRES_SCHEMA_VERSION } from '../../src/log/postgres';
import { FencedError, LogFileError, NO_STREAM } from '../../src/log/port';
import { PostgresLeadership } from '../../src/log/postgresLeader';
import { snapshotDataCentre } from '../../src/events/dataCentre';
import { World } from '../managers/harness';
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

    test('leadership: one leader at a time; a standby takes over when the leader\'s session ends, with a greater epoch', async () => {
      const name = freshSchema();
      const log = new PostgresEventLog(server.url, { schema: name });
      await log.headPosition();
      const lost: string[] = [];
      const leadership = (instance: string): PostgresLeadership => new PostgresLeadership(server.url, {
        schema: name, instance, url: `http://${instance}.test`, checkIntervalMs: 100, onLost: (reason) => { lost.push(`${instance}: ${reason}`); },
      });
      const [a, b] = [leadership('a'), leadership('b')];
      try {
        const epochA = await a.acquire();
        expect(await log.leader()).toMatchObject({ epoch: epochA, instance: 'a', url: 'http://a.test' });
        let bLeads = false;
        const waiting = b.acquire().then((epoch) => { bLeads = true; return epoch; });
        await new Promise((resolve) => { setTimeout(resolve, 500); });
        expect(bLeads).toBe(false);
        await a.close();
        const epochB = await waiting;
        expect(epochB).toBeGreaterThan(epochA);
        expect(await log.leader()).toMatchObject({ epoch: epochB, instance: 'b' });
        expect(lost).toEqual([]);
      } finally {
        await Promise.all([a.close(), b.close(), log.close()]);
      }
    });

    test('leadership: a leader whose lock session is killed learns it, and its later appends are fenced, nothing written', async () => {
      const name = freshSchema();
      const make = new TestEvents();
      const [oldLog, newLog] = [new PostgresEventLog(server.url, { schema: name }), new PostgresEventLog(server.url, { schema: name })];
      const lost: string[] = [];
      const fenced: FencedError[] = [];
      const first = new PostgresLeadership(server.url, { schema: name, instance: 'first', url: 'http://first.test', checkIntervalMs: 100, onLost: (r) => { lost.push(r); } });
      const second = new PostgresLeadership(server.url, { schema: name, instance: 'second', url: 'http://second.test', checkIntervalMs: 100, onLost: () => undefined });
      const admin = new Client({ connectionString: server.url });
      await admin.connect();
      try {
        const epoch1 = await first.acquire();
        oldLog.fenceWith(epoch1, (error) => { fenced.push(error); });
        await oldLog.append('s', [make.sample('h', { v: 1 })], NO_STREAM);
        const taking = second.acquire();
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'neat-leader:first'");
        const epoch2 = await taking;
        newLog.fenceWith(epoch2, () => undefined);
        for (let i = 0; i < 50 && lost.length === 0; i++) await new Promise((resolve) => { setTimeout(resolve, 100); });
        expect(lost).toHaveLength(1);
        // The deposed leader's late write is refused by the log itself, whatever it believes.
        await expect(oldLog.append('s', [make.sample('h', { v: 2 })], 0)).rejects.toThrow(FencedError);
        expect(fenced.map((e) => [e.epoch, e.allowedEpoch])).toEqual([[epoch1, epoch2]]);
        // So is a write that carries no epoch at all, once a leader was elected.
        const unfenced = new PostgresEventLog(server.url, { schema: name });
        await expect(unfenced.append('s', [make.sample('h', { v: 3 })], 0)).rejects.toThrow(FencedError);
        await unfenced.close();
        await newLog.append('s', [make.sample('h', { v: 4 })], 0);
        const epochs = (await admin.query(`SELECT position, epoch FROM ${name}.events ORDER BY position`)).rows;
        expect(epochs).toEqual([{ position: '1', epoch: String(epoch1) }, { position: '2', epoch: String(epoch2) }]);
      } finally {
        await admin.end();
        await Promise.all([first.close(), second.close(), oldLog.close(), newLog.close()]);
      }
    });

    test('a log of schema version 1 is upgraded in place: its events kept, epoch 0, and fencing from then on', async () => {
      const name = freshSchema();
      const make = new TestEvents();
      const log = new PostgresEventLog(server.url, { schema: name });
      await log.append('s', [make.sample('h', {})], NO_STREAM);
      await log.close();
      const admin = new Client({ connectionString: server.url });
      await admin.connect();
      try {
        // Version 1 as it was: no epoch column, no leader columns, the five-argument function.
        await admin.query(`ALTER TABLE ${name}.events DROP COLUMN epoch; ALTER TABLE ${name}.log_head DROP COLUMN leader_instance, DROP COLUMN leader_url, `
          + `DROP COLUMN leader_since; DROP FUNCTION ${name}.neat_append(text, bigint, text[], text[], text[], bigint); UPDATE ${name}.neat_log_meta SET schema_version = 1`);
        const upgraded = new PostgresEventLog(server.url, { schema: name });
        await upgraded.append('s', [make.sample('h', {})], 0);
        expect((await upgraded.readAll(1, 10)).map((e) => e.revision)).toEqual([0, 1]);
        await upgraded.close();
        expect((await admin.query(`SELECT schema_version FROM ${name}.neat_log_meta`)).rows).toEqual([{ schema_version: POSTGRES_SCHEMA_VERSION }]);
        expect((await admin.query(`SELECT epoch FROM ${name}.events`)).rows).toEqual([{ epoch: '0' }, { epoch: '0' }]);
      } finally {
        await admin.end();
      }
    });

    test('an unreachable server is an error from the first call, and close still returns', async () => {
      const log = new PostgresEventLog('postgresql://neat@127.0.0.1:1/postgres', { schema: freshSchema() });
      await expect(log.headPosition()).rejects.toThrow(/ECONNREFUSED|connect/);
      await expect(log.append('s', [new TestEvents().sample('h', {})], NO_STREAM)).rejects.toThrow(/ECONNREFUSED|connect/);
      await log.close();
    });
  });

  describe('postgresql: the global manager\'s snapshot, in a row beside the log', () => {
    test('none at first; a write replaces the row whole', async () => {
      const log = new PostgresEventLog(server.url, { schema: freshSchema() });
      const store = log.snapshotStore();
      try {
        expect(await store.read()).toBeNull();
        await store.write('first\n{}');
        await store.write('second\n{"ü":1}');
        expect((await store.read())?.toString('utf8')).toBe('second\n{"ü":1}');
        expect((await new PostgresEventLog(server.url, { schema }).snapshotStore().read())?.toString('utf8')).toBe('second\n{"ü":1}');
      } finally {
        await log.close();
      }
    });

    test('a restart (or a standby catching up) folds only the events after the snapshot, and ends where a fold of the whole log does', async () => {
      const log = new PostgresEventLog(server.url, { schema: freshSchema() });
      const problems: string[] = [];
      const world = new World({
        hosts: 4, placement: [0, 0, 1, 2], log, settings: { automation: 'manual', historyLength: 4 },
        snapshots: { store: log.snapshotStore(), intervalEvents: 7, onProblem: (message) => { problems.push(message); } },
      });
      try {
        // Given a manager on the log (real time: nothing here waits on the virtual clock), with samples, a plan and a refusal,
        const first = world.manager;
        await first.start();
        for (let round = 0; round < 5; round++) {
          for (const host of ['host-0', 'host-1', 'host-2']) {
            await first.recordSample({ host, hypervisorCpuMhz: 0, vms: (await world.dc.listVms()).filter((vm) => vm.host === host).map((vm) => ({ vmId: vm.id, cpuMhz: 100 + round, ramMb: null })) });
          }
        }
        expect((await first.submit({ host: 'host-0', reason: 'underload', vmIds: [], protocol: 'in-process', remoteAddress: null, clientTimeS: null })).status).toBe('accepted');
        await first.reject({ host: 'host-2', status: 503, reason: 'the queue is full', protocol: 'neat', remoteAddress: null });
        await first.idle();
        // when it stops cleanly (a snapshot of its last event) and another starts on the log,
        await first.stop();
        const head = await log.headPosition();
        const second = world.newManager('second');
        // then it catches up from the snapshot (as a standby does), folding nothing, and its start does not restore again;
        expect(await second.catchUp()).toEqual({ events: 0, snapshot: { used: 'restored', position: head } });
        const started = await second.start();
        expect(started).toMatchObject({ events: 0, snapshot: { used: 'restored', position: head } });
        // its state is the fold of the whole log, its open plan and its counters those the first had.
        expect(snapshotDataCentre(second.dataCentre)).toEqual(snapshotDataCentre(await world.replayStrictly()));
        expect([...second.openRequests.keys()]).toEqual([...first.openRequests.keys()]);
        expect(second.counters).toEqual(first.counters);
        await second.stop();
        expect(problems).toEqual([]);
      } finally {
        await log.close();
      }
    });
  });
} else {
  describe('postgresql: event log contract', () => {
    test.skip('skipped: install postgresql (apt-get install postgresql) to run it', () => undefined);
  });
}
