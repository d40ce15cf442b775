/**
 * CloudSim 3.0.3's host and VM model for the PlanetLab experiments (and the
 * simulated data centre of the other modes): the
 * time-shared, over-subscribing VM scheduler, RAM/bandwidth provisioning, the
 * processing update that writes the host and VM state histories, and the
 * migration bookkeeping. Each method follows the CloudSim method it names, in
 * the same order of arithmetic, because the published numbers depend on it
 * (see the specification in the simulator's notes, §3).
 */
import { assert } from '../../src/engine/assert';
import type { PowerModel } from '../../src/engine/power';
import type { TraceVm } from '../../traces/trace';
import { utilizationAt } from '../../traces/trace';

/** `PowerVm.HISTORY_LENGTH`. */
const VM_HISTORY_LENGTH = 30;

export class SimVm {
  host: SimHost | null = null;
  /** The host CloudSim's allocation table names (`vmTable`); differs from `host` only while planning. */
  tableHost: SimHost | null = null;
  inMigration = false;
  /** True only while CloudSim creates the VM at t = 0: it then asks for its full MIPS, RAM and bandwidth. */
  beingInstantiated = true;
  /** Destroyed because it requested 0 MIPS; CloudSim never brings it back. */
  removed = false;
  /** u(previousTime) · MIPS of the cloudlet scheduler, from the last processing; 0 before the first. */
  private processedRequestMips = 0;
  /** u(t) of the last processing time, kept because a host is processed several times at one time. */
  private processedTimeS = -1;
  private processedUtilization = 0;
  /** `PowerVm.previousTime`: when the utilisation history last grew. */
  private historyTimeS = 0;
  /** `PowerVm.getUtilizationHistory()`: requested fractions, newest first. */
  readonly history: number[] = [];

  constructor(
    readonly index: number,
    readonly id: string,
    readonly mips: number,
    readonly ramMb: number,
    readonly bwKbitPerS: number,
    readonly sizeMb: number,
    private readonly trace: TraceVm,
    private readonly stepS: number,
    /**
     * A real VM keeps its memory and bandwidth wherever it runs. In CloudSim a
     * VM asks for them only while being created (its RAM and bandwidth models
     * are null), so after t = 0 they never constrain a placement.
     */
    private readonly keepsResources: boolean,
  ) {}

  utilization(timeS: number): number {
    return utilizationAt(this.trace, timeS, this.stepS);
  }

  /** `getCurrentRequestedTotalMips()`; 0 before the first processing (the cloudlet is not running yet). */
  requestedMips(): number {
    return this.beingInstantiated ? this.mips : this.processedRequestMips;
  }

  requestedRamMb(): number {
    return this.beingInstantiated || this.keepsResources ? this.ramMb : 0;
  }

  requestedBwKbitPerS(): number {
    return this.beingInstantiated || this.keepsResources ? this.bwKbitPerS : 0;
  }

  /** `PowerVm.updateVmProcessing`: moves the cloudlet scheduler to `timeS`; at a scheduling update, records u(t). */
  updateProcessing(timeS: number, schedulingIntervalS: number): void {
    if (timeS !== this.processedTimeS) {
      this.processedUtilization = this.utilization(timeS);
      this.processedTimeS = timeS;
    }
    const utilization = this.processedUtilization;
    this.processedRequestMips = utilization * this.mips;
    if (timeS > this.historyTimeS && (timeS - 0.1) % schedulingIntervalS === 0) {
      this.history.unshift(utilization);
      if (this.history.length > VM_HISTORY_LENGTH) this.history.pop();
      this.historyTimeS = timeS;
    }
  }
}

/** One state-history entry: what CloudSim's metrics integrate. */
export interface StateEntry {
  allocatedMips: number;
  requestedMips: number;
}

export class SimHost {
  readonly totalMips: number;
  readonly vms: SimVm[] = [];
  /** `getVmsMigratingIn()` (the scheduler keeps the same set). */
  readonly migratingIn = new Set<SimVm>();
  /**
   * VmSchedulerTimeSharedOverSubscription, kept in arrays aligned with `vms`:
   * the first `scheduled` VMs have a request (uncapped) and an allocation.
   */
  private readonly requested: number[] = [];
  private readonly allocated: number[] = [];
  private scheduled = 0;
  private readonly migratingOut = new Set<SimVm>();
  availableMips: number;
  // RamProvisionerSimple / BwProvisionerSimple / storage.
  private readonly ramHeld = new Map<SimVm, number>();
  private readonly bwHeld = new Map<SimVm, number>();
  availableRamMb: number;
  availableBwKbitPerS: number;
  private storageMb: number;
  /** `getUtilizationMips()` / `getPreviousUtilizationMips()` as of the last processing. */
  utilizationMips = 0;
  previousUtilizationMips = 0;
  /** The host's state-history entry as of the last processing. */
  readonly entry: StateEntry = { allocatedMips: 0, requestedMips: 0 };

