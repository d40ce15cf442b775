/**
 * A private PostgreSQL cluster for the event-log tests and the benchmark:
 * `initdb` into a temporary directory, `pg_ctl` starts it on 127.0.0.1 at a
 * free port (its socket in the same directory), trust authentication for the
 * superuser `neat`. Needs Debian's `postgresql` package. PostgreSQL refuses
 * to run as root, so as root the cluster belongs to the package's `postgres`
 * user and its commands run through `runuser`.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './sshd';
import { prerequisite } from './prerequisite';

const POSTGRES_LIB = '/usr/lib/postgresql';
const RUNUSER = '/usr/sbin/runuser';
const SERVICE_USER = 'postgres';
const INITDB_TIMEOUT_MS = 120_000;
const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_S = 30;
const LOG_TAIL_BYTES = 8 * 1024;

export const POSTGRES_USER = 'neat';
export const POSTGRES_DATABASE = 'postgres';

export interface PostgresServer {
  readonly port: number;
  /** `postgresql://neat@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  /** The end of the server's log, for failure messages. */
  log(): string;
  /** Stops the server and removes its files. */
  remove(): void;
}

/** The newest installed major version's bin directory, or null. */
export function postgresBinDir(): string | null {
  if (!existsSync(POSTGRES_LIB)) return null;
  const versions = readdirSync(POSTGRES_LIB)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(POSTGRES_LIB, name, 'bin', 'initdb')) && existsSync(join(POSTGRES_LIB, name, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length === 0 ? null : join(POSTGRES_LIB, versions[0], 'bin');
}

function serviceUserIds(): { uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', SERVICE_USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', SERVICE_USER], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

/** Whether a cluster can be started here: when not, a loud skip locally and a failure on CI. */
export function requirePostgres(): boolean {
  const bin = postgresBinDir();
  const asRoot = process.getuid?.() === 0;
  return prerequisite(`PostgreSQL's initdb and pg_ctl (${POSTGRES_LIB}/<version>/bin)${asRoot ? ` and the ${SERVICE_USER} user to run them as` : ''}`,
    bin !== null && (!asRoot || (existsSync(RUNUSER) && serviceUserIds() !== null)), 'apt-get install postgresql');
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (bin === null) throw new Error(`no PostgreSQL under ${POSTGRES_LIB}`);
  const asRoot = process.getuid?.() === 0;
  const ids = asRoot ? serviceUserIds() : null;
  if (asRoot && ids === null) throw new Error(`running as root, and there is no ${SERVICE_USER} user to run PostgreSQL as`);
  const directory = mkdtempSync(join(tmpdir(), 'neat-postgres-'));
  if (ids !== null) chownSync(directory, ids.uid, ids.gid);
  const dataDir = join(directory, 'data');
  const logFile = join(directory, 'server.log');
  const run = (tool: string, args: readonly string[], timeoutMs: number): void => {
    const command = join(bin, tool);
    const [file, argv] = asRoot ? [RUNUSER, ['-u', SERVICE_USER, '--', command, ...args]] : [command, [...args]];
    execFileSync(file, argv, { timeout: timeoutMs, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const log = (): string => {
    if (!existsSync(logFile)) return '';
    const text = readFileSync(logFile, 'utf8');
    return text.slice(Math.max(0, text.length - LOG_TAIL_BYTES));
  };
  const stop = (): void => {
    try {
      run('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S)], (STOP_TIMEOUT_S + 5) * 1000);
    } catch {
      // Not running (a failed start), or already stopped.
    }
  };
  const port = await freePort();
  try {
    run('initdb', ['-D', dataDir, '-U', POSTGRES_USER, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-instructions'], INITDB_TIMEOUT_MS);
    // fsync and synchronous_commit keep their defaults (on): the adapter is measured and tested as it runs in production.
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -k ${directory} -c max_connections=100`;
    run('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(START_TIMEOUT_S), '-o', options], (START_TIMEOUT_S + 5) * 1000);
  } catch (error) {
    stop();
    const message = `PostgreSQL did not start: ${(error as Error).message}\n${log()}`;
    rmSync(directory, { recursive: true, force: true });
    throw new Error(message);
  }
  return {
    port,
    url: `postgresql://${POSTGRES_USER}@127.0.0.1:${port}/${POSTGRES_DATABASE}`,
    log,
    remove(): void {
      stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

