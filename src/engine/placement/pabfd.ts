/**
 * CloudSim 3.0.3's dynamic consolidation step
 * (`PowerVmAllocationPolicyMigrationAbstract.optimizeAllocation`) with its
 * power-aware best fit decreasing placement (PABFD), as `reference/cloudsim.md`
 * section 2 describes it, quirks included:
 *
 * 1. find over-utilised hosts with the policy's own test;
 * 2. select VMs off each of them, one at a time, until the test passes;
 * 3. place those VMs (sorted by current MIPS, decreasing) on the host with the
 *    least power increase, skipping over-utilised hosts, unsuitable hosts and
 *    non-empty hosts the test would call over-utilised after the move;
 * 4. evacuate under-utilised hosts, lowest utilisation first, all or nothing.
 *
 * Planning works on copies: the input snapshot is never changed.
 */
import { assert, AssertionError } from '../assert';
import type { HostLoad, HostOverloadTest } from '../cloudsim/types';
import { CLOUDSIM_HISTORY_LENGTH } from '../cloudsim/types';
import { nonZeroLength, trimZeroTail } from '../cloudsim/detectors';
import type { CloudsimVm, CloudsimVmSelection } from '../cloudsim/selection';
import type { PowerModel } from '../power';
import type { Rng } from '../types';

export interface PlanningVm extends CloudsimVm {
  readonly pes: number;
  /** `getCurrentRequestedTotalMips()`: what the VM asked for at the last update. */
  readonly requestedMips: number;
  /** RAM and bandwidth a target host must have free to take the VM. */
  readonly requestedRamMb: number;
  readonly requestedBwKbitPerS: number;
  /** MIPS the VM's current host allocates to it now. */
  readonly allocatedMips: number;
  /** The VM is migrating onto the host that lists it. */
  readonly migratingIn: boolean;
}

export interface PlanningHost {
  /** Host ids order the scans and break ties, as CloudSim's host list does. */
  readonly id: number;
  readonly pes: number;
  readonly peMips: number;
  readonly availableMips: number;
  readonly availableRamMb: number;
  readonly availableBwKbitPerS: number;
  readonly bwKbitPerS: number;
  /** `getUtilizationOfCpu()` at the last update: 0 means switched off. */
  readonly utilization: number;
  readonly power: PowerModel;
  readonly vms: readonly PlanningVm[];
}

export interface CloudsimPolicy {
  readonly isOverUtilized: HostOverloadTest;
  readonly selectVm: CloudsimVmSelection;
}

export interface PlannedMigration {
  readonly vmId: string;
  readonly sourceHostId: number;
  readonly targetHostId: number;
  readonly cause: 'overloaded-host' | 'underloaded-host';
}

export interface ReallocationPlan {
  readonly overUtilizedHostIds: readonly number[];
  /** In CloudSim's order; one VM can appear twice (see the step-4 quirk). */
  readonly migrations: readonly PlannedMigration[];
  readonly evacuatedHostIds: readonly number[];
  /** Under-utilised hosts whose VMs did not all fit, so none moved. */
  readonly cancelledEvacuationHostIds: readonly number[];
}

/**
 * A host during planning: its VM list and free resources change as VMs are
 * placed or removed. The sums CloudSim recomputes over the VM list on every
 * call are kept here, in the same order of addition (a placed VM is appended,
 * so adding it last is CloudSim's order; a removal recomputes them).
 */
interface WorkHost {
  readonly host: PlanningHost;
  readonly peMips: number;
  readonly totalMips: number;
  /** The snapshot's `host.utilization`, which planning never changes. */
  readonly utilization: number;
  readonly powerNowW: number;
  vms: PlanningVm[];
  /** MIPS allocated to `vms[i]` on this host (a planned VM gets its capped request). */
  allocatedMips: number[];
  availableMips: number;
  availableRamMb: number;
  availableBwKbitPerS: number;
  /** Σ requested MIPS of the VMs (the utilisation CloudSim's tests see). */
  requestedMips: number;
  /** `getUtilizationOfCpuMips`: a VM migrating in counts as the 100 % its 10 % reservation stands for. */
  cpuMips: number;
  maxRamMb: number;
  /** The untrimmed 30-value host history, built when a test first needs it. */
  history: number[] | null;
  /**
   * Hosts that are empty and idle, with identical capacities and power model,
   * are interchangeable for `findHost`: only the first of a class can win (ties
   * go to the lower id), so the others are skipped. -1 once the host is not so.
   */
  pristineClass: number;
  /** No placement of this planning may use the host (excluded by the caller, over-utilised, or being evacuated). */
  excludedAsTarget: boolean;
  /** Evacuation does not consider the host (over-utilised, switched off, evacuated, or the target of an evacuation). */
  excludedAsSource: boolean;
}

