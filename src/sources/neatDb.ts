/**
 * `samples_source = neat-db`: the utilisation Neat's own data collectors
 * write to Neat's MySQL database (`sql_connection`), read so that neat-next
 * can replace Neat's global manager while Neat's collectors keep running.
 *
 * Neat's tables (`neat/db_utils.py`): `vm_resource_usage` (vm_id → `vms.uuid`,
 * timestamp, cpu_mhz) does not name the host, so each VM is placed under the
 * host the cloud says runs it; `host_resource_usage` (host_id →
 * `hosts.hostname`, timestamp, cpu_mhz) holds the hypervisor's own MHz. A
 * collector writes all of its host's VMs in one INSERT (one NOW()), then its
 * host row in the next statement, so the two may differ by a second: rows are
 * grouped per host into one sample per collector interval (see `groupRows`).
 *
 * As Neat's global manager did, suspending a host inserts a `host_states` row
 * with state 0 and waking it one with state 1.
 */
import { createPool } from 'mysql2/promise';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { ConfigError } from '../config';
import type { ManagerConfig } from '../config';
import type { EventData } from '../events/catalogue';
import type { RecordedEvent } from '../events/envelope';
import type { SampleSource, SourceReading } from './port';
import { SourceError } from './port';

/** Where `sql_connection` points, as SQLAlchemy reads the URL. */
export interface NeatDbAddress {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** `?charset=`, or null for the driver's default. */
  readonly charset: string | null;
  /** `?unix_socket=`, or null to connect over TCP. */
  readonly socketPath: string | null;
}

/** SQLAlchemy's MySQL drivers a Neat configuration may name; the driver is Python's, so it changes nothing here. */
const MYSQL_DRIVERS = new Set(['mysqldb', 'pymysql', 'mysqlconnector', 'mariadbconnector']);
/** Query parameters understood; `use_unicode` is the MySQLdb driver's, and mysql2 always decodes text. */
const QUERY_PARAMETERS = new Set(['charset', 'unix_socket', 'use_unicode']);
const DEFAULT_MYSQL_PORT = 3306;

/**
 * SQLAlchemy's URL form `dialect[+driver]://[user[:password]@][host][:port]/database[?key=value&…]`;
 * the password runs to the last `@`, as in SQLAlchemy, so that it may hold one.
 */
const SQLALCHEMY_URL = /^(?<dialect>[A-Za-z0-9_]+)(?:\+(?<driver>[A-Za-z0-9_]+))?:\/\/(?:(?<user>[^:/@]*)(?::(?<password>.*))?@)?(?<host>\[[^\]]+\]|[^/:?@]*)(?::(?<port>[^/?]*))?(?:\/(?<database>[^?]*))?(?:\?(?<query>.*))?$/s;

function decoded(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError('sql_connection', `the ${what} is not validly URL-encoded (a % must be followed by two hex digits)`);
  }
}

/** Reads `sql_connection`; a URL neat-db cannot use is a ConfigError naming the key. */
export function parseSqlConnection(url: string): NeatDbAddress {
  const match = SQLALCHEMY_URL.exec(url.trim());
  // Optional groups that did not take part are undefined, which the DOM typing does not say.
  const groups = match?.groups as Partial<Record<string, string>> | undefined;
  // Not echoed: a URL that does not parse cannot be trusted to hide its password.
  if (groups === undefined) throw new ConfigError('sql_connection', 'is not a SQLAlchemy URL (mysql://user:password@host[:port]/database)');
  const dialect = groups.dialect?.toLowerCase() ?? '';
  if (dialect !== 'mysql' && dialect !== 'mariadb') {
    throw new ConfigError('sql_connection', `samples_source = neat-db reads Neat's MySQL or MariaDB database; the URL names the dialect "${dialect}"`);
  }
  const driver = groups.driver?.toLowerCase();
  if (driver !== undefined && !MYSQL_DRIVERS.has(driver)) {
    throw new ConfigError('sql_connection', `unknown MySQL driver "${driver}" (${[...MYSQL_DRIVERS].join(', ')})`);
  }
  const database = decoded(groups.database ?? '', 'database');
  if (database === '') throw new ConfigError('sql_connection', 'the URL names no database (…/neat)');
  let port = DEFAULT_MYSQL_PORT;
  if (groups.port !== undefined && groups.port !== '') {
    port = Number(groups.port);
    if (!/^\d+$/.test(groups.port) || port < 1 || port > 65_535) throw new ConfigError('sql_connection', `the port "${groups.port}" is not an integer in 1..65535`);
  }
  const host = (groups.host ?? '').replace(/^\[(.*)\]$/, '$1');
  let charset: string | null = null;
  let socketPath: string | null = null;
  for (const pair of (groups.query ?? '').split('&')) {
    if (pair === '') continue;
    const [rawKey = '', ...rest] = pair.split('=');
    const key = decoded(rawKey, 'query parameter');
    const value = decoded(rest.join('='), `value of ${key}`);
    if (!QUERY_PARAMETERS.has(key)) throw new ConfigError('sql_connection', `unknown query parameter "${key}" (${[...QUERY_PARAMETERS].join(', ')})`);
    if (key === 'charset') charset = value;
    if (key === 'unix_socket') socketPath = value;
  }
  return {
    host: host === '' ? 'localhost' : decoded(host, 'host'), port, user: decoded(groups.user ?? '', 'user'),
    password: decoded(groups.password ?? '', 'password'), database, charset, socketPath,
  };
}

