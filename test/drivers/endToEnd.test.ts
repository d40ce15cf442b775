/**
 * The service as `neat serve` runs it (koa on a loopback socket, the manager,
 * a SQLite log), with the production Power: suspends over SSH to a real sshd,
 * wakes with magic packets to a real UDP socket. Only the cloud is simulated
 * (no Nova here): it is told of each power change once the driver has done
 * its part, as Nova would see a host go down and come back.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../src/config';
import type { ManagerConfig } from '../../src/config';
import { productionPower } from '../../src/drivers/power';
import type { RecordedEvent } from '../../src/events/envelope';
import { seededIds } from '../../src/ids';
import { SqliteEventLog } from '../../src/log/sqlite';
import type { Power } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { startService } from '../../src/service';
import type { RunningService } from '../../src/service';
import { planetLabConfig } from '../../sim/config';
import { INSTANT_TRANSITIONS, SimulatedDataCentre } from '../../sim/datacentre';
import { PacedScheduler } from '../../sim/realTime';
import { Scheduler } from '../../sim/scheduler';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { requireSshd, startSshd } from '../support/sshd';
import type { Sshd } from '../support/sshd';

const MAC = '52:54:00:0a:0b:0c';
const MAGIC_PACKET = Buffer.from('ff'.repeat(6) + '5254000a0b0c'.repeat(16), 'hex');
const REQUEST_TIMEOUT_MS = 60_000;

let directory: string;
let sshd: Sshd;
let udp: Socket;
const datagrams: Buffer[] = [];

const describeSshd = requireSshd() ? describe : describe.skip;

describeSshd('the production drivers end to end: SSH suspend on a real sshd, Wake-on-LAN over real UDP', () => {
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'neat-e2e-'));
    sshd = await startSshd(directory);
    udp = createSocket('udp4');
    udp.on('message', (message) => { datagrams.push(message); });
    await new Promise<void>((resolve) => { udp.bind(0, '127.0.0.1', resolve); });
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => { udp.close(resolve); });
    await sshd.stop();
    rmSync(directory, { recursive: true, force: true });
  });

  function sha1(text: string): string {
    return createHash('sha1').update(text).digest('hex');
  }

  async function requestEvents(log: SqliteEventLog, host: string, afterPosition: number): Promise<RecordedEvent[]> {
    const deadlineMs = Date.now() + REQUEST_TIMEOUT_MS;
    for (let round = 0; round < 10_000 && Date.now() < deadlineMs; round++) {
      const events = await log.readAll(afterPosition + 1, 1000);
      const received = events.find((e) => e.type === 'RequestReceived' && e.data.host === host);
      const requestId = received?.type === 'RequestReceived' ? received.data.requestId : null;
      if (requestId !== null && events.some((e) => e.type === 'RequestCompleted' && e.data.requestId === requestId)) {
        return events.filter((e) => e.metadata.correlationId === requestId);
      }
      await new Promise((resolve) => { setTimeout(resolve, 50); });
    }
    throw new Error(`the request of ${host} did not complete within ${REQUEST_TIMEOUT_MS} ms`);
  }

  async function put(service: RunningService, host: string, reason: 'underload' | 'overload', vmIds: readonly string[]): Promise<void> {
    const form = new URLSearchParams({
      username: sha1('admin'), password: sha1('secret'), time: String(Date.now() / 1000), host, reason: reason === 'underload' ? '0' : '1',
    });
    if (vmIds.length > 0) form.set('vm_uuids', vmIds.join(','));
    const response = await fetch(`${service.url}/`, { method: 'PUT', body: form });
    expect(response.status).toBe(200);
  }

  test('underload: VMs moved and the host suspended over SSH; then an overload wakes it over UDP and fills it', async () => {
    const marker = join(directory, 'suspended');
    const knownHosts = join(directory, 'known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeys.ed25519}\n`);
    const config: ManagerConfig = {
      ...DEFAULT_CONFIG, osAdminUser: 'admin', osAdminPassword: 'secret',
      computeUser: sshd.user, sleepCommand: `echo "$SSH_CONNECTION" >> ${marker}`, sshKeyFile: sshd.clientKeyFile,
      sshKnownHostsFile: knownHosts, sshPort: sshd.port, sshConnectTimeoutS: 10, sshCommandTimeoutS: 10,
      hostMacs: { 'host-0': MAC }, wolBroadcastAddress: '127.0.0.1', wolPort: udp.address().port,
    };
    // host-0 (HP G4) runs vm-0; host-1 (G5) runs vm-1 and vm-2.
    const scheduler = new Scheduler();
    const dataCentre = new SimulatedDataCentre({
      config: planetLabConfig(3, [870, 870, 870], 2), trace: generateSyntheticTrace({ seed: 'e2e', vms: 3, steps: 288, stepS: 300 }),
      scheduler, ids: seededIds(createRng('e2e/cloud'), scheduler), transitions: INSTANT_TRANSITIONS, placement: [0, 1, 1],
    });
    const pacing = new PacedScheduler(scheduler, { speed: 20, epochMs: Date.now(), tickMs: 10, maxEventsPerTick: 1000, activities: [] });
    pacing.start();
    const drivers = productionPower(config, { addressOf: () => '127.0.0.1' });
    const power: Power = {
      suspend: async (host) => { await drivers.suspend(host); await dataCentre.suspend(host); },
      wake: async (host) => { await drivers.wake(host); await dataCentre.wake(host); },
    };
    const log = new SqliteEventLog(join(directory, 'events.sqlite'), { groupCommit: true });
    const ids = seededIds(createRng('e2e/manager'), pacing.clock);
    const service = await startService({
      config, ports: { cloud: dataCentre, power, log, clock: pacing.clock, timer: pacing.timer, ids, rng: createRng('e2e') },
      settings: { computeHosts: null, migrationInitialWaitMs: 1000, migrationPollIntervalMs: 1000, wakePollIntervalMs: 1000, wakeTimeoutMs: 60_000 },
      listen: { host: '127.0.0.1', port: 0 }, onError: (error) => { throw error; },
    });
    try {
      const samples = { 'host-0': [{ vmId: 'vm-0', cpuMhz: 300, ramMb: 870 }], 'host-1': [{ vmId: 'vm-1', cpuMhz: 2000, ramMb: 870 }, { vmId: 'vm-2', cpuMhz: 500, ramMb: 870 }] };
      for (const [host, vms] of Object.entries(samples)) await service.manager.recordSample({ host, hypervisorCpuMhz: 0, vms });

      const before = await log.headPosition();
      await put(service, 'host-0', 'underload', []);
      const underload = await requestEvents(log, 'host-0', before);
      expect(underload.map((e) => e.type)).toEqual([
        'RequestReceived', 'PlacementDecided', 'MigrationStarted', 'MigrationCompleted', 'HostSuspendRequested', 'HostSuspended', 'RequestCompleted',
      ]);
      expect(underload[1].data).toMatchObject({ mapping: { 'vm-0': 'host-1' }, hostsToSuspend: ['host-0'] });
      expect(existsSync(marker) && readFileSync(marker, 'utf8')).toMatch(/^127\.0\.0\.1 \d+ 127\.0\.0\.1 \d+\n$/);
      expect(service.manager.dataCentre.hosts.get('host-0')?.power).toBe('asleep');
      expect(datagrams).toHaveLength(0);

      const middle = await log.headPosition();
      await put(service, 'host-1', 'overload', ['vm-1']);
      const overload = await requestEvents(log, 'host-1', middle);
      expect(overload.map((e) => e.type)).toEqual([
        'RequestReceived', 'PlacementDecided', 'HostWakeRequested', 'HostWoken', 'MigrationStarted', 'MigrationCompleted', 'RequestCompleted',
      ]);
      expect(overload[1].data).toMatchObject({ mapping: { 'vm-1': 'host-0' }, hostsToWake: ['host-0'] });
      expect(datagrams).toEqual([MAGIC_PACKET]);
      expect((await dataCentre.getVm('vm-1'))?.host).toBe('host-0');
      expect(service.manager.dataCentre.hosts.get('host-0')?.power).toBe('active');
    } finally {
      await service.close();
      await pacing.stop();
      await log.close();
    }
  });
});
