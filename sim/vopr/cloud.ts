/**
 * The VOPR's cloud: a small simulated Nova and power plane on the scheduler's
 * virtual time, much lighter than the CloudSim-model data centre, so that a
 * whole world runs in milliseconds. It is also the VOPR's eye on the
 * cloud side: every action it receives is checked against what it holds at
 * that instant, and a breach is reported to `onViolation` rather than refused,
 * because a real cloud would carry it out (a host suspended with a VM on it
 * takes the VM down with it).
 */
import { assert } from '../../src/engine/assert';
import { CloudError, PowerError } from '../../src/managers/ports';
import type { Cloud, CloudHost, CloudVm, MigrationStatus, Power } from '../../src/managers/ports';
import type { Scheduler } from '../scheduler';

export type HostPower = 'active' | 'suspending' | 'asleep' | 'waking';

export interface VoprHostSpec {
  readonly name: string;
  readonly cpuMhz: number;
  readonly ramMb: number;
  readonly cores: number;
}

export interface VoprVmSpec {
  readonly id: string;
  readonly ramMb: number;
  readonly vcpus: number;
  readonly cpuMhz: number;
  /** Index of its host at t = 0. */
  readonly host: number;
}

interface HostState {
  readonly spec: VoprHostSpec;
  power: HostPower;
  /** The compute service is reported down while the host runs (a "host reported down" fault). */
  reportedDown: boolean;
}

interface VmState {
  readonly spec: VoprVmSpec;
  host: string | null;
  status: 'ACTIVE' | 'MIGRATING' | 'ERROR';
  /** Where it is migrating to, while it is. */
  target: string | null;
}

interface Migration {
  readonly vmId: string;
  state: MigrationStatus['state'];
  error: string | null;
}

export interface CloudTimings {
  /** A live migration takes this per GB of RAM. */
  readonly migrationSPerGb: number;
  readonly suspendLatencyS: number;
  readonly wakeLatencyS: number;
}

/** A breach of a safety invariant as the cloud sees it. */
export interface CloudViolation {
  readonly invariant: 'suspend-with-vms' | 'two-migrations-of-one-vm';
  readonly detail: string;
}

export class VoprCloud implements Cloud, Power {
  private readonly hosts = new Map<string, HostState>();
  private readonly vms = new Map<string, VmState>();
  private readonly migrations = new Map<string, Migration>();
  private inventoryRevision = 0;
  private handles = 0;
  /** Migrations whose end is still scheduled. */
  running = 0;
  /** Migrations whose end the schedule turns into a failure, the VM staying on its source. */
  private failuresToInject = 0;

  constructor(
    hosts: readonly VoprHostSpec[],
    vms: readonly VoprVmSpec[],
    private readonly scheduler: Scheduler,
    private readonly timings: CloudTimings,
    private readonly onViolation: (violation: CloudViolation) => void,
    private readonly note: (line: string) => void,
  ) {
    for (const spec of hosts) this.hosts.set(spec.name, { spec, power: 'active', reportedDown: false });
    for (const spec of vms) {
      const host = hosts.at(spec.host);
      assert(host !== undefined, () => `VM ${spec.id} is placed on no host`);
      this.vms.set(spec.id, { spec, host: host.name, status: 'ACTIVE', target: null });
    }
  }

  private host(name: string): HostState {
    const host = this.hosts.get(name);
    if (host === undefined) throw new CloudError('not-found', `no host "${name}"`);
    return host;
  }

  private changed(): void {
    this.inventoryRevision += 1;
  }

  private view(vm: VmState): CloudVm {
    return { id: vm.spec.id, host: vm.host, ramMb: vm.spec.ramMb, vcpus: vm.spec.vcpus, cpuMhz: vm.spec.cpuMhz, status: vm.status };
  }

  /** RAM taken on a host by the VMs on it and those migrating to it. */
  private usedRamMb(host: string): number {
    let usedMb = 0;
    for (const vm of this.vms.values()) if (this.bound(vm, host)) usedMb += vm.spec.ramMb;
    return usedMb;
  }

  /**
   * Whether the VM is on the host or on its way to it. A VM deleted or put in
   * ERROR on its way is not: its migration is aborted, to be reported failed at its end.
   */
  private bound(vm: VmState, host: string): boolean {
    return vm.host !== null && (vm.host === host || (vm.target === host && vm.status === 'MIGRATING'));
  }

  /** VMs on the host or on their way to it. */
  vmsOn(host: string): string[] {
    return [...this.vms.values()].filter((vm) => this.bound(vm, host)).map((vm) => vm.spec.id);
  }

  powerOf(host: string): HostPower {
    return this.host(host).power;
  }

  /** Whether the cloud reports the host up (what `listHosts` says). */
  reportsUp(host: string): boolean {
    const state = this.host(host);
    return state.power === 'active' && !state.reportedDown;
  }

  hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  /** The VMs that exist, with their host: what the agents and the final check read. */
  placement(): Map<string, string> {
    const placement = new Map<string, string>();
    for (const vm of this.vms.values()) if (vm.host !== null) placement.set(vm.spec.id, vm.host);
    return placement;
  }

  vmSpec(vmId: string): VoprVmSpec | null {
    return this.vms.get(vmId)?.spec ?? null;
  }

  isMigrating(vmId: string): boolean {
    return this.vms.get(vmId)?.status === 'MIGRATING';
  }

  migrationState(handle: string): MigrationStatus['state'] | null {
    return this.migrations.get(handle)?.state ?? null;
  }

