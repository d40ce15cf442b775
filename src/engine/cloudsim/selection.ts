/**
 * CloudSim 3.0.3's VM selection policies (`PowerVmSelectionPolicy*`). They look
 * at the host's VM list in order, skip VMs in migration, and return an index
 * into that list, or null when no VM can be moved.
 */
import { assert } from '../assert';
import { maximumCorrelationIndex } from '../selection/correlation';
import type { Rng } from '../types';

export interface CloudsimVm {
  readonly id: string;
  /** `vm.getRam()`: the VM's configured RAM, which MMT minimises. */
  readonly ramMb: number;
  /** `vm.getMips()`: MIPS of each of the VM's PEs. */
  readonly mips: number;
  /** Utilisation now, as a fraction of the VM's MIPS (`getTotalUtilizationOfCpuMips(clock) / getMips()`). */
  readonly utilization: number;
  /** `PowerVm.getUtilizationHistory()`: up to 30 fractions, newest first. */
  readonly historyNewestFirst: readonly number[];
  readonly inMigration: boolean;
}

export type CloudsimVmSelection = (vms: readonly CloudsimVm[], rng: Rng) => number | null;

function migratableIndexes(vms: readonly CloudsimVm[]): number[] {
  const indexes: number[] = [];
  vms.forEach((vm, index) => {
    if (!vm.inMigration) indexes.push(index);
  });
  return indexes;
}

/** First index with the strictly smallest metric, as CloudSim's loops over `Double.MAX_VALUE` do. */
function indexOfMinimum(vms: readonly CloudsimVm[], metric: (vm: CloudsimVm) => number): number | null {
  let best: number | null = null;
  let bestMetric = Number.MAX_VALUE;
  for (const index of migratableIndexes(vms)) {
    const value = metric(vms[index]);
    if (value < bestMetric) {
      bestMetric = value;
      best = index;
    }
  }
  return best;
}

/** MMT: the smallest RAM, so the shortest migration. */
export const minimumMigrationTime: CloudsimVmSelection = (vms) => indexOfMinimum(vms, (vm) => vm.ramMb);

/**
 * MU, `PowerVmSelectionPolicyMinimumUtilization.getVmToMigrate`: the smallest
 * `getTotalUtilizationOfCpuMips(clock) / getMips()`, i.e. (u × MIPS) / MIPS,
 * which is not always u in doubles. VMs whose PlanetLab traces (whole
 * percentages) take the same step tie in u at the update times, 0.1 s into
 * an interval; the first strictly smaller metric wins, so the rounding of
 * u × MIPS decides which of them moves.
 */
export const minimumUtilization: CloudsimVmSelection = (vms) => indexOfMinimum(vms, (vm) => (vm.utilization * vm.mips) / vm.mips);

/** RS: uniform among the migratable VMs. CloudSim's `new Random()` is unseeded; ours comes from the run's seed. */
export const randomSelection: CloudsimVmSelection = (vms, rng) => {
  const indexes = migratableIndexes(vms);
  if (indexes.length === 0) return null;
  const pick = Math.floor(rng.next() * indexes.length);
  assert(pick >= 0 && pick < indexes.length, () => `rng.next() out of [0, 1): ${pick}`);
  return indexes[pick];
};

/** MC: the largest R² against the other VMs' histories; MMT where CloudSim falls back. */
export const maximumCorrelation: CloudsimVmSelection = (vms, rng) => {
  const indexes = migratableIndexes(vms);
  if (indexes.length === 0) return null;
  const chosen = maximumCorrelationIndex(indexes.map((index) => vms[index].historyNewestFirst));
  return chosen === null ? minimumMigrationTime(vms, rng) : indexes[chosen];
};

export const CLOUDSIM_SELECTIONS = {
  mmt: minimumMigrationTime,
  mu: minimumUtilization,
  rs: randomSelection,
  mc: maximumCorrelation,
} as const satisfies Readonly<Record<string, CloudsimVmSelection>>;

export type CloudsimSelectionName = keyof typeof CLOUDSIM_SELECTIONS;
