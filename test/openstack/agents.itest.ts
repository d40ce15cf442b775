/**
 * The production loop closed on real parts: one `neat agent` process per fake
 * compute host, each reading its own libvirt (the real virsh on the test
 * driver, a node XML listing the Nova servers on that host: every running
 * domain keeps one core busy), posting samples and sending Neat's requests to
 * the global manager; the manager migrates through the real Nova and suspends
 * the emptied host over a real sshd. The test plays the hypervisors: it
 * rewrites each host's node XML from Nova's server list as servers move.
 *
 * fake-compute-1 has 2 cores and 3 servers (overloaded: 1.5 > 0.8);
 * fake-compute-2 has 16 cores and 1 server (underloaded: the underload
 * threshold is 0.99, so only a machine busier than 99 % hides it);
 * fake-compute-3 has none. The manager sees 32,000 MHz per host (1000 vCPUs ×
 * 32 MHz), so any placement fits.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, systemTimer } from '../../src/clock';
import { productionPower } from '../../src/drivers/power';
import { novaCloud } from '../../src/drivers/production';
import type { RecordedEvent } from '../../src/events/envelope';
import { randomIds } from '../../src/ids';
import { SqliteEventLog } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';
import { startService } from '../../src/service';
import type { RunningService } from '../../src/service';
import { Served } from '../support/served';
import { startSshd } from '../support/sshd';
import type { Sshd } from '../support/sshd';
import { requireVirsh, testUri, writeNodeXml } from '../support/virsh';
import { Admin, COMPUTE_HOSTS, configText, requireStack, stackConfig, waitFor } from './stack';

const TOKEN = 'agents-test-token';
const CORES: Readonly<Record<string, number>> = { 'fake-compute-1': 2, 'fake-compute-2': 16, 'fake-compute-3': 16 };
const CORE_MHZ = 2000;
/** Keys shared by the manager and the agents: Neat's algorithms with thresholds that make the hosts above what they are. */
const SHARED: Readonly<Record<string, string>> = {
  algorithm_underload_detection_factory: 'threshold', algorithm_underload_detection_parameters: '{"threshold": 0.99}',
  algorithm_overload_detection_factory: 'threshold', algorithm_overload_detection_parameters: '{"threshold": 0.8}',
  algorithm_vm_selection_factory: 'minimum_migration_time_max_cpu', algorithm_vm_selection_parameters: '{"last_n": 2}',
  data_collector_interval: '1', local_manager_interval: '1', nova_vcpu_mhz: '32',
};

let directory: string;
let admin: Admin;
let sshd: Sshd;

beforeAll(async () => {
  await requireStack();
  expect(requireVirsh()).toBe(true);
  directory = mkdtempSync(join(tmpdir(), 'neat-agents-'));
  admin = new Admin(directory);
  await admin.deleteTestServers();
  sshd = await startSshd(directory);
}, 180_000);

afterAll(async () => {
  await sshd.stop();
  await admin.deleteTestServers();
  rmSync(directory, { recursive: true, force: true });
}, 180_000);

/** Plays each host's hypervisor: its node XML lists the servers Nova has on it. Returns the placement it wrote. */
async function syncHypervisors(xmlOf: (host: string) => string): Promise<string> {
  const byHost = await admin.testServersByHost();
  for (const host of COMPUTE_HOSTS) {
    writeNodeXml(xmlOf(host), {
      cpus: CORES[host], mhz: CORE_MHZ, memoryKiB: 16 * 1024 * 1024,
      domains: (byHost.get(host) ?? []).map((uuid) => ({ uuid, memoryKiB: 64 * 1024, vcpus: 1 })),
    });
  }
  return JSON.stringify([...byHost].sort());
}

