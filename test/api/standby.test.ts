/**
 * A standby of a highly available deployment, over real HTTP: it follows what
 * another writer appends, answers reads from that, and sends writes to the
 * leader (307, method and body kept), or asks to retry while none is known.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManagerClient } from '../../src/agent/client';
import { systemClock } from '../../src/clock';
import { DEFAULT_CONFIG } from '../../src/config';
import { MemoryEventLog } from '../../src/log/memory';
import { NO_STREAM } from '../../src/log/port';
import { startStandbyService } from '../../src/service';
import type { StandbyService } from '../../src/service';
import { snapshotDataCentre } from '../../src/events/dataCentre';
import { seededIds } from '../../src/ids';
import { createRng } from '../../src/rng';
import { VirtualTimer } from '../../sim/virtualTime';
import { NEAT_LIKE, World } from '../managers/harness';
import { TestEvents } from '../support/events';

const TOKEN_SHA256 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

let log: MemoryEventLog;
let standby: StandbyService;
let leaderUrl: string | null;
let make: TestEvents;
const errors: unknown[] = [];

beforeEach(async () => {
  log = new MemoryEventLog();
  leaderUrl = null;
  make = new TestEvents();
  await log.append('inventory', [make.inventory({ 'host-1': 'up', 'host-2': 'up' }, { 'vm-1': 'host-1' })], NO_STREAM);
  standby = await startStandbyService({
    config: { ...DEFAULT_CONFIG, apiTokensSha256: [TOKEN_SHA256] }, log, listen: { host: '127.0.0.1', port: 0 },
    leaderUrl: () => leaderUrl, onError: (error) => { errors.push(error); },
  });
});

afterEach(async () => {
  await standby.close();
  await log.close();
  expect(errors).toEqual([]);
});

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => { setTimeout(resolve, 10); });
  expect(condition()).toBe(true);
}

test('it folds the log and follows the leader\'s appends: reads answer from them', async () => {
  expect(standby.position()).toBe(1);
  const health = await (await fetch(`${standby.url}/healthz`)).json() as Record<string, unknown>;
  expect(health).toMatchObject({ status: 'ok', role: 'standby', position: 1, leader: null });
  await log.append('samples-host-1', [make.sample('host-1', { 'vm-1': 420 })], NO_STREAM);
  await until(() => standby.position() === 2);
  const hosts = await (await fetch(`${standby.url}/v1/hosts`, { headers: { authorization: 'Bearer test' } })).json() as { hosts: { name: string }[]; position: number };
  expect({ names: hosts.hosts.map((h) => h.name), position: hosts.position }).toEqual({ names: ['host-1', 'host-2'], position: 2 });
});

test('a write is redirected to the leader with 307 (Neat\'s PUT / and the JSON API alike), and nothing is appended', async () => {
  leaderUrl = 'http://127.0.0.1:9/';
  const put = await fetch(`${standby.url}/`, { method: 'PUT', redirect: 'manual', body: 'username=x&password=y&host=host-1&reason=0&time=1' });
  expect({ status: put.status, location: put.headers.get('location') }).toEqual({ status: 307, location: 'http://127.0.0.1:9/' });
  const post = await fetch(`${standby.url}/v1/requests?x=1`, { method: 'POST', redirect: 'manual', body: '{}' });
  expect({ status: post.status, location: post.headers.get('location') }).toEqual({ status: 307, location: 'http://127.0.0.1:9/v1/requests?x=1' });
  expect(await log.headPosition()).toBe(1);
});

test('with no leader known, a write is a 503 with Retry-After', async () => {
  const answer = await fetch(`${standby.url}/v1/samples`, { method: 'POST', body: '{}' });
  expect({ status: answer.status, retryAfter: answer.headers.get('retry-after') }).toEqual({ status: 503, retryAfter: '1' });
  expect(((await answer.json()) as { error: { message: string } }).error.message).toMatch(/standby.*no leader/);
  expect(await log.headPosition()).toBe(1);
});

test('the agent\'s client follows the standby\'s 307 to the leader with its token, its body and its method', async () => {
  const seen: { method: string; url: string; authorization: string | undefined; body: string }[] = [];
  const leader = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => { body += chunk.toString(); });
    request.on('end', () => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', authorization: request.headers.authorization, body });
      response.writeHead(202, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => { leader.listen(0, '127.0.0.1', resolve); });
  leaderUrl = `http://127.0.0.1:${(leader.address() as AddressInfo).port}`;
  const client = new ManagerClient({ baseUrl: standby.url, token: 'agent-token', credentials: { username: 'u', password: 'p' }, timeoutMs: 5_000, clock: systemClock });
  try {
    const answer = await client.postSample({ host: 'host-1', hypervisorCpuMhz: 10, vms: [] });
    expect(answer.status).toBe(202);
    expect(seen).toEqual([{ method: 'POST', url: '/v1/samples', authorization: 'Bearer agent-token', body: JSON.stringify({ host: 'host-1', hypervisorCpuMhz: 10, vms: [] }) }]);
  } finally {
    client.close();
    await new Promise((resolve) => { leader.close(resolve); });
  }
});

describe('promotion: a standby of the real cloud becomes the leader without folding the log again', () => {
  const SAMPLES_MHZ = { 'vm-0': 300, 'vm-1': 200, 'vm-2': 150, 'vm-3': 90 };
  const settings = { automation: 'manual', historyLength: 4 } as const;

  test('it folds only what was appended after it stopped following, and ends in the state of a fold of the whole log', async () => {
    // Given a leader on the log, with samples, plans waiting for approval and a refusal,
    const world = new World({ hosts: 4, placement: [0, 0, 1, 2], settings });
    await world.start(SAMPLES_MHZ);
    await world.request('host-0', 'underload');
    await world.run(world.manager.reject({ host: 'host-2', status: 503, reason: 'the queue is full', protocol: 'neat', remoteAddress: null }));
    await world.settle();
    // and a standby started promotable on the service's own ports, following it,
    const ids = seededIds(createRng('promoted'), world.scheduler);
    const promotable = await startStandbyService({
      config: { ...DEFAULT_CONFIG, apiTokensSha256: [TOKEN_SHA256] }, log: world.log, listen: { host: '127.0.0.1', port: 0 }, leaderUrl: () => null,
      onError: (error) => { errors.push(error); }, settings: { ...NEAT_LIKE, ...settings },
      promotable: { ports: { cloud: world.dc, power: world.dc, log: world.log, clock: world.scheduler, timer: new VirtualTimer(world.scheduler), ids, rng: createRng('promoted') } },
    });
    world.advance(300);
    await world.report(SAMPLES_MHZ);
    await world.request('host-2', 'underload');
    await world.settle();
    const head = await world.log.headPosition();
    await until(() => promotable.position() === head);
    const openBefore = [...world.manager.openRequests.keys()].sort();
    expect(openBefore.length).toBeGreaterThan(0);
    await world.run(world.manager.stop());
    // when it is promoted,
    const promoted = await world.run(promotable.promote!({ onError: (error) => { errors.push(error); } }));
    try {
      // then its start folded nothing again (a cold start folds every event), resumed the open plans as a start does,
      expect(promoted.recovery).toMatchObject({ events: 0, snapshot: { used: 'none' } });
      expect([...promoted.manager.openRequests.keys()].sort()).toEqual(openBefore);
      expect(promoted.manager.counters.requestsRejected.get(503)).toBe(1);
      // its state is the fold of the whole log (the start's own observation included),
      expect(snapshotDataCentre(promoted.manager.dataCentre)).toEqual(snapshotDataCentre(await world.replayStrictly()));
      // and it serves as the leader on the standby's address.
      expect(promoted.url).toBe(promotable.url);
      const health = await (await fetch(`${promoted.url}/healthz`)).json() as Record<string, unknown>;
      expect(health).toMatchObject({ role: 'leader', position: await world.log.headPosition() });
    } finally {
      await world.run(promoted.close());
    }
  });

  test('a standby started without the service\'s ports cannot be promoted', () => {
    expect(standby.promote).toBeNull();
  });
});
