/**
 * CloudSim 3.0.3's PlanetLab run loop on our scheduler: initial placement at
 * t = 0, a processing update every 300 s from 300.1 s, consolidation after each
 * update (migration policies), migrations that complete RAM / (bandwidth / 2)
 * later with a full re-processing before and after, and the removal of VMs
 * whose request drops to exactly 0. Each step follows the behaviour pinned down
 * (and validated against CloudSim's published numbers) in the simulator notes.
 */
import { performance } from 'node:perf_hooks';
import { assert, AssertionError } from '../../src/engine/assert';
import type { CloudsimPolicyChoice } from '../../src/engine/cloudsim/policies';
import { cloudsimPolicyOf } from '../../src/engine/cloudsim/policies';
import { placeFirstFit, placeInitially, planReallocation } from '../../src/engine/placement/pabfd';
import type { CloudsimPolicy, PlanningHost, PlanningVm } from '../../src/engine/placement/pabfd';
import type { Rng } from '../../src/engine/types';
import type { IdSource } from '../../src/ids';
import type { Trace } from '../../traces/trace';
import type { SimulationConfig } from '../config';
import type { RunRecorder } from '../recorder';
import type { Scheduler } from '../scheduler';
import { StateHistory } from '../stateHistory';
import { simHostsOf, simVmsOf } from './model';
import type { SimHost, SimVm } from './model';

/** CloudSim's first datacentre event: cloudlets are submitted at 0.1 s, the first update is one interval later. */
const FIRST_EVENT_S = 0.1;
/** A bound on the events of one run, far above what a day needs (~30,000). */
const MAX_EVENTS = 10_000_000;

export class SimulationError extends Error {
  override name = 'SimulationError';
}

export interface CloudsimWorldOptions {
  readonly config: SimulationConfig;
  readonly trace: Trace;
  readonly policy: CloudsimPolicyChoice;
  readonly scheduler: Scheduler;
  readonly recorder: RunRecorder;
  /** Draws RS's choices. */
  readonly rng: Rng;
  /** Names each migration. */
  readonly ids: IdSource;
  readonly onProgress?: (fraction: number) => void;
  /** Wall-clock time of each consolidation decision, for the run's report (never recorded as an event). */
  readonly onDecision?: (durationMs: number) => void;
}

type VmView = { -readonly [K in keyof PlanningVm]: PlanningVm[K] };
type HostView = { -readonly [K in keyof PlanningHost]: PlanningHost[K] } & { vms: VmView[] };

function blankVmView(): VmView {
  return {
    id: '', mips: 0, pes: 1, ramMb: 0, requestedMips: 0, requestedRamMb: 0, requestedBwKbitPerS: 0, allocatedMips: 0,
    migratingIn: false, inMigration: false, utilization: 0, historyNewestFirst: [],
  };
}

function isIdle(vm: SimVm): boolean {
  return !vm.inMigration && vm.requestedMips() === 0;
}

function hasIdleVm(host: SimHost): boolean {
  for (const vm of host.vms) if (isIdle(vm)) return true;
  return false;
}

export class CloudsimWorld {
  readonly hosts: SimHost[];
  readonly vms: SimVm[];
  readonly limitS: number;
  private readonly vmsById: ReadonlyMap<string, SimVm>;
  private readonly intervalS: number;
  private readonly migrationPolicy: CloudsimPolicy | null;
  private lastProcessTimeS = 0;
  /** Completions still to come at each exact time: the last one re-processes the data centre. */
  private readonly completionsAt = new Map<number, number>();
  /** Hosts whose VMs changed since their last processing (migrations completed at this time). */
  private readonly changedHosts = new Set<SimHost>();
  private readonly history: StateHistory;
  /**
   * The snapshot planning reads, one view per host (and per VM slot of a host),
   * refreshed in place for each consolidation: planning keeps nothing of it, and
   * a new one each time was ~3,000 objects and a heap number per fractional field.
   */
  private readonly snapshot: HostView[];

  constructor(private readonly options: CloudsimWorldOptions) {
    const { config, trace } = options;
    this.intervalS = config.schedulingIntervalS;
    // CloudSim reads u(t) between the two samples around t; the run stops before it would read past the last one.
    this.limitS = Math.min(config.limitS, (trace.vms[0].utilization.length - 1) * trace.stepS);
    this.hosts = simHostsOf(config);
    this.vms = simVmsOf(config, trace, false);
    this.vmsById = new Map(this.vms.map((vm) => [vm.id, vm]));
    assert(this.vmsById.size === this.vms.length, 'trace VM ids must be unique');
    // What the catalogue checks of the VM ids and host names of the migration events, once for the run.
    for (const vm of this.vms) assert(vm.id.length >= 1 && vm.id.length <= 255, () => `VM id "${vm.id}" must have 1 to 255 characters`);
    for (const host of this.hosts) assert(host.name.length <= 255, () => `host name ${host.name} must have at most 255 characters`);
    this.migrationPolicy = options.policy.kind === 'migration' ? cloudsimPolicyOf(options.policy, this.intervalS) : null;
    this.history = new StateHistory(this.hosts, this.vms.length, (update) => { options.recorder.recordChecked('DataCentreUpdated', update); },
      !options.recorder.keepsEvents);
    this.snapshot = this.hosts.map((host) => ({
      id: host.index, pes: host.pes, peMips: host.peMips, availableMips: 0, availableRamMb: 0, availableBwKbitPerS: 0,
      bwKbitPerS: host.bwKbitPerS, utilization: 0, power: host.power, vms: [],
    }));
  }