  constructor(
    readonly index: number,
    readonly pes: number,
    readonly peMips: number,
    readonly ramMb: number,
    readonly bwKbitPerS: number,
    storageMb: number,
    readonly power: PowerModel,
  ) {
    this.totalMips = pes * peMips;
    this.availableMips = this.totalMips;
    this.availableRamMb = ramMb;
    this.availableBwKbitPerS = bwKbitPerS;
    this.storageMb = storageMb;
  }

  get name(): string {
    return `host-${this.index}`;
  }

  /** `getUtilizationOfCpu()`: just above 1 counts as 1. */
  utilization(): number {
    const utilization = this.utilizationMips / this.totalMips;
    return utilization > 1 && utilization < 1.01 ? 1 : utilization;
  }

  previousUtilization(): number {
    const utilization = this.previousUtilizationMips / this.totalMips;
    return utilization > 1 && utilization < 1.01 ? 1 : utilization;
  }

  allocatedMipsOf(vm: SimVm): number {
    const index = this.vms.indexOf(vm);
    return index < 0 || index >= this.scheduled ? 0 : this.allocated[index];
  }

  /** `Host.isSuitableForVm`. */
  isSuitableFor(vm: SimVm): boolean {
    const requestedMips = vm.requestedMips();
    return this.peMips >= requestedMips && this.availableMips >= requestedMips
      && this.availableRamMb >= Math.min(vm.requestedRamMb(), vm.ramMb) && this.availableBwKbitPerS >= vm.requestedBwKbitPerS();
  }

  private resetScheduler(): void {
    this.scheduled = 0;
    this.availableMips = this.totalMips;
  }

  /** `VmSchedulerTimeSharedOverSubscription.allocatePesForVm(uid, [r])` for the next VM of the list (one PE per VM). */
  private allocateNext(requestedMips: number): void {
    const index = this.scheduled;
    assert(index < this.vms.length, 'the scheduler allocates only VMs on the host');
    const vm = this.vms[index];
    this.requested[index] = requestedMips;
    this.scheduled += 1;
    const capped = requestedMips > this.peMips ? this.peMips : requestedMips;
    const arriving = this.migratingIn.has(vm);
    const charge = arriving ? capped * 0.1 : capped;
    if (this.availableMips >= charge) {
      let mips = capped;
      if (this.migratingOut.has(vm)) mips *= 0.9;
      else if (arriving) mips *= 0.1;
      this.allocated[index] = mips;
      this.availableMips -= charge;
    } else {
      this.redistribute();
    }
  }

  /** `redistributeMipsDueToOverSubscription`: one scaling factor for all, floored; nothing left free. */
  private redistribute(): void {
    let totalNeed = 0;
    for (let i = 0; i < this.scheduled; i++) {
      const requestedMips = this.requested[i];
      const capped = requestedMips > this.peMips ? this.peMips : requestedMips;
      totalNeed += this.migratingIn.has(this.vms[i]) ? capped * 0.1 : capped;
    }
    const scale = this.totalMips / totalNeed;
    for (let i = 0; i < this.scheduled; i++) {
      const vm = this.vms[i];
      const requestedMips = this.requested[i];
      const capped = requestedMips > this.peMips ? this.peMips : requestedMips;
      let mips: number;
      if (this.migratingOut.has(vm)) mips = (capped * scale) * 0.9;
      else if (this.migratingIn.has(vm)) mips = (capped * 0.1) * scale;
      else mips = capped * scale;
      this.allocated[i] = Math.floor(mips);
    }
    this.availableMips = 0;
  }

  /** `VmSchedulerTimeShared.allocatePesForVm`: a VM in migration that is not arriving here is leaving. */
  private allocateVm(vm: SimVm): void {
    if (vm.inMigration) {
      if (!this.migratingIn.has(vm)) this.migratingOut.add(vm);
    } else {
      this.migratingOut.delete(vm);
    }
    this.allocateNext(vm.requestedMips());
  }

  /** `deallocatePesForVm` and the removal from the list: the others are re-allocated with the requests they had. */
  private removeScheduled(index: number): void {
    assert(this.scheduled === this.vms.length, 'a VM leaves a host only between processings');
    this.vms.splice(index, 1);
    this.requested.splice(index, 1);
    this.allocated.splice(index, 1);
    const requests = this.requested.slice(0, this.vms.length);
    this.resetScheduler();
    for (const requestedMips of requests) this.allocateNext(requestedMips);
  }

