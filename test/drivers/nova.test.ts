/**
 * The Nova driver's failure handling against real sockets on 127.0.0.1 that
 * misbehave as a cloud in trouble does: a port nobody listens on, and a
 * server that accepts connections and never answers; and a Nova stand-in
 * (test/support/novaStandIn.ts) that takes os-migrateLive and loses the
 * answer. (Nova itself is in test/openstack, run by `npm run test:nova`.)
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { systemClock, systemTimer } from '../../src/clock';
import type { Timer } from '../../src/clock';
import { KeystoneSession } from '../../src/drivers/keystone';
import { NovaCloud } from '../../src/drivers/nova';
import { CloudError } from '../../src/managers/ports';
import type { MigrationStatus } from '../../src/managers/ports';
import { NovaStandIn } from '../support/novaStandIn';
import type { ActionAnswer } from '../support/novaStandIn';

let silent: Server;
const held: Socket[] = [];

beforeAll(async () => {
  silent = createServer((socket) => { held.push(socket); });
  await new Promise<void>((resolve) => { silent.listen(0, '127.0.0.1', resolve); });
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => { silent.close(resolve); });
});

/** A port that was free a moment ago: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => { server.close(resolve); });
  return port;
}

function cloud(authPort: number, timer: Timer, timeoutMs = 2000, computeHosts: readonly string[] = ['compute1']): NovaCloud {
  const session = new KeystoneSession({
    authUrl: `http://127.0.0.1:${authPort}/v3`, user: 'admin', password: 'x', userDomainName: 'Default', project: 'admin',
    projectDomainName: 'Default', interface: 'public', region: null, timeoutMs, ca: null, clock: systemClock, renewBeforeMs: 60_000,
  });
  return new NovaCloud({
    session, microversion: '2.87', computeHosts, vcpuMhz: 2000, blockMigration: false, timeoutMs, ca: null,
    maxAttempts: 3, backoffMs: 50, timer, warn: () => undefined,
  });
}

/** The real timer, with the waits it was asked for written down. */
function recordingTimer(): Timer & { readonly sleptMs: number[] } {
  const sleptMs: number[] = [];
  return { sleptMs, sleep: (durationMs) => { sleptMs.push(durationMs); return systemTimer.sleep(durationMs); } };
}

test('a refused connection is tried max_attempts times with doubling backoff, then the cloud is unavailable', async () => {
  const timer = recordingTimer();
  const listing = cloud(await closedPort(), timer).listHosts();
  await expect(listing).rejects.toBeInstanceOf(CloudError);
  await expect(listing).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/ECONNREFUSED/) as unknown });
  expect(timer.sleptMs).toEqual([50, 100]);
});

test('a server that accepts and never answers: each try ends at the deadline, and the cloud is unavailable', async () => {
  const timer = recordingTimer();
  const startMs = performance.now();
  const listing = cloud((silent.address() as AddressInfo).port, timer, 300).listHosts();
  await expect(listing).rejects.toMatchObject({ kind: 'unavailable', message: expect.stringMatching(/no (complete )?answer within 300 ms/) as unknown });
  const elapsedMs = performance.now() - startMs;
  expect(elapsedMs).toBeGreaterThanOrEqual(3 * 300 + 150 - 20);
  expect(elapsedMs).toBeLessThan(10_000);
  expect(timer.sleptMs).toEqual([50, 100]);
});

test('a migration handle that is not one of ours is refused as a bad request', async () => {
  await expect(cloud(await closedPort(), systemTimer).migrationStatus('not json')).rejects.toMatchObject({ kind: 'bad-request' });
  await expect(cloud(await closedPort(), systemTimer).migrationStatus('{"vmId":1}')).rejects.toMatchObject({ kind: 'bad-request' });
});

test('a migration to a host outside compute_hosts is refused before Nova is asked', async () => {
  await expect(cloud(await closedPort(), systemTimer).startLiveMigration('vm', 'elsewhere')).rejects.toMatchObject({
    kind: 'bad-request', message: 'host "elsewhere" is not in compute_hosts',
  });
});

describe('os-migrateLive whose answer is lost: never sent again, and reported as ambiguous with the handle to follow', () => {
  let standIn: NovaStandIn | null = null;
  afterEach(async () => { await standIn?.close(); });

  async function startAgainst(answers: readonly ActionAnswer[]): Promise<{ nova: NovaCloud; started: Promise<string> }> {
    standIn = await NovaStandIn.start({
      hosts: ['compute1', 'compute2'], servers: [{ id: 'vm-a', host: 'compute1' }], migrationMs: 200, answers,
    });
    const nova = cloud(standIn.port, systemTimer, 300, ['compute1', 'compute2']);
    return { nova, started: nova.startLiveMigration('vm-a', 'compute2') };
  }

  test.each(['stall', 'drop', 'bad-gateway'] as const)('%s on a reused connection: ambiguous, received once, and the handle follows the migration Nova began', async (answer) => {
    const { nova, started } = await startAgainst([answer]);
    const error: unknown = await started.then(() => null, (reason: unknown) => reason);
    expect(error).toBeInstanceOf(CloudError);
    expect(error).toMatchObject({ kind: 'ambiguous', handle: expect.any(String) as unknown });
    expect(standIn?.actions).toEqual([{ vmId: 'vm-a', targetHost: 'compute2', answer, reusedConnection: true }]);
    const handle = (error as CloudError).handle ?? '';
    const status = await pollStatus(nova, handle);
    expect(status).toEqual({ state: 'completed', error: null });
    expect(standIn?.placement()).toEqual({ 'vm-a': 'compute2' });
  });

  test('503: not taken, so tried again, and accepted once', async () => {
    const { nova, started } = await startAgainst(['unavailable']);
    const handle = await started;
    expect(standIn?.actions.map((a) => a.answer)).toEqual(['unavailable', 'accept']);
    expect(await pollStatus(nova, handle)).toEqual({ state: 'completed', error: null });
  });
});

/** The migration's status once it is final, polled on the real timer (bounded). */
async function pollStatus(nova: NovaCloud, handle: string): Promise<MigrationStatus> {
  for (let poll = 0; poll < 100; poll++) {
    const status = await nova.migrationStatus(handle);
    if (status.state !== 'running') return status;
    await systemTimer.sleep(50);
  }
  throw new Error('the migration did not end within 100 polls');
}
