/**
 * CloudSim 3.0.3's host and VM model for the PlanetLab experiments (and the
 * simulated data centre of the other modes): the
 * time-shared, over-subscribing VM scheduler, RAM/bandwidth provisioning, the
 * processing update that writes the host and VM state histories, and the
 * migration bookkeeping. Each method follows the CloudSim method it names, in
 * the same order of arithmetic, because the published numbers depend on it
 * (see the specification in the simulator's notes, §3).
 *
 * The numeric fields the processing loop reads or writes are declared with a
 * number (`= 0`) rather than bare or as parameter properties: ES2022 defines a
 * bare field as `undefined` first, and V8 then keeps it as a tagged value, so
 * that each fractional value stored in it, or mixed with it in a branch, is
 * boxed in a new heap number, several per VM processed.
 */
import { assert } from '../../src/engine/assert';
import { POWER_MODELS } from '../../src/engine/power';
import type { PowerModel } from '../../src/engine/power';
import type { Trace, TraceVm } from '../../traces/trace';
import { TraceSampler } from '../../traces/trace';
import { hostNameOf } from '../config';
import type { SimulationConfig } from '../config';

/** Scheduler slots a host starts with; a PlanetLab host holds a handful of VMs, a few dozen at most. */
const INITIAL_VM_SLOTS = 8;

/** `PowerVm.HISTORY_LENGTH`. */
const VM_HISTORY_LENGTH = 30;

/**
 * `history.unshift(value)` and a `pop()` past `VM_HISTORY_LENGTH`, in place:
 * unshift gives the array a new backing store, for every VM at every update.
 */
