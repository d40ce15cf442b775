import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { EventDecodeError } from '../../src/events/envelope';
import { LogFileError, NO_STREAM } from '../../src/log/port';
import { SQLITE_APPLICATION_ID, SqliteEventLog } from '../../src/log/sqlite';
import { TestEvents } from '../support/events';
import { describeEventLogContract } from './contract';

let directory: string;
let counter = 0;
let current = '';

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-sqlite-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function freshPath(): string {
  counter += 1;
  current = join(directory, `log-${counter}.sqlite`);
  return current;
}

describeEventLogContract('sqlite', {
  open: () => Promise.resolve(new SqliteEventLog(freshPath(), { pollIntervalMs: 20 })),
  reopen: () => Promise.resolve(new SqliteEventLog(current, { pollIntervalMs: 20 })),
});

describeEventLogContract('sqlite with group commit', {
  open: () => Promise.resolve(new SqliteEventLog(freshPath(), { pollIntervalMs: 20, groupCommit: true })),
  reopen: () => Promise.resolve(new SqliteEventLog(current, { pollIntervalMs: 20, groupCommit: true })),
});

describe('sqlite: group commit', () => {
  test('appends made in one turn share one transaction; each stays atomic and a conflict fails only its own append', async () => {
    const log = new SqliteEventLog(freshPath(), { groupCommit: true });
    const make = new TestEvents('group');
    const batch = (stream: string, count: number) => Array.from({ length: count }, () => make.make('UtilizationSampled', { host: stream, hypervisorCpuMhz: 0, vms: [] }));
    const appends = [
      log.append('a', batch('a', 2), NO_STREAM),
      log.append('b', batch('b', 3), NO_STREAM),
      log.append('a', batch('a', 1), NO_STREAM),
      log.append('c', batch('c', 1), NO_STREAM),
    ];
    const settled = await Promise.allSettled(appends);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(settled.flatMap((s) => (s.status === 'fulfilled' ? [[s.value.firstPosition, s.value.lastPosition]] : []))).toEqual([[1, 2], [3, 5], [6, 6]]);
    expect((await log.readAll(1, 100)).map((e) => e.stream)).toEqual(['a', 'a', 'b', 'b', 'b', 'c']);
    await log.close();
  });

  test('a log left open does not keep its process alive once its appends are acknowledged (the writer thread idles unreferenced)', () => {
    const path = freshPath();
    const script = `
      const { SqliteEventLog } = require(${JSON.stringify(require.resolve('../../src/log/sqlite'))});
      const { TestEvents } = require(${JSON.stringify(require.resolve('../support/events'))});
      const log = new SqliteEventLog(${JSON.stringify(path)}, { groupCommit: true });
      const make = new TestEvents('left-open');
      log.append('a', [make.make('UtilizationSampled', { host: 'a', hypervisorCpuMhz: 0, vms: [] })], -1).then((r) => console.log('acknowledged', r.lastPosition));`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(run.error).toBeUndefined();
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('acknowledged 1\n');
    expect(run.status).toBe(0);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM events').pluck().get()).toBe(1);
    db.close();
  });

  test('an append queued when the log closes is refused, not lost silently', async () => {
    const log = new SqliteEventLog(freshPath(), { groupCommit: true });
    const make = new TestEvents('closing');
    const append = log.append('a', [make.make('UtilizationSampled', { host: 'a', hypervisorCpuMhz: 0, vms: [] })], NO_STREAM);
    const refused = expect(append).rejects.toThrow(/closed/);
    await log.close();
    await refused;
  });
});