export interface NeatDbOptions {
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  /** New rows read per table and poll; more are read at the next poll (a source far behind catches up a chunk per interval). */
  readonly rowsPerPollMax: number;
}

export const NEAT_DB_DEFAULTS: NeatDbOptions = { connectTimeoutMs: 10_000, queryTimeoutMs: 30_000, rowsPerPollMax: 100_000 };

/** Connections open at once: a poll reads two tables in turn, and a host_states insert may run alongside. */
const POOL_CONNECTIONS = 2;
/** Tables read or written; Neat's collectors create them (`metadata.create_all()`). */
const NEAT_TABLES = ['hosts', 'host_resource_usage', 'vms', 'vm_resource_usage', 'host_states'] as const;

/** MySQL's and mysql2's error codes, by what they mean for the poll. */
const UNAUTHORISED_CODES = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT', 'ER_QUERY_TIMEOUT', 'ER_STATEMENT_TIMEOUT']);
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOENT',
  'PROTOCOL_CONNECTION_LOST', 'ER_SERVER_SHUTDOWN', 'ER_CON_COUNT_ERROR', 'ER_HOST_IS_BLOCKED', 'ER_HOST_NOT_PRIVILEGED', 'POOL_CLOSED',
]);

interface VmRow { readonly id: number; readonly uuid: string; readonly cpuMhz: number; readonly timeS: number }
interface HostRow { readonly id: number; readonly hostname: string; readonly cpuMhz: number; readonly timeS: number }

/** One sample in the making: a host's rows of one collector interval. */
interface Group {
  readonly host: string;
  readonly firstTimeS: number;
  hypervisorCpuMhz: number | null;
  readonly vms: Map<string, number>;
}

/**
 * One sample per host and collector interval, oldest first. A host's rows,
 * in time order (VMs before the host row of the same second, as the collector
 * writes them), start a new sample when half an interval has passed since the
 * sample's first row, or when a VM or the host appears a second time: so a
 * host row one second after its VMs joins them, and two intervals never merge.
 */
export function groupRows(vmRows: readonly VmRow[], hostRows: readonly HostRow[], vmHost: (vmId: string) => string | null, intervalS: number):
  { samples: EventData<'UtilizationSampled'>[]; unplaced: string[] } {
  type Row = { readonly host: string; readonly timeS: number; readonly order: number; readonly vm: string | null; readonly cpuMhz: number };
  const rows: Row[] = [];
  const unplaced = new Set<string>();
  for (const row of vmRows) {
    const host = vmHost(row.uuid);
    if (host === null) unplaced.add(row.uuid);
    else rows.push({ host, timeS: row.timeS, order: row.id, vm: row.uuid, cpuMhz: row.cpuMhz });
  }
  // Host rows after VM rows of the same second: ids of the two tables are not comparable.
  for (const row of hostRows) rows.push({ host: row.hostname, timeS: row.timeS, order: Number.MAX_SAFE_INTEGER / 2 + row.id, vm: null, cpuMhz: row.cpuMhz });
  rows.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : a.timeS - b.timeS || a.order - b.order));
  const groups: Group[] = [];
  let current: Group | null = null;
  for (const row of rows) {
    const repeated = current !== null && (row.vm === null ? current.hypervisorCpuMhz !== null : current.vms.has(row.vm));
    if (current === null || current.host !== row.host || row.timeS - current.firstTimeS >= intervalS / 2 || repeated) {
      current = { host: row.host, firstTimeS: row.timeS, hypervisorCpuMhz: null, vms: new Map() };
      groups.push(current);
    }
    if (row.vm === null) current.hypervisorCpuMhz = row.cpuMhz;
    else current.vms.set(row.vm, row.cpuMhz);
  }
  // Stable: hosts in name order within one second, so that the recorded order is reproducible.
  groups.sort((a, b) => a.firstTimeS - b.firstTimeS);
  return {
    samples: groups.map((group) => ({
      host: group.host, hypervisorCpuMhz: group.hypervisorCpuMhz ?? 0,
      vms: [...group.vms].map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: null })),
    })),
    unplaced: [...unplaced],
  };
}