function historyContribution(history: number[], vm: PlanningVm, totalMips: number): void {
  // Read once: each host history sums some 30 values per VM, for every host a planning tests.
  const vmHistory = vm.historyNewestFirst;
  const mips = vm.mips;
  const length = Math.min(vmHistory.length, CLOUDSIM_HISTORY_LENGTH);
  for (let i = 0; i < length; i++) {
    history[i] = history[i] + (vmHistory[i] * mips) / totalMips;
  }
}

/** `PowerHostUtilizationHistory.getUtilizationHistory()` before its `trimZeroTail`. */
function untrimmedHostHistory(vms: readonly PlanningVm[], totalMips: number): number[] {
  const history = new Array<number>(CLOUDSIM_HISTORY_LENGTH).fill(0);
  for (const vm of vms) historyContribution(history, vm, totalMips);
  return history;
}

/** `PowerHostUtilizationHistory.getUtilizationHistory()`, trailing zeros trimmed as CloudSim's `trimZeroTail` does. */
export function hostHistoryNewestFirst(vms: readonly PlanningVm[], totalMips: number): number[] {
  return trimZeroTail(untrimmedHostHistory(vms, totalMips));
}

function recomputeSums(work: WorkHost): void {
  work.requestedMips = 0;
  work.cpuMips = 0;
  work.maxRamMb = 0;
  for (let i = 0; i < work.vms.length; i++) {
    const vm = work.vms[i];
    const allocated = work.allocatedMips[i];
    work.requestedMips += vm.requestedMips;
    // Two additions, as CloudSim's loop does them, not one of their sum.
    if (vm.migratingIn) work.cpuMips += (allocated * 0.9) / 0.1;
    work.cpuMips += allocated;
    work.maxRamMb = Math.max(work.maxRamMb, vm.ramMb);
  }
  work.history = null;
}

function workHostOf(host: PlanningHost): WorkHost {
  if (!(host.pes > 0 && host.peMips > 0 && host.utilization >= 0 && host.utilization < 1.01)) {
    throw new AssertionError(`host ${host.id}: needs PEs with MIPS and a utilisation in [0, 1.01), got ${host.utilization}`);
  }
  const allocatedMips = new Array<number>(host.vms.length);
  for (let i = 0; i < host.vms.length; i++) allocatedMips[i] = host.vms[i].allocatedMips;
  const work: WorkHost = {
    host,
    peMips: host.peMips,
    totalMips: host.pes * host.peMips,
    utilization: host.utilization,
    // `PowerHost.getPower()` at the last update's utilisation, clamped as `getUtilizationOfCpu` does.
    powerNowW: host.power.powerW(Math.min(host.utilization, 1)),
    vms: host.vms.slice(),
    allocatedMips,
    availableMips: host.availableMips,
    availableRamMb: host.availableRamMb,
    availableBwKbitPerS: host.availableBwKbitPerS,
    requestedMips: 0,
    cpuMips: 0,
    maxRamMb: 0,
    history: null,
    pristineClass: -1,
    excludedAsTarget: false,
    excludedAsSource: false,
  };
  recomputeSums(work);
  return work;
}

/** Empty, idle hosts that no placement could tell apart: same capacities, same free resources, same power model. */
function isSamePristineClass(a: PlanningHost, b: PlanningHost): boolean {
  return a.pes === b.pes && a.peMips === b.peMips && a.power.name === b.power.name && a.availableRamMb === b.availableRamMb
    && a.availableBwKbitPerS === b.availableBwKbitPerS && a.bwKbitPerS === b.bwKbitPerS;
}

/** Puts `work` into `list`, which is in id order. */
function insertById(list: WorkHost[], work: WorkHost): void {
  let position = list.length;
  while (position > 0 && list[position - 1].host.id > work.host.id) position -= 1;
  list.splice(position, 0, work);
}

