/**
 * The neat-db source on a real MariaDB holding Neat's tables, written as
 * Neat's collectors write them: what the first and later polls return, the
 * host_states rows, the same decisions as samples posted by agents, and every
 * way the database can fail a poll.
 */
import type { Connection } from 'mysql2/promise';
import { ConfigError, DEFAULT_CONFIG } from '../../src/config';
import type { ManagerConfig } from '../../src/config';
import type { EventData } from '../../src/events/catalogue';
import type { RecordedEvent } from '../../src/events/envelope';
import { groupRows, openNeatDb, parseSqlConnection } from '../../src/sources/neatDb';
import { SourceError } from '../../src/sources/port';
import type { SampleSource } from '../../src/sources/port';
import { allEvents, eventually, sha1Hex } from '../api/client';
import type { Fixture } from '../api/client';
import { ADMIN_PASSWORD, ADMIN_USER, startFixture } from '../api/fixture';
import { requireMariaDb, startMariaDb } from '../support/mariadb';
import type { MariaDb } from '../support/mariadb';
import { collect, createNeatSchema, updateHost } from '../support/neatSchema';

const INTERVAL_S = 300;
const T0_S = 1_700_000_000;

/** The keys neat-db reads; the fixture adds them to its own configuration. */
function neatDbKeys(url: string, historyLength = 3): Partial<ManagerConfig> {
  return { sqlConnection: url, dataCollectorDataLength: historyLength, dataCollectorIntervalS: INTERVAL_S, samplesSource: 'neat-db' };
}

function configFor(url: string, historyLength = 3): ManagerConfig {
  return { ...DEFAULT_CONFIG, ...neatDbKeys(url, historyLength) };
}

async function pollError(source: SampleSource): Promise<SourceError> {
  try {
    await source.poll(() => null);
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw error;
  }
  throw new Error('the poll succeeded');
}

describe('parseSqlConnection', () => {
  test("reads SQLAlchemy's MySQL URLs: driver, URL-encoded password, default port, charset", () => {
    expect(parseSqlConnection('mysql://neat:neatpassword@controller/neat')).toEqual({
      host: 'controller', port: 3306, user: 'neat', password: 'neatpassword', database: 'neat', charset: null, socketPath: null,
    });
    expect(parseSqlConnection('mysql+mysqldb://n%40t:p%40ss:w@rd@10.0.0.5:3307/neat_db?charset=utf8')).toEqual({
      host: '10.0.0.5', port: 3307, user: 'n@t', password: 'p@ss:w@rd', database: 'neat_db', charset: 'utf8', socketPath: null,
    });
    expect(parseSqlConnection('mysql+pymysql://neat@[::1]:3306/neat?unix_socket=/run/mysqld/mysqld.sock&use_unicode=0')).toMatchObject({
      host: '::1', user: 'neat', password: '', socketPath: '/run/mysqld/mysqld.sock',
    });
  });

  test.each([
    ['sqlite:///neat.db', 'dialect "sqlite"'],
    ['postgresql://neat:x@db/neat', 'dialect "postgresql"'],
    ['mysql+oursql://neat:x@db/neat', 'unknown MySQL driver "oursql"'],
    ['mysql://neat:x@db', 'names no database'],
    ['mysql://neat:x@db:port/neat', 'the port "port"'],
    ['mysql://neat:x@db:70000/neat', 'the port "70000"'],
    ['mysql://neat:x@db/neat?sslmode=1', 'unknown query parameter "sslmode"'],
    ['mysql://neat:%zz@db/neat', 'password is not validly URL-encoded'],
    ['controller/neat', 'is not a SQLAlchemy URL'],
  ])('%s is a ConfigError naming sql_connection (%s)', (url, why) => {
    let error: unknown = null;
    try { parseSqlConnection(url); } catch (thrown) { error = thrown; }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain('sql_connection');
    expect((error as ConfigError).message).toContain(why);
  });

  test('a message about a URL never shows its password', () => {
    expect(() => parseSqlConnection('mysql:/neat:secret@db/neat')).toThrow(/^(?!.*secret)/s);
  });
});

