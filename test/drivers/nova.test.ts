/**
 * The Nova driver's failure handling against real sockets on 127.0.0.1 that
 * misbehave as a cloud in trouble does: a port nobody listens on, and a
 * server that accepts connections and never answers. (Nova itself is in
 * test/openstack, run by `npm run test:nova`.)
 */
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { systemClock, systemTimer } from '../../src/clock';
import type { Timer } from '../../src/clock';
import { KeystoneSession } from '../../src/drivers/keystone';
import { NovaCloud } from '../../src/drivers/nova';
import { CloudError } from '../../src/managers/ports';

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

function cloud(authPort: number, timer: Timer, timeoutMs = 2000): NovaCloud {
  const session = new KeystoneSession({
    authUrl: `http://127.0.0.1:${authPort}/v3`, user: 'admin', password: 'x', userDomainName: 'Default', project: 'admin',
    projectDomainName: 'Default', interface: 'public', region: null, timeoutMs, ca: null, clock: systemClock, renewBeforeMs: 60_000,
  });
  return new NovaCloud({
    session, microversion: '2.87', computeHosts: ['compute1'], vcpuMhz: 2000, blockMigration: false, timeoutMs, ca: null,
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
