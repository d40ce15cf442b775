import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock, systemTimer } from '../../src/clock';
import { productionPower } from '../../src/drivers/power';
import type { PowerConfig } from '../../src/drivers/power';
import { MAGIC_PACKET_BYTES, WakeOnLan } from '../../src/drivers/wol';
import type { WakeOnLanOptions } from '../../src/drivers/wol';
import { randomIds } from '../../src/ids';
import { GlobalManager } from '../../src/managers/globalManager';
import { Journal } from '../../src/managers/journal';
import { PowerError } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { NEAT_LIKE, World } from '../managers/harness';

const MAC = '0a:1b:2c:3d:4e:5f';
const RECEIVE_TIMEOUT_MS = 5_000;

/** The packet as the Wake-on-LAN specification draws it: six 0xFF, then the MAC sixteen times. */
const EXPECTED_PACKET = Buffer.from('ff'.repeat(6) + '0a1b2c3d4e5f'.repeat(16), 'hex');

/** A UDP socket on 127.0.0.1 that keeps what it receives. */
class Listener {
  readonly datagrams: Buffer[] = [];
  private waiting: (() => void) | null = null;

  private constructor(private readonly socket: Socket, readonly port: number) {
    socket.on('message', (message) => {
      this.datagrams.push(message);
      this.waiting?.();
    });
  }

  static async open(): Promise<Listener> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => { socket.bind(0, '127.0.0.1', resolve); });
    return new Listener(socket, socket.address().port);
  }

  /** The first datagram, waiting for it a bounded time. */
  async first(): Promise<Buffer> {
    if (this.datagrams.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`no datagram within ${RECEIVE_TIMEOUT_MS} ms`)); }, RECEIVE_TIMEOUT_MS);
        this.waiting = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.datagrams[0];
  }

  close(): Promise<void> {
    return new Promise((resolve) => { this.socket.close(resolve); });
  }
}

let directory: string;
let listener: Listener;

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'neat-wol-'));
  listener = await Listener.open();
});

afterEach(async () => {
  await listener.close();
  rmSync(directory, { recursive: true, force: true });
});

function wakeOnLan(options: Partial<WakeOnLanOptions> = {}): WakeOnLan {
  return new WakeOnLan({
    macs: { compute1: MAC }, broadcastAddress: '127.0.0.1', port: listener.port, program: null, interfaceName: 'eth7',
    programTimeoutMs: 5_000, sendTimeoutMs: 5_000, ...options,
  });
}

