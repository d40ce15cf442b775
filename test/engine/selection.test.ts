import fc from 'fast-check';
import {
  createMaximumCorrelation, createMinimumMigrationTime, createMinimumMigrationTimeMaxCpu, createMinimumUtilization,
  createRandomSelection,
} from '../../src/engine/selection/neat';
import type { VmSelectionInput, VmSelector } from '../../src/engine/types';
import { createRng } from '../../src/rng';

const vmsArbitrary = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 })
  .chain((ids) => fc.tuple(
    fc.constant(ids),
    fc.array(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 6 }), { minLength: ids.length, maxLength: ids.length }),
    fc.array(fc.integer({ min: 128, max: 4096 }), { minLength: ids.length, maxLength: ids.length }),
  ))
  .map(([ids, cpu, ram]): VmSelectionInput => ({
    vmsCpuMhz: Object.fromEntries(ids.map((id, k) => [id, cpu[k]])),
    vmsRamMb: Object.fromEntries(ids.map((id, k) => [id, ram[k]])),
  }));

function selectOne(selector: VmSelector, input: VmSelectionInput, seed = 1): string | undefined {
  const [vms] = selector.select(input, selector.initialState(), createRng(seed));
  expect(vms.length).toBeLessThanOrEqual(1);
  return vms[0];
}

function reversed(input: VmSelectionInput): VmSelectionInput {
  return {
    vmsCpuMhz: Object.fromEntries(Object.entries(input.vmsCpuMhz).reverse()),
    vmsRamMb: Object.fromEntries(Object.entries(input.vmsRamMb).reverse()),
  };
}

// The properties of Neat's tests/locals/vm_selection/test_algorithms.py.
describe('Neat VM selection (§5.3)', () => {
  test('minimum_migration_time picks a VM with the least RAM', () => {
    fc.assert(fc.property(vmsArbitrary, (input) => {
      const vm = selectOne(createMinimumMigrationTime(), input)!;
      expect(input.vmsRamMb[vm]).toBe(Math.min(...Object.values(input.vmsRamMb)));
    }));
  });

  test('minimum_utilization picks a VM with the least last CPU value', () => {
    fc.assert(fc.property(vmsArbitrary, (input) => {
      const vm = selectOne(createMinimumUtilization(), input)!;
      expect(input.vmsCpuMhz[vm].at(-1)).toBe(Math.min(...Object.values(input.vmsCpuMhz).map((h) => h.at(-1)!)));
    }));
  });

  test('minimum_migration_time_max_cpu: least RAM first, then the highest mean of the last n CPU values', () => {
    fc.assert(fc.property(vmsArbitrary, fc.integer({ min: 1, max: 4 }), (input, lastN) => {
      const vm = selectOne(createMinimumMigrationTimeMaxCpu({ last_n: lastN }), input)!;
      const minRam = Math.min(...Object.values(input.vmsRamMb));
      expect(input.vmsRamMb[vm]).toBe(minRam);
      const meanOf = (id: string): number => {
        const recent = input.vmsCpuMhz[id].slice(-lastN);
        return recent.reduce((a, b) => a + b, 0) / recent.length;
      };
      const candidates = Object.keys(input.vmsRamMb).filter((id) => input.vmsRamMb[id] === minRam);
      expect(meanOf(vm)).toBe(Math.max(...candidates.map(meanOf)));
    }));
  });

  test('all RAM equal: minimum_migration_time_max_cpu is the max-mean-CPU VM', () => {
    const input = { vmsCpuMhz: { a: [100, 300], b: [900, 100], c: [200, 600] }, vmsRamMb: { a: 512, b: 512, c: 512 } };
    expect(selectOne(createMinimumMigrationTimeMaxCpu({ last_n: 2 }), input)).toBe('b');
    expect(selectOne(createMinimumMigrationTimeMaxCpu({ last_n: 1 }), input)).toBe('c');
  });

  test('fixes Neat bug §9.12: when every candidate mean is 0 it still returns a VM, not None', () => {
    const input = { vmsCpuMhz: { b: [0, 0], a: [0, 0] }, vmsRamMb: { a: 512, b: 512 } };
    expect(selectOne(createMinimumMigrationTimeMaxCpu({ last_n: 2 }), input)).toBe('a');
  });

  test('random picks one of the VMs, reproducibly from the seed', () => {
    fc.assert(fc.property(vmsArbitrary, fc.integer(), (input, seed) => {
      const first = selectOne(createRandomSelection(), input, seed)!;
      expect(Object.keys(input.vmsCpuMhz)).toContain(first);
      expect(selectOne(createRandomSelection(), input, seed)).toBe(first);
    }));
  });

  test('random is not constant: different seeds pick different VMs among ten', () => {
    const ids = Array.from({ length: 10 }, (_, i) => `vm${i}`);
    const input = { vmsCpuMhz: Object.fromEntries(ids.map((id) => [id, [1]])), vmsRamMb: Object.fromEntries(ids.map((id) => [id, 1])) };
    const picks = new Set(Array.from({ length: 50 }, (_, seed) => selectOne(createRandomSelection(), input, seed)));
    expect(picks.size).toBeGreaterThan(5);
  });

  test('no selector depends on the order of object keys', () => {
    const selectors = [createMinimumMigrationTime(), createMinimumUtilization(), createRandomSelection(),
      createMinimumMigrationTimeMaxCpu({ last_n: 2 }), createMaximumCorrelation()];
    fc.assert(fc.property(vmsArbitrary, (input) => {
      for (const selector of selectors) expect(selectOne(selector, reversed(input))).toBe(selectOne(selector, input));
    }));
  });

  test('an empty host selects nothing', () => {
    const empty = { vmsCpuMhz: {}, vmsRamMb: {} };
    for (const selector of [createMinimumMigrationTime(), createMinimumUtilization(), createRandomSelection(),
      createMinimumMigrationTimeMaxCpu({ last_n: 2 }), createMaximumCorrelation()]) {
      expect(selectOne(selector, empty)).toBeUndefined();
    }
  });

  test('maximum_correlation picks the VM the others explain best, and falls back to least RAM on short histories', () => {
    const x = [1, 5, 2, 8, 3, 9, 4, 7, 6, 10];
    const noise = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const other = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8];
    const input = {
      vmsCpuMhz: { a: x, b: x.map((v, i) => 2 * v + noise[i] / 100), c: noise, e: other },
      vmsRamMb: { a: 1024, b: 1024, c: 256, e: 1024 },
    };
    const picked = selectOne(createMaximumCorrelation(), input)!;
    expect(['a', 'b']).toContain(picked);
    const short = { vmsCpuMhz: { a: [1], b: [2], c: [3] }, vmsRamMb: { a: 900, b: 300, c: 600 } };
    expect(selectOne(createMaximumCorrelation(), short)).toBe('b');
  });
});
