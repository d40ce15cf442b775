/**
 * What CloudSim 3.0.3's host-level overload tests look at. CloudSim's detectors
 * do not see a measured host history: they see one rebuilt from the VMs the host
 * holds now, which is why they get their own input type.
 */
export interface HostLoad {
  /** Σ current requested MIPS of the host's VMs / host MIPS (may exceed 1). */
  readonly utilization: number;
  /**
   * `PowerHostUtilizationHistory.getUtilizationHistory()`: at most 30 values,
   * newest first, each Σ over the host's current VMs of (VM utilisation × VM MIPS
   * / host MIPS), zero where a VM has no history that far back. Whoever builds it
   * decides whether trailing zeros are trimmed, as CloudSim's code does.
   */
  readonly historyNewestFirst: readonly number[];
  /** Largest VM RAM on the host / (host bandwidth / 2), in seconds (`getMaximumVmMigrationTime`). */
  readonly maxVmMigrationTimeS: number;
}

/**
 * `isHostOverUtilized` of one of CloudSim's `PowerVmAllocationPolicyMigration*`
 * classes. A test keeps nothing of the load (nor of its history) after it
 * returns: placement reuses one load object for all its tests.
 */
export type HostOverloadTest = (load: HostLoad) => boolean;

/** CloudSim's `PowerVm.HISTORY_LENGTH`. */
export const CLOUDSIM_HISTORY_LENGTH = 30;
