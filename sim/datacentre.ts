/**
 * The simulated data centre as the orchestration sees a cloud: it implements
 * the `Cloud` port (hosts, VMs, live migration) and the `Power` port (suspend,
 * wake) on CloudSim's host and VM model, under the simulation's virtual clock.
 * A migration takes RAM / (bandwidth / 2) seconds, during which the source
 * gives the VM 90 % of its request and the target reserves 10 %. Suspending
 * and waking take the configured time and energy; CloudSim's preset makes
 * them instant and free.
 */
import { assert } from '../src/engine/assert';
import type { IdSource } from '../src/ids';
import { CloudError, PowerError } from '../src/managers/ports';
import type { Cloud, CloudHost, CloudVm, MigrationStatus, Power } from '../src/managers/ports';
import type { Trace } from '../traces/trace';
import { simHostsOf, simVmsOf } from './cloudsim/model';
import type { SimHost, SimVm } from './cloudsim/model';
import { ConfigError } from './config';
import type { SimulationConfig } from './config';
import type { Scheduler } from './scheduler';

export interface PowerTransitions {
  readonly suspendLatencyS: number;
  readonly wakeLatencyS: number;
  /** Energy of the transition itself, on top of the host's power while it lasts. */
  readonly suspendEnergyWs: number;
  readonly wakeEnergyWs: number;
  /** What a suspended host draws. */
  readonly sleepPowerW: number;
}

/** CloudSim's assumption: switching a host off or on is instant and free. */
export const INSTANT_TRANSITIONS: PowerTransitions = { suspendLatencyS: 0, wakeLatencyS: 0, suspendEnergyWs: 0, wakeEnergyWs: 0, sleepPowerW: 0 };

export type HostPowerState = 'active' | 'suspending' | 'asleep' | 'waking';

interface Migration {
  state: MigrationStatus['state'];
  error: string | null;
}

export interface SimulatedDataCentreOptions {
  readonly config: SimulationConfig;
  readonly trace: Trace;
  readonly scheduler: Scheduler;
  readonly ids: IdSource;
  readonly transitions: PowerTransitions;
  /** Host index per VM at t = 0. */
  readonly placement: readonly number[];
  /** Called when a migration starts or ends, so that the hosts can be re-processed and recorded at that time. */
  readonly onMigrationChange?: () => void;
}

export class SimulatedDataCentre implements Cloud, Power {
  readonly hosts: SimHost[];
  readonly vms: SimVm[];
  readonly powerStates: HostPowerState[];
  private readonly hostsByName = new Map<string, SimHost>();
  private readonly vmsById = new Map<string, SimVm>();
  private readonly migrations = new Map<string, Migration>();
  // Fault injection: what a real cloud sometimes does, on demand.
  private readonly erroredVms = new Set<string>();
  private migrationFailuresToInject = 0;
  private readonly intervalS: number;
  private lastMeteredS = 0;
  /** Energy metered since the simulation started, in W·s. */
  energyWs = 0;
  /** Counts the changes to what `listHosts` and `listVms` answer: bumped by every method that makes one. */
  private inventoryRevision = 0;

  constructor(private readonly options: SimulatedDataCentreOptions) {
    const { config, trace } = options;
    this.intervalS = config.schedulingIntervalS;
    this.hosts = simHostsOf(config);
    this.vms = simVmsOf(config, trace, true);
    this.powerStates = this.hosts.map(() => 'active');
    for (const host of this.hosts) this.hostsByName.set(host.name, host);
    for (const vm of this.vms) this.vmsById.set(vm.id, vm);
    assert(options.placement.length === this.vms.length, 'every VM needs a host at t = 0');
    options.placement.forEach((hostIndex, vmIndex) => {
      const vm = this.vms[vmIndex];
      assert(this.hosts[hostIndex].create(vm), () => `VM ${vm.id} does not fit on host ${hostIndex} at t = 0`);
      vm.tableHost = this.hosts[hostIndex];
      vm.beingInstantiated = false;
    });
  }

  private host(name: string): SimHost {
    const host = this.hostsByName.get(name);
    if (host === undefined) throw new CloudError('not-found', `no host "${name}"`);
    return host;
  }

