import fc from 'fast-check';
import { evolveDataCentre, initialDataCentreState, snapshotDataCentre } from '../../src/events/dataCentre';
import { World } from './harness';

const RAM_CHOICES_MB = [613, 870, 1740] as const;
const HOST_RAM_MB = 4096;

interface Scenario {
  readonly hosts: number;
  readonly placement: number[];
  readonly vmRamMb: number[];
  /** MHz per VM, or null: no data. */
  readonly samplesMhz: (number | null)[];
  readonly requests: { host: number; reason: 'underload' | 'overload'; vms: number[] }[];
  readonly failures: number;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  hosts: fc.integer({ min: 3, max: 7 }),
  vms: fc.array(fc.record({
    host: fc.nat(),
    ram: fc.constantFrom(...RAM_CHOICES_MB),
    mhz: fc.option(fc.integer({ min: 0, max: 1500 }), { freq: 5 }),
  }), { minLength: 1, maxLength: 12 }),
  requests: fc.array(fc.record({ host: fc.nat(), reason: fc.constantFrom('underload' as const, 'overload' as const), vms: fc.array(fc.nat(), { maxLength: 3 }) }),
    { minLength: 1, maxLength: 6 }),
  failures: fc.integer({ min: 0, max: 3 }),
}).map(({ hosts, vms, requests, failures }) => {
  // Place each VM on the first host, from its choice on, with room for its RAM.
  const freeMb = Array.from({ length: hosts }, () => HOST_RAM_MB);
  const placed: { host: number; ram: number; mhz: number | null }[] = [];
  for (const vm of vms) {
    for (let k = 0; k < hosts; k++) {
      const host = (vm.host + k) % hosts;
      if (freeMb[host] >= vm.ram) {
        freeMb[host] -= vm.ram;
        placed.push({ host, ram: vm.ram, mhz: vm.mhz });
        break;
      }
    }
  }
  return {
    hosts,
    placement: placed.map((vm) => vm.host),
    vmRamMb: placed.map((vm) => vm.ram),
    samplesMhz: placed.map((vm) => vm.mhz),
    requests: requests.map((r) => ({ host: r.host % hosts, reason: r.reason, vms: r.vms.map((v) => v % placed.length) })),
    failures,
  };
});

function vmId(index: number, count: number): string {
  return `vm-${String(index).padStart(String(count - 1).length, '0')}`;
}

describe('the global manager on random data centres and request sequences', () => {
  test('no host over capacity, no VM on a sleeping host, every VM on one host, and the log replays to the same state', async () => {
    await fc.assert(fc.asyncProperty(scenario, async (s) => {
      const world = new World({ hosts: s.hosts, placement: s.placement, vmRamMb: s.vmRamMb });
      const samples: Record<string, number> = {};
      s.samplesMhz.forEach((mhz, i) => { if (mhz !== null) samples[vmId(i, s.placement.length)] = mhz; });
      await world.start(samples);
      world.dc.failNextMigrations(s.failures);
      for (const request of s.requests) {
        await world.run(world.manager.submit({
          host: `host-${request.host}`, reason: request.reason, vmIds: request.vms.map((v) => vmId(v, s.placement.length)),
          protocol: 'in-process', remoteAddress: null, clientTimeS: null,
        }));
      }
      await world.settle();
      expect(world.manager.openRequests.size).toBe(0);

      const vms = await world.dc.listVms();
      const hosts = await world.dc.listHosts();
      for (const host of hosts) {
        const hosted = vms.filter((vm) => vm.host === host.name);
        const state = world.dc.powerStates[Number(host.name.slice('host-'.length))];
        if (hosted.length > 0) expect(state).toBe('active');
        expect(hosted.reduce((sum, vm) => sum + vm.ramMb, 0)).toBeLessThanOrEqual(host.ramMb);
      }
      // Every host that received VMs was checked against its capacity with the data the manager had.
      const receivers = new Set((await world.log.readAll(1, 10_000)).flatMap((e) => (e.type === 'MigrationCompleted' ? [e.data.targetHost] : [])));
      for (const name of receivers) {
        const host = hosts.find((h) => h.name === name)!;
        const usedMhz = vms.filter((vm) => vm.host === name).reduce((sum, vm) => sum + (samples[vm.id] ?? 0), 0);
        expect(usedMhz).toBeLessThanOrEqual(host.cpuMhz);
      }
      for (const vm of world.dc.vms) {
        expect(world.dc.hosts.filter((host) => host.vms.includes(vm))).toHaveLength(vm.tableHost === null ? 0 : 1);
        expect(vm.inMigration).toBe(false);
      }

      const replayed = initialDataCentreState({ historyLength: 100, strict: true });
      for (const event of await world.log.readAll(1, 10_000)) evolveDataCentre(replayed, event);
      expect(snapshotDataCentre(replayed)).toEqual(snapshotDataCentre(world.manager.dataCentre));
      for (const vm of vms) expect(world.manager.dataCentre.vms.get(vm.id)?.host).toBe(vm.host);
    }), { numRuns: 60 });
  });
});
