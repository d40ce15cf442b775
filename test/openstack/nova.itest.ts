/**
 * The Nova driver against a real OpenStack Nova (Zed) with fake compute hosts,
 * started by `test/openstack/harness/setup.sh`. Run with `npm run test:nova`.
 * Servers are booted and migrated for real; each fake live migration takes
 * Nova 6–9 s.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagerClient } from '../../src/agent/client';
import type { Clock } from '../../src/clock';
import { systemClock, systemTimer } from '../../src/clock';
import { exchange } from '../../src/drivers/http';
import { KeystoneSession } from '../../src/drivers/keystone';
import type { KeystoneOptions, Token } from '../../src/drivers/keystone';
import { NovaCloud } from '../../src/drivers/nova';
import { novaCloud } from '../../src/drivers/production';
import { randomIds } from '../../src/ids';
import { PostgresEventLog } from '../../src/log/postgres';
import { SqliteEventLog } from '../../src/log/sqlite';
import { CloudError, PowerError } from '../../src/managers/ports';
import type { MigrationStatus, Power } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { startService } from '../../src/service';
import { PROJECT_ROOT } from '../support/planetlab';
import { requirePostgres, startPostgres } from '../support/postgres';
import type { PostgresServer } from '../support/postgres';
import { freePort } from '../support/sshd';
import { Admin, AUTH_URL, COMPUTE_HOSTS, configText, requireStack, stackConfig, waitFor } from './stack';

let directory: string;
let admin: Admin;
const warnings: string[] = [];

function cloudWith(overrides: Readonly<Record<string, string>> = {}, clock: Clock = systemClock): ReturnType<typeof novaCloud> {
  return novaCloud(stackConfig(directory, overrides), { clock, timer: systemTimer, warn: (message) => { warnings.push(message); } });
}

async function settle(cloud: NovaCloud, handle: string): Promise<MigrationStatus> {
  return waitFor('the migration record is final', 90_000, async () => {
    const status = await cloud.migrationStatus(handle);
    return status.state === 'running' ? null : status;
  });
}

beforeAll(async () => {
  await requireStack();
  directory = mkdtempSync(join(tmpdir(), 'neat-nova-'));
  admin = new Admin(directory);
  await admin.deleteTestServers();
}, 180_000);

afterAll(async () => {
  await admin.deleteTestServers();
  rmSync(directory, { recursive: true, force: true });
}, 180_000);

describe('Keystone v3', () => {
  test('a project-scoped token with the compute endpoint from the catalogue, cached', async () => {
    const { session } = cloudWith();
    const token = await session.current();
    expect(token.computeUrl).toBe('http://127.0.0.1:8774/v2.1');
    expect(token.expiresAtMs).toBeGreaterThan(Date.now());
    expect(await session.current()).toBe(token);
    expect(session.authentications).toBe(1);
  });

  test('renewed before it expires', async () => {
    let offsetMs = 0;
    const { cloud, session } = cloudWith({}, { nowMs: () => Date.now() + offsetMs });
    const first = await session.current();
    offsetMs = first.expiresAtMs - Date.now() - 60_000;
    await cloud.listHosts();
    expect(session.authentications).toBe(2);
    expect((await session.current()).id).not.toBe(first.id);
  });

  test('renewed once when Nova answers 401 for a revoked token', async () => {
    const { cloud, session } = cloudWith();
    const token = await session.current();
    const revoked = await exchange({
      method: 'DELETE', url: new URL(`${AUTH_URL}/auth/tokens`), timeoutMs: 10_000, ca: null,
      headers: { 'x-auth-token': token.id, 'x-subject-token': token.id },
    });
    expect(revoked.status).toBe(204);
    expect((await cloud.listHosts()).length).toBe(3);
    expect(session.authentications).toBe(2);
  });

  test('wrong credentials: the cloud is unavailable, with a message naming the user and project', async () => {
    const { cloud } = cloudWith({ os_admin_password: 'wrong' });
    await expect(cloud.listHosts()).rejects.toThrow(/Keystone at http:\/\/127\.0\.0\.1:5000\/v3 refused user "admin" .*project "admin".*HTTP 401/);
  });
});

describe('reads', () => {
  test('hypervisors: the three fake hosts up, with capacity from microversion 2.87; an unmanaged host is left alone with one warning', async () => {
    const hosts = await cloudWith().cloud.listHosts();
    expect(hosts.map((h) => h.name).sort()).toEqual([...COMPUTE_HOSTS]);
    for (const host of hosts) {
      expect(host.state).toBe('up');
      expect(host.ramMb).toBeGreaterThan(0);
      expect(host.cpuMhz).toBeGreaterThan(0);
    }
    warnings.length = 0;
    const partial = cloudWith({ compute_hosts: 'fake-compute-1, fake-compute-2' }).cloud;
    expect((await partial.listHosts()).map((h) => h.name).sort()).toEqual(['fake-compute-1', 'fake-compute-2']);
    await partial.listHosts();
    expect(warnings).toEqual(['Nova reports a hypervisor on host "fake-compute-3", which is not in compute_hosts: left alone']);
  });

  test('a disabled compute service (maintenance) is reported as a host not enabled', async () => {
    const services = (await admin.call('GET', '/os-services?binary=nova-compute&host=fake-compute-3')).json as { services: { id: string }[] };
    const serviceId = services.services[0].id;
    const setStatus = async (status: 'enabled' | 'disabled'): Promise<void> => {
      const answer = await admin.call('PUT', `/os-services/${serviceId}`, { status, ...(status === 'disabled' ? { disabled_reason: 'neat test' } : {}) });
      expect(answer.status).toBe(200);
    };
    await setStatus('disabled');
    try {
      const hosts = await cloudWith().cloud.listHosts();
      expect(hosts.find((h) => h.name === 'fake-compute-3')).toMatchObject({ state: 'up', enabled: false });
      expect(hosts.filter((h) => h.enabled).map((h) => h.name).sort()).toEqual(['fake-compute-1', 'fake-compute-2']);
    } finally {
      await setStatus('enabled');
    }
  });

  test('servers per host across tenants, with flavor RAM and vCPUs; a VM that does not exist is null', async () => {
    const cloud = cloudWith().cloud;
    const cpuMhz = stackConfig(directory).novaVcpuMhz;
    const a = await admin.boot('reads-a', 'fake-compute-2');
    const b = await admin.boot('reads-b', 'fake-compute-2');
    // A failed expectation must not leave these VMs to change the placements of the tests after it.
    try {
      const vms = await cloud.listVms();
      for (const id of [a, b]) expect(vms.find((vm) => vm.id === id)).toEqual({ id, host: 'fake-compute-2', ramMb: 64, vcpus: 1, cpuMhz, status: 'ACTIVE' });
      expect(await cloud.getVm(a)).toEqual({ id: a, host: 'fake-compute-2', ramMb: 64, vcpus: 1, cpuMhz, status: 'ACTIVE' });
      expect(await cloud.getVm('00000000-0000-4000-8000-000000000000')).toBeNull();
    } finally {
      await admin.delete(a);
      await admin.delete(b);
    }
  }, 120_000);
});

describe('live migration', () => {
  test('succeeds: the record reaches completed and the server is ACTIVE on the target', async () => {
    const cloud = cloudWith().cloud;
    const id = await admin.boot('move', 'fake-compute-1');
    const handle = await cloud.startLiveMigration(id, 'fake-compute-3');
    expect(await settle(cloud, handle)).toEqual({ state: 'completed', error: null });
    expect(await cloud.getVm(id)).toMatchObject({ host: 'fake-compute-3', status: 'ACTIVE' });
    await admin.delete(id);
  }, 120_000);

  test('to its own host: Nova accepts (202), then its record ends in error and the server stays on the source', async () => {
    const cloud = cloudWith().cloud;
    const id = await admin.boot('same-host', 'fake-compute-1');
    const handle = await cloud.startLiveMigration(id, 'fake-compute-1');
    const status = await settle(cloud, handle);
    expect(status.state).toBe('failed');
    expect(status.error).toMatch(/Nova's migration record \d+ \(to "fake-compute-1"\) ended "error"/);
    await waitFor('the server ACTIVE again', 30_000, async () => ((await cloud.getVm(id))?.status === 'ACTIVE' ? true : null));
    expect(await cloud.getVm(id)).toMatchObject({ host: 'fake-compute-1' });
    await admin.delete(id);
  }, 120_000);

  test('of a VM Nova is already moving: a conflict (409), to be retried later', async () => {
    const cloud = cloudWith().cloud;
    const id = await admin.boot('busy', 'fake-compute-1');
    const handle = await cloud.startLiveMigration(id, 'fake-compute-2');
    const second = cloud.startLiveMigration(id, 'fake-compute-3');
    await expect(second).rejects.toMatchObject({ kind: 'conflict' });
    await expect(second).rejects.toThrow(/HTTP 409/);
    expect(await settle(cloud, handle)).toEqual({ state: 'completed', error: null });
    await admin.delete(id);
  }, 120_000);

  test('to a host Nova does not know: refused at once as a bad request', async () => {
    const cloud = cloudWith({ compute_hosts: 'fake-compute-1, nope' }).cloud;
    const id = await admin.boot('nope', 'fake-compute-1');
    const refusal = cloud.startLiveMigration(id, 'nope');
    await expect(refusal).rejects.toBeInstanceOf(CloudError);
    await expect(refusal).rejects.toMatchObject({ kind: 'bad-request' });
    await expect(refusal).rejects.toThrow(/HTTP 400 Compute host nope could not be found/);
    await admin.delete(id);
  }, 120_000);

  test('of a VM that does not exist: not found', async () => {
    const refusal = cloudWith().cloud.startLiveMigration('00000000-0000-4000-8000-000000000000', 'fake-compute-2');
    await expect(refusal).rejects.toMatchObject({ kind: 'not-found' });
  });
});

/** A TLS front for Keystone with a certificate from a CA made for the test; Nova stays plain HTTP, as its catalogue says. */
async function tlsKeystone(): Promise<{ port: number; caFile: string; close: () => Promise<void> }> {
  const run = (...args: string[]): void => { execFileSync('openssl', args, { cwd: directory, stdio: 'ignore', timeout: 30_000 }); };
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=neat test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(directory, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
  const server = createHttpsServer({ key: readFileSync(join(directory, 'server.key')), cert: readFileSync(join(directory, 'server.pem')) }, (request, response) => {
    const upstream = httpRequest({ host: '127.0.0.1', port: 5000, path: request.url, method: request.method, headers: request.headers }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(response);
    });
    upstream.on('error', () => { response.writeHead(502).end(); });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  return {
    port: (server.address() as AddressInfo).port,
    caFile: join(directory, 'ca.pem'),
    close: () => new Promise((resolve) => { server.close(() => { resolve(); }); }),
  };
}

describe('TLS', () => {
  test('Keystone over HTTPS: trusted with nova_ca_bundle, refused without it', async () => {
    const front = await tlsKeystone();
    try {
      const url = `https://127.0.0.1:${front.port}/v3`;
      expect((await cloudWith({ os_auth_url: url, nova_ca_bundle: front.caFile }).cloud.listHosts())).toHaveLength(3);
      const untrusted = cloudWith({ os_auth_url: url, nova_max_attempts: '2' }).cloud.listHosts();
      await expect(untrusted).rejects.toMatchObject({ kind: 'unavailable' });
      await expect(untrusted).rejects.toThrow(/certificate/);
    } finally {
      await front.close();
    }
  });
});

/** No host is suspended or woken in these tests: a call is a failure of the test. */
const NO_POWER: Power = {
  suspend: (host) => Promise.reject(new PowerError(`this test suspends no host (asked: ${host})`)),
  wake: (host) => Promise.reject(new PowerError(`this test wakes no host (asked: ${host})`)),
};

describe('the global manager on Nova', () => {
  test('a VM deleted while it migrates: the migration fails as deleted, is not retried, and the request ends', async () => {
    const config = stackConfig(directory, { migration_max_attempts: '3' });
    const log = new SqliteEventLog(join(directory, 'deleted.sqlite'));
    const { cloud } = novaCloud(config, { clock: systemClock, timer: systemTimer, warn: () => undefined });
    const service = await startService({
      config, ports: { cloud, power: NO_POWER, log, clock: systemClock, timer: systemTimer, ids: randomIds, rng: createRng('nova') },
      listen: { host: '127.0.0.1', port: 0 }, onError: (error) => { throw error; },
    });
    try {
      const id = await admin.boot('deleted', 'fake-compute-1');
      for (const host of COMPUTE_HOSTS) {
        await service.manager.recordSample({ host, hypervisorCpuMhz: 0, vms: host === 'fake-compute-1' ? [{ vmId: id, cpuMhz: 500, ramMb: 64 }] : [] });
      }
      // Deleted once Nova is moving it: deleted before, the VM would be skipped as gone, which is another case.
      service.journal.onRecorded((event) => {
        if (event.type !== 'MigrationStarted') return;
        void waitFor('the server MIGRATING', 30_000, async () => ((await admin.server(id))?.status === 'MIGRATING' ? true : null))
          .then(() => admin.delete(id));
      });
      const submitted = await service.manager.submit({ host: 'fake-compute-1', reason: 'overload', vmIds: [id], protocol: 'in-process', remoteAddress: null, clientTimeS: null });
      expect(submitted.status).toBe('accepted');
      const events = await waitFor('the request completed', 120_000, async () => {
        const all = await log.readAll(1, 10_000);
        return all.some((e) => e.type === 'RequestCompleted') ? all : null;
      });
      const types = events.map((e) => e.type);
      expect(types).toContain('MigrationStarted');
      const failed = events.flatMap((e) => (e.type === 'MigrationFailed' ? [e.data] : []));
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ vmId: id, error: 'the VM was deleted during its migration', retryable: false });
      expect(types).toContain('MigrationAbandoned');
    } finally {
      await service.close();
      await log.close();
    }
  }, 180_000);

  test('neat serve --config: an overload request over PUT / ends with the VM on a new host and the events in the log', async () => {
    const token = 'nova-test-token';
    const eventsPath = join(directory, 'serve.sqlite');
    const configPath = join(directory, 'serve.conf');
    writeFileSync(configPath, configText({
      event_log: `sqlite:${eventsPath}`, api_tokens_sha256: createHash('sha256').update(token).digest('hex'),
    }));
    const id = await admin.boot('serve', 'fake-compute-1');
    const served = await serve(configPath);
    try {
      const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      for (const host of COMPUTE_HOSTS) {
        const sample = { host, hypervisorCpuMhz: 0, vms: host === 'fake-compute-1' ? [{ vmId: id, cpuMhz: 500, ramMb: 64 }] : [] };
        const answer = await fetch(`${served.url}/v1/samples`, { method: 'POST', headers: auth, body: JSON.stringify(sample) });
        expect(answer.status).toBe(202);
      }
      const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
      const form = new URLSearchParams({
        username: sha1('admin'), password: sha1('fakestack'), time: String(Date.now() / 1000), host: 'fake-compute-1', reason: '1', vm_uuids: id,
      });
      const put = await fetch(`${served.url}/`, { method: 'PUT', body: form });
      expect(put.status).toBe(200);
      type Event = { type: string; data: Record<string, unknown> };
      const events = await waitFor('the request completed', 120_000, async () => {
        const page = await (await fetch(`${served.url}/v1/events?limit=1000`, { headers: auth })).json() as { events: Event[] };
        return page.events.some((e) => e.type === 'RequestCompleted') ? page.events : null;
      });
      const types = events.map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['RequestReceived', 'PlacementDecided', 'MigrationStarted', 'MigrationCompleted', 'RequestCompleted']));
      expect(events.find((e) => e.type === 'RequestReceived')?.data).toMatchObject({ host: 'fake-compute-1', reason: 'overload', vmIds: [id], protocol: 'neat' });
      expect(events.find((e) => e.type === 'RequestCompleted')?.data).toMatchObject({ outcome: 'completed' });
      const completed = events.find((e) => e.type === 'MigrationCompleted');
      expect(completed?.data).toMatchObject({ vmId: id, sourceHost: 'fake-compute-1' });
      const server = await admin.server(id);
      expect(server?.['OS-EXT-SRV-ATTR:host']).toBe(completed?.data.targetHost);
      expect(server?.['OS-EXT-SRV-ATTR:host']).not.toBe('fake-compute-1');
    } finally {
      await served.stop();
    }
    const log = new SqliteEventLog(eventsPath);
    const stored = (await log.readAll(1, 10_000)).map((e) => e.type);
    await log.close();
    expect(stored).toEqual(expect.arrayContaining(['RequestReceived', 'MigrationStarted', 'MigrationCompleted', 'RequestCompleted']));
  }, 240_000);
});

