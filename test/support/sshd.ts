/**
 * A real OpenSSH server for the SSH driver's tests: `/usr/sbin/sshd -D -e` on
 * 127.0.0.1 at a free port, with its own host keys (Ed25519 and ECDSA), one
 * authorised client key, and everything in a temporary directory. Needs the
 * `openssh-server` package (and `ssh-keygen`, from `openssh-client`).
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { OutputTail } from '../../src/drivers/outputTail';
import { prerequisite } from './prerequisite';
import { stopProcess } from './process';

export const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 50;
const STOP_TIMEOUT_MS = 5_000;
const KEYGEN_TIMEOUT_MS = 10_000;
const LOG_LIMIT_BYTES = 16 * 1024;

export interface Sshd {
  readonly port: number;
  /** The user sessions log in as: whoever runs the tests. */
  readonly user: string;
  /** A private key whose public half is authorised. */
  readonly clientKeyFile: string;
  /** The server's public keys, `type base64` as in a known_hosts line. */
  readonly hostKeys: { readonly ed25519: string; readonly ecdsa: string };
  /** The end of the server's log, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Generates a key pair without a passphrase; returns the public key as `type base64`. */
export function generateKey(file: string, type: 'ed25519' | 'ecdsa'): string {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', '', '-f', file], { timeout: KEYGEN_TIMEOUT_MS, stdio: 'ignore' });
  const [keyType, blob] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/);
  return `${keyType} ${blob}`;
}

/** A TCP port on 127.0.0.1 that nothing listens on at the time of asking. */
/** Whether sshd and ssh-keygen are here: when they are not, a loud skip locally and a failure on CI (`prerequisite`). */
export function requireSshd(): boolean {
  let keygen = true;
  try {
    execFileSync('ssh-keygen', ['-V'], { timeout: KEYGEN_TIMEOUT_MS, stdio: 'ignore' });
  } catch (error) {
    keygen = (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  return prerequisite(`${SSHD} and ssh-keygen`, existsSync(SSHD) && keygen, 'apt-get install openssh-server openssh-client');
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no TCP port'));
        else resolve(address.port);
      });
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function sshdConfig(directory: string, port: number, user: string): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(directory, 'host_ed25519')}`,
    `HostKey ${join(directory, 'host_ecdsa')}`,
    `PidFile ${join(directory, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(directory, 'authorized_keys')}`,
    `AllowUsers ${user}`,
    // The temporary directory is not owned and moded as sshd insists for a home.
    'StrictModes no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

async function waitUntilReady(child: ChildProcess, port: number, log: () => string): Promise<void> {
  const polls = Math.ceil(READY_TIMEOUT_MS / READY_POLL_MS);
  for (let poll = 0; poll < polls; poll++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before it accepted connections:\n${log()}`);
    }
    if (await accepts(port)) return;
    await delay(READY_POLL_MS);
  }
  throw new Error(`sshd did not accept connections on port ${port} within ${READY_TIMEOUT_MS} ms:\n${log()}`);
}

/** Starts sshd with its files in `directory` (which the caller creates and removes). */
export async function startSshd(directory: string): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install the openssh-server package`);
  const user = userInfo().username;
  const hostKeys = { ed25519: generateKey(join(directory, 'host_ed25519'), 'ed25519'), ecdsa: generateKey(join(directory, 'host_ecdsa'), 'ecdsa') };
  const clientKeyFile = join(directory, 'client_ed25519');
  writeFileSync(join(directory, 'authorized_keys'), `${generateKey(clientKeyFile, 'ed25519')}\n`);
  const port = await freePort();
  const configFile = join(directory, 'sshd_config');
  writeFileSync(configFile, sshdConfig(directory, port, user));
  // sshd running as root separates privileges into this directory, which the
  // system's service unit creates and a container lacks.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn(SSHD, ['-D', '-e', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const output = new OutputTail(LOG_LIMIT_BYTES);
  child.stderr.on('data', (chunk: Buffer) => { output.push(chunk); });
  child.on('error', (error) => { output.push(Buffer.from(`cannot run ${SSHD}: ${error.message}\n`)); });
  const log = (): string => output.text() ?? '';
  try {
    await waitUntilReady(child, port, log);
  } catch (error) {
    await stopProcess(child, STOP_TIMEOUT_MS);
    throw error;
  }
  return { port, user, clientKeyFile, hostKeys, log, stop: () => stopProcess(child, STOP_TIMEOUT_MS) };
}