describe('groupRows', () => {
  test('a host row a second after its VMs joins them; the next interval and a repeated VM start new samples', () => {
    const vmRows = [
      { id: 1, uuid: 'a', cpuMhz: 10, timeS: 100 }, { id: 2, uuid: 'b', cpuMhz: 20, timeS: 100 },
      { id: 3, uuid: 'a', cpuMhz: 11, timeS: 102 }, { id: 4, uuid: 'a', cpuMhz: 12, timeS: 400 },
    ];
    const hostRows = [{ id: 1, hostname: 'h1', cpuMhz: 5, timeS: 101 }, { id: 2, hostname: 'h1', cpuMhz: 6, timeS: 400 }];
    const { samples, unplaced } = groupRows(vmRows, hostRows, (vm) => (vm === 'c' ? null : 'h1'), 300);
    expect(unplaced).toEqual([]);
    expect(samples).toEqual([
      { host: 'h1', hypervisorCpuMhz: 5, vms: [{ vmId: 'a', cpuMhz: 10, ramMb: null }, { vmId: 'b', cpuMhz: 20, ramMb: null }] },
      { host: 'h1', hypervisorCpuMhz: 0, vms: [{ vmId: 'a', cpuMhz: 11, ramMb: null }] },
      { host: 'h1', hypervisorCpuMhz: 6, vms: [{ vmId: 'a', cpuMhz: 12, ramMb: null }] },
    ]);
  });
});

const present = requireMariaDb();
const maybe = present ? describe : describe.skip;