/** A driver error as the poll's SourceError; anything else (a bug here) is rethrown. */
function sourceError(error: unknown, address: NeatDbAddress, where: string): SourceError {
  if (error instanceof SourceError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' && !(error instanceof Error && error.message.startsWith('Pool is closed'))) throw error;
  const message = (error as Error).message;
  if (UNAUTHORISED_CODES.has(code as string)) {
    return new SourceError('unauthorised', `user "${address.user}" was refused by ${where} (${message}): check the user and password in sql_connection`);
  }
  if (TIMEOUT_CODES.has(code as string)) return new SourceError('timeout', `${where} did not answer in time (${message})`);
  if (UNREACHABLE_CODES.has(code as string) || typeof code !== 'string') return new SourceError('unreachable', `cannot reach ${where}: ${message}`);
  if (code === 'ER_BAD_DB_ERROR') return new SourceError('malformed', `${where} has no database "${address.database}": check sql_connection`);
  if (code === 'ER_PARSE_ERROR') return new SourceError('malformed', `${where} cannot run the query (${message}): neat-db needs MySQL >= 8.0 or MariaDB >= 10.2 (window functions)`);
  return new SourceError('malformed', `${where}: ${message} (${code})`);
}

/** Neat's database at `sql_connection`, as a sample source. */
export function openNeatDb(config: ManagerConfig, options: Partial<NeatDbOptions> = {}): SampleSource {
  const settings = { ...NEAT_DB_DEFAULTS, ...options };
  const address = parseSqlConnection(config.sqlConnection);
  const where = address.socketPath ?? `${address.host}:${address.port}`;
  const historyLength = config.dataCollectorDataLength;
  const intervalS = config.dataCollectorIntervalS;
  let pool: Pool;
  try {
    pool = createPool({
      host: address.host, port: address.port, user: address.user, password: address.password, database: address.database,
      ...(address.socketPath === null ? {} : { socketPath: address.socketPath }), ...(address.charset === null ? {} : { charset: address.charset }),
      connectionLimit: POOL_CONNECTIONS, maxIdle: POOL_CONNECTIONS, connectTimeout: settings.connectTimeoutMs,
      // Integers as numbers: ids and MHz are far below 2^53.
      supportBigNumbers: true, bigNumberStrings: false, decimalNumbers: true,
    });
  } catch (error) {
    // mysql2 checks the charset when the pool is made.
    throw new ConfigError('sql_connection', `cannot be used: ${(error as Error).message}`);
  }
  let lastVmRowId: number | null = null;
  let lastHostRowId = 0;

  async function select<T extends RowDataPacket>(sql: string, values: (string | number)[] = []): Promise<T[]> {
    const [rows] = await pool.query<T[]>({ sql, values, timeout: settings.queryTimeoutMs });
    return rows;
  }

  async function checkTables(): Promise<void> {
    const rows = await select<RowDataPacket & { name: string }>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()');
    const present = new Set(rows.map((row) => row.name.toLowerCase()));
    const missing = NEAT_TABLES.filter((table) => !present.has(table));
    if (missing.length > 0) {
      throw new SourceError('malformed', `Neat's table${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing in database `
        + `${address.database} at ${where}: is sql_connection Neat's database? (Neat's collectors create the tables when they first start)`);
    }
  }

  type Numbered = RowDataPacket & { id: number; cpu_mhz: number; t: number | null };
  const vmRow = (row: Numbered & { uuid: string }): VmRow => ({ id: row.id, uuid: row.uuid, cpuMhz: row.cpu_mhz, timeS: row.t ?? 0 });
  const hostRow = (row: Numbered & { hostname: string }): HostRow => ({ id: row.id, hostname: row.hostname, cpuMhz: row.cpu_mhz, timeS: row.t ?? 0 });

  /** Each VM's and host's last `data_collector_data_length` values: the histories to start from. */
  async function readHistories(): Promise<{ vms: VmRow[]; hosts: HostRow[] }> {
    const vms = await select<Numbered & { uuid: string }>(
      'SELECT id, uuid, cpu_mhz, t FROM (SELECT r.id, v.uuid, r.cpu_mhz, UNIX_TIMESTAMP(r.timestamp) AS t, '
      + 'ROW_NUMBER() OVER (PARTITION BY r.vm_id ORDER BY r.id DESC) AS age FROM vm_resource_usage r JOIN vms v ON v.id = r.vm_id) last '
      + 'WHERE age <= ? ORDER BY id', [historyLength]);
    const hosts = await select<Numbered & { hostname: string }>(
      'SELECT id, hostname, cpu_mhz, t FROM (SELECT r.id, h.hostname, r.cpu_mhz, UNIX_TIMESTAMP(r.timestamp) AS t, '
      + 'ROW_NUMBER() OVER (PARTITION BY r.host_id ORDER BY r.id DESC) AS age FROM host_resource_usage r JOIN hosts h ON h.id = r.host_id) last '
      + 'WHERE age <= ? ORDER BY id', [historyLength]);
    return { vms: vms.map(vmRow), hosts: hosts.map(hostRow) };
  }

  /** The rows after the last ones read, at most `rowsPerPollMax` of each table. */
  async function readNew(afterVmId: number): Promise<{ vms: VmRow[]; hosts: HostRow[] }> {
    const vms = await select<Numbered & { uuid: string }>(
      'SELECT r.id, v.uuid, r.cpu_mhz, UNIX_TIMESTAMP(r.timestamp) AS t FROM vm_resource_usage r JOIN vms v ON v.id = r.vm_id '
      + 'WHERE r.id > ? ORDER BY r.id LIMIT ?', [afterVmId, settings.rowsPerPollMax]);
    const hosts = await select<Numbered & { hostname: string }>(
      'SELECT r.id, h.hostname, r.cpu_mhz, UNIX_TIMESTAMP(r.timestamp) AS t FROM host_resource_usage r JOIN hosts h ON h.id = r.host_id '
      + 'WHERE r.id > ? ORDER BY r.id LIMIT ?', [lastHostRowId, settings.rowsPerPollMax]);
    return { vms: vms.map(vmRow), hosts: hosts.map(hostRow) };
  }

  return {
    description: `neat-db (mysql://${address.user}@${where}/${address.database})`,

    async poll(vmHost): Promise<SourceReading> {
      let rows: { vms: VmRow[]; hosts: HostRow[] };
      try {
        if (lastVmRowId === null) {
          await checkTables();
          rows = await readHistories();
        } else {
          rows = await readNew(lastVmRowId);
        }
      } catch (error) {
        throw sourceError(error, address, where);
      }
      // Only once the rows are in hand: a failed poll reads the same rows again.
      lastVmRowId = rows.vms.reduce((last, row) => Math.max(last, row.id), lastVmRowId ?? 0);
      lastHostRowId = rows.hosts.reduce((last, row) => Math.max(last, row.id), lastHostRowId);
      const { samples, unplaced } = groupRows(rows.vms, rows.hosts, vmHost, intervalS);
      const problems = unplaced.map((uuid) => ({
        subject: uuid, problem: 'in Neat\'s vm_resource_usage but not in the cloud\'s list of VMs: its values of this poll are not recorded',
      }));
      for (const [table, read] of [['vm_resource_usage', rows.vms.length], ['host_resource_usage', rows.hosts.length]] as const) {
        if (read >= settings.rowsPerPollMax) problems.push({ subject: table, problem: `more than ${settings.rowsPerPollMax} new rows: the rest are read at the next poll` });
      }
      return { samples, problems };
    },

    async recorded(event: RecordedEvent): Promise<void> {
      if (event.type !== 'HostSuspended' && event.type !== 'HostWoken') return;
      const { host } = event.data as { host: string };
      const state = event.type === 'HostSuspended' ? 0 : 1;
      try {
        // No unique constraint on hostname: Neat's select_host_id takes the first row too.
        const ids = await select<RowDataPacket & { id: number }>('SELECT id FROM hosts WHERE hostname = ? ORDER BY id LIMIT 1', [host]);
        if (ids.length === 0) throw new Error(`Neat's hosts table at ${where} has no host "${host}": its host_states row (state ${state}) is not written`);
        await pool.query({ sql: 'INSERT INTO host_states (host_id, timestamp, state) VALUES (?, NOW(), ?)', values: [ids[0].id, state], timeout: settings.queryTimeoutMs });
      } catch (error) {
        const failure = sourceError(error, address, where);
        throw new Error(`host_states of "${host}" (state ${state}): ${failure.message}`);
      }
    },

    async close(): Promise<void> {
      await pool.end();
    },
  };
}