/**
 * Work copies of the snapshot, in id order, with the pristine classes assigned.
 * Unless `everyHost`, the pristine hosts behind the first of their class get a
 * copy only when they join the scan: most of a consolidated data centre is
 * pristine, and most of it never does. (Such a host would pass `workHostOf`'s
 * checks: its class's first host passed them, and it is idle.)
 */
function workHostsOf(snapshot: readonly PlanningHost[], everyHost: boolean): Planning {
  // A simulator's snapshot comes in id order already: checking is one pass, a copy and a sort were two more at every planning.
  const sorted = isInIdOrder(snapshot) ? snapshot : [...snapshot].sort((a, b) => a.id - b.id);
  const hosts: WorkHost[] = [];
  const queued = new Map<PlanningHost, WorkHost>();
  // The first host of each class; a data centre has a handful of models, so a linear search finds the class.
  const classFirsts: PlanningHost[] = [];
  const scan: WorkHost[] = [];
  const pristineQueues: PlanningHost[][] = [];
  for (let i = 0; i < sorted.length; i++) {
    const host = sorted[i];
    if (i > 0 && host.id === sorted[i - 1].id) throw new AssertionError(`duplicate host id ${host.id}`);
    if (host.vms.length > 0 || host.utilization !== 0 || host.availableMips !== host.pes * host.peMips) {
      const work = workHostOf(host);
      hosts.push(work);
      scan.push(work);
      continue;
    }
    let id = 0;
    while (id < classFirsts.length && !isSamePristineClass(classFirsts[id], host)) id += 1;
    if (id === classFirsts.length) {
      classFirsts.push(host);
      pristineQueues.push([]);
      const work = workHostOf(host);
      work.pristineClass = id;
      hosts.push(work);
      scan.push(work);
    } else {
      pristineQueues[id].push(host);
      if (everyHost) {
        const work = workHostOf(host);
        work.pristineClass = id;
        hosts.push(work);
        queued.set(host, work);
      }
    }
  }
  const switchedOn = hosts.filter((work) => work.utilization !== 0);
  return {
    hosts, scan, switchedOn, pristineQueues, queued, excludesPristine: false, newlyExcluded: 0,
    scratch: scanScratchFor(sorted.length),
  };
}

function isInIdOrder(hosts: readonly PlanningHost[]): boolean {
  for (let i = 1; i < hosts.length; i++) if (!(hosts[i - 1].id < hosts[i].id)) return false;
  return true;
}

/**
 * The scan's scratch space, shared by all plannings (one runs at a time and
 * keeps nothing of it between calls): two arrays per host at every consolidation
 * were the largest allocations of a planning.
 */
let sharedScratch: ScanScratch = { powerIncreasesW: new Float64Array(0), heap: new Int32Array(0), cheapest: -1 };

function scanScratchFor(hostCount: number): ScanScratch {
  if (sharedScratch.heap.length < hostCount) {
    sharedScratch = { powerIncreasesW: new Float64Array(hostCount), heap: new Int32Array(hostCount), cheapest: -1 };
  }
  return sharedScratch;
}

/** The host now differs from its class: the next pristine host of the class takes its place in the scan. */
function leavePristine(planning: Planning, work: WorkHost): void {
  const pristineClass = work.pristineClass;
  if (pristineClass < 0) return;
  work.pristineClass = -1;
  const nextHost = planning.pristineQueues[pristineClass].shift();
  if (nextHost === undefined) return;
  let next = planning.queued.get(nextHost);
  if (next === undefined) {
    next = workHostOf(nextHost);
    next.pristineClass = pristineClass;
    insertById(planning.hosts, next);
  }
  insertById(planning.scan, next);
}

function migrationTimeS(ramMb: number, bwKbitPerS: number): number {
  return ramMb / (bwKbitPerS / (2 * 8000));
}

/**
 * The host as a policy's test sees it, or as it would be with `extra` added
 * (CloudSim's what-if `vmCreate`). The history is built only if the test reads
 * it: THR never does, and the others stop early on most candidates. One load
 * serves every test, since a test keeps nothing of it (see `HostOverloadTest`):
 * a load and a history array for each of the ~150,000 tests of a policy-day
 * were a large part of the garbage.
 */