  private cloudVm(vm: SimVm): CloudVm {
    return { id: vm.id, host: vm.tableHost === null ? null : vm.tableHost.name, ramMb: vm.ramMb, vcpus: 1, cpuMhz: vm.mips, status: this.erroredVms.has(vm.id) ? 'ERROR' : vm.inMigration ? 'MIGRATING' : 'ACTIVE' };
  }

  async listHosts(): Promise<readonly CloudHost[]> {
    return this.hosts.map((host) => ({
      name: host.name, cpuMhz: host.totalMips, ramMb: host.ramMb, cores: host.pes, state: this.powerStates[host.index] === 'active' ? 'up' : 'down', enabled: true,
    }));
  }

  async listVms(): Promise<readonly CloudVm[]> {
    return this.vms.filter((vm) => vm.tableHost !== null).map((vm) => this.cloudVm(vm));
  }

  revision(): number {
    return this.inventoryRevision;
  }

  async getVm(vmId: string): Promise<CloudVm | null> {
    const vm = this.vmsById.get(vmId);
    return vm === undefined || vm.tableHost === null ? null : this.cloudVm(vm);
  }

  async startLiveMigration(vmId: string, targetHost: string): Promise<string> {
    const vm = this.vmsById.get(vmId);
    if (vm?.tableHost == null) throw new CloudError('not-found', `no VM "${vmId}"`);
    const source = vm.tableHost;
    const target = this.host(targetHost);
    if (target === source) throw new CloudError('bad-request', `VM "${vmId}" is already on "${targetHost}"`);
    if (this.powerStates[target.index] !== 'active') throw new CloudError('conflict', `host "${targetHost}" is not up`);
    if (vm.inMigration) throw new CloudError('conflict', `VM "${vmId}" is already migrating`);
    if (this.erroredVms.has(vmId)) throw new CloudError('conflict', `VM "${vmId}" is in ERROR`);
    if (target.availableRamMb < vm.ramMb) throw new CloudError('conflict', `host "${targetHost}" has ${target.availableRamMb} MB free, VM "${vmId}" needs ${vm.ramMb}`);
    // A scheduler refuses what the host cannot give (Nova's would): the manager does not see network reservations.
    if (target.availableBwKbitPerS < vm.requestedBwKbitPerS()) {
      throw new CloudError('conflict', `host "${targetHost}" has ${target.availableBwKbitPerS} kbit/s of bandwidth free, VM "${vmId}" needs ${vm.requestedBwKbitPerS()}`);
    }
    const handle = this.options.ids.next();
    this.migrations.set(handle, { state: 'running', error: null });
    vm.inMigration = true;
    this.inventoryRevision += 1;
    assert(target.acceptMigratingIn(vm), () => `VM ${vm.id} was already arriving on ${targetHost}`);
    const durationS = vm.ramMb / (target.bwKbitPerS / (2 * 8000));
    this.options.scheduler.after(durationS, () => {
      this.completeMigration(vm, source, target, handle);
      this.options.onMigrationChange?.();
    });
    this.options.onMigrationChange?.();
    return handle;
  }

  private completeMigration(vm: SimVm, source: SimHost, target: SimHost, handle: string): void {
    this.meter();
    this.inventoryRevision += 1;
    if (vm.tableHost === null) {
      target.finishMigratingIn(vm);
      this.migrations.set(handle, { state: 'failed', error: `VM "${vm.id}" was deleted during its migration` });
      return;
    }
    if (this.erroredVms.has(vm.id) || this.migrationFailuresToInject > 0) {
      if (!this.erroredVms.has(vm.id)) this.migrationFailuresToInject -= 1;
      target.finishMigratingIn(vm);
      this.migrations.set(handle, { state: 'failed', error: `live migration of VM "${vm.id}" to "${target.name}" failed` });
      return;
    }
    source.destroy(vm);
    target.finishMigratingIn(vm);
    assert(target.create(vm), () => `host ${target.index} refused VM ${vm.id} at the end of its migration`);
    vm.tableHost = target;
    this.migrations.set(handle, { state: 'completed', error: null });
  }

  /** Puts a VM in ERROR, as a failed hypervisor operation does; its migration in flight, if any, fails. */
  setVmError(vmId: string): void {
    assert(this.vmsById.has(vmId), () => `no VM "${vmId}"`);
    this.erroredVms.add(vmId);
    this.inventoryRevision += 1;
  }