describe('high availability on PostgreSQL, against real Nova', () => {
  let postgres: PostgresServer | null = null;

  beforeAll(async () => {
    if (requirePostgres()) postgres = await startPostgres();
  }, 120_000);

  afterAll(() => {
    postgres?.remove();
  });

  test('two neat serve on one log: the leader killed mid-migration, the standby takes over and settles it with Nova, one live migration in all', async () => {
    if (postgres === null) throw new Error('PostgreSQL is needed (apt-get install postgresql)');
    const token = 'nova-ha-token';
    const configPath = join(directory, 'ha.conf');
    writeFileSync(configPath, configText({ event_log: postgres.url, api_tokens_sha256: createHash('sha256').update(token).digest('hex') }));
    const id = await admin.boot('ha', 'fake-compute-1');
    const [portA, portB] = [await freePort(), await freePort()];
    const leader = haInstance(configPath, 'a', portA);
    // Started once the first leads: started together, either may take the lock first.
    await leader.reached(/listening on /);
    const standby = haInstance(configPath, 'b', portB);
    const reader = new PostgresEventLog(postgres.url);
    try {
      await standby.reached(/standby b on /);
      const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
      // The agent's client, pointed at the standby: its 307 takes every message to the leader.
      const agent = new ManagerClient({
        baseUrl: `http://127.0.0.1:${portB}`, token, credentials: { username: sha1('admin'), password: sha1('fakestack') }, timeoutMs: 30_000, clock: systemClock,
      });
      for (const host of COMPUTE_HOSTS) {
        const answer = await agent.postSample({ host, hypervisorCpuMhz: 0, vms: host === 'fake-compute-1' ? [{ vmId: id, cpuMhz: 500, ramMb: 64 }] : [] });
        expect(answer.status).toBe(202);
      }
      expect((await agent.putRequest('fake-compute-1', 'overload', [id])).status).toBe(200);
      agent.close();
      // Killed while Nova moves the VM: the successor must follow that migration, not send another.
      await waitFor('the server MIGRATING', 60_000, async () => ((await admin.server(id))?.status === 'MIGRATING' ? true : null));
      leader.child.kill('SIGKILL');
      const beforeTakeover = await reader.headPosition();
      await standby.reached(/listening on /);
      // Promoted as it stood: it folds only what it had not followed yet, where a cold start folds every event.
      expect(standby.output()).toMatch(/promoting the standby/);
      const recovered = Number(/recovered (\d+) events/.exec(standby.output())?.[1]);
      expect(recovered).toBeLessThan(beforeTakeover);
      const events = await waitFor('the request completed', 120_000, async () => {
        const all = await reader.readAll(1, 10_000);
        return all.some((e) => e.type === 'RequestCompleted') ? all : null;
      });
      const started = events.flatMap((e) => (e.type === 'MigrationStarted' ? [e.data] : []));
      const completed = events.flatMap((e) => (e.type === 'MigrationCompleted' ? [e.data] : []));
      expect(started).toHaveLength(1);
      expect(completed).toEqual([expect.objectContaining({ vmId: id, sourceHost: 'fake-compute-1', migrationId: started[0].migrationId })]);
      expect((await admin.server(id))?.['OS-EXT-SRV-ATTR:host']).toBe(completed[0].targetHost);
      const migrations = (await admin.call('GET', `/os-migrations?instance_uuid=${id}`)).json as { migrations: { migration_type: string }[] };
      expect(migrations.migrations.filter((m) => m.migration_type === 'live-migration')).toHaveLength(1);
      expect((await reader.leader())?.instance).toBe('b');
    } finally {
      leader.child.kill('SIGKILL');
      standby.child.kill('SIGTERM');
      await Promise.all([leader.exited, standby.exited]);
      await reader.close();
      await admin.delete(id);
    }
  }, 300_000);
});