class PlanningLoad implements HostLoad {
  // Declared with a number: a bare field starts as `undefined`, and V8 would box each value stored in it.
  utilization: number = 0;
  maxVmMigrationTimeS: number = 0;
  private work: WorkHost | null = null;
  private extra: PlanningVm | null = null;
  private history: readonly number[] | null = null;
  /** The host's history with `extra`'s added, before the trailing zeros are trimmed. */
  private readonly untrimmed = new Array<number>(CLOUDSIM_HISTORY_LENGTH).fill(0);
  /** `historyByLength[n]` has n values: a trimmed history is copied into the one of its length, never allocated. */
  private readonly historyByLength = Array.from({ length: CLOUDSIM_HISTORY_LENGTH + 1 }, (_, n) => new Array<number>(n).fill(0));

  /** The load of `work`, with `extra` added unless null; the history of the previous load is forgotten. */
  of(work: WorkHost, extra: PlanningVm | null): this {
    const requestedMips = extra === null ? work.requestedMips : work.requestedMips + extra.requestedMips;
    const maxRamMb = extra === null ? work.maxRamMb : Math.max(work.maxRamMb, extra.ramMb);
    this.utilization = requestedMips / work.totalMips;
    this.maxVmMigrationTimeS = migrationTimeS(maxRamMb, work.host.bwKbitPerS);
    this.work = work;
    this.extra = extra;
    this.history = null;
    return this;
  }

  get historyNewestFirst(): readonly number[] {
    if (this.history !== null) return this.history;
    const { work, extra, untrimmed } = this;
    assert(work !== null, 'a planning load is read after it is set');
    work.history ??= untrimmedHostHistory(work.vms, work.totalMips);
    for (let i = 0; i < CLOUDSIM_HISTORY_LENGTH; i++) untrimmed[i] = work.history[i];
    if (extra !== null) historyContribution(untrimmed, extra, work.totalMips);
    const length = nonZeroLength(untrimmed);
    const history = this.historyByLength[length];
    for (let i = 0; i < length; i++) history[i] = untrimmed[i];
    this.history = history;
    return history;
  }
}

const planningLoad = new PlanningLoad();

/** The policy's test on the host as it is, or as it would be with `extra` added. */
function isOverUtilized(work: WorkHost, policy: CloudsimPolicy, extra: PlanningVm | null): boolean {
  return policy.isOverUtilized(planningLoad.of(work, extra));
}

function cappedRequestMips(vm: PlanningVm, peMips: number): number {
  return Math.min(vm.requestedMips / vm.pes, peMips) * vm.pes;
}

/** `Host.isSuitableForVm`: PE capacity, free MIPS, RAM and bandwidth. */
function isSuitable(work: WorkHost, vm: PlanningVm): boolean {
  return work.peMips >= vm.requestedMips / vm.pes
    && work.availableMips >= vm.requestedMips
    && work.availableRamMb >= vm.requestedRamMb
    && work.availableBwKbitPerS >= vm.requestedBwKbitPerS;
}

function place(planning: Planning, work: WorkHost, vm: PlanningVm): void {
  const mips = cappedRequestMips(vm, work.peMips);
  leavePristine(planning, work);
  work.vms.push(vm);
  work.allocatedMips.push(mips);
  work.availableMips -= mips;
  work.availableRamMb -= vm.requestedRamMb;
  work.availableBwKbitPerS -= vm.requestedBwKbitPerS;
  work.requestedMips += vm.requestedMips;
  assert(!vm.migratingIn, 'a planned VM is not migrating in');
  work.cpuMips += mips;
  work.maxRamMb = Math.max(work.maxRamMb, vm.ramMb);
  if (work.history !== null) historyContribution(work.history, vm, work.totalMips);
}

function unplace(work: WorkHost, vm: PlanningVm): void {
  const index = work.vms.indexOf(vm);
  if (index < 0) throw new AssertionError(`VM ${vm.id} is not on host ${work.host.id}`);
  assert(work.pristineClass < 0, 'a host with a VM is not pristine');
  const mips = work.allocatedMips[index];
  work.vms.splice(index, 1);
  work.allocatedMips.splice(index, 1);
  work.availableMips += mips;
  work.availableRamMb += vm.requestedRamMb;
  work.availableBwKbitPerS += vm.requestedBwKbitPerS;
  recomputeSums(work);
}

/**
 * Which hosts a placement may not use: those marked `excludedAsTarget`, and,
 * when `skipSwitchedOff`, those measured at 0 % (CloudSim's "switched off"),
 * among which are all pristine hosts.
 */