  async listHosts(): Promise<readonly CloudHost[]> {
    return [...this.hosts.values()].map((h) => ({
      name: h.spec.name, cpuMhz: h.spec.cpuMhz, ramMb: h.spec.ramMb, cores: h.spec.cores,
      state: h.power === 'active' && !h.reportedDown ? 'up' : 'down', enabled: true,
    }));
  }

  async listVms(): Promise<readonly CloudVm[]> {
    return [...this.vms.values()].filter((vm) => vm.host !== null).map((vm) => this.view(vm));
  }

  async getVm(vmId: string): Promise<CloudVm | null> {
    const vm = this.vms.get(vmId);
    return vm === undefined || vm.host === null ? null : this.view(vm);
  }

  revision(): number {
    return this.inventoryRevision;
  }

  /** A handle no migration has, for a start whose request never reached the cloud: Nova then shows no record, "running". */
  unusedHandle(): string {
    this.handles += 1;
    return `migration-${this.handles}`;
  }

  /** `extraS`: how much longer than its RAM needs the migration takes. */
  async startLiveMigration(vmId: string, targetHost: string, extraS = 0): Promise<string> {
    const vm = this.vms.get(vmId);
    if (vm?.host == null) throw new CloudError('not-found', `no VM "${vmId}"`);
    const target = this.host(targetHost);
    if (vm.status === 'MIGRATING') {
      this.onViolation({ invariant: 'two-migrations-of-one-vm', detail: `a live migration of ${vmId} to ${targetHost} was asked while it migrates to ${String(vm.target)}` });
      throw new CloudError('conflict', `VM "${vmId}" is already migrating`);
    }
    if (vm.host === targetHost) throw new CloudError('bad-request', `VM "${vmId}" is already on "${targetHost}"`);
    if (vm.status === 'ERROR') throw new CloudError('conflict', `VM "${vmId}" is in ERROR`);
    if (target.power !== 'active' || target.reportedDown) throw new CloudError('conflict', `host "${targetHost}" is not up`);
    if (target.spec.ramMb - this.usedRamMb(targetHost) < vm.spec.ramMb) throw new CloudError('conflict', `host "${targetHost}" lacks RAM for VM "${vmId}"`);
    const handle = this.unusedHandle();
    const migration: Migration = { vmId, state: 'running', error: null };
    this.migrations.set(handle, migration);
    vm.status = 'MIGRATING';
    vm.target = targetHost;
    this.running += 1;
    this.changed();
    this.note(`cloud: migration ${handle} of ${vmId} ${vm.host} -> ${targetHost} started`);
    this.scheduler.after(vm.spec.ramMb / 1024 * this.timings.migrationSPerGb + extraS, () => { this.endMigration(vm, migration, handle); });
    return handle;
  }

  private endMigration(vm: VmState, migration: Migration, handle: string): void {
    this.running -= 1;
    this.changed();
    const target = vm.target;
    vm.target = null;
    if (vm.host === null) {
      migration.state = 'failed';
      migration.error = `VM "${vm.spec.id}" was deleted during its migration`;
    } else if (vm.status === 'ERROR' || this.failuresToInject > 0) {
      if (vm.status !== 'ERROR') {
        this.failuresToInject -= 1;
        vm.status = 'ACTIVE';
      }
      migration.state = 'failed';
      migration.error = `live migration of VM "${vm.spec.id}" to "${String(target)}" failed`;
    } else {
      vm.host = target;
      vm.status = 'ACTIVE';
      migration.state = 'completed';
    }
    this.note(`cloud: migration ${handle} of ${vm.spec.id} ${migration.state}`);
  }

  async migrationStatus(handle: string): Promise<MigrationStatus> {
    const migration = this.migrations.get(handle);
    if (migration === undefined) return { state: 'running', error: null };
    return { state: migration.state, error: migration.error };
  }

  async suspend(name: string): Promise<void> {
    const host = this.host(name);
    if (host.power !== 'active') throw new PowerError(`host "${name}" is ${host.power}, not active`);
    const hosted = this.vmsOn(name);
    if (hosted.length > 0) {
      this.onViolation({ invariant: 'suspend-with-vms', detail: `host ${name} was suspended with VM(s) ${hosted.join(', ')} on it` });
    }
    host.power = 'suspending';
    this.changed();
    this.note(`cloud: ${name} suspending`);
    this.scheduler.after(this.timings.suspendLatencyS, () => {
      host.power = 'asleep';
      this.changed();
    });
  }

  /** A wake-up that arrives after `delayS` more than the host's usual latency (a late wake). */
  async wake(name: string, delayS = 0): Promise<void> {
    const host = this.host(name);
    if (host.power !== 'asleep') throw new PowerError(`host "${name}" is ${host.power}, not asleep`);
    host.power = 'waking';
    this.changed();
    this.note(`cloud: ${name} waking`);
    this.scheduler.after(this.timings.wakeLatencyS + delayS, () => {
      host.power = 'active';
      this.changed();
    });
  }

  // Faults the schedule brings from outside the manager's calls.

  /** The next `count` migrations to end fail instead. */
  failNextMigrations(count: number): void {
    this.failuresToInject += count;
  }

  deleteVm(vmId: string): boolean {
    const vm = this.vms.get(vmId);
    if (vm?.host == null) return false;
    vm.host = null;
    this.changed();
    return true;
  }

  setVmError(vmId: string): boolean {
    const vm = this.vms.get(vmId);
    if (vm?.host == null) return false;
    vm.status = 'ERROR';
    this.changed();
    return true;
  }

  setReportedDown(name: string, down: boolean): void {
    this.host(name).reportedDown = down;
    this.changed();
  }
}
