import fc from 'fast-check';
import { availableResource, bestFitDecreasing, createBestFitDecreasing } from '../../src/engine/placement/bfd';
import type { BestFitDecreasingInput } from '../../src/engine/placement/bfd';

// The cases of Neat's tests/globals/vm_placement/test_bin_packing.py (reference/neat.md §8).
const FREE_CPU = { h1: 3000, h2: 1000, h3: 2000 };
const INACTIVE_CPU = { h4: 3000, h5: 1000, h6: 2000 };
const INACTIVE_RAM = { h4: 4096, h5: 1024, h6: 2048 };

function bfd(overrides: Partial<BestFitDecreasingInput>): Record<string, string> {
  return {
    ...bestFitDecreasing({
      lastNVmCpu: 1,
      hostsCpuMhz: FREE_CPU,
      hostsRamMb: { h1: 4096, h2: 1024, h3: 2048 },
      inactiveHostsCpuMhz: {},
      inactiveHostsRamMb: {},
      vmsCpuMhz: {},
      vmsRamMb: {},
      ...overrides,
    }).mapping,
  };
}

describe('Neat best fit decreasing (§5.4, §8)', () => {
  test('get_available_resources truncates threshold × total − usage', () => {
    expect([availableResource(0.8, 700, 1000), availableResource(0.8, 200, 2000)]).toEqual([100, 1400]);
    expect(availableResource(0.8, 900, 1000)).toBe(-100);
  });

  test('the factory case: thresholds applied to active hosts, inactive h5 activated but too small, h6 taken', () => {
    const placer = createBestFitDecreasing({ cpu_threshold: 0.8, ram_threshold: 0.9, last_n_vm_cpu: 1 });
    const [result, state] = placer.place({
      hosts: [
        { name: 'h1', cpuUsageMhz: 200, cpuTotalMhz: 4000, ramUsageMb: 3276, ramTotalMb: 8192 },
        { name: 'h2', cpuUsageMhz: 2200, cpuTotalMhz: 4000, ramUsageMb: 6348, ramTotalMb: 8192 },
        { name: 'h3', cpuUsageMhz: 1200, cpuTotalMhz: 4000, ramUsageMb: 5324, ramTotalMb: 8192 },
      ],
      inactiveHosts: Object.entries(INACTIVE_CPU).map(([name, cpuMhz]) => ({ name, cpuMhz, ramMb: INACTIVE_RAM[name as keyof typeof INACTIVE_RAM] })),
      vmsCpuMhz: { vm1: [100, 1000], vm2: [100, 1000], vm3: [100, 1000] },
      vmsRamMb: { vm1: 2048, vm2: 4096, vm3: 2048 },
    }, placer.initialState());
    expect(result.mapping).toEqual({ vm1: 'h6', vm2: 'h1', vm3: 'h3' });
    expect(result.unplaced).toEqual([]);
    expect(state).toEqual({});
  });

  test('case 1', () => {
    expect(bfd({
      hostsRamMb: { h1: 1024, h2: 4096, h3: 2048 },
      vmsCpuMhz: { vm1: [2000], vm2: [1000], vm3: [3000] },
      vmsRamMb: { vm1: 512, vm2: 512, vm3: 512 },
    })).toEqual({ vm1: 'h3', vm2: 'h2', vm3: 'h1' });
  });

  test('case 2', () => {
    expect(bfd({
      vmsCpuMhz: { vm1: [1000], vm2: [1000], vm3: [1000] },
      vmsRamMb: { vm1: 1536, vm2: 512, vm3: 1536 },
    })).toEqual({ vm1: 'h1', vm2: 'h2', vm3: 'h3' });
  });

  test('case 3: the first VM in order (vm3) takes h3, the others go to h1', () => {
    expect(bfd({
      vmsCpuMhz: { vm1: [1000], vm2: [1000], vm3: [1000] },
      vmsRamMb: { vm1: 1536, vm2: 1536, vm3: 1536 },
    })).toEqual({ vm1: 'h1', vm2: 'h1', vm3: 'h3' });
  });

  test('case 4: all or nothing', () => {
    const result = bestFitDecreasing({
      lastNVmCpu: 1, hostsCpuMhz: FREE_CPU, hostsRamMb: { h1: 4096, h2: 1024, h3: 2048 },
      inactiveHostsCpuMhz: {}, inactiveHostsRamMb: {},
      vmsCpuMhz: { vm1: [1000], vm2: [1000], vm3: [1000] },
      vmsRamMb: { vm1: 3072, vm2: 1536, vm3: 1536 },
    });
    expect(result.mapping).toEqual({});
    expect(result.unplaced).toContainEqual({ vm: 'vm2', reason: 'no-host-fits' });
    expect(result.unplaced.map((u) => u.vm).sort()).toEqual(['vm1', 'vm2', 'vm3']);
  });

  test('case 5: inactive hosts activated smallest first', () => {
    expect(bfd({
      vmsCpuMhz: { vm1: [1000], vm2: [1000], vm3: [1000] },
      vmsRamMb: { vm1: 2048, vm2: 4096, vm3: 2048 },
      inactiveHostsCpuMhz: INACTIVE_CPU,
      inactiveHostsRamMb: INACTIVE_RAM,
    })).toEqual({ vm1: 'h6', vm2: 'h1', vm3: 'h3' });
  });

  test('case 6: even all inactive hosts cannot hold vm2', () => {
    expect(bfd({
      vmsCpuMhz: { vm1: [1000], vm2: [1000], vm3: [1000] },
      vmsRamMb: { vm1: 2048, vm2: 5120, vm3: 2048 },
      inactiveHostsCpuMhz: INACTIVE_CPU,
      inactiveHostsRamMb: INACTIVE_RAM,
    })).toEqual({});
  });

  test('case 7: last_n = 2 means (all 1000)', () => {
    expect(bfd({
      lastNVmCpu: 2,
      vmsCpuMhz: { vm1: [1000, 1000], vm2: [0, 2000], vm3: [500, 1500] },
      vmsRamMb: { vm1: 1536, vm2: 1536, vm3: 1536 },
    })).toEqual({ vm1: 'h1', vm2: 'h1', vm3: 'h3' });
  });

  test('the VM CPU mean is Python 2 floor division: [1000, 1001] needs 1000, not 1000.5', () => {
    expect(bfd({
      hostsCpuMhz: { h1: 1000 },
      hostsRamMb: { h1: 1024 },
      lastNVmCpu: 2,
      vmsCpuMhz: { vm1: [1000, 1001] },
      vmsRamMb: { vm1: 512 },
    })).toEqual({ vm1: 'h1' });
  });

  test('a VM without CPU data is left out and the others are still placed (as Neat does)', () => {
    const result = bestFitDecreasing({
      lastNVmCpu: 1, hostsCpuMhz: { h1: 3000 }, hostsRamMb: { h1: 4096 },
      inactiveHostsCpuMhz: {}, inactiveHostsRamMb: {},
      vmsCpuMhz: { vm1: [100], vm2: [] }, vmsRamMb: { vm1: 512, vm2: 512 },
    });
    expect(result.mapping).toEqual({ vm1: 'h1' });
    expect(result.unplaced).toEqual([{ vm: 'vm2', reason: 'no-cpu-data' }]);
  });
});