function recordNewest(history: number[], value: number): void {
  let i = Math.min(history.length, VM_HISTORY_LENGTH - 1);
  if (i === history.length) history.push(0);
  for (; i > 0; i--) history[i] = history[i - 1];
  history[0] = value;
}

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
  readonly mips: number = 0;

  constructor(
    readonly index: number,
    readonly id: string,
    mips: number,
    readonly ramMb: number,
    readonly bwKbitPerS: number,
    readonly sizeMb: number,
    private readonly trace: TraceVm,
    /** Reads the trace at a time; one for all the VMs of a trace. */
    private readonly sampler: TraceSampler,
    /**
     * A real VM keeps its memory and bandwidth wherever it runs. In CloudSim a
     * VM asks for them only while being created (its RAM and bandwidth models
     * are null), so after t = 0 they never constrain a placement.
     */
    private readonly keepsResources: boolean,
  ) {
    this.mips = mips;
  }

  utilization(timeS: number): number {
    return timeS === this.processedTimeS ? this.processedUtilization : this.sampler.utilizationAt(this.trace, timeS);
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

  /**
   * `PowerVm.updateVmProcessing`: moves the cloudlet scheduler to `timeS`; at a
   * scheduling update (`atSchedulingTime`: `(timeS − 0.1) mod interval = 0`), records u(t).
   */
  updateProcessing(timeS: number, atSchedulingTime: boolean): void {
    if (timeS !== this.processedTimeS) {
      this.processedUtilization = this.sampler.utilizationAt(this.trace, timeS);
      this.processedTimeS = timeS;
    }
    const utilization = this.processedUtilization;
    this.processedRequestMips = utilization * this.mips;
    if (atSchedulingTime && timeS > this.historyTimeS) {
      recordNewest(this.history, utilization);
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
  readonly name: string;
  readonly totalMips: number;
  readonly vms: SimVm[] = [];
  /** `getVmsMigratingIn()` (the scheduler keeps the same set). */
  readonly migratingIn = new Set<SimVm>();
  /**
   * VmSchedulerTimeSharedOverSubscription, kept in arrays aligned with `vms`:
   * the first `scheduled` VMs have a request (uncapped) and an allocation.
   * Typed arrays (grown by doubling) hold them unboxed: the scheduler rewrites
   * them for every VM at every processing, a couple of million times a day.
   */
  private requested = new Float64Array(INITIAL_VM_SLOTS);
  private allocated = new Float64Array(INITIAL_VM_SLOTS);
  private scheduled = 0;
  private readonly migratingOut = new Set<SimVm>();
  availableMips = 0;
  // RamProvisionerSimple / BwProvisionerSimple / storage.
  private readonly ramHeld = new Map<SimVm, number>();
  private readonly bwHeld = new Map<SimVm, number>();
  availableRamMb = 0;
  availableBwKbitPerS = 0;
  private storageMb = 0;
  /** `getUtilizationMips()` / `getPreviousUtilizationMips()` as of the last processing. */
  utilizationMips = 0;
  previousUtilizationMips = 0;
  /** The host's state-history entry as of the last processing. */
  readonly entry: StateEntry = { allocatedMips: 0, requestedMips: 0 };
  readonly peMips: number = 0;

  constructor(
    readonly index: number,
    readonly pes: number,
    peMips: number,
    readonly ramMb: number,
    readonly bwKbitPerS: number,
    storageMb: number,
    readonly power: PowerModel,
    name = `host-${index}`,
  ) {
    this.name = name;
    this.peMips = peMips;
    this.totalMips = pes * peMips;
    this.availableMips = this.totalMips;
    this.availableRamMb = ramMb;
    this.availableBwKbitPerS = bwKbitPerS;
    this.storageMb = storageMb;
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

  /** MIPS the scheduler allocates to `vms[index]`; 0 for a VM it has not scheduled. */
  allocatedMipsAt(index: number): number {
    return index >= this.scheduled ? 0 : this.allocated[index];
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
    if (index === this.requested.length) this.growSlots();
    this.requested[index] = requestedMips;
    this.scheduled += 1;
    const capped = requestedMips > this.peMips ? this.peMips : requestedMips;
    const arriving = this.isArriving(vm);
    const charge = arriving ? capped * 0.1 : capped;
    if (this.availableMips >= charge) {
      let mips = capped;
      if (this.isLeaving(vm)) mips *= 0.9;
      else if (arriving) mips *= 0.1;
      this.allocated[index] = mips;
      this.availableMips -= charge;
    } else {
      this.redistribute();
    }
  }

  private growSlots(): void {
    const requested = new Float64Array(this.requested.length * 2);
    requested.set(this.requested);
    this.requested = requested;
    const allocated = new Float64Array(this.allocated.length * 2);
    allocated.set(this.allocated);
    this.allocated = allocated;
  }

  /** `vm` is migrating in. Most hosts have no migration in flight: an empty set answers without a hash lookup. */
  isArriving(vm: SimVm): boolean {
    return this.migratingIn.size > 0 && this.migratingIn.has(vm);
  }

  private isLeaving(vm: SimVm): boolean {
    return this.migratingOut.size > 0 && this.migratingOut.has(vm);
  }

  /** `redistributeMipsDueToOverSubscription`: one scaling factor for all, floored; nothing left free. */
  private redistribute(): void {
    let totalNeed = 0;
    for (let i = 0; i < this.scheduled; i++) {
      const requestedMips = this.requested[i];
      const capped = requestedMips > this.peMips ? this.peMips : requestedMips;
      totalNeed += this.isArriving(this.vms[i]) ? capped * 0.1 : capped;
    }
    const scale = this.totalMips / totalNeed;
    for (let i = 0; i < this.scheduled; i++) {
      const vm = this.vms[i];
      const requestedMips = this.requested[i];
      const capped = requestedMips > this.peMips ? this.peMips : requestedMips;
      let mips: number;
      if (this.isLeaving(vm)) mips = (capped * scale) * 0.9;
      else if (this.isArriving(vm)) mips = (capped * 0.1) * scale;
      else mips = capped * scale;
      this.allocated[i] = Math.floor(mips);
    }
    this.availableMips = 0;
  }

  /** `VmSchedulerTimeShared.allocatePesForVm`: a VM in migration that is not arriving here is leaving. */
  private allocateVm(vm: SimVm): void {
    if (vm.inMigration) {
      if (!this.isArriving(vm)) this.migratingOut.add(vm);
    } else if (this.migratingOut.size > 0) {
      this.migratingOut.delete(vm);
    }
    this.allocateNext(vm.requestedMips());
  }

  /** `deallocatePesForVm` and the removal from the list: the others are re-allocated with the requests they had. */
  private removeScheduled(index: number): void {
    assert(this.scheduled === this.vms.length, 'a VM leaves a host only between processings');
    this.vms.splice(index, 1);
    this.requested.copyWithin(index, index + 1, this.scheduled);
    this.allocated.copyWithin(index, index + 1, this.scheduled);
    // `allocateNext` writes each request back where it read it, so no copy is needed.
    this.resetScheduler();
    for (let i = 0; i < this.vms.length; i++) this.allocateNext(this.requested[i]);
  }

  private holdRam(vm: SimVm, ramMb: number): boolean {
    const wanted = Math.min(ramMb, vm.ramMb);
    this.releaseRam(vm);
    if (this.availableRamMb < wanted) return false;
    this.availableRamMb -= wanted;
    // CloudSim's VMs ask for no RAM or bandwidth after t = 0: holding none is holding 0, and
    // keeps most of these maps empty (a map that keeps changing is rehashed, a garbage array each time).
    if (wanted > 0) this.ramHeld.set(vm, wanted);
    return true;
  }

  private releaseRam(vm: SimVm): void {
    if (this.ramHeld.size === 0) return;
    this.availableRamMb += this.ramHeld.get(vm) ?? 0;
    this.ramHeld.delete(vm);
  }

  private holdBw(vm: SimVm, bwKbitPerS: number): boolean {
    this.releaseBw(vm);
    if (this.availableBwKbitPerS < bwKbitPerS) return false;
    this.availableBwKbitPerS -= bwKbitPerS;
    if (bwKbitPerS > 0) this.bwHeld.set(vm, bwKbitPerS);
    return true;
  }

  private releaseBw(vm: SimVm): void {
    if (this.bwHeld.size === 0) return;
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

  /**
   * `vmDeallocate` plus the removal from the list: bandwidth, RAM, PEs and
   * storage go back. CloudSim keeps a departed VM's "migrating out" mark until
   * the VM next arrives here (see `acceptMigratingIn`); nothing reads the mark
   * in between, so it is dropped now, which keeps the set empty on most hosts.
   */
  private deallocate(vm: SimVm): void {
    const index = this.vms.indexOf(vm);
    assert(index >= 0, () => `VM ${vm.id} is not on host ${this.index}`);
    this.migratingOut.delete(vm);
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
    // dropped any "migrating out" mark the VM had on this host.
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
    const vms = this.vms;
    // An empty host processed since it became empty would come out as it is (all zeros);
    // after consolidation that is most of the data centre, at every processing time.
    if (vms.length === 0 && this.utilizationMips === 0 && this.previousUtilizationMips === 0 && this.entry.requestedMips === 0) return;
    const atSchedulingTime = (timeS - 0.1) % schedulingIntervalS === 0;
    for (let i = 0; i < vms.length; i++) vms[i].updateProcessing(timeS, atSchedulingTime);
    this.previousUtilizationMips = this.utilizationMips;
    this.resetScheduler();
    for (let i = 0; i < vms.length; i++) this.allocateVm(vms[i]);
    let utilizationMips = 0;
    let requestedTotalMips = 0;
    for (let i = 0; i < vms.length; i++) {
      const vm = vms[i];
      const requestedMips = vm.requestedMips();
      let allocatedMips = this.allocated[i];
      if (!this.isArriving(vm)) {
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

/** The configuration's hosts, in order. */
export function simHostsOf(config: SimulationConfig): SimHost[] {
  return config.hosts.map((typeIndex, index) => {
    const type = config.hostTypes[typeIndex];
    return new SimHost(index, type.pes, type.peMips, type.ramMb, type.bwKbitPerS, type.storageMb, POWER_MODELS[type.power], hostNameOf(config, index));
  });
}

/** VM i of the configuration, driven by the trace's VM i; `keepsResources` as `SimVm` says. */
export function simVmsOf(config: SimulationConfig, trace: Trace, keepsResources: boolean): SimVm[] {
  const sampler = new TraceSampler(trace.stepS);
  return config.vms.map((typeIndex, index) => {
    const type = config.vmTypes[typeIndex];
    assert(type.pes === 1, () => `the CloudSim model runs single-PE VMs; VM type "${type.name}" has ${type.pes}`);
    return new SimVm(index, trace.vms[index].id, type.mips, config.vmRamMb[index] ?? type.ramMb, type.bwKbitPerS, type.sizeMb,
      trace.vms[index], sampler, keepsResources);
  });
}