async function startManager(eventsPath: string, marker: string): Promise<RunningService> {
  const knownHosts = join(directory, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeys.ed25519}\n`);
  const config = stackConfig(directory, {
    ...SHARED, event_log: `sqlite:${eventsPath}`, api_tokens_sha256: createHash('sha256').update(TOKEN).digest('hex'),
    compute_user: sshd.user, sleep_command: `echo "$SSH_CONNECTION" >> ${marker}`, ssh_key_file: sshd.clientKeyFile,
    ssh_known_hosts_file: knownHosts, ssh_port: String(sshd.port),
  });
  const { cloud } = novaCloud(config, { clock: systemClock, timer: systemTimer, warn: () => undefined });
  // The fake compute hosts all live on this machine: SSH reaches each of them at 127.0.0.1.
  const power = productionPower(config, { addressOf: () => '127.0.0.1' });
  return startService({
    config, ports: {
      cloud, power, log: new SqliteEventLog(eventsPath, { groupCommit: true }), clock: systemClock, timer: systemTimer, ids: randomIds,
      rng: createRng(randomBytes(16).toString('hex')),
    },
    listen: { host: '127.0.0.1', port: 0 }, onError: (error) => { throw error; },
  });
}

test("agents' own requests: a live migration through Nova and the emptied host suspended over SSH, every step in the log", async () => {
  const servers = [
    await admin.boot('agents-a', 'fake-compute-1'), await admin.boot('agents-b', 'fake-compute-1'), await admin.boot('agents-c', 'fake-compute-1'),
    await admin.boot('agents-d', 'fake-compute-2'),
  ];
  const xmlOf = (host: string): string => join(directory, `${host}.xml`);
  await syncHypervisors(xmlOf);
  const eventsPath = join(directory, 'agents.sqlite');
  const marker = join(directory, 'suspended');
  const service = await startManager(eventsPath, marker);
  const agents = new Map<string, Served>();
  let hypervisors: ReturnType<typeof setInterval> | null = null;
  try {
    for (const host of COMPUTE_HOSTS) {
      const path = join(directory, `agent-${host}.conf`);
      writeFileSync(path, configText({
        ...SHARED, libvirt_uri: testUri(xmlOf(host)), agent_host_name: host, global_manager_url: service.url, agent_api_token: TOKEN,
        local_data_directory: join(directory, `state-${host}`),
      }));
      agents.set(host, new Served(['agent', '--config', path, '--log-format', 'json']));
    }
    let syncing = false;
    hypervisors = setInterval(() => {
      if (syncing) return;
      syncing = true;
      void syncHypervisors(xmlOf).finally(() => { syncing = false; });
    }, 300);
    // The host a migration emptied: fake-compute-3, empty from the start, may be suspended first when its agent asks first.
    const suspended = await waitFor('an emptied host suspended', 180_000, async () => {
      const events = await readAll(eventsPath);
      const emptied = new Set(events.flatMap((e) => (e.type === 'MigrationCompleted' ? [e.data.sourceHost] : [])));
      const event = events.find((e) => e.type === 'HostSuspended' && emptied.has(e.data.host));
      return event?.type === 'HostSuspended' ? { events, host: event.data.host } : null;
    });
    clearInterval(hypervisors);
    hypervisors = null;
    for (const agent of agents.values()) agent.child.kill('SIGTERM');
    for (const [host, agent] of agents) expect([host, await agent.exited]).toEqual([host, { code: 0, signal: null }]);

    const { events } = suspended;
    const types = events.map((e) => e.type);
    // Samples from every agent, requests in Neat's protocol from the agents themselves.
    for (const host of COMPUTE_HOSTS) expect(events.some((e) => e.type === 'UtilizationSampled' && e.data.host === host)).toBe(true);
    const received = events.flatMap((e) => (e.type === 'RequestReceived' ? [e.data] : []));
    expect(received.every((request) => request.protocol === 'neat')).toBe(true);
    expect(received.map((request) => `${request.host}/${request.reason}`)).toEqual(expect.arrayContaining(['fake-compute-2/underload']));
    expect(types).toEqual(expect.arrayContaining(['PlacementDecided', 'MigrationStarted', 'MigrationCompleted', 'HostSuspendRequested', 'HostSuspended']));
    // The suspended host holds no server in Nova, and the SSH command ran on the real sshd.
    expect((await admin.testServersByHost()).get(suspended.host) ?? []).toEqual([]);
    expect(readFileSync(marker, 'utf8')).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+\n/);
    // Where the log says each migrated server went is where Nova has it.
    for (const event of events) {
      if (event.type !== 'MigrationCompleted') continue;
      const last = [...events].reverse().find((e) => e.type === 'MigrationCompleted' && e.data.vmId === event.data.vmId);
      if (last !== event) continue;
      expect((await admin.server(event.data.vmId))?.['OS-EXT-SRV-ATTR:host']).toBe(event.data.targetHost);
    }
    // The manager's projection of the log puts every server where Nova has it.
    const nova = await admin.testServersByHost();
    for (const id of servers) {
      const novaHost = [...nova].find(([, ids]) => ids.includes(id))?.[0];
      expect([id, service.manager.dataCentre.vms.get(id)?.host]).toEqual([id, novaHost]);
    }
  } finally {
    if (hypervisors !== null) clearInterval(hypervisors);
    for (const agent of agents.values()) agent.child.kill('SIGKILL');
    await service.close();
  }
}, 240_000);

async function readAll(path: string): Promise<readonly RecordedEvent[]> {
  const log = new SqliteEventLog(path);
  try {
    return await log.readAll(1, 10_000);
  } finally {
    await log.close();
  }
}
