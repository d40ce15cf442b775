/**
 * Neat's VM selection algorithms (`neat/locals/vm_selection/algorithms.py`),
 * plus CloudSim's maximum correlation in the same interface. Each picks one VM
 * to move off an overloaded host.
 *
 * Neat breaks ties by Python 2 dict order, which is hash order and so arbitrary;
 * we break them by VM id, so that results never depend on key order.
 */
import { assert } from '../assert';
import type { ParamSpecs, ParamValues } from '../params';
import { lastN, sum } from '../numeric';
import { NO_STATE } from '../types';
import type { NoState, Rng, VmSelectionInput, VmSelector } from '../types';
import { maximumCorrelationIndex } from './correlation';

/** The VM ids of the input, sorted; both maps must describe the same VMs. */
export function candidateVms(input: VmSelectionInput): string[] {
  const ids = Object.keys(input.vmsCpuMhz).sort();
  const ramIds = Object.keys(input.vmsRamMb).sort();
  assert(ids.length === ramIds.length && ids.every((id, i) => id === ramIds[i]),
    'VM selection: vmsCpuMhz and vmsRamMb must have the same VMs');
  return ids;
}

/** The first VM (in id order) with the smallest key; `null` when there is none. */
function argmin(ids: readonly string[], key: (id: string) => number): string | null {
  let best: string | null = null;
  let bestKey = Infinity;
  for (const id of ids) {
    const value = key(id);
    if (best === null || value < bestKey) {
      best = id;
      bestKey = value;
    }
  }
  return best;
}

function selectorOf(name: string, pick: (input: VmSelectionInput, rng: Rng) => string | null): VmSelector<NoState> {
  return {
    name,
    initialState: () => NO_STATE,
    select: (input, _state, rng) => {
      const vm = pick(input, rng);
      return [vm === null ? [] : [vm], NO_STATE];
    },
  };
}

export const randomSelectionParamSpecs = {} as const satisfies ParamSpecs;

export function createRandomSelection(): VmSelector<NoState> {
  return selectorOf('random', (input, rng) => {
    const ids = candidateVms(input);
    if (ids.length === 0) return null;
    const index = Math.floor(rng.next() * ids.length);
    assert(index >= 0 && index < ids.length, () => `rng.next() out of [0, 1): index ${index}`);
    return ids[index];
  });
}

export const minimumUtilizationParamSpecs = {} as const satisfies ParamSpecs;

/** The VM whose last CPU value is smallest; VMs without any CPU value are not candidates. */
export function createMinimumUtilization(): VmSelector<NoState> {
  return selectorOf('minimum_utilization', (input) => {
    const ids = candidateVms(input).filter((id) => input.vmsCpuMhz[id].length > 0);
    return argmin(ids, (id) => input.vmsCpuMhz[id].at(-1)!);
  });
}

export const minimumMigrationTimeParamSpecs = {} as const satisfies ParamSpecs;

export function createMinimumMigrationTime(): VmSelector<NoState> {
  return selectorOf('minimum_migration_time', (input) => argmin(candidateVms(input), (id) => input.vmsRamMb[id]));
}

export const minimumMigrationTimeMaxCpuParamSpecs = {
  last_n: { type: 'number', integer: true, min: 1, default: 2, description: 'number of last CPU values averaged' },
} as const satisfies ParamSpecs;

/**
 * Among the VMs with the least RAM, the one with the highest mean of its last n
 * CPU values. Neat starts from `max_cpu = 0` with a strict `<` and so returns
 * None when every mean is 0 (bug §9.12); we return the first smallest VM instead.
 */
export function createMinimumMigrationTimeMaxCpu(
  params: ParamValues<typeof minimumMigrationTimeMaxCpuParamSpecs>,
): VmSelector<NoState> {
  return selectorOf('minimum_migration_time_max_cpu', (input) => {
    const ids = candidateVms(input);
    if (ids.length === 0) return null;
    const minRamMb = Math.min(...ids.map((id) => input.vmsRamMb[id]));
    const smallest = ids.filter((id) => input.vmsRamMb[id] === minRamMb);
    let selected = smallest[0];
    let maxMeanCpuMhz = 0;
    for (const id of smallest) {
      const recent = lastN(input.vmsCpuMhz[id], params.last_n);
      const meanCpuMhz = recent.length === 0 ? 0 : sum(recent) / recent.length;
      if (maxMeanCpuMhz < meanCpuMhz) {
        maxMeanCpuMhz = meanCpuMhz;
        selected = id;
      }
    }
    return selected;
  });
}

export const maximumCorrelationParamSpecs = {} as const satisfies ParamSpecs;

/**
 * CloudSim's MC over Neat's inputs: the VM whose CPU history is best explained
 * (largest R²) by the others'. Falls back to minimum migration time where
 * CloudSim does (too little history, a single VM, a singular system).
 */
export function createMaximumCorrelation(): VmSelector<NoState> {
  const fallback = createMinimumMigrationTime();
  return selectorOf('maximum_correlation', (input, rng) => {
    const ids = candidateVms(input);
    const newestFirst = ids.map((id) => [...input.vmsCpuMhz[id]].reverse());
    const index = maximumCorrelationIndex(newestFirst);
    if (index !== null) return ids[index];
    const [picked] = fallback.select(input, NO_STATE, rng);
    return picked[0] ?? null;
  });
}