function script(name: string, body: string): string {
  const file = join(directory, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

async function failure(work: Promise<void>): Promise<PowerError> {
  const error = await work.then(() => null, (e: unknown) => e);
  if (!(error instanceof PowerError)) throw new Error(`expected a PowerError, got ${String(error)}`);
  return error;
}

describe('the magic packet', () => {
  test('the configured MAC is sent as the 102-byte magic packet to the configured address and port', async () => {
    await wakeOnLan().wake('compute1');
    expect(await listener.first()).toEqual(EXPECTED_PACKET);
    expect(EXPECTED_PACKET).toHaveLength(MAGIC_PACKET_BYTES);
    expect(listener.datagrams).toHaveLength(1);
  });

  test('the host is found whatever the case the cloud spells it in', async () => {
    await wakeOnLan().wake('COMPUTE1');
    expect(await listener.first()).toEqual(EXPECTED_PACKET);
  });

  test('a host without a MAC fails, naming the host and the configuration section, and sends nothing', async () => {
    const error = await failure(wakeOnLan().wake('compute2'));
    expect(error.message).toBe('cannot wake host compute2: it has no MAC address in the [host_macs] section of the configuration ' +
      '(add a line "compute2 = aa:bb:cc:dd:ee:ff")');
    expect(listener.datagrams).toEqual([]);
  });
});

describe('wol_program', () => {
  test('runs as <program> -i <interface> <mac>', async () => {
    const argsFile = join(directory, 'args');
    await wakeOnLan({ program: script('ether-wake', `printf '%s\\n' "$@" > ${argsFile}`) }).wake('compute1');
    expect(readFileSync(argsFile, 'utf8')).toBe(`-i\neth7\n${MAC}\n`);
    expect(listener.datagrams).toEqual([]);
  });

  test('a non-zero exit fails with the status and the program\'s stderr', async () => {
    const program = script('ether-wake', 'echo "SIOCGIFHWADDR on $2 failed: No such device" >&2; exit 2');
    const error = await failure(wakeOnLan({ program }).wake('compute1'));
    expect(error.message).toBe(`cannot wake host compute1 (${MAC}) with ${program} -i eth7: it exited with status 2`);
    expect(error.stderr).toBe('SIOCGIFHWADDR on eth7 failed: No such device\n');
  });

  test('a program that hangs, its output held by a child it left, fails after the timeout', async () => {
    const program = script('ether-wake', 'sleep 5 &\nsleep 5');
    const startMs = performance.now();
    const error = await failure(wakeOnLan({ program, programTimeoutMs: 300 }).wake('compute1'));
    expect(error.message).toMatch(/: it did not finish within 300 ms$/);
    expect(performance.now() - startMs).toBeLessThan(3_000);
  });

  test('a missing program fails, saying so', async () => {
    const program = join(directory, 'no-such-program');
    const error = await failure(wakeOnLan({ program }).wake('compute1'));
    expect(error.message).toMatch(/: spawn .*no-such-program ENOENT$/);
  });
});

describe('the global manager with the production Power', () => {
  const WAKE_TIMEOUT_MS = 300;

  function powerConfig(): PowerConfig {
    return {
      computeUser: 'neat', sleepCommand: 'pm-suspend', sshKeyFile: join(directory, 'no-key'), sshKnownHostsFile: join(directory, 'no-known-hosts'),
      sshPort: 22, sshStrictHostKeyChecking: true, sshConnectTimeoutS: 1, sshCommandTimeoutS: 1,
      hostMacs: { 'host-0': MAC }, wolBroadcastAddress: '127.0.0.1', wolPort: listener.port, wolProgram: null, etherWakeInterface: 'eth0',
    };
  }

  test('a wake that the cloud never confirms fails after the wake timeout, though the packet was sent', async () => {
    // host-2 is full and host-0 asleep: vm-0 can only go to host-0, which the simulated cloud never sees come up
    // (the simulator's own wake is not called; the packet goes to the listener).
    const world = new World({ hosts: 3, placement: [1, 1, 2, 2], vmRamMb: [870, 870, 1740, 1740] });
    await world.dc.suspend('host-0');
    world.scheduler.run(0, 10);
    const manager = new GlobalManager({
      cloud: world.dc, power: productionPower(powerConfig()), timer: systemTimer,
      journal: new Journal(world.log, { ids: randomIds, clock: systemClock, source: 'global-manager' }),
      ids: randomIds, rng: createRng('wol'),
    }, { ...NEAT_LIKE, wakeTimeoutMs: WAKE_TIMEOUT_MS, wakePollIntervalMs: 50 });
    await manager.start();
    const samplesMhz: Readonly<Record<string, number>> = { 'vm-0': 2500, 'vm-1': 2000, 'vm-2': 100, 'vm-3': 100 };
    for (const host of ['host-1', 'host-2']) {
      const vms = (await world.dc.listVms()).filter((vm) => vm.host === host).map((vm) => ({ vmId: vm.id, cpuMhz: samplesMhz[vm.id], ramMb: null }));
      await manager.recordSample({ host, hypervisorCpuMhz: 0, vms });
    }

    const startMs = performance.now();
    const submitted = await manager.submit({ host: 'host-1', reason: 'overload', vmIds: ['vm-0'], protocol: 'in-process', remoteAddress: null, clientTimeS: null });
    if (submitted.status !== 'accepted') throw new Error(`request refused: ${submitted.status}`);
    await manager.idle();
    const elapsedMs = performance.now() - startMs;

    const events = await world.eventsOf(submitted.requestId);
    expect(events.map((e) => e.type)).toEqual([
      'RequestReceived', 'PlacementDecided', 'HostWakeRequested', 'HostWakeFailed', 'MigrationSkipped', 'RequestCompleted',
    ]);
    expect(events.find((e) => e.type === 'HostWakeFailed')?.data).toEqual({
      host: 'host-0', error: `the cloud did not report the host up within ${WAKE_TIMEOUT_MS / 1000} s`,
    });
    expect(elapsedMs).toBeGreaterThanOrEqual(WAKE_TIMEOUT_MS);
    expect(await listener.first()).toEqual(EXPECTED_PACKET);
    expect(manager.dataCentre.hosts.get('host-0')?.power).toBe('wake-failed');
  });
});
