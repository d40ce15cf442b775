import { minimumUtilization } from '../../src/engine/cloudsim/selection';
import type { CloudsimVm } from '../../src/engine/cloudsim/selection';
import { createRng } from '../../src/rng';

/** UtilizationModelPlanetLabInMemory.getUtilization between two trace points 300 s apart, at 0.1 s past the first, as CloudSim computes it. */
function interpolated(fromPercent: number, toPercent: number): number {
  const u1 = fromPercent / 100;
  const delta = (toPercent / 100 - u1) / (1 * 300);
  return u1 + delta * (300.1 - 300);
}

function vm(id: string, mips: number, utilization: number): CloudsimVm {
  return { id, ramMb: 870, mips, utilization, historyNewestFirst: [utilization], inMigration: false };
}

describe('PowerVmSelectionPolicyMinimumUtilization.getVmToMigrate', () => {
  const rng = createRng('mu');

  test('the metric is getTotalUtilizationOfCpuMips(clock) / getMips(), (u × MIPS) / MIPS: its rounding breaks a tie in u', () => {
    // Both VMs follow a trace going from 0 % to 9 % at the update 0.1 s into the interval: the same u.
    const u = interpolated(0, 9);
    expect(u).toBe(3.0000000000006818e-5);
    // For 2500 MIPS, (u × 2500) / 2500 rounds one ulp below u; for 1000 MIPS it gives u back.
    expect((u * 2500) / 2500).toBeLessThan(u);
    expect((u * 1000) / 1000).toBe(u);
    // So CloudSim moves the second VM, where comparing u alone keeps the first of a tie.
    expect(minimumUtilization([vm('a', 1000, u), vm('b', 2500, u)], rng)).toBe(1);
  });

  test('rounding up keeps the first VM of the tie; a strictly smaller utilisation wins whatever its MIPS', () => {
    const up = interpolated(0, 1);
    expect((up * 2500) / 2500).toBeGreaterThan(up);
    expect(minimumUtilization([vm('a', 1000, up), vm('b', 2500, up)], rng)).toBe(0);
    expect(minimumUtilization([vm('a', 500, 0.3), vm('b', 2500, 0.2), vm('c', 1000, 0.2)], rng)).toBe(1);
  });

  test('VMs in migration are skipped; none left gives null', () => {
    const moving = { ...vm('a', 1000, 0.1), inMigration: true };
    expect(minimumUtilization([moving, vm('b', 1000, 0.5)], rng)).toBe(1);
    expect(minimumUtilization([moving], rng)).toBeNull();
  });
});