describe('sqlite: the file', () => {
  test('uses WAL, synchronous FULL and marks itself with its application id and schema version', async () => {
    const path = freshPath();
    const log = new SqliteEventLog(path);
    await log.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('application_id', { simple: true })).toBe(SQLITE_APPLICATION_ID);
    expect(db.prepare('SELECT version FROM schema_version').pluck().all()).toEqual([1]);
    db.close();
    const reopened = new SqliteEventLog(path);
    expect(reopened['db'].pragma('synchronous', { simple: true })).toBe(2);
    await reopened.close();
  });

  test('a file that is not SQLite is refused, and left byte for byte as it was', () => {
    const path = freshPath();
    const bytes = Buffer.from('this is a text file, not a database\n'.repeat(200));
    writeFileSync(path, bytes);
    expect(() => new SqliteEventLog(path)).toThrow(LogFileError);
    expect(() => new SqliteEventLog(path)).toThrow(/is not an SQLite database, so not a neat event log; nothing was changed/);
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });

  test('another SQLite database is refused and left as it was', () => {
    const path = freshPath();
    const db = new Database(path);
    db.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance REAL)');
    db.close();
    const before = readFileSync(path);
    expect(() => new SqliteEventLog(path)).toThrow(/is an SQLite database but not a neat event log \(application_id 0\); nothing was changed/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('a log of an unknown schema version is refused and left as it was', async () => {
    const path = freshPath();
    await new SqliteEventLog(path).close();
    const db = new Database(path);
    db.prepare('UPDATE schema_version SET version = 99').run();
    db.close();
    const before = readFileSync(path);
    expect(() => new SqliteEventLog(path)).toThrow(/schema version 99; this build reads version 1; nothing was changed/);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  test('an empty file or an empty SQLite database becomes a new log', async () => {
    const empty = freshPath();
    writeFileSync(empty, '');
    const log = new SqliteEventLog(empty);
    expect(await log.headPosition()).toBe(0);
    await log.close();
  });

  test('a stored event that no longer matches the catalogue is an error naming its position, never skipped', async () => {
    const path = freshPath();
    const log = new SqliteEventLog(path);
    const make = new TestEvents();
    await log.append('s', [make.sample('h', {}), make.sample('h', {}), make.sample('h', {})], NO_STREAM);
    await log.close();
    const db = new Database(path);
    db.prepare("UPDATE events SET body = json_set(body, '$[4]', 'HostExploded') WHERE position = 2").run();
    db.prepare("UPDATE events SET body = json_set(body, '$[6]', json('{\"host\":\"h\"}')) WHERE position = 3").run();
    db.close();
    const reopened = new SqliteEventLog(path);
    await expect(reopened.readAll(1, 10)).rejects.toThrow(EventDecodeError);
    await expect(reopened.readAll(1, 10)).rejects.toThrow(/event at position 2 \(stream "s"\): unknown event type "HostExploded"/);
    await expect(reopened.readAll(3, 10)).rejects.toThrow(/event at position 3 \(stream "s"\): UtilizationSampled: data.hypervisorCpuMhz: missing/);
    expect((await reopened.readAll(1, 1)).map((e) => e.position)).toEqual([1]);
    await reopened.close();
  });

  test('a subscription sees appends made by another connection to the same file (by polling)', async () => {
    const path = freshPath();
    const reader = new SqliteEventLog(path, { pollIntervalMs: 10 });
    const writer = new SqliteEventLog(path);
    const make = new TestEvents();
    const iterator = reader.subscribe(1)[Symbol.asyncIterator]();
    const next = iterator.next();
    await writer.append('s', [make.sample('h', {})], NO_STREAM);
    const first = await next;
    expect(first.done === true ? null : first.value.position).toBe(1);
    await writer.close();
    await reader.close();
  });
});

describe('sqlite: openExisting, read-only', () => {
  /** Every file of the directory with its bytes, so that a test sees anything created, removed or changed. */
  function filesOf(dir: string): Record<string, string> {
    return Object.fromEntries(readdirSync(dir).map((name) => {
      const path = join(dir, name);
      return [name, statSync(path).isDirectory() ? 'directory' : readFileSync(path).toString('base64')];
    }));
  }

  async function closedLog(dir: string): Promise<string> {
    const path = join(dir, 'events.sqlite');
    const log = new SqliteEventLog(path);
    const make = new TestEvents('read-only');
    await log.append('s', [make.sample('h', { a: 1 }), make.sample('h', { a: 2 })], NO_STREAM);
    await log.close();
    return path;
  }

  test('reads a closed log and leaves its directory exactly as it was: no -wal or -shm file stays behind', async () => {
    const dir = mkdtempSync(join(directory, 'ro-'));
    const path = await closedLog(dir);
    const before = filesOf(dir);
    const mtimeMs = statSync(path).mtimeMs;
    expect(Object.keys(before)).toEqual(['events.sqlite']);
    const log = SqliteEventLog.openExisting(path);
    expect((await log.readAll(1, 10)).map((e) => e.position)).toEqual([1, 2]);
    await expect(log.append('s', [new TestEvents('other').sample('h', {})], 1)).rejects.toThrow(/opened read-only: appends are refused/);
    await log.close();
    expect(filesOf(dir)).toEqual(before);
    expect(statSync(path).mtimeMs).toBe(mtimeMs);
  });

  test('reads a log its writer still has open, and sees its later appends', async () => {
    const dir = mkdtempSync(join(directory, 'ro-'));
    const path = join(dir, 'events.sqlite');
    const writer = new SqliteEventLog(path);
    const make = new TestEvents('live');
    await writer.append('s', [make.sample('h', {})], NO_STREAM);
    const reader = SqliteEventLog.openExisting(path);
    expect(await reader.headPosition()).toBe(1);
    await writer.append('s', [make.sample('h', {})], 0);
    expect(await reader.headPosition()).toBe(2);
    await reader.close();
    expect(existsSync(`${path}-wal`)).toBe(true);
    await writer.append('s', [make.sample('h', {})], 1);
    await writer.close();
  });

  test('an absent file, a directory, an empty file, a text file and another SQLite database are each a LogFileError naming the path; nothing is created or changed', () => {
    const dir = mkdtempSync(join(directory, 'ro-'));
    mkdirSync(join(dir, 'folder'));
    writeFileSync(join(dir, 'empty.sqlite'), '');
    writeFileSync(join(dir, 'notes.txt'), 'not a database\n');
    const other = new Database(join(dir, 'other.sqlite'));
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY)');
    other.close();
    const before = filesOf(dir);
    const cases: [string, RegExp][] = [
      ['absent.sqlite', /absent\.sqlite: no such file, so no event log to read$/],
      ['folder', /folder is not a file, so not an event log$/],
      ['empty.sqlite', /empty\.sqlite is empty: it holds no event log to read; nothing was changed$/],
      ['notes.txt', /notes\.txt is not an SQLite database, so not a neat event log; nothing was changed$/],
      ['other.sqlite', /other\.sqlite is an SQLite database but not a neat event log \(application_id 0\); nothing was changed$/],
    ];
    for (const [name, message] of cases) {
      expect(() => SqliteEventLog.openExisting(join(dir, name))).toThrow(LogFileError);
      expect(() => SqliteEventLog.openExisting(join(dir, name))).toThrow(message);
    }
    expect(filesOf(dir)).toEqual(before);
  });
});
