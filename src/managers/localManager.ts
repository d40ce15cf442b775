/**
 * Neat's local-manager step (reference/neat.md §3), one host, one interval:
 * the host's CPU utilisation from its VMs' and hypervisor's MHz histories,
 * underload detection, overload detection, and on overload the VM selection.
 * It returns the request to send, if any, and the algorithms' new states.
 *
 * As in Neat: an idle host (no VMs) sends nothing; both detectors run every
 * step, so stateful ones (OTF, MHOD) advance even when the host is
 * underloaded; underload wins. Unlike Neat, the algorithms get this step's
 * migration time instead of the first step's (§9.10), and an empty VM
 * selection sends nothing instead of crashing on `','.join(None)` (§9.12).
 */
import { assert } from '../engine/assert';
import { createOverloadDetector, createUnderloadDetector, createVmSelector } from '../engine/registry';
import type { AlgorithmChoice } from '../engine/registry';
import type { Rng } from '../engine/types';

export interface LocalManagerAlgorithms {
  readonly underload: AlgorithmChoice;
  readonly overload: AlgorithmChoice;
  readonly selection: AlgorithmChoice;
  /** Neat's `time_step`: the data collector's interval. */
  readonly timeStepS: number;
  /** Neat's `network_migration_bandwidth`. */
  readonly migrationBandwidthMbPerS: number;
}

export interface LocalManagerInput {
  /** Each VM's CPU in MHz, oldest first. */
  readonly vmsCpuMhz: Readonly<Record<string, readonly number[]>>;
  readonly vmsRamMb: Readonly<Record<string, number>>;
  /** The hypervisor's own CPU in MHz, oldest first. */
  readonly hostCpuMhz: readonly number[];
  /** cores × MHz × `host_cpu_usable_by_vms`. */
  readonly physicalCpuMhzTotal: number;
}

/** The algorithms' states, kept by the caller between steps; null before the first step. */
export interface LocalManagerState {
  readonly underload: unknown;
  readonly overload: unknown;
  readonly selection: unknown;
}

export type LocalManagerDecision =
  | { readonly kind: 'idle' }
  | { readonly kind: 'no-data' }
  | { readonly kind: 'normal' }
  | { readonly kind: 'underload' }
  | { readonly kind: 'overload'; readonly vmIds: readonly string[] };

/**
 * Neat's `vm_mhz_to_percentage`: histories right-aligned (left-padded with
 * zeros to the longest VM history), the hypervisor's cut to that length,
 * summed and divided by the host's usable MHz. Values may exceed 1.
 */
export function utilizationHistory(vmsCpuMhz: readonly (readonly number[])[], hostCpuMhz: readonly number[], physicalCpuMhzTotal: number): number[] {
  assert(physicalCpuMhzTotal > 0, 'a host has a positive CPU capacity');
  const length = Math.max(0, ...vmsCpuMhz.map((history) => history.length));
  const totals = new Array<number>(length).fill(0);
  for (const history of [...vmsCpuMhz, hostCpuMhz.slice(Math.max(0, hostCpuMhz.length - length))]) {
    const offset = length - history.length;
    for (let i = 0; i < history.length; i++) totals[offset + i] += history[i];
  }
  return totals.map((mhz) => mhz / physicalCpuMhzTotal);
}

function meanRamMb(vmsRamMb: Readonly<Record<string, number>>): number {
  const values = Object.values(vmsRamMb);
  return values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length;
}

export function localManagerStep(
  input: LocalManagerInput,
  state: LocalManagerState | null,
  algorithms: LocalManagerAlgorithms,
  rng: Rng,
): readonly [LocalManagerDecision, LocalManagerState | null] {
  // Neat drops VMs it has no RAM for (libvirt could not tell).
  const vmIds = Object.keys(input.vmsCpuMhz).filter((id) => Object.hasOwn(input.vmsRamMb, id) && input.vmsRamMb[id] > 0).sort();
  if (vmIds.length === 0) return [{ kind: 'idle' }, state];
  const utilization = utilizationHistory(vmIds.map((id) => input.vmsCpuMhz[id]), input.hostCpuMhz, input.physicalCpuMhzTotal);
  if (utilization.length === 0) return [{ kind: 'no-data' }, state];
  const vmsRamMb: Record<string, number> = {};
  const vmsCpuMhz: Record<string, readonly number[]> = {};
  for (const id of vmIds) {
    vmsRamMb[id] = input.vmsRamMb[id];
    vmsCpuMhz[id] = input.vmsCpuMhz[id];
  }
  const context = { timeStepS: algorithms.timeStepS, migrationTimeS: meanRamMb(vmsRamMb) / algorithms.migrationBandwidthMbPerS };
  const underloadDetector = createUnderloadDetector(algorithms.underload, context);
  const overloadDetector = createOverloadDetector(algorithms.overload, context);
  const selector = createVmSelector(algorithms.selection, context);
  const [underloaded, underloadState] = underloadDetector.detect(utilization, state?.underload ?? underloadDetector.initialState());
  const [overloaded, overloadState] = overloadDetector.detect(utilization, state?.overload ?? overloadDetector.initialState());
  let selectionState = state?.selection ?? selector.initialState();
  let decision: LocalManagerDecision = { kind: 'normal' };
  if (underloaded) {
    decision = { kind: 'underload' };
  } else if (overloaded) {
    const [selected, nextSelectionState] = selector.select({ vmsCpuMhz, vmsRamMb }, selectionState, rng);
    selectionState = nextSelectionState;
    decision = selected.length === 0 ? { kind: 'normal' } : { kind: 'overload', vmIds: selected };
  }
  return [decision, { underload: underloadState, overload: overloadState, selection: selectionState }];
}