  run(): void {
    this.placeInitially();
    const { scheduler } = this.options;
    scheduler.at(FIRST_EVENT_S + this.intervalS, () => { this.update(); });
    scheduler.run(this.limitS, MAX_EVENTS, false);
    assert(scheduler.pending === 0 || scheduler.timeS < this.limitS, 'the run ended with events inside its limit');
    this.history.flush();
  }

  /** Migration policies place with PABFD against idle power; DVFS and NPA first fit. Every VM must fit. */
  private placeInitially(): void {
    const snapshot = this.refreshSnapshot(0);
    const vms = this.vms.map((vm, index) => this.refreshVmView(blankVmView(), vm, null, index, 0));
    const targets = this.migrationPolicy === null ? placeFirstFit(snapshot, vms) : placeInitially(snapshot, vms, this.migrationPolicy);
    targets.forEach((target, index) => {
      const vm = this.vms[index];
      if (target === null) {
        throw new SimulationError(`VM ${index} (${vm.id}, ${vm.mips} MIPS, ${vm.ramMb} MB) fits on no host at t = 0; CloudSim would stop here`);
      }
      assert(this.hosts[target].create(vm), () => `host ${target} refused VM ${vm.id} that the placement chose`);
      vm.tableHost = this.hosts[target];
      vm.beingInstantiated = false;
    });
  }

  private update(): void {
    const { scheduler } = this.options;
    const timeS = scheduler.timeS;
    if (this.options.policy.kind === 'npa') this.forceNonPowerAware(timeS);
    else this.force(timeS);
    if (this.migrationPolicy !== null) this.consolidate(timeS, this.migrationPolicy);
    this.options.onProgress?.(timeS / this.limitS);
    scheduler.at(timeS + this.intervalS, () => { this.update(); });
  }

  private process(host: SimHost, timeS: number): void {
    this.history.touch(timeS);
    host.process(timeS, this.intervalS, this.history.writeVmEntry);
  }

  /** `updateCloudetProcessingWithoutSchedulingFutureEventsForce`: process all, account energy, remove idle VMs. */
  private force(timeS: number): void {
    this.history.touch(timeS);
    const dtS = timeS - this.lastProcessTimeS;
    // One pass: a host's energy depends on its own processing only, and the sum is still taken in host order.
    let frameWs = 0;
    for (const host of this.hosts) {
      host.process(timeS, this.intervalS, this.history.writeVmEntry);
      if (!(dtS > 0)) continue;
      const fromUtilization = host.previousUtilization();
      if (fromUtilization === 0) continue;
      const fromW = host.power.powerW(fromUtilization);
      const toW = host.power.powerW(host.utilization());
      frameWs += (fromW + (toW - fromW) / 2) * dtS;
    }
    if (dtS > 0) this.history.addEnergy(frameWs);
    this.removeIdleVms(this.hosts);
    this.lastProcessTimeS = timeS;
  }

  /** `PowerDatacenterNonPowerAware`: every host at full power for the whole interval, energy first. */
  private forceNonPowerAware(timeS: number): void {
    this.history.touch(timeS);
    const dtS = timeS - this.lastProcessTimeS;
    if (dtS > 0) {
      let frameWs = 0;
      for (const host of this.hosts) frameWs += host.power.maxPowerW * dtS;
      this.history.addEnergy(frameWs);
    }
    for (const host of this.hosts) host.process(timeS, this.intervalS, this.history.writeVmEntry);
    this.removeIdleVms(this.hosts);
    this.lastProcessTimeS = timeS;
  }

  /** `getCompletedVms`: a VM not in migration that requests exactly 0 MIPS is destroyed for good. */
  private removeIdleVms(hosts: readonly SimHost[]): void {
    for (const host of hosts) {
      if (!hasIdleVm(host)) continue;
      for (const vm of host.vms.filter(isIdle)) {
        const tableHost = vm.tableHost;
        assert(tableHost !== null, () => `VM ${vm.id} is on host ${host.index} but in no allocation table`);
        tableHost.destroy(vm);
        vm.tableHost = null;
        vm.removed = true;
      }
    }
  }

  private consolidate(timeS: number, policy: CloudsimPolicy): void {
    const startMs = performance.now();
    const plan = planReallocation(this.refreshSnapshot(timeS), policy, this.options.rng);
    this.options.onDecision?.(performance.now() - startMs);
    const touched = new Set<SimHost>();
    for (const move of plan.migrations) {
      const vm = this.vmsById.get(move.vmId)!;
      const target = this.hosts[move.targetHostId];
      this.startMigration(vm, target, touched);
    }
    // CloudSim processes both hosts after each start. Processing rebuilds a host's
    // allocation from its VMs and their flags, and every change to those is made by
    // a start that touches the host, so one processing of each touched host after
    // the last start leaves the same state and entries. (It also sets the previous
    // utilisation, which is read only after the next processing, which sets it again.)
    for (const host of [...touched].sort((a, b) => a.index - b.index)) this.process(host, timeS);
  }