/**
 * Excludes `work` as a target for the rest of the planning: no exclusion is
 * lifted, so the scans of `switchedOn` can drop the host for good. Evacuation
 * excludes each source it tries, which in the first intervals of a day are most
 * of the data centre; a scan of every VM of every one of them over all the
 * hosts, the excluded included, was quadratic in the hosts.
 */
function excludeAsTarget(planning: Planning, work: WorkHost): void {
  if (work.excludedAsTarget) return;
  work.excludedAsTarget = true;
  planning.newlyExcluded += 1;
}

/** `switchedOn` without its excluded hosts, in the same order: a scan's ties still go to the lower id. */
function dropExcludedTargets(planning: Planning): void {
  const { switchedOn } = planning;
  let kept = 0;
  for (let i = 0; i < switchedOn.length; i++) {
    const work = switchedOn[i];
    if (!work.excludedAsTarget) switchedOn[kept++] = work;
  }
  switchedOn.length = kept;
  planning.newlyExcluded = 0;
}

function isExcluded(work: WorkHost, skipSwitchedOff: boolean): boolean {
  return (skipSwitchedOff && work.utilization === 0) || work.excludedAsTarget;
}

/**
 * `findHostForVm`: the suitable host, not excluded, with the least power
 * increase that passes the what-if overload test; ties go to the lower id. A
 * host whose load would pass 100 % is skipped: CloudSim's power model would
 * throw there and stop the run.
 */
function findHost(planning: Planning, vm: PlanningVm, skipSwitchedOff: boolean, policy: CloudsimPolicy): WorkHost | null {
  const { scan } = planning;
  // The hosts measured above 0 % are those of the scan that `skipSwitchedOff` leaves, in the same order.
  if (skipSwitchedOff) {
    if (planning.newlyExcluded > 0) dropExcludedTargets(planning);
    return leastPowerIncrease(planning.switchedOn, vm, skipSwitchedOff, policy, planning.scratch);
  }
  if (planning.excludesPristine) {
    for (const work of scan) {
      // Excluding a pristine host by id would hide the rest of its class, which the scan skips.
      if (work.excludedAsTarget && work.pristineClass >= 0 && planning.pristineQueues[work.pristineClass].length > 0) {
        return leastPowerIncrease(planning.hosts, vm, skipSwitchedOff, policy, planning.scratch);
      }
    }
  }
  return leastPowerIncrease(scan, vm, skipSwitchedOff, policy, planning.scratch);
}

/** P(after) − P(now), or Infinity where the load would pass 100 % (CloudSim's power model would throw and stop the run). */
function powerIncreaseW(work: WorkHost, vm: PlanningVm): number {
  const utilizationAfter = (work.cpuMips + vm.requestedMips) / work.totalMips;
  if (utilizationAfter > 1) return Infinity;
  return work.host.power.powerW(utilizationAfter) - work.powerNowW;
}

/** Candidate `a` is tried before `b`: a smaller power increase, ties in scan order. */
function isTriedBefore(a: number, b: number, increasesW: Float64Array): boolean {
  return increasesW[a] < increasesW[b] || (increasesW[a] === increasesW[b] && a < b);
}

/** Restores the min-heap order of `heap[0, size)` below `position`. */
function siftDown(heap: Int32Array, size: number, position: number, increasesW: Float64Array): void {
  const item = heap[position];
  for (;;) {
    let child = 2 * position + 1;
    if (child >= size) break;
    if (child + 1 < size && isTriedBefore(heap[child + 1], heap[child], increasesW)) child += 1;
    if (!isTriedBefore(heap[child], item, increasesW)) break;
    heap[position] = heap[child];
    position = child;
  }
  heap[position] = item;
}

/**
 * Puts the candidates a placement of `vm` may use into `scratch`: their power
 * increases by position, their positions in `heap[0, eligible)`, and the first
 * cheapest in `cheapest`; returns how many there are. The scan is a function of
 * its own so that V8 compiles its long loop on-stack without the rarely taken
 * paths of `leastPowerIncrease`: on-stack code compiled before those ran lacked
 * their type feedback and was left in place after each deoptimisation there,
 * which happened hundreds of times a policy-day.
 */