  private holdRam(vm: SimVm, ramMb: number): boolean {
    const wanted = Math.min(ramMb, vm.ramMb);
    this.releaseRam(vm);
    if (this.availableRamMb < wanted) return false;
    this.availableRamMb -= wanted;
    this.ramHeld.set(vm, wanted);
    return true;
  }

  private releaseRam(vm: SimVm): void {
    this.availableRamMb += this.ramHeld.get(vm) ?? 0;
    this.ramHeld.delete(vm);
  }

  private holdBw(vm: SimVm, bwKbitPerS: number): boolean {
    this.releaseBw(vm);
    if (this.availableBwKbitPerS < bwKbitPerS) return false;
    this.availableBwKbitPerS -= bwKbitPerS;
    this.bwHeld.set(vm, bwKbitPerS);
    return true;
  }

  private releaseBw(vm: SimVm): void {
    this.availableBwKbitPerS += this.bwHeld.get(vm) ?? 0;
    this.bwHeld.delete(vm);
  }

  /** `Host.vmCreate`: storage, RAM, bandwidth, PEs, then the VM joins the list. */
  create(vm: SimVm): boolean {
    if (this.storageMb < vm.sizeMb) return false;
    if (!this.holdRam(vm, vm.requestedRamMb())) return false;
    if (!this.holdBw(vm, vm.requestedBwKbitPerS())) {
      this.releaseRam(vm);
      return false;
    }
    this.vms.push(vm);
    this.allocateVm(vm);
    this.storageMb -= vm.sizeMb;
    vm.host = this;
    return true;
  }

  /** `vmDeallocate` plus the removal from the list: bandwidth, RAM, PEs and storage go back. */
  private deallocate(vm: SimVm): void {
    const index = this.vms.indexOf(vm);
    assert(index >= 0, () => `VM ${vm.id} is not on host ${this.index}`);
    this.releaseRam(vm);
    this.releaseBw(vm);
    this.removeScheduled(index);
    this.storageMb += vm.sizeMb;
  }

  /** `Host.vmDestroy`. */
  destroy(vm: SimVm): void {
    this.deallocate(vm);
    vm.host = null;
  }

  /** The PE and resource bookkeeping of `addMigratingInVm`, before both hosts are re-processed. */
  acceptMigratingIn(vm: SimVm): boolean {
    if (this.migratingIn.has(vm)) return false;
    assert(this.storageMb >= vm.sizeMb, () => `host ${this.index} has no storage for VM ${vm.id}`);
    assert(this.holdRam(vm, vm.requestedRamMb()) && this.holdBw(vm, vm.requestedBwKbitPerS()),
      () => `host ${this.index} cannot hold VM ${vm.id} migrating in`);
    // CloudSim's planning created the VM here (not in migration) before choosing this target, which
    // dropped any stale "migrating out" mark the VM left on this host when it last moved away from it.
    this.migratingOut.delete(vm);
    this.migratingIn.add(vm);
    this.vms.push(vm);
    this.allocateVm(vm);
    this.storageMb -= vm.sizeMb;
    return true;
  }

  /** `removeMigratingInVm`: the migration is over; the VM leaves this host's migrating-in state. */
  finishMigratingIn(vm: SimVm): void {
    assert(this.migratingIn.has(vm), () => `VM ${vm.id} was not migrating into host ${this.index}`);
    this.deallocate(vm);
    this.migratingIn.delete(vm);
    vm.inMigration = false;
  }

  /**
   * `HostDynamicWorkload.updateVmsProcessing(t)`: moves every VM to `t`,
   * re-allocates the PEs from the current requests, and writes the VM and host
   * state-history entries. `writeVmEntry` receives the entries of the VMs this
   * host speaks for (not those migrating in).
   */
  process(timeS: number, schedulingIntervalS: number, writeVmEntry: (host: SimHost, vm: SimVm, allocatedMips: number, requestedMips: number) => void): void {
    for (const vm of this.vms) vm.updateProcessing(timeS, schedulingIntervalS);
    this.previousUtilizationMips = this.utilizationMips;
    this.resetScheduler();
    for (const vm of this.vms) this.allocateVm(vm);
    let utilizationMips = 0;
    let requestedTotalMips = 0;
    for (let i = 0; i < this.vms.length; i++) {
      const vm = this.vms[i];
      const requestedMips = vm.requestedMips();
      let allocatedMips = this.allocated[i];
      if (!this.migratingIn.has(vm)) {
        writeVmEntry(this, vm, allocatedMips, requestedMips);
        if (vm.inMigration) allocatedMips /= 0.9;
      }
      utilizationMips += allocatedMips;
      requestedTotalMips += requestedMips;
    }
    this.utilizationMips = utilizationMips;
    this.entry.allocatedMips = utilizationMips;
    this.entry.requestedMips = requestedTotalMips;
  }
}
