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

  describe('postgresql: sample retention, as on SQLite', () => {
    const SAMPLES_MHZ: Readonly<Record<string, number>> = { 'vm-0': 300, 'vm-1': 200, 'vm-2': 150, 'vm-3': 90 };
    const INTERVAL_S = 300;

    /** Real I/O under a virtual timer: the scheduler's events at the current time are run while the work waits on the database. */
    async function pumped<T>(world: World, work: Promise<T>): Promise<T> {
      const progress = { settled: false };
      const observed = work.finally(() => { progress.settled = true; });
      for (let turn = 0; turn < 100_000 && !progress.settled; turn++) {
        await new Promise((resolve) => { setTimeout(resolve, 1); });
        world.scheduler.run(world.scheduler.timeS, 1000);
      }
      return observed;
    }

    interface Row { position: number; type: string; stream: string; body: string }

    async function rows(admin: Client, table: string): Promise<Row[]> {
      return (await admin.query<Row>(`SELECT position::int AS position, type, stream, body FROM ${schema}.${table} ORDER BY position`)).rows;
    }

    /** A manager on a PostgreSQL log whose agents report every interval, a request refused every other one; host-2 falls silent after three. */
    async function reportingWorld(intervals: number): Promise<{ world: World; log: PostgresEventLog }> {
      const log = new PostgresEventLog(server.url, { schema: freshSchema() });
      const world = new World({ hosts: 4, placement: [0, 0, 1, 2], log, settings: { automation: 'manual', historyLength: 4 } });
      await world.manager.start();
      for (let interval = 0; interval < intervals; interval++) {
        world.advance(INTERVAL_S);
        for (const host of ['host-0', 'host-1', 'host-2']) {
          if (host === 'host-2' && interval >= 3) continue;
          const vms = (await world.dc.listVms()).filter((vm) => vm.host === host).map((vm) => ({ vmId: vm.id, cpuMhz: SAMPLES_MHZ[vm.id] + interval, ramMb: null }));
          await world.manager.recordSample({ host, hypervisorCpuMhz: 0, vms });
        }
        if (interval % 2 === 0) await world.manager.reject({ host: 'host-1', status: 503, reason: 'the queue is full', protocol: 'neat', remoteAddress: null });
        // No host of that name: the request finds nothing to do, and is compacted whole.
        if (interval === 1) await world.manager.submit({ host: 'host-9', reason: 'underload', vmIds: [], protocol: 'in-process', remoteAddress: null, clientTimeS: null });
        if (interval === 4) await world.manager.submit({ host: 'host-0', reason: 'underload', vmIds: [], protocol: 'in-process', remoteAddress: null, clientTimeS: null });
        await world.manager.idle();
      }
      return { world, log };
    }

    test('old samples and refusals move to events_archive; reads cross the gaps; a restart ends in the live state; a second run drops', async () => {
      const { world, log } = await reportingWorld(12);
      const admin = new Client({ connectionString: server.url });
      await admin.connect();
      try {
        const before = await rows(admin, 'events');
        const live = world.manager;
        // When what is older than 5 intervals is compacted into the archive table,
        const result = await pumped(world, live.compactSamples(5 * INTERVAL_S * 1000, log.archiveTable));
        expect(result).not.toBeNull();
        const { throughPosition, checkpointPosition, removed } = result!;
        // then the samples at or before the cut (each stream's last kept) and the refusals there are gone, and nothing else;
        const lastOfStream = new Map<string, number>();
        for (const row of before) if (row.type === 'UtilizationSampled') lastOfStream.set(row.stream, row.position);
        // a request that moved nothing goes whole (a stored body is [version, data, …]);
        const idleStreams = new Set(before.filter((row) => row.type === 'RequestCompleted' && row.position <= throughPosition
          && ['nothing-to-do', 'superseded'].includes((JSON.parse(row.body) as [unknown, { outcome: string }])[1].outcome)).map((row) => row.stream));
        const gone = before.filter((row) => row.position <= throughPosition && (row.type === 'RequestRejected' || idleStreams.has(row.stream)
          || (row.type === 'UtilizationSampled' && lastOfStream.get(row.stream) !== row.position)));
        expect(new Set(gone.map((row) => row.type))).toEqual(new Set(['UtilizationSampled', 'RequestRejected', 'RequestReceived', 'NothingToDo', 'RequestCompleted']));
        expect(removed).toBe(gone.length);
        const goneAt = new Set(gone.map((row) => row.position));
        const after = await rows(admin, 'events');
        expect(after.filter((row) => row.position < checkpointPosition)).toEqual(before.filter((row) => !goneAt.has(row.position)));
        // they are in the archive, as they were;
        expect(await rows(admin, 'events_archive')).toEqual(gone);
        // the log reads across its gaps, and a restart that folds it whole ends in the live state, refusals still counted.
        expect((await log.readAll(1, 10_000)).map((e) => e.position)).toEqual(after.map((row) => row.position));
        const restarted = world.newManager('second');
        expect(await pumped(world, restarted.start())).toMatchObject({ events: after.length, snapshot: { used: 'none' } });
        expect(snapshotDataCentre(restarted.dataCentre)).toEqual(snapshotDataCentre(live.dataCentre));
        expect([...restarted.openRequests.keys()]).toEqual([...live.openRequests.keys()]);
        expect(restarted.counters).toEqual(live.counters);
        expect(restarted.counters.requestsRejected.get(503)).toBe(6);
        // A second run starts where the first ended, without an archive drops what it removes, and takes the first
        // checkpoint, which its own supersedes; a fold of what is left still ends in the live state.
        world.advance(6 * INTERVAL_S);
        const second = await pumped(world, restarted.compactSamples(5 * INTERVAL_S * 1000, null));
        expect(second).toMatchObject({ fromPosition: throughPosition + 1 });
        expect(second!.throughPosition).toBeGreaterThanOrEqual(checkpointPosition);
        expect(second!.removed).toBeGreaterThan(0);
        expect((await rows(admin, 'events')).filter((row) => row.type === 'SamplesCompacted').map((row) => row.position)).toEqual([second!.checkpointPosition]);
        expect(await rows(admin, 'events_archive')).toEqual(gone);
        await pumped(world, restarted.stop());
        const third = world.newManager('third');
        await pumped(world, third.start());
        expect(snapshotDataCentre(third.dataCentre)).toEqual(snapshotDataCentre(restarted.dataCentre));
        expect(third.counters).toEqual(restarted.counters);
        await pumped(world, third.stop());
      } finally {
        await admin.end();
        await log.close();
      }
    });

    test('a gap no compaction left is damage, named', async () => {
      const { world, log } = await reportingWorld(3);
      await world.manager.stop();
      const admin = new Client({ connectionString: server.url });
      await admin.connect();
      try {
        await admin.query(`DELETE FROM ${schema}.events WHERE position = 5`);
        await expect(log.readAll(1, 100)).rejects.toThrow(/position 5.*no compaction removed those between/);
      } finally {
        await admin.end();
        await log.close();
      }
    });
  });
} else {
  describe('postgresql: event log contract', () => {
    test.skip('skipped: install postgresql (apt-get install postgresql) to run it', () => undefined);
  });
}
