import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STDERR_LIMIT_BYTES } from '../../src/drivers/outputTail';
import { productionPower } from '../../src/drivers/power';
import { SshSuspender } from '../../src/drivers/ssh';
import type { SshSuspendOptions } from '../../src/drivers/ssh';
import { PowerError } from '../../src/managers/ports';
import { generateKey, requireSshd, startSshd } from '../support/sshd';
import type { Sshd } from '../support/sshd';

// A compute host called compute1 whose sshd is the test's, on 127.0.0.1.
const HOST = 'compute1';
let directory: string;
let sshd: Sshd;
let files = 0;

const describeSshd = requireSshd() ? describe : describe.skip;

describeSshd('the SSH suspender against a real sshd on 127.0.0.1', () => {
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'neat-ssh-'));
    sshd = await startSshd(directory);
  });

  afterAll(async () => {
    await sshd.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  function newFile(name: string, content: string): string {
    files += 1;
    const file = join(directory, `${files}-${name}`);
    writeFileSync(file, content);
    return file;
  }

  function marker(): string {
    files += 1;
    return join(directory, `${files}-suspended`);
  }

  function knownHosts(...lines: string[]): string {
    return newFile('known_hosts', lines.map((line) => `${line}\n`).join(''));
  }

  /** compute1's entry, as `ssh -p <port> compute1` would have written it. */
  function hostEntry(key = sshd.hostKeys.ed25519, name = `[${HOST}]:${sshd.port}`): string {
    return `${name} ${key}`;
  }

  function suspender(options: Partial<SshSuspendOptions>): SshSuspender {
    return new SshSuspender({
      user: sshd.user, privateKeyFile: sshd.clientKeyFile, knownHostsFile: knownHosts(hostEntry()),
      strictHostKeyChecking: true, port: sshd.port, connectTimeoutMs: 5_000, commandTimeoutMs: 5_000,
      sleepCommand: 'true', addressOf: () => '127.0.0.1', ...options,
    });
  }

  async function failure(work: Promise<void>): Promise<PowerError> {
    const error = await work.then(() => null, (e: unknown) => e);
    if (!(error instanceof PowerError)) throw new Error(`expected a PowerError, got ${String(error)}\nsshd log:\n${sshd.log()}`);
    return error;
  }

  async function suspended(work: Promise<void>): Promise<void> {
    try {
      await work;
    } catch (error) {
      throw new Error(`the suspend failed: ${String(error)}\nsshd log:\n${sshd.log()}`);
    }
  }

  async function timed<T>(work: Promise<T>): Promise<{ result: T; elapsedMs: number }> {
    const startMs = performance.now();
    const result = await work;
    return { result, elapsedMs: performance.now() - startMs };
  }

  describe('a suspend runs sleep_command on the host and succeeds only on exit status 0', () => {
    test('the command runs on the host, as compute_user, authenticated by key', async () => {
      const file = marker();
      await suspended(suspender({ sleepCommand: `id -un > ${file}` }).suspend(HOST));
      expect(readFileSync(file, 'utf8')).toBe(`${sshd.user}\n`);
    });

    test('productionPower takes the SSH settings from the configuration (seconds) and the address from the options', async () => {
      const file = marker();
      const power = productionPower({
        computeUser: sshd.user, sleepCommand: `touch ${file}`, sshKeyFile: sshd.clientKeyFile,
        sshKnownHostsFile: knownHosts(hostEntry(sshd.hostKeys.ed25519, `[127.0.0.1]:${sshd.port}`)),
        sshPort: sshd.port, sshStrictHostKeyChecking: true, sshConnectTimeoutS: 5, sshCommandTimeoutS: 5,
        hostMacs: {}, wolBroadcastAddress: '127.0.0.1', wolPort: 9, wolProgram: null, etherWakeInterface: 'eth0',
      }, { addressOf: () => '127.0.0.1' });
      await suspended(power.suspend(HOST));
      expect(existsSync(file)).toBe(true);
    });

    test('a non-zero exit status fails, naming the host and the status, with the command\'s stderr', async () => {
      const error = await failure(suspender({ sleepCommand: 'echo "pm-suspend: not permitted" >&2; exit 3' }).suspend(HOST));
      expect(error.message).toBe(`cannot suspend host ${HOST} (127.0.0.1:${sshd.port}) over SSH: the command exited with status 3`);
      expect(error.stderr).toBe('pm-suspend: not permitted\n');
    });

    test('stderr is kept to its last 4 KiB, saying how much came before', async () => {
      const command = 'head -c 10000 /dev/zero | tr "\\0" x >&2; echo "the reason" >&2; exit 1';
      const error = await failure(suspender({ sleepCommand: command }).suspend(HOST));
      const tail = 'x'.repeat(STDERR_LIMIT_BYTES - 'the reason\n'.length) + 'the reason\n';
      expect(error.stderr).toBe(`[${10_000 + 11 - STDERR_LIMIT_BYTES} earlier bytes omitted]\n${tail}`);
    });

    test('a command killed by a signal fails, naming the signal', async () => {
      const error = await failure(suspender({ sleepCommand: 'kill -TERM $$' }).suspend(HOST));
      expect(error.message).toMatch(/: the command was killed by SIGTERM$/);
    });

    test('a connection that drops before an exit status (as a bare pm-suspend may) is a failure: the host is not known to be asleep', async () => {
      // The shell's parent is the session's sshd process: killing it drops the connection mid-command.
      const error = await failure(suspender({ sleepCommand: 'kill -KILL $PPID; sleep 5' }).suspend(HOST));
      expect(error.message).toMatch(/: the (session|connection) closed before the command reported an exit status$/);
    });

    test('a command that detaches the suspend from the session (output redirected) succeeds at once', async () => {
      // OpenSSH sends the exit status only once nothing holds the session's output: the child must not inherit it.
      const file = marker();
      const command = `touch ${file}; nohup sh -c "sleep 15" >/dev/null 2>&1 &`;
      const { elapsedMs } = await timed(suspended(suspender({ sleepCommand: command, commandTimeoutMs: 12_000 }).suspend(HOST)));
      expect(existsSync(file)).toBe(true);
      expect(elapsedMs).toBeLessThan(10_000);
    });

    test('an empty sleep_command fails without connecting', async () => {
      const error = await failure(suspender({ sleepCommand: '', port: 1 }).suspend(HOST));
      expect(error.message).toBe(`cannot suspend host ${HOST} (127.0.0.1:1) over SSH: sleep_command is empty, so hosts are not suspended`);
    });
  });

  describe('authentication and host keys', () => {
    test('a key the host does not authorise fails, naming the user and the key', async () => {
      const wrongKey = join(directory, 'wrong_ed25519');
      generateKey(wrongKey, 'ed25519');
      const error = await failure(suspender({ privateKeyFile: wrongKey }).suspend(HOST));
      expect(error.message).toMatch(new RegExp(`: authentication as "${sshd.user}" with the key ${wrongKey} was refused$`));
    });

    test('a private key that cannot be read or parsed fails, naming the file', async () => {
      const missing = join(directory, 'no-such-key');
      expect((await failure(suspender({ privateKeyFile: missing }).suspend(HOST))).message)
        .toMatch(new RegExp(`: cannot read the private key ${missing} \\(ssh_key_file\\): ENOENT`));
      const garbage = newFile('garbage_key', 'not a key\n');
      expect((await failure(suspender({ privateKeyFile: garbage }).suspend(HOST))).message).toMatch(/: cannot use the private key: /);
    });

    test('a host missing from known_hosts fails before connecting, and the command does not run', async () => {
      const file = marker();
      const knownHostsFile = knownHosts(hostEntry(sshd.hostKeys.ed25519, `[compute2]:${sshd.port}`), hostEntry(sshd.hostKeys.ed25519, HOST));
      const error = await failure(suspender({ knownHostsFile, sleepCommand: `touch ${file}` }).suspend(HOST));
      expect(error.message).toBe(`cannot suspend host ${HOST} (127.0.0.1:${sshd.port}) over SSH: no usable host key for ` +
        `[${HOST}]:${sshd.port} or [127.0.0.1]:${sshd.port} in ${knownHostsFile}; add the host's key (ssh-keyscan) or turn ssh_strict_host_key_checking off`);
      expect(existsSync(file)).toBe(false);
    });

    test('a host listed with another key is refused as a possible man in the middle, and the command does not run', async () => {
      const file = marker();
      const otherKey = generateKey(join(directory, 'other_host_ed25519'), 'ed25519');
      const error = await failure(suspender({ knownHostsFile: knownHosts(hostEntry(otherKey)), sleepCommand: `touch ${file}` }).suspend(HOST));
      expect(error.message).toMatch(/: the host key ssh-ed25519 SHA256:\S+ differs from the key for .* \(line 1\): .*someone is in the middle; refusing to connect$/);
      expect(existsSync(file)).toBe(false);
    });

    test('a hashed entry (ssh-keygen -H) is accepted', async () => {
      const knownHostsFile = knownHosts('# hashed by ssh-keygen', hostEntry());
      execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHostsFile], { timeout: 10_000, stdio: 'ignore' });
      expect(readFileSync(knownHostsFile, 'utf8')).toMatch(/^\|1\|[^|]+\|[^ ]+ ssh-ed25519 /m);
      expect(readFileSync(knownHostsFile, 'utf8')).not.toContain(HOST);
      const file = marker();
      await suspended(suspender({ knownHostsFile, sleepCommand: `touch ${file}` }).suspend(HOST));
      expect(existsSync(file)).toBe(true);
    });

    test('a host listed by its ECDSA key only is asked for that key, though it also has an Ed25519 one', async () => {
      const file = marker();
      await suspended(suspender({ knownHostsFile: knownHosts(hostEntry(sshd.hostKeys.ecdsa)), sleepCommand: `touch ${file}` }).suspend(HOST));
      expect(existsSync(file)).toBe(true);
    });

    test('a key marked @revoked is refused even when another line lists it', async () => {
      const error = await failure(suspender({ knownHostsFile: knownHosts(hostEntry(), `@revoked * ${sshd.hostKeys.ed25519}`) }).suspend(HOST));
      expect(error.message).toMatch(/: the host key ssh-ed25519 SHA256:\S+ is marked @revoked at line 2 of /);
    });

    test('with strict checking off, an unknown host is accepted, but a changed key is still refused', async () => {
      const file = marker();
      const missing = join(directory, 'no-such-known_hosts');
      await suspended(suspender({ knownHostsFile: missing, strictHostKeyChecking: false, sleepCommand: `touch ${file}` }).suspend(HOST));
      expect(existsSync(file)).toBe(true);
      const otherKey = generateKey(join(directory, 'changed_host_ed25519'), 'ed25519');
      const error = await failure(suspender({ knownHostsFile: knownHosts(hostEntry(otherKey)), strictHostKeyChecking: false }).suspend(HOST));
      expect(error.message).toMatch(/differs from the key/);
    });
  });

  describe('every wait is bounded', () => {
    test('a command that runs past the command timeout fails after it, and the connection is closed', async () => {
      const { result: error, elapsedMs } = await timed(failure(suspender({ sleepCommand: 'sleep 10', commandTimeoutMs: 500 }).suspend(HOST)));
      expect(error.message).toMatch(/: the command did not finish within 500 ms$/);
      expect(elapsedMs).toBeGreaterThanOrEqual(490);
      expect(elapsedMs).toBeLessThan(3_000);
    });

    test('a server that accepts the connection but never speaks fails after the connect timeout', async () => {
      const sockets: Socket[] = [];
      const silent: Server = createServer((socket) => { sockets.push(socket); });
      await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve); });
      const address = silent.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      try {
        const { result: error, elapsedMs } = await timed(failure(suspender({ port: address.port, connectTimeoutMs: 300, strictHostKeyChecking: false }).suspend(HOST)));
        expect(error.message).toBe(`cannot suspend host ${HOST} (127.0.0.1:${address.port}) over SSH: no SSH session within 300 ms`);
        expect(elapsedMs).toBeLessThan(2_000);
      } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => { silent.close(resolve); });
      }
    });

    test('a refused connection fails at once, saying so', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => { closed.listen(0, '127.0.0.1', resolve); });
      const address = closed.address();
      await new Promise((resolve) => { closed.close(resolve); });
      if (address === null || typeof address === 'string') throw new Error('no port');
      const error = await failure(suspender({ port: address.port, strictHostKeyChecking: false }).suspend(HOST));
      expect(error.message).toMatch(/: the connection failed: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    });
  });
});