// Arbitrary placement problems: small capacities so that both success and failure occur.
const names = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const problem = fc.record({
  active: fc.array(fc.tuple(fc.integer({ min: -500, max: 4000 }), fc.integer({ min: -500, max: 8192 })), { maxLength: 8 }),
  inactive: fc.array(fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 8192 })), { maxLength: 5 }),
  vms: fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 4 }), fc.integer({ min: 1, max: 4096 })),
    { maxLength: 10 }),
  lastN: fc.integer({ min: 1, max: 3 }),
}).map(({ active, inactive, vms, lastN }) => {
  const activeNames = names('a', active.length);
  const inactiveNames = names('i', inactive.length);
  const vmNames = names('vm', vms.length);
  return {
    lastNVmCpu: lastN,
    hostsCpuMhz: Object.fromEntries(active.map(([cpu], k) => [activeNames[k], cpu])),
    hostsRamMb: Object.fromEntries(active.map(([, ram], k) => [activeNames[k], ram])),
    inactiveHostsCpuMhz: Object.fromEntries(inactive.map(([cpu], k) => [inactiveNames[k], cpu])),
    inactiveHostsRamMb: Object.fromEntries(inactive.map(([, ram], k) => [inactiveNames[k], ram])),
    vmsCpuMhz: Object.fromEntries(vms.map(([history], k) => [vmNames[k], history])),
    vmsRamMb: Object.fromEntries(vms.map(([, ram], k) => [vmNames[k], ram])),
  };
});

