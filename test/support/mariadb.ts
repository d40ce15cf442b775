/**
 * A private MariaDB server for the neat-db source's tests: `mariadbd` on
 * 127.0.0.1 at a free port, its data directory and socket in a temporary
 * directory, with database `neat` and user `neat` (password `neatpassword`,
 * Neat's default). Needs the `mariadb-server` package.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { OutputTail } from '../../src/drivers/outputTail';
import { freePort } from './sshd';
import { prerequisite } from './prerequisite';
import { stopProcess } from './process';

export const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const INSTALL_TIMEOUT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;
const STOP_TIMEOUT_MS = 10_000;
const LOG_LIMIT_BYTES = 16 * 1024;

export const NEAT_USER = 'neat';
export const NEAT_PASSWORD = 'neatpassword';
export const NEAT_DATABASE = 'neat';

export interface MariaDb {
  readonly port: number;
  /** `mysql://neat:neatpassword@127.0.0.1:<port>/neat`. */
  readonly url: string;
  /** A connection as root over the socket, for the tests' own statements. */
  admin(database?: string): Promise<Connection>;
  /** The end of the server's log, for failure messages. */
  log(): string;
  /** Stops the server; `start` brings it back on the same port and data. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it and removes its files. */
  remove(): Promise<void>;
}

/** Whether mariadbd is here: when it is not, a loud skip locally and a failure on CI. */
export function requireMariaDb(): boolean {
  return prerequisite(`${MARIADBD} and ${INSTALL_DB}`, existsSync(MARIADBD) && existsSync(INSTALL_DB), 'apt-get install mariadb-server');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

export async function startMariaDb(): Promise<MariaDb> {
  const directory = mkdtempSync(join(tmpdir(), 'neat-mariadb-'));
  const dataDir = join(directory, 'data');
  const socket = join(directory, 'sock');
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? ['--user=root'] : [];
  execFileSync(INSTALL_DB, ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', ...user],
    { timeout: INSTALL_TIMEOUT_MS, stdio: 'ignore' });
  const port = await freePort();
  const output = new OutputTail(LOG_LIMIT_BYTES);
  const log = (): string => output.text() ?? '';
  let child: ChildProcess | null = null;
  const admin = (database?: string): Promise<Connection> => createConnection({ socketPath: socket, user: 'root', password: '', ...(database === undefined ? {} : { database }) });

  async function start(): Promise<void> {
    const server = spawn(MARIADBD, [
      '--no-defaults', `--datadir=${dataDir}`, `--socket=${socket}`, `--pid-file=${join(directory, 'pid')}`, '--skip-networking=0',
      '--bind-address=127.0.0.1', `--port=${port}`, '--skip-log-bin', '--innodb-buffer-pool-size=64M', '--skip-grant-tables=0', ...user,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = server;
    server.stderr.on('data', (chunk: Buffer) => { output.push(chunk); });
    server.on('error', (error) => { output.push(Buffer.from(`cannot run ${MARIADBD}: ${error.message}\n`)); });
    const polls = Math.ceil(READY_TIMEOUT_MS / READY_POLL_MS);
    for (let poll = 0; poll < polls; poll++) {
      if (server.exitCode !== null || server.signalCode !== null) throw new Error(`mariadbd exited (${server.exitCode ?? server.signalCode}) before it accepted connections:\n${log()}`);
      try {
        const connection = await admin();
        await connection.end();
        return;
      } catch {
        await delay(READY_POLL_MS);
      }
    }
    await stopProcess(server, STOP_TIMEOUT_MS);
    throw new Error(`mariadbd did not accept connections within ${READY_TIMEOUT_MS} ms:\n${log()}`);
  }

  const stop = async (): Promise<void> => { if (child !== null) await stopProcess(child, STOP_TIMEOUT_MS); };
  try {
    await start();
    const connection = await admin();
    // Every host form a client on 127.0.0.1 may match, so that no anonymous user of the fresh install shadows neat.
    for (const host of ['%', 'localhost', '127.0.0.1']) {
      await connection.query(`CREATE USER '${NEAT_USER}'@'${host}' IDENTIFIED BY '${NEAT_PASSWORD}'`);
      await connection.query(`GRANT ALL ON ${NEAT_DATABASE}.* TO '${NEAT_USER}'@'${host}'`);
    }
    await connection.query(`CREATE DATABASE ${NEAT_DATABASE}`);
    await connection.end();
  } catch (error) {
    await stop();
    rmSync(directory, { recursive: true, force: true });
    throw error;
  }
  return {
    port, url: `mysql://${NEAT_USER}:${NEAT_PASSWORD}@127.0.0.1:${port}/${NEAT_DATABASE}`, admin, log, stop, start,
    async remove(): Promise<void> {
      await stop();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
