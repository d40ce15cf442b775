/**
 * The hosts' and VMs' state-history entries of one processing time, as
 * CloudSim keeps them (a later processing at the same time replaces the
 * entries), written out as one `DataCentreUpdated` event when time moves on.
 * Both simulation modes keep them here.
 */
import { AssertionError, assert } from '../src/engine/assert';
import type { EventData } from '../src/events/catalogue';
import type { SimHost, SimVm } from './cloudsim/model';

/** A state-history entry's MIPS, asserted finite and non-negative; the message is built only on failure. */
function checkedMips(mips: number, what: 'host' | 'VM', index: number): number {
  if (!(mips >= 0 && mips <= Number.MAX_VALUE)) throw new AssertionError(`${what} ${index}: recorded MIPS must be finite and >= 0, got ${mips}`);
  return mips;
}

type UpdateArrays = Pick<EventData<'DataCentreUpdated'>,
  'hostAllocatedMips' | 'hostRequestedMips' | 'vmHost' | 'vmAllocatedMips' | 'vmRequestedMips' | 'vmInMigration'>;

function newUpdateArrays(hostCount: number, vmCount: number): UpdateArrays {
  return {
    hostAllocatedMips: new Array<number>(hostCount), hostRequestedMips: new Array<number>(hostCount),
    vmHost: new Array<number>(vmCount), vmAllocatedMips: new Array<number>(vmCount),
    vmRequestedMips: new Array<number>(vmCount), vmInMigration: new Array<number>(vmCount),
  };
}

export class StateHistory {
  private recordTimeS = -1;
  private energyAtTimeWs = 0;
  private readonly vmEntryHost: Int32Array;
  private readonly vmEntryAllocated: Float64Array;
  private readonly vmEntryRequested: Float64Array;
  private readonly vmEntryInMigration: Uint8Array;
  /** The arrays of the last update written out, when the recorder keeps no update (see `reuseArrays`). */
  private reusable: UpdateArrays | null = null;

  /**
   * `reuseArrays`: the recorder folds each update and drops it (a run without a
   * log), so one set of arrays serves every update; otherwise each update gets
   * its own, since the log's batch holds on to them. A day writes ~1,100
   * updates of ~6,000 numbers each: 50 MB of garbage without a log.
   */
  constructor(
    private readonly hosts: readonly SimHost[],
    vmCount: number,
    private readonly record: (update: EventData<'DataCentreUpdated'>) => void,
    private readonly reuseArrays = false,
  ) {
    this.vmEntryHost = new Int32Array(vmCount).fill(-1);
    this.vmEntryAllocated = new Float64Array(vmCount);
    this.vmEntryRequested = new Float64Array(vmCount);
    this.vmEntryInMigration = new Uint8Array(vmCount);
  }

  /** Starts the entries of `timeS`, writing out those of an earlier time. */
  touch(timeS: number): void {
    if (timeS === this.recordTimeS) return;
    this.flush();
    this.recordTimeS = timeS;
    this.energyAtTimeWs = 0;
    this.vmEntryHost.fill(-1);
  }

  addEnergy(energyWs: number): void {
    this.energyAtTimeWs += energyWs;
  }

  /** Made once: hosts are processed a couple of million times in a day. */
  readonly writeVmEntry = (host: SimHost, vm: SimVm, allocatedMips: number, requestedMips: number): void => {
    this.vmEntryHost[vm.index] = host.index;
    this.vmEntryAllocated[vm.index] = allocatedMips;
    this.vmEntryRequested[vm.index] = requestedMips;
    this.vmEntryInMigration[vm.index] = vm.inMigration ? 1 : 0;
  };

  /** The MIPS allocated to a VM at the time being recorded, or null when no host spoke for it. */
  allocatedMipsOf(vm: SimVm): number | null {
    return this.vmEntryHost[vm.index] < 0 ? null : this.vmEntryAllocated[vm.index];
  }

  /**
   * Writes out the entries of the time being recorded. The arrays are checked
   * as they are copied, for what the catalogue's schema checks (finite,
   * non-negative MIPS, host indexes >= -1, flags 0 or 1; lengths are bounded by
   * the configuration's schema), so that a recorder may skip its generic check,
   * which would walk the thousands of numbers again at every processing time.
   */
  flush(): void {
    if (this.recordTimeS < 0) return;
    assert(this.recordTimeS <= Number.MAX_VALUE && this.energyAtTimeWs >= 0 && this.energyAtTimeWs <= Number.MAX_VALUE,
      () => `entries at ${this.recordTimeS} s with ${this.energyAtTimeWs} Ws`);
    const hostCount = this.hosts.length;
    const vmCount = this.vmEntryHost.length;
    const arrays = this.reusable ?? newUpdateArrays(hostCount, vmCount);
    if (this.reuseArrays) this.reusable = arrays;
    const { hostAllocatedMips, hostRequestedMips, vmHost, vmAllocatedMips, vmRequestedMips, vmInMigration } = arrays;
    for (let h = 0; h < hostCount; h++) {
      const { entry } = this.hosts[h];
      hostAllocatedMips[h] = checkedMips(entry.allocatedMips, 'host', h);
      hostRequestedMips[h] = checkedMips(entry.requestedMips, 'host', h);
    }
    for (let v = 0; v < vmCount; v++) {
      const host = this.vmEntryHost[v];
      const recorded = host >= 0;
      assert(recorded || host === -1, 'a VM entry names a host index or -1');
      vmHost[v] = host;
      vmAllocatedMips[v] = recorded ? checkedMips(this.vmEntryAllocated[v], 'VM', v) : 0;
      vmRequestedMips[v] = recorded ? checkedMips(this.vmEntryRequested[v], 'VM', v) : 0;
      vmInMigration[v] = recorded ? this.vmEntryInMigration[v] : 0;
    }
    this.record({
      timeS: this.recordTimeS, energyWs: this.energyAtTimeWs,
      hostAllocatedMips, hostRequestedMips, vmHost, vmAllocatedMips, vmRequestedMips, vmInMigration,
    });
    this.recordTimeS = -1;
  }
}