/** `neat serve --config` as instance `name` of a highly available deployment, its text output read as it comes. */
function haInstance(configPath: string, name: string, port: number): {
  child: ChildProcess; exited: Promise<unknown>; reached: (line: RegExp) => Promise<void>; output: () => string;
} {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), 'serve', '--config', configPath, '--listen', `127.0.0.1:${port}`, '--instance', name],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const exited = new Promise((resolve) => { child.once('exit', resolve); });
  return {
    child, exited, output: () => output,
    reached: (line) => waitFor(`instance ${name}: ${String(line)}`, 120_000, () => Promise.resolve(line.test(output) ? true : null)).then(() => undefined, (error: unknown) => {
      throw new Error(`${error instanceof Error ? error.message : String(error)}; its output: ${output.slice(-3000)}`);
    }),
  };
}

/** The session of the configuration, whose tokens send NovaCloud to another compute endpoint (a proxy in front of Nova's). */
class RedirectedSession extends KeystoneSession {
  constructor(options: KeystoneOptions, private readonly computeUrl: string) {
    super(options);
  }

  override async current(): Promise<Token> {
    return { ...await super.current(), computeUrl: this.computeUrl };
  }
}

type Loss = 'drop' | 'stall';

/**
 * A loopback HTTP proxy in front of Nova's compute endpoint: it forwards every
 * request, and loses Nova's answer to os-migrateLive, one loss per action in
 * order ('drop' closes the client's connection once Nova has answered, 'stall'
 * never answers). It writes down each os-migrateLive it forwarded.
 */
