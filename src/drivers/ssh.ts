/**
 * `Power.suspend` over SSH: run `sleep_command` on the compute host, as Neat
 * did, but authenticated by key, with the host verified against a
 * known_hosts file, and every step bounded in time. The suspend resolves only
 * when the command reported exit status 0; anything else rejects with a
 * PowerError naming the host and the cause, with the end of the command's
 * standard error.
 *
 * A command that suspends the host at once (a bare `pm-suspend`) may take
 * the connection down with it before its exit status is sent. We then cannot
 * tell a host that fell asleep from one whose network, sshd or command died,
 * and we call it a failure: the orchestration records HostSuspendFailed,
 * keeps counting the host as up, and the next inventory corrects the record
 * once Nova reports the host down. The other choice would record as asleep a
 * host that may still be up, and the consolidation would then plan around
 * capacity it thinks is gone and wake a host that never slept. So a
 * sleep_command should return before the host goes down, e.g.
 * `sudo systemd-run --on-active=2 systemctl suspend`. (A command left in the
 * background must not hold the session's output: OpenSSH sends the exit
 * status only once the output is closed.)
 */
import { readFile } from 'node:fs/promises';
import { Client } from 'ssh2';
import type { ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import { assert } from '../engine/assert';
import { PowerError } from '../managers/ports';
import type { KnownHostKey } from './knownHosts';
import { blobKeyType, fingerprint, hostKeyName, keysFor, parseKnownHosts, verifyHostKey } from './knownHosts';
import { OutputTail } from './outputTail';

export interface SshSuspendOptions {
  /** `compute_user`. */
  readonly user: string;
  /** An unencrypted OpenSSH private key (`ssh_key_file`); read at each suspend, so that a rotated key needs no restart. */
  readonly privateKeyFile: string;
  /** `ssh_known_hosts_file`; read at each suspend. A missing file lists no host. */
  readonly knownHostsFile: string;
  /**
   * Off: a host absent from known_hosts is accepted without verification. A
   * host listed with other keys is refused either way: that is what a man in
   * the middle looks like.
   */
  readonly strictHostKeyChecking: boolean;
  readonly port: number;
  /** TCP connect, key exchange and authentication. */
  readonly connectTimeoutMs: number;
  /** From the session being ready to the exit status. */
  readonly commandTimeoutMs: number;
  /** Run by the user's shell on the host; empty: hosts are never suspended (every suspend fails, saying so). */
  readonly sleepCommand: string;
  /** Where to connect for a host name. */
  readonly addressOf: (host: string) => string;
}

/** Node's timers fire at once for longer delays. */
const MAX_TIMER_MS = 2 ** 31 - 1;

// One RSA key serves three signature algorithms; SHA-1 last, for old hosts only.
const ALGORITHMS_OF_KEY_TYPE: Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/** What one suspend needs once the files are read. */
interface Attempt {
  readonly config: ConnectConfig;
  readonly command: string;
  readonly connectTimeoutMs: number;
  readonly commandTimeoutMs: number;
  /** Why the presented host key is refused; null when it is accepted. */
  readonly refuseHostKey: (blob: Buffer) => string | null;
  readonly authFailure: string;
  readonly fail: (cause: string, stderr: string | null) => PowerError;
}

interface ExitStatus {
  readonly code: number | null;
  readonly signal: string | null;
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') {
    return error.message;
  }
  return String(error);
}

function isMissingFile(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}

/**
 * Offering only the algorithms of the listed keys makes the host present one
 * of them, as `ssh` does; otherwise a host listed by its ECDSA key could
 * present its Ed25519 key and be refused as changed.
 */
function hostKeyAlgorithms(lines: readonly KnownHostKey[]): ServerHostKeyAlgorithm[] {
  const algorithms = lines.filter((key) => key.marker === null).flatMap((key) => ALGORITHMS_OF_KEY_TYPE[key.keyType] ?? []);
  return [...new Set(algorithms)];
}

function exitCause(exit: ExitStatus): string | null {
  if (exit.code === 0) return null;
  if (exit.signal !== null) return `the command was killed by ${exit.signal}`;
  return `the command exited with status ${exit.code ?? 'unknown'}`;
}

export class SshSuspender {
  constructor(private readonly options: SshSuspendOptions) {
    assert(options.user !== '', 'SSH needs a user');
    assert(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535, () => `bad SSH port ${options.port}`);
    for (const timeoutMs of [options.connectTimeoutMs, options.commandTimeoutMs]) {
      assert(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS, () => `an SSH timeout must be in (0, ${MAX_TIMER_MS}] ms; got ${timeoutMs}`);
    }
  }

