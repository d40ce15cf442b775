import { localManagerStep, utilizationHistory } from '../../src/managers/localManager';
import type { LocalManagerAlgorithms } from '../../src/managers/localManager';
import { parseNeatPolicy } from '../../src/engine/neatPolicies';
import { createRng } from '../../src/rng';

const ALGORITHMS: LocalManagerAlgorithms = {
  underload: { name: 'last_n_average_threshold', params: { threshold: 0.5, n: 2 } },
  overload: { name: 'threshold', params: { threshold: 0.8 } },
  selection: { name: 'minimum_migration_time_max_cpu', params: { last_n: 2 } },
  timeStepS: 300,
  migrationBandwidthMbPerS: 10,
};

describe("Neat's vm_mhz_to_percentage (reference §3 test values)", () => {
  test('right-aligned, zero-padded, hypervisor cut to the longest VM history', () => {
    const vms = [[100, 200, 300], [300, 100, 300, 200], [100, 100, 700]];
    expect(utilizationHistory(vms, [300, 0, 300], 3000).map((u) => Number(u.toFixed(12)))).toEqual([0.1, 0.2, 0.2, 0.5]);
    expect(utilizationHistory([[100, 200, 300], [100, 300, 200], [100, 100, 700]], [0, 300], 3000).map((u) => Number(u.toFixed(12))))
      .toEqual([0.1, 0.2, 0.5]);
    expect(utilizationHistory(vms, [300, 0, 300, 0, 300], 3000).map((u) => Number(u.toFixed(12)))).toEqual([0.1, 0.2, 0.2, 0.5]);
  });
});

describe("Neat's local-manager step", () => {
  const rng = createRng('lm');
  const input = (vmsCpuMhz: Record<string, number[]>, vmsRamMb: Record<string, number>) => ({ vmsCpuMhz, vmsRamMb, hostCpuMhz: [], physicalCpuMhzTotal: 1000 });

  test('an idle host sends nothing, and a VM without RAM does not count (as in Neat)', () => {
    expect(localManagerStep(input({}, {}), null, ALGORITHMS, rng)[0]).toEqual({ kind: 'idle' });
    expect(localManagerStep(input({ a: [900] }, { a: 0 }), null, ALGORITHMS, rng)[0]).toEqual({ kind: 'idle' });
  });

  test('underload wins over overload; overload selects by least RAM, then highest recent CPU', () => {
    expect(localManagerStep(input({ a: [100, 200] }, { a: 512 }), null, ALGORITHMS, rng)[0]).toEqual({ kind: 'underload' });
    const [decision] = localManagerStep(input({ a: [500, 500], b: [100, 450], c: [300, 300] }, { a: 1024, b: 512, c: 512 }), null, ALGORITHMS, rng);
    expect(decision).toEqual({ kind: 'overload', vmIds: ['c'] });
    expect(localManagerStep(input({ a: [300, 300], b: [300, 300] }, { a: 512, b: 512 }), null, ALGORITHMS, rng)[0]).toEqual({ kind: 'normal' });
  });

  test("stateful detectors advance on every step, even an underloaded one (Neat runs both)", () => {
    const otf = { ...ALGORITHMS, underload: { name: 'always_underloaded', params: {} }, overload: { name: 'otf', params: { otf: 0.5, threshold: 0.8, limit: 0 } } };
    let state = null as ReturnType<typeof localManagerStep>[1];
    for (let i = 0; i < 3; i++) [, state] = localManagerStep(input({ a: [900] }, { a: 512 }), state, otf, rng);
    expect(state?.overload).toEqual({ overloadSteps: 3, totalSteps: 3 });
  });
});

describe('mode neat policy names', () => {
  test('detector, selection and parameter map to Neat algorithms with Neat parameters', () => {
    expect(parseNeatPolicy('thr-mmt-0.8')).toMatchObject({ overload: { name: 'threshold', params: { threshold: 0.8 } }, selection: { name: 'minimum_migration_time' } });
    expect(parseNeatPolicy('mhod-mmtc-0.2').overload).toMatchObject({ name: 'mhod', params: { otf: 0.2, state_config: [0.8] } });
    expect(parseNeatPolicy('lr-rs-1.2').overload).toEqual({ name: 'loess', params: { threshold: 1, param: 1.2, length: 10 } });
  });

  test('unknown parts and invalid parameters are refused with what is valid', () => {
    expect(() => parseNeatPolicy('xyz-mmt-1')).toThrow(/unknown detector "xyz".*thr\|lr\|lrr/);
    expect(() => parseNeatPolicy('thr-zz-1')).toThrow(/unknown VM selection "zz"/);
    expect(() => parseNeatPolicy('otf-mmt-2')).toThrow(/policy "otf-mmt-2": .*otf/);
    expect(() => parseNeatPolicy('thr')).toThrow(/expected <detector>-<selection>-<parameter>/);
  });
});