async function losingProxy(losses: readonly Loss[]): Promise<{ url: string; migrateLive: string[]; close: () => Promise<void> }> {
  const pending = [...losses];
  const migrateLive: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => { chunks.push(chunk); });
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const action = /\/servers\/([^/]+)\/action$/.exec(request.url ?? '');
      const isMigrateLive = request.method === 'POST' && action !== null && body.toString('utf8').includes('"os-migrateLive"');
      const loss = isMigrateLive ? pending.shift() : undefined;
      if (isMigrateLive) migrateLive.push(action[1]);
      const upstream = httpRequest({ host: '127.0.0.1', port: 8774, path: request.url, method: request.method, headers: request.headers }, (answer) => {
        if (loss !== undefined) {
          answer.resume();
          if (loss === 'drop') request.socket.destroy();
          return;
        }
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on('error', () => { response.writeHead(502).end(); });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2.1`,
    migrateLive,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => { resolve(); });
    }),
  };
}

describe('answers lost on the way back from real Nova', () => {
  test('os-migrateLive forwarded to Nova, its answer dropped for one VM and stalled for the other: each sent once, followed to completion, the log agrees with Nova', async () => {
    const config = stackConfig(directory, { nova_request_timeout_s: '3', migration_max_attempts: '3' });
    const proxy = await losingProxy(['drop', 'stall']);
    const session = new RedirectedSession({
      authUrl: config.osAuthUrl, user: config.osAdminUser, password: config.osAdminPassword, userDomainName: config.osUserDomainName,
      project: config.osAdminTenantName, projectDomainName: config.osProjectDomainName, interface: config.novaInterface, region: config.novaRegion,
      timeoutMs: config.novaRequestTimeoutS * 1000, ca: null, clock: systemClock, renewBeforeMs: 60_000,
    }, proxy.url);
    const cloud = new NovaCloud({
      session, microversion: config.novaComputeMicroversion, computeHosts: config.computeHosts, vcpuMhz: config.novaVcpuMhz,
      blockMigration: config.blockMigration, timeoutMs: config.novaRequestTimeoutS * 1000, ca: null, maxAttempts: config.novaMaxAttempts,
      backoffMs: config.novaRetryBackoffS * 1000, timer: systemTimer, warn: () => undefined,
    });
    const log = new SqliteEventLog(join(directory, 'lost.sqlite'));
    const service = await startService({
      config, ports: { cloud, power: NO_POWER, log, clock: systemClock, timer: systemTimer, ids: randomIds, rng: createRng('nova-lost') },
      listen: { host: '127.0.0.1', port: 0 }, onError: (error) => { throw error; },
    });
    try {
      const ids = [await admin.boot('lost-a', 'fake-compute-1'), await admin.boot('lost-b', 'fake-compute-1')];
      for (const host of COMPUTE_HOSTS) {
        const vms = host === 'fake-compute-1' ? ids.map((vmId) => ({ vmId, cpuMhz: 500, ramMb: 64 })) : [];
        await service.manager.recordSample({ host, hypervisorCpuMhz: 0, vms });
      }
      const submitted = await service.manager.submit({ host: 'fake-compute-1', reason: 'overload', vmIds: ids, protocol: 'in-process', remoteAddress: null, clientTimeS: null });
      expect(submitted.status).toBe('accepted');
      const events = await waitFor('the request completed', 180_000, async () => {
        const all = await log.readAll(1, 10_000);
        return all.some((e) => e.type === 'RequestCompleted') ? all : null;
      });
      expect([...proxy.migrateLive].sort()).toEqual([...ids].sort());
      const mapping = events.flatMap((e) => (e.type === 'PlacementDecided' ? [e.data.mapping] : []))[0];
      expect(Object.keys(mapping).sort()).toEqual([...ids].sort());
      expect(events.filter((e) => e.type === 'MigrationFailed')).toEqual([]);
      expect(events.flatMap((e) => (e.type === 'MigrationCompleted' ? [e.data.vmId] : [])).sort()).toEqual([...ids].sort());
      expect(events.find((e) => e.type === 'RequestCompleted')?.data).toMatchObject({
        outcome: 'completed', migrationsCompleted: 2, detail: expect.stringMatching(/^2 of 2 migration\(s\) completed/) as unknown,
      });
      for (const id of ids) {
        const server = await admin.server(id);
        expect(server).toMatchObject({ status: 'ACTIVE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': mapping[id] });
        expect(service.manager.dataCentre.vms.get(id)?.host).toBe(mapping[id]);
      }
      expect(service.manager.dataCentre.anomalyCount).toBe(0);
      for (const id of ids) await admin.delete(id);
    } finally {
      await service.close();
      await log.close();
      await proxy.close();
    }
  }, 240_000);
});

async function serve(configPath: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), 'serve', '--config', configPath, '--listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match !== null) resolve(match[1]);
    });
    child.once('exit', (code) => { reject(new Error(`neat serve exited with ${String(code)}:\n${output}\n${errors}`)); });
  });
  return {
    url,
    stop: async () => {
      const exited = new Promise((resolve) => { child.once('exit', resolve); });
      child.kill('SIGTERM');
      await exited;
    },
  };
}