  /**
   * `addMigratingInVm` on the target, then the migration is counted and its
   * completion scheduled; the hosts to process afterwards go to `touched`.
   */
  private startMigration(vm: SimVm, target: SimHost, touched: Set<SimHost>): void {
    const timeS = this.options.scheduler.timeS;
    const source = vm.host;
    assert(source !== null, () => `VM ${vm.id} has no host to migrate from`);
    vm.inMigration = true;
    if (target.acceptMigratingIn(vm)) {
      touched.add(target);
      touched.add(source);
    }
    const migrationId = this.options.ids.next();
    if (!(migrationId.length >= 1 && migrationId.length <= 128)) throw new AssertionError(`migration id "${migrationId}" must have 1 to 128 characters`);
    this.options.recorder.recordChecked('MigrationStarted', {
      migrationId, vmId: vm.id, sourceHost: source.name, targetHost: target.name, requestId: null, attempt: 1,
    });
    const completionS = timeS + vm.ramMb / (target.bwKbitPerS / (2 * 8000));
    this.completionsAt.set(completionS, (this.completionsAt.get(completionS) ?? 0) + 1);
    this.options.scheduler.at(completionS, () => { this.completeMigration(vm, target, migrationId, timeS); });
  }

  /** `processVmMigrate`: re-process first (energy up to now), move the VM, re-process after the last one. */
  private completeMigration(vm: SimVm, target: SimHost, migrationId: string, startS: number): void {
    const timeS = this.options.scheduler.timeS;
    if (timeS > this.lastProcessTimeS) this.force(timeS);
    const source = vm.tableHost;
    if (source !== null) {
      source.destroy(vm);
      this.changedHosts.add(source);
    }
    target.finishMigratingIn(vm);
    this.changedHosts.add(target);
    assert(target.create(vm), () => `host ${target.index} refused VM ${vm.id} at the end of its migration`);
    vm.tableHost = target;
    const durationMs = (timeS - startS) * 1000;
    if (!(durationMs >= 0 && durationMs <= Number.MAX_VALUE)) throw new AssertionError(`migration ${migrationId} took ${durationMs} ms`);
    this.options.recorder.recordChecked('MigrationCompleted', {
      migrationId, vmId: vm.id, sourceHost: source === null ? target.name : source.name, targetHost: target.name,
      attempt: 1, durationMs,
    });
    const left = (this.completionsAt.get(timeS) ?? 0) - 1;
    if (left > 0) {
      this.completionsAt.set(timeS, left);
      return;
    }
    this.completionsAt.delete(timeS);
    this.reprocessChanged(timeS);
  }

  /**
   * CloudSim re-processes every host after the last completion at a time (no
   * energy: no time has passed). A host whose VMs did not change would come out
   * exactly as it did from the processing a moment ago at the same time, so
   * only the hosts the completions touched are processed again, in id order.
   */
  private reprocessChanged(timeS: number): void {
    assert(timeS === this.lastProcessTimeS, 'the completions were preceded by a processing at their time');
    const changed = [...this.changedHosts].sort((a, b) => a.index - b.index);
    this.changedHosts.clear();
    for (const host of changed) this.process(host, timeS);
    this.removeIdleVms(changed);
  }

  private refreshSnapshot(timeS: number): readonly PlanningHost[] {
    for (const host of this.hosts) {
      const view = this.snapshot[host.index];
      const { vms } = view;
      for (let i = 0; i < host.vms.length; i++) {
        if (i === vms.length) vms.push(blankVmView());
        this.refreshVmView(vms[i], host.vms[i], host, i, timeS);
      }
      vms.length = host.vms.length;
      view.availableMips = host.availableMips;
      view.availableRamMb = host.availableRamMb;
      view.availableBwKbitPerS = host.availableBwKbitPerS;
      view.utilization = host.utilization();
    }
    return this.snapshot;
  }

  /** `view` as VM `vm`, at `index` in `host.vms`; `host` is null before the VM is placed. */
  private refreshVmView(view: VmView, vm: SimVm, host: SimHost | null, index: number, timeS: number): VmView {
    view.id = vm.id;
    view.mips = vm.mips;
    view.ramMb = vm.ramMb;
    view.requestedMips = vm.requestedMips();
    view.requestedRamMb = vm.requestedRamMb();
    view.requestedBwKbitPerS = vm.requestedBwKbitPerS();
    view.allocatedMips = host === null ? 0 : host.allocatedMipsAt(index);
    view.migratingIn = host !== null && host.isArriving(vm);
    view.inMigration = vm.inMigration;
    // u(clock)·MIPS orders the VMs to place; at t = 0 the trace's first value is only an order key.
    view.utilization = vm.utilization(timeS);
    view.historyNewestFirst = vm.history;
    return view;
  }
}