function scanCandidates(candidates: readonly WorkHost[], vm: PlanningVm, skipSwitchedOff: boolean, scratch: ScanScratch): number {
  const { powerIncreasesW, heap } = scratch;
  assert(candidates.length <= powerIncreasesW.length, 'one scratch entry per candidate host');
  let eligible = 0;
  let cheapest = -1;
  let minW = Number.MAX_VALUE;
  // `isSuitable`'s reads of the VM, made once for the scan (the same values, so the same comparisons):
  // the scans of a policy-day visit some two million hosts, many of them before V8 has optimised this loop.
  const requestedMips = vm.requestedMips;
  const requestedPeMips = vm.requestedMips / vm.pes;
  const requestedRamMb = vm.requestedRamMb;
  const requestedBwKbitPerS = vm.requestedBwKbitPerS;
  for (let i = 0; i < candidates.length; i++) {
    const work = candidates[i];
    if (isExcluded(work, skipSwitchedOff)) continue;
    if (!(work.peMips >= requestedPeMips && work.availableMips >= requestedMips
      && work.availableRamMb >= requestedRamMb && work.availableBwKbitPerS >= requestedBwKbitPerS)) continue;
    const increaseW = powerIncreaseW(work, vm);
    if (increaseW < Number.MAX_VALUE) {
      powerIncreasesW[i] = increaseW;
      heap[eligible] = i;
      eligible += 1;
      if (increaseW < minW) {
        minW = increaseW;
        cheapest = i;
      }
    }
  }
  scratch.cheapest = cheapest;
  return eligible;
}

/**
 * CloudSim scans the hosts in id order and keeps one when its increase is below
 * the best so far (from `Double.MAX_VALUE`) and its what-if test passes. The
 * tests are pure, so testing in increasing order of increase (ties: scan order)
 * until one passes picks the same host, with about a third fewer tests. An
 * empty host (no MIPS in use) needs none: CloudSim never calls it over-utilised.
 * When the cheapest fails its test (a policy-day tries ~5 hosts per VM on
 * average), the others come from a heap rather than from a scan per try.
 */
function leastPowerIncrease(
  candidates: readonly WorkHost[],
  vm: PlanningVm,
  skipSwitchedOff: boolean,
  policy: CloudsimPolicy,
  scratch: ScanScratch,
): WorkHost | null {
  const eligible = scanCandidates(candidates, vm, skipSwitchedOff, scratch);
  if (eligible === 0) return null;
  const cheapest = candidates[scratch.cheapest];
  if (cheapest.cpuMips === 0 || !isOverUtilized(cheapest, policy, vm)) return cheapest;
  const { powerIncreasesW, heap } = scratch;
  for (let position = (eligible >> 1) - 1; position >= 0; position--) siftDown(heap, eligible, position, powerIncreasesW);
  // The heap's top is the cheapest, which failed.
  for (let size = eligible - 1; size > 0; size--) {
    heap[0] = heap[size];
    siftDown(heap, size, 0, powerIncreasesW);
    const work = candidates[heap[0]];
    if (work.cpuMips === 0 || !isOverUtilized(work, policy, vm)) return work;
  }
  return null;
}

/** `PowerVmList.sortByCpuUtilization`: current MIPS, decreasing, stable. */
function sortByCurrentMipsDecreasing(vms: readonly PlanningVm[]): PlanningVm[] {
  return [...vms].sort((a, b) => b.utilization * b.mips - a.utilization * a.mips);
}

function selectVmsFromOverUtilized(work: WorkHost, policy: CloudsimPolicy, rng: Rng): PlanningVm[] {
  const selected: PlanningVm[] = [];
  const limit = work.vms.length;
  for (let i = 0; i < limit; i++) {
    const index = policy.selectVm(work.vms, rng);
    if (index === null) break;
    const vm = work.vms[index];
    selected.push(vm);
    unplace(work, vm);
    if (!isOverUtilized(work, policy, null)) break;
  }
  return selected;
}

/** `areAllVmsMigratingOutOrAnyVmMigratingIn`, with its early return on the first VM not in migration. */
function isMigrationBusy(work: WorkHost): boolean {
  for (const vm of work.vms) {
    if (!vm.inMigration) return false;
    if (vm.migratingIn) return true;
  }
  return true;
}