function reversedKeys<T>(record: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).reverse());
}

function demandMhz(history: readonly number[], lastN: number): number {
  const recent = history.slice(-lastN);
  return Math.floor(recent.reduce((a, b) => a + b, 0) / recent.length);
}

type Key = [number, number, string];

function byKey(a: Key, b: Key): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

/**
 * Neat's `best_fit_decreasing` line by line (bin_packing.py): the hosts sorted,
 * each VM given the first with room, an inactive host appended and the list
 * sorted again. The engine finds the same host without sorting; this is what it must equal.
 */
function neatBestFitDecreasing(input: BestFitDecreasingInput): Record<string, string> {
  const hostsCpu = { ...input.hostsCpuMhz };
  const hostsRam = { ...input.hostsRamMb };
  const vms = Object.entries(input.vmsCpuMhz).filter(([, history]) => history.length > 0)
    .map(([vm, history]): Key => [demandMhz(history, input.lastNVmCpu), input.vmsRamMb[vm], vm]).sort(byKey).reverse();
  let hosts = Object.entries(hostsCpu).map(([host, cpu]): Key => [cpu, hostsRam[host], host]).sort(byKey);
  const inactive = Object.entries(input.inactiveHostsCpuMhz).map(([host, cpu]): Key => [cpu, input.inactiveHostsRamMb[host], host]).sort(byKey);
  const mapping: Record<string, string> = {};
  for (const [vmCpu, vmRam, vm] of vms) {
    let mapped = false;
    while (!mapped) {
      const host = hosts.find(([, , name]) => hostsCpu[name] >= vmCpu && hostsRam[name] >= vmRam);
      if (host !== undefined) {
        mapping[vm] = host[2];
        hostsCpu[host[2]] -= vmCpu;
        hostsRam[host[2]] -= vmRam;
        mapped = true;
      } else if (inactive.length > 0) {
        const activated = inactive.shift()!;
        hosts = [...hosts, activated].sort(byKey);
        hostsCpu[activated[2]] = activated[0];
        hostsRam[activated[2]] = activated[1];
      } else {
        break;
      }
    }
  }
  return Object.keys(mapping).length === vms.length ? mapping : {};
}

const largerProblem = fc.record({
  active: fc.array(fc.tuple(fc.integer({ min: -500, max: 3000 }), fc.integer({ min: -500, max: 6000 })), { maxLength: 40 }),
  inactive: fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 6000 })), { maxLength: 12 }),
  vms: fc.array(fc.tuple(fc.array(fc.integer({ min: 0, max: 1500 }), { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 3000 })),
    { maxLength: 16 }),
}).map(({ active, inactive, vms }): BestFitDecreasingInput => ({
  lastNVmCpu: 2,
  // Few distinct capacities, so that keys tie on CPU and RAM and the name decides.
  hostsCpuMhz: Object.fromEntries(active.map(([cpu], k) => [`a${k}`, cpu - (cpu % 500)])),
  hostsRamMb: Object.fromEntries(active.map(([, ram], k) => [`a${k}`, ram - (ram % 1000)])),
  inactiveHostsCpuMhz: Object.fromEntries(inactive.map(([cpu], k) => [`i${k}`, cpu])),
  inactiveHostsRamMb: Object.fromEntries(inactive.map(([, ram], k) => [`i${k}`, ram])),
  vmsCpuMhz: Object.fromEntries(vms.map(([history], k) => [`vm${k}`, history])),
  vmsRamMb: Object.fromEntries(vms.map(([, ram], k) => [`vm${k}`, ram])),
}));