  async suspend(host: string): Promise<void> {
    const { options } = this;
    const address = options.addressOf(host);
    const where = address === host ? `${host}:${options.port}` : `${host} (${address}:${options.port})`;
    const fail = (cause: string, stderr: string | null = null): PowerError =>
      new PowerError(`cannot suspend host ${where} over SSH: ${cause}`, stderr);
    if (options.sleepCommand === '') throw fail('sleep_command is empty, so hosts are not suspended');
    const privateKey = await readFile(options.privateKeyFile).catch((error: unknown) => {
      throw fail(`cannot read the private key ${options.privateKeyFile} (ssh_key_file): ${messageOf(error)}`);
    });
    const knownHostsText = await readFile(options.knownHostsFile, 'utf8').catch((error: unknown) => {
      if (isMissingFile(error)) return '';
      throw fail(`cannot read ${options.knownHostsFile} (ssh_known_hosts_file): ${messageOf(error)}`);
    });
    const names = [...new Set([hostKeyName(host, options.port), hostKeyName(address, options.port)])];
    const lines = keysFor(parseKnownHosts(knownHostsText), names);
    const algorithms = hostKeyAlgorithms(lines);
    const listed = `${names.join(' or ')} in ${options.knownHostsFile}`;
    if (options.strictHostKeyChecking && algorithms.length === 0) {
      throw fail(`no usable host key for ${listed}; add the host's key (ssh-keyscan) or turn ssh_strict_host_key_checking off`);
    }
    return runCommand({
      config: {
        host: address, port: options.port, username: options.user, privateKey,
        readyTimeout: options.connectTimeoutMs,
        ...(algorithms.length > 0 ? { algorithms: { serverHostKey: algorithms } } : {}),
      },
      command: options.sleepCommand,
      connectTimeoutMs: options.connectTimeoutMs,
      commandTimeoutMs: options.commandTimeoutMs,
      refuseHostKey: (blob) => this.refusal(lines, blob, listed),
      authFailure: `authentication as "${options.user}" with the key ${options.privateKeyFile} was refused`,
      fail,
    });
  }

  private refusal(lines: readonly KnownHostKey[], blob: Buffer, listed: string): string | null {
    const verdict = verifyHostKey(lines, blob);
    const presented = `the host key ${blobKeyType(blob) ?? '(unknown type)'} ${fingerprint(blob)}`;
    switch (verdict.kind) {
      case 'trusted': return null;
      case 'unknown':
        assert(!this.options.strictHostKeyChecking, 'strict checking refuses a host without listed keys before connecting');
        return null;
      case 'revoked': return `${presented} is marked @revoked at line ${verdict.line} of ${this.options.knownHostsFile}`;
      case 'mismatch':
        return `${presented} differs from the key for ${listed} (line ${verdict.lines.join(', ')}): ` +
          'the host was reinstalled, or someone is in the middle; refusing to connect';
    }
  }
}

/**
 * One connection, one command. Settles exactly once; every wait is under one
 * of the two timers, which do not rely on the SSH library to give up.
 */
function runCommand(attempt: Attempt): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    const stderr = new OutputTail();
    let hostKeyRefusal: string | null = null;
    let commandStarted = false;
    let exit: ExitStatus | null = null;
    let settled = false;
    const settle = (cause: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (cause === null) {
        client.end();
        resolve();
      } else {
        client.destroy();
        reject(attempt.fail(cause, stderr.text()));
      }
    };
    // No exit status means no proof that the host accepted the command (see the module's comment).
    const afterClose = (what: string): string | null => exit !== null ? exitCause(exit)
      : commandStarted ? `${what} closed before the command reported an exit status`
        : `${what} closed before the command could start`;
    let timer = setTimeout(() => { settle(`no SSH session within ${attempt.connectTimeoutMs} ms`); }, attempt.connectTimeoutMs);

    const onChannel = (channel: ClientChannel): void => {
      commandStarted = true;
      channel.on('exit', (code: number | null, signal?: string) => { exit = { code, signal: signal ?? null }; });
      channel.on('close', () => { settle(afterClose('the session')); });
      channel.stderr.on('data', (chunk: Buffer) => { stderr.push(chunk); });
      channel.resume();
      // The command's standard input is empty: one that reads it gets end-of-file instead of waiting.
      channel.end();
    };
    client.on('ready', () => {
      if (settled) return;
      clearTimeout(timer);
      // An exit status that came while the channel stays open (the server
      // waits for output that a child of the command holds) decides.
      timer = setTimeout(() => {
        settle(exit !== null ? exitCause(exit) : `the command did not finish within ${attempt.commandTimeoutMs} ms`);
      }, attempt.commandTimeoutMs);
      client.exec(attempt.command, (error, channel) => {
        if (error !== undefined) settle(`cannot start the command: ${error.message}`);
        else onChannel(channel);
      });
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (hostKeyRefusal !== null) settle(hostKeyRefusal);
      else if (error.level === 'client-authentication') settle(attempt.authFailure);
      else if (error.level === 'client-timeout') settle(`no SSH session within ${attempt.connectTimeoutMs} ms`);
      else if (error.level === 'client-socket') settle(`the connection failed: ${error.message}`);
      else settle(error.message);
    });
    client.on('close', () => { settle(afterClose('the connection')); });
    try {
      client.connect({
        ...attempt.config,
        hostVerifier: (blob: Buffer): boolean => {
          hostKeyRefusal = attempt.refuseHostKey(blob);
          return hostKeyRefusal === null;
        },
      });
    } catch (error) {
      // ssh2 parses the private key here.
      settle(`cannot use the private key: ${messageOf(error)}`);
    }
  });
}