/**
 * `getUnderUtilizedHost` picks, among the hosts not excluded, the one measured
 * lowest in (0, 1) that is not busy with migrations, ties to the lower id. The
 * measurements do not change while planning, so the candidates are sorted once
 * (stably, so ties stay in id order) and each pick is the first eligible one.
 */
class EvacuationCandidates {
  private readonly sorted: WorkHost[];
  /** Excluded hosts stay excluded, so the ones before this index need no second look. */
  private start = 0;

  constructor(hosts: readonly WorkHost[]) {
    this.sorted = hosts.filter((work) => work.utilization > 0 && work.utilization < 1).sort((a, b) => a.utilization - b.utilization);
  }

  lowestUtilized(): WorkHost | null {
    while (this.start < this.sorted.length && this.sorted[this.start].excludedAsSource) this.start += 1;
    for (let i = this.start; i < this.sorted.length; i++) {
      const work = this.sorted[i];
      if (!work.excludedAsSource && !isMigrationBusy(work)) return work;
    }
    return null;
  }
}

interface Placement {
  readonly vm: PlanningVm;
  readonly target: WorkHost;
}

/** `leastPowerIncrease`'s scratch space, one entry per host. */
interface ScanScratch {
  /** By candidate position; valid for the eligible candidates. */
  readonly powerIncreasesW: Float64Array;
  /** The eligible candidates' positions. */
  readonly heap: Int32Array;
  /** The position of the first eligible candidate with the least increase. */
  cheapest: number;
}

interface Planning {
  /** The work copies made, in id order: all hosts, but for the pristine ones still queued unless made with `everyHost`. */
  readonly hosts: WorkHost[];
  /**
   * The hosts `findHost` scans, in id order: every host that is not pristine,
   * and the lowest-id pristine host of each class. A scan of the 800-host data
   * centre thus looks at the active hosts plus one empty host per model.
   */
  readonly scan: WorkHost[];
  /**
   * The hosts measured above 0 %, in id order: all non-pristine, so all in `scan`;
   * the ones excluded as targets are dropped before the next scan of them (see `excludeAsTarget`).
   */
  readonly switchedOn: WorkHost[];
  /** Hosts excluded as targets since `switchedOn` last dropped its excluded ones. */
  newlyExcluded: number;
  /** Per pristine class, its other pristine hosts in id order, to replace the one in `scan` once it is used. */
  readonly pristineQueues: PlanningHost[][];
  /** The work copies of the queued hosts, when they were made up front. */
  readonly queued: ReadonlyMap<PlanningHost, WorkHost>;
  readonly scratch: ScanScratch;
  /**
   * A pristine host is excluded as a target (only a caller's exclusions do that;
   * the hosts planning excludes have VMs), so `findHost` must look for one.
   */
  excludesPristine: boolean;
}

/** All of the host's VMs find a target (not switched off, not excluded), or none moves. */
function evacuate(vms: readonly PlanningVm[], planning: Planning, policy: CloudsimPolicy): Placement[] | null {
  const placements: Placement[] = [];
  for (const vm of sortByCurrentMipsDecreasing(vms)) {
    const target = findHost(planning, vm, true, policy);
    if (target === null) {
      for (const done of placements) unplace(done.target, done.vm);
      return null;
    }
    place(planning, target, vm);
    placements.push({ vm, target });
  }
  return placements;
}