describe('best fit decreasing properties', () => {
  test('equals Neat\'s algorithm as written, sorts and all', () => {
    fc.assert(fc.property(fc.oneof(problem, largerProblem), (input) => {
      expect(bestFitDecreasing(input).mapping).toEqual(neatBestFitDecreasing(input));
    }), { numRuns: 500 });
  });

  test('never exceeds any host free CPU or RAM, never uses an unknown host, places each VM at most once', () => {
    fc.assert(fc.property(problem, (input) => {
      const { mapping, unplaced } = bestFitDecreasing(input);
      const usedCpu: Record<string, number> = {};
      const usedRam: Record<string, number> = {};
      for (const [vm, host] of Object.entries(mapping)) {
        usedCpu[host] = (usedCpu[host] ?? 0) + demandMhz(input.vmsCpuMhz[vm], input.lastNVmCpu);
        usedRam[host] = (usedRam[host] ?? 0) + input.vmsRamMb[vm];
      }
      for (const host of Object.keys(usedCpu)) {
        const cpu = input.hostsCpuMhz[host] ?? input.inactiveHostsCpuMhz[host];
        const ram = input.hostsRamMb[host] ?? input.inactiveHostsRamMb[host];
        expect(cpu).toBeDefined();
        expect(usedCpu[host]).toBeLessThanOrEqual(cpu);
        expect(usedRam[host]).toBeLessThanOrEqual(ram);
      }
      const accounted = [...Object.keys(mapping), ...unplaced.map((u) => u.vm)].sort();
      expect(accounted).toEqual(Object.keys(input.vmsCpuMhz).sort());
    }));
  });

  test('all or nothing: every VM with data is placed, or none is', () => {
    fc.assert(fc.property(problem, (input) => {
      const { mapping } = bestFitDecreasing(input);
      const withData = Object.keys(input.vmsCpuMhz).filter((vm) => input.vmsCpuMhz[vm].length > 0);
      const placed = Object.keys(mapping).length;
      expect(placed === 0 || placed === withData.length).toBe(true);
    }));
  });

  test('the result does not depend on the order of object keys', () => {
    fc.assert(fc.property(problem, (input) => {
      const shuffled = {
        ...input,
        hostsCpuMhz: reversedKeys(input.hostsCpuMhz), hostsRamMb: reversedKeys(input.hostsRamMb),
        inactiveHostsCpuMhz: reversedKeys(input.inactiveHostsCpuMhz),
        inactiveHostsRamMb: reversedKeys(input.inactiveHostsRamMb),
        vmsCpuMhz: reversedKeys(input.vmsCpuMhz), vmsRamMb: reversedKeys(input.vmsRamMb),
      };
      expect(bestFitDecreasing(shuffled).mapping).toEqual(bestFitDecreasing(input).mapping);
    }));
  });

  test('inactive hosts are switched on smallest first', () => {
    // Every inactive host can take any one VM and the active hosts none, so each
    // activation is used at once: the inactive hosts used must be a prefix of the
    // inactive hosts sorted by (cpu, ram, name).
    // With at least as many inactive hosts as VMs, every VM finds a host.
    const scenario = fc.array(fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 1, max: 4096 })), { minLength: 1, maxLength: 8 })
      .chain((vms) => fc.record({
        vms: fc.constant(vms),
        inactive: fc.uniqueArray(fc.tuple(fc.integer({ min: 3000, max: 6000 }), fc.integer({ min: 4096, max: 8192 })),
          { minLength: vms.length, maxLength: vms.length + 4 }),
      }));
    fc.assert(fc.property(scenario, ({ inactive, vms }) => {
      const inactiveNames = names('i', inactive.length);
      const result = bestFitDecreasing({
        lastNVmCpu: 1,
        hostsCpuMhz: { a0: 0 }, hostsRamMb: { a0: 0 },
        inactiveHostsCpuMhz: Object.fromEntries(inactive.map(([c], k) => [inactiveNames[k], c])),
        inactiveHostsRamMb: Object.fromEntries(inactive.map(([, r], k) => [inactiveNames[k], r])),
        vmsCpuMhz: Object.fromEntries(vms.map(([c], k) => [`vm${k}`, [c]])),
        vmsRamMb: Object.fromEntries(vms.map(([, r], k) => [`vm${k}`, r])),
      });
      const order = inactiveNames
        .map((name, k) => ({ name, cpu: inactive[k][0], ram: inactive[k][1] }))
        .sort((a, b) => a.cpu - b.cpu || a.ram - b.ram || (a.name < b.name ? -1 : 1))
        .map((h) => h.name);
      const used = new Set(Object.values(result.mapping));
      expect(Object.keys(result.mapping)).toHaveLength(vms.length);
      expect(order.slice(0, used.size).every((name) => used.has(name))).toBe(true);
    }));
  });
});