maybe('the neat-db source on MariaDB', () => {
  let db: MariaDb;
  let admin: Connection;

  beforeAll(async () => {
    db = await startMariaDb();
    admin = await db.admin('neat');
    await createNeatSchema(admin);
  }, 120_000);

  afterAll(async () => {
    await admin.end();
    await db.remove();
  });

  beforeEach(async () => {
    await admin.query('SET FOREIGN_KEY_CHECKS = 0');
    for (const table of ['host_states', 'host_overload', 'vm_migrations', 'vm_resource_usage', 'host_resource_usage', 'vms', 'hosts']) {
      await admin.query(`TRUNCATE TABLE ${table}`);
    }
    await admin.query('SET FOREIGN_KEY_CHECKS = 1');
  });

  test('the first poll returns the last data_collector_data_length values per VM, oldest first; later polls only new rows', async () => {
    await updateHost(admin, 'h1', 3720, 2, 4096);
    await updateHost(admin, 'h2', 5320, 2, 4096);
    for (let step = 0; step < 5; step++) {
      await collect(admin, 'h1', { 'vm-a': 100 + step, 'vm-b': 200 + step }, 10 + step, T0_S + step * INTERVAL_S, 1);
      await collect(admin, 'h2', { 'vm-c': 300 + step }, 30 + step, T0_S + step * INTERVAL_S + 7);
    }
    const hosts: Readonly<Record<string, string>> = { 'vm-a': 'h1', 'vm-b': 'h1', 'vm-c': 'h2' };
    const vmHost = (vm: string): string | null => hosts[vm] ?? null;
    const source = openNeatDb(configFor(db.url, 3));
    try {
      const first = await source.poll(vmHost);
      expect(first.problems).toEqual([]);
      const sample = (host: string, hypervisor: number, vms: Record<string, number>): EventData<'UtilizationSampled'> => ({
        host, hypervisorCpuMhz: hypervisor, vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: null })),
      });
      expect(first.samples).toEqual([2, 3, 4].flatMap((step) => [
        sample('h1', 10 + step, { 'vm-a': 100 + step, 'vm-b': 200 + step }), sample('h2', 30 + step, { 'vm-c': 300 + step }),
      ]));
      expect(await source.poll(vmHost)).toEqual({ samples: [], problems: [] });

      await collect(admin, 'h1', { 'vm-a': 105, 'vm-b': 205, 'vm-new': 1 }, 15, T0_S + 5 * INTERVAL_S);
      const later = await source.poll(vmHost);
      expect(later.samples).toEqual([sample('h1', 15, { 'vm-a': 105, 'vm-b': 205 })]);
      expect(later.problems).toEqual([{ subject: 'vm-new', problem: expect.stringContaining('not in the cloud\'s list of VMs') as string }]);
    } finally {
      await source.close();
    }
  });

  test('a poll reads at most rowsPerPollMax new rows of a table, says so, and reads the rest next time', async () => {
    await updateHost(admin, 'h1', 3720, 2, 4096);
    await collect(admin, 'h1', { 'vm-a': 1 }, 0, T0_S);
    const source = openNeatDb(configFor(db.url), { rowsPerPollMax: 2 });
    try {
      await source.poll(() => 'h1');
      for (let step = 1; step <= 3; step++) await collect(admin, 'h1', { 'vm-a': step }, 0, T0_S + step * INTERVAL_S);
      const chunk = await source.poll(() => 'h1');
      expect(chunk.samples.map((s) => s.vms[0]?.cpuMhz)).toEqual([1, 2]);
      expect(chunk.problems.map((p) => p.subject)).toEqual(['vm_resource_usage', 'host_resource_usage']);
      expect((await source.poll(() => 'h1')).samples.map((s) => s.vms[0]?.cpuMhz)).toEqual([3]);
    } finally {
      await source.close();
    }
  });

  test('HostSuspended and HostWoken insert host_states rows 0 and 1, as Neat\'s global manager did; an unknown host is an error', async () => {
    const hostId = await updateHost(admin, 'h1', 3720, 2, 4096);
    const source = openNeatDb(configFor(db.url));
    const event = (type: 'HostSuspended' | 'HostWoken', host: string): RecordedEvent => ({ type, data: { host, durationMs: 5 } }) as unknown as RecordedEvent;
    try {
      await source.recorded?.(event('HostSuspended', 'h1'));
      await source.recorded?.(event('HostWoken', 'h1'));
      await source.recorded?.({ type: 'HostWakeRequested', data: { host: 'h1', requestId: null } } as unknown as RecordedEvent);
      await expect(source.recorded?.(event('HostSuspended', 'nowhere'))).rejects.toThrow(/hosts table .* has no host "nowhere"/);
      const [rows] = await admin.query('SELECT host_id, state, timestamp IS NOT NULL AS stamped FROM host_states ORDER BY id');
      expect(rows).toEqual([{ host_id: hostId, state: 0, stamped: 1 }, { host_id: hostId, state: 1, stamped: 1 }]);
    } finally {
      await source.close();
    }
  });

  test('wrong credentials: unauthorised, naming the user and sql_connection', async () => {
    const source = openNeatDb(configFor(db.url.replace(':neatpassword@', ':wrong@')));
    try {
      const error = await pollError(source);
      expect(error.kind).toBe('unauthorised');
      expect(error.message).toContain('user "neat"');
      expect(error.message).toContain('sql_connection');
    } finally {
      await source.close();
    }
  });

  test("a database without Neat's tables: malformed, naming the missing table, the database and the server", async () => {
    await admin.query('CREATE DATABASE IF NOT EXISTS partial');
    await admin.query('CREATE TABLE IF NOT EXISTS partial.hosts (id INTEGER PRIMARY KEY)');
    await admin.query("GRANT ALL ON partial.* TO 'neat'@'localhost', 'neat'@'127.0.0.1', 'neat'@'%'");
    const source = openNeatDb(configFor(db.url.replace(/\/neat$/, '/partial')));
    try {
      const error = await pollError(source);
      expect(error.kind).toBe('malformed');
      expect(error.message).toContain(`Neat's tables host_resource_usage, vms, vm_resource_usage, host_states are missing in database partial at 127.0.0.1:${db.port}`);
    } finally {
      await source.close();
    }
  });

  test('a query that does not answer within queryTimeoutMs: timeout', async () => {
    const source = openNeatDb(configFor(db.url), { queryTimeoutMs: 300 });
    const locker = await db.admin('neat');
    try {
      await source.poll(() => 'h1');
      // A write lock held by another session makes the poll's SELECT wait.
      await locker.query('LOCK TABLES vm_resource_usage WRITE');
      const error = await pollError(source);
      expect(error.kind).toBe('timeout');
    } finally {
      await locker.query('UNLOCK TABLES');
      await locker.end();
      await source.close();
    }
  });

  describe('through the service', () => {
    async function decisionOf(fixture: Fixture, host: string): Promise<unknown> {
      const response = await fetch(`${fixture.url}/`, {
        method: 'PUT',
        body: new URLSearchParams({ username: sha1Hex(ADMIN_USER), password: sha1Hex(ADMIN_PASSWORD), time: String(Date.now() / 1000), host, reason: '0' }),
      });
      expect(response.status).toBe(200);
      const decided = await eventually('a decision', async () => (await allEvents(fixture)).find((e) => e.type === 'PlacementDecided' || e.type === 'NothingToDo') ?? null, 20_000);
      // Request ids are each service's own.
      return { type: decided.type, data: { ...decided.data, requestId: null } };
    }

    test("the same samples through neat-db and through the agents' samples lead to the same decision", async () => {
      const plain = await startFixture({ config: { dataCollectorDataLength: 3 } });
      const vms = await plain.dataCentre.listVms();
      const byHost = new Map<string, string[]>();
      for (const vm of vms) if (vm.host !== null) byHost.set(vm.host, [...(byHost.get(vm.host) ?? []), vm.id]);
      const expected: EventData<'UtilizationSampled'>[] = [];
      for (const [host] of byHost) await updateHost(admin, host, 3720, 2, 4096);
      for (let step = 0; step < 3; step++) {
        for (const [host, ids] of [...byHost].sort(([a], [b]) => (a < b ? -1 : 1))) {
          const mhz = Object.fromEntries(ids.map((id, index) => [id, 50 + 10 * step + index]));
          await collect(admin, host, mhz, 7, T0_S + step * INTERVAL_S);
          expected.push({ host, hypervisorCpuMhz: 7, vms: ids.map((id) => ({ vmId: id, cpuMhz: mhz[id] ?? 0, ramMb: null })) });
        }
      }
      const source = openNeatDb(configFor(db.url, 3));
      const imported = await startFixture({ config: neatDbKeys(db.url, 3), samples: { source, log: { warn: () => {}, error: () => {} } } });
      try {
        const recorded = await eventually('the imported samples', async () => {
          const samples = (await allEvents(imported)).filter((e) => e.type === 'UtilizationSampled').map((e) => e.data);
          return samples.length >= expected.length ? samples : null;
        }, 20_000);
        expect(recorded).toEqual(expected);
        for (const sample of expected) await plain.service.manager.recordSample(sample);
        const host = [...byHost.keys()].sort()[0] ?? '';
        const [viaDb, viaAgents] = [await decisionOf(imported, host), await decisionOf(plain, host)];
        expect(viaDb).toEqual(viaAgents);
        expect(viaDb).toMatchObject({ type: 'PlacementDecided' });
      } finally {
        await imported.close();
        await plain.close();
      }
    });

    // Last: it stops the server.
    test('the database down: polls fail unreachable, requests record NothingToDo source-unavailable, the service stays up', async () => {
      await db.stop();
      const direct = openNeatDb(configFor(db.url));
      try {
        expect((await pollError(direct)).kind).toBe('unreachable');
      } finally {
        await direct.close();
      }
      const errors: string[] = [];
      const source = openNeatDb(configFor(db.url));
      const fixture = await startFixture({ config: neatDbKeys(db.url), samples: { source, log: { warn: () => {}, error: (message) => { errors.push(message); } } } });
      try {
        await eventually('the source declared unavailable', async () => (errors.length > 0 ? true : null), 20_000);
        const host = (await fixture.dataCentre.listHosts())[0]?.name ?? '';
        expect(await decisionOf(fixture, host)).toMatchObject({ type: 'NothingToDo', data: { reason: 'source-unavailable' } });
        expect((await fetch(`${fixture.url}/healthz`)).status).toBeLessThan(500);
      } finally {
        await fixture.close();
      }
    });
  });
});