  /** Deletes a VM, as a user may at any time; a migration of it in flight fails. */
  deleteVm(vmId: string): void {
    const vm = this.vmsById.get(vmId);
    assert(vm?.tableHost != null, () => `no VM "${vmId}" to delete`);
    this.meter();
    vm.tableHost.destroy(vm);
    vm.tableHost = null;
    this.inventoryRevision += 1;
  }

  /** The next `count` migrations to finish fail instead, their VMs staying on their source hosts. */
  failNextMigrations(count: number): void {
    assert(Number.isInteger(count) && count >= 0, 'a count of migrations');
    this.migrationFailuresToInject = count;
  }

  async migrationStatus(handle: string): Promise<MigrationStatus> {
    const migration = this.migrations.get(handle);
    if (migration === undefined) throw new CloudError('not-found', `no migration "${handle}"`);
    return { ...migration };
  }

  async suspend(name: string): Promise<void> {
    const host = this.host(name);
    if (this.powerStates[host.index] !== 'active') throw new PowerError(`host "${name}" is ${this.powerStates[host.index]}, not active`);
    if (host.vms.length > 0) throw new PowerError(`host "${name}" still runs ${host.vms.length} VM(s)`);
    this.meter();
    this.powerStates[host.index] = 'suspending';
    this.inventoryRevision += 1;
    this.energyWs += this.options.transitions.suspendEnergyWs;
    this.options.scheduler.after(this.options.transitions.suspendLatencyS, () => {
      this.meter();
      this.powerStates[host.index] = 'asleep';
      this.inventoryRevision += 1;
    });
  }

  async wake(name: string): Promise<void> {
    const host = this.host(name);
    if (this.powerStates[host.index] !== 'asleep') throw new PowerError(`host "${name}" is ${this.powerStates[host.index]}, not asleep`);
    this.meter();
    this.powerStates[host.index] = 'waking';
    this.inventoryRevision += 1;
    this.energyWs += this.options.transitions.wakeEnergyWs;
    this.options.scheduler.after(this.options.transitions.wakeLatencyS, () => {
      this.meter();
      this.powerStates[host.index] = 'active';
      this.inventoryRevision += 1;
    });
  }

  /**
   * Brings every host to the current time: VM demand from the trace, the
   * over-subscription scheduler, utilisation. Energy is metered up to now first.
   */
  process(writeVmEntry: (host: SimHost, vm: SimVm, allocatedMips: number, requestedMips: number) => void): void {
    this.meter();
    const timeS = this.options.scheduler.timeS;
    for (const host of this.hosts) host.process(timeS, this.intervalS, writeVmEntry);
  }

  /**
   * Energy since the last metering, by host state: an awake host (or one in
   * transition) draws its power model at the utilisation of its last
   * processing, idle power included; a suspended host draws the sleep power.
   */
  private meter(): void {
    const nowS = this.options.scheduler.timeS;
    const dtS = nowS - this.lastMeteredS;
    if (dtS <= 0) return;
    for (const host of this.hosts) {
      if (this.powerStates[host.index] === 'asleep') {
        this.energyWs += this.options.transitions.sleepPowerW * dtS;
        continue;
      }
      this.energyWs += host.power.powerW(host.utilization()) * dtS;
    }
    this.lastMeteredS = nowS;
  }
}


/**
 * Where the VMs start, as Nova's default scheduler would put them: each on
 * the host with the most free RAM that can hold it (ties to the lowest index).
 */
export function spreadPlacement(config: SimulationConfig): number[] {
  const freeRamMb = config.hosts.map((type) => config.hostTypes[type].ramMb);
  return config.vms.map((type, index) => {
    const ramMb = config.vmRamMb[index] ?? config.vmTypes[type].ramMb;
    let best = -1;
    for (let host = 0; host < freeRamMb.length; host++) {
      if (freeRamMb[host] >= ramMb && (best < 0 || freeRamMb[host] > freeRamMb[best])) best = host;
    }
    // A user's --hosts too small for the trace's VMs: an input error, not a bug.
    if (best < 0) throw new ConfigError(`VM ${index} (${ramMb} MB) fits on none of the ${freeRamMb.length} hosts' RAM left; simulate more hosts (--hosts)`);
    freeRamMb[best] -= ramMb;
    return best;
  });
}