export function planReallocation(snapshot: readonly PlanningHost[], policy: CloudsimPolicy, rng: Rng): ReallocationPlan {
  const planning = workHostsOf(snapshot, false);
  const { hosts } = planning;
  /** The host each VM moved in step 3 starts from (the VMs step 4 moves start from the host it evacuates). */
  const sourceOf = new Map<PlanningVm, number>();

  // An empty host is never over-utilised by any CloudSim test (utilisation 0, and its empty history
  // sends IQR, MAD and LR to their THR-0.7 fallback), so three quarters of a data centre are skipped.
  const overUtilized = hosts.filter((work) => work.vms.length > 0 && isOverUtilized(work, policy, null));
  for (const work of overUtilized) {
    excludeAsTarget(planning, work);
    work.excludedAsSource = true;
  }
  const migrations: PlannedMigration[] = [];
  const toMove = overUtilized.flatMap((work) => {
    const selected = selectVmsFromOverUtilized(work, policy, rng);
    for (const vm of selected) sourceOf.set(vm, work.host.id);
    return selected;
  });
  for (const vm of sortByCurrentMipsDecreasing(toMove)) {
    const target = findHost(planning, vm, false, policy);
    if (target === null) continue;
    place(planning, target, vm);
    migrations.push({ vmId: vm.id, sourceHostId: sourceOf.get(vm)!, targetHostId: target.host.id, cause: 'overloaded-host' });
  }

  for (const work of hosts) if (work.utilization === 0) work.excludedAsSource = true;
  const candidates = new EvacuationCandidates(hosts);
  const evacuated: number[] = [];
  const cancelled: number[] = [];
  for (let round = 0; round < hosts.length; round++) {
    const source = candidates.lowestUtilized();
    if (source === null) break;
    source.excludedAsSource = true;
    excludeAsTarget(planning, source);
    const vms = source.vms.filter((vm) => !vm.inMigration);
    if (vms.length === 0) continue;
    const placements = evacuate(vms, planning, policy);
    if (placements === null) {
      cancelled.push(source.host.id);
      continue;
    }
    evacuated.push(source.host.id);
    for (const { vm, target } of placements) {
      target.excludedAsSource = true;
      // A VM placed here earlier in this step still starts from its original host, as CloudSim's `vm.getHost()` does.
      const sourceHostId = sourceOf.get(vm) ?? source.host.id;
      migrations.push({ vmId: vm.id, sourceHostId, targetHostId: target.host.id, cause: 'underloaded-host' });
    }
  }
  return {
    overUtilizedHostIds: overUtilized.map((work) => work.host.id),
    migrations,
    evacuatedHostIds: evacuated,
    cancelledEvacuationHostIds: cancelled,
  };
}

/**
 * PABFD on its own (`getNewVmPlacement`): each VM, sorted by current MIPS
 * decreasing, goes where `findHostForVm` puts it, and stays there for the VMs
 * after it. Returns the target host id per VM, in the input order, or null for a
 * VM that fits nowhere.
 */
export function pabfdPlace(
  snapshot: readonly PlanningHost[],
  vms: readonly PlanningVm[],
  excludedHostIds: ReadonlySet<number>,
  policy: CloudsimPolicy,
): (number | null)[] {
  const planning = workHostsOf(snapshot, true);
  for (const work of planning.hosts) {
    work.excludedAsTarget = excludedHostIds.has(work.host.id);
    if (work.excludedAsTarget && work.pristineClass >= 0) planning.excludesPristine = true;
  }
  const targets = new Map<PlanningVm, number>();
  for (const vm of sortByCurrentMipsDecreasing(vms)) {
    const target = findHost(planning, vm, false, policy);
    if (target === null) continue;
    place(planning, target, vm);
    targets.set(vm, target.host.id);
  }
  return vms.map((vm) => targets.get(vm) ?? null);
}

/**
 * A VM that CloudSim has just created stops asking for MIPS (its cloudlet has not
 * started) but keeps the allocation it was given; later what-if tests see it so.
 */
function settleCreated(work: WorkHost, vm: PlanningVm): void {
  const index = work.vms.lastIndexOf(vm);
  assert(index >= 0, 'a VM just created is on the host');
  work.vms[index] = { ...vm, requestedMips: 0 };
  recomputeSums(work);
}

/**
 * Initial placement (t = 0) of CloudSim's migration policies: VMs in id order,
 * not sorted, each where `findHostForVm` puts it with no host excluded; null
 * where CloudSim fails to create the VM.
 */
export function placeInitially(snapshot: readonly PlanningHost[], vms: readonly PlanningVm[], policy: CloudsimPolicy): (number | null)[] {
  const planning = workHostsOf(snapshot, false);
  return vms.map((vm) => {
    const target = findHost(planning, vm, false, policy);
    if (target === null) return null;
    place(planning, target, vm);
    settleCreated(target, vm);
    return target.host.id;
  });
}

/** Initial placement of CloudSim's `PowerVmAllocationPolicySimple` (DVFS, NPA): the first suitable host by id. */
export function placeFirstFit(snapshot: readonly PlanningHost[], vms: readonly PlanningVm[]): (number | null)[] {
  const planning = workHostsOf(snapshot, true);
  return vms.map((vm) => {
    const target = planning.hosts.find((work) => isSuitable(work, vm));
    if (target === undefined) return null;
    place(planning, target, vm);
    settleCreated(target, vm);
    return target.host.id;
  });
}
