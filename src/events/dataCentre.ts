/**
 * The data centre as a projection of the log: hosts and their power state
 * machine, where each VM runs, migrations in flight, open requests, and a
 * bounded utilisation history per host and per VM.
 *
 * `evolveDataCentre` follows Emmett's `evolve(state, event) → state`, but it
 * updates the state it is given in place and returns it: rebuilding from a
 * million events must take seconds, not copy a map per event. A caller that
 * needs the state as it was keeps a `snapshotDataCentre` of it.
 *
 * The log is the truth, so every event takes effect; an event that breaks the
 * state machine (a migration that completes without having started, a host
 * woken while active) is also recorded as an anomaly, or thrown in strict mode.
 */
import { assert } from '../engine/assert';
import type { EventOf } from './catalogue';
import { decodeDataCentre, SnapshotDataError } from './dataCentreSnapshot';
import type { RecordedEvent } from './envelope';

export const POWER_STATES = ['active', 'suspending', 'asleep', 'waking', 'suspend-failed', 'wake-failed'] as const;
export type PowerState = (typeof POWER_STATES)[number];

/**
 * Up: the host runs and is in no transition, so it may run VMs, receive them
 * and be suspended. A host whose suspend failed is up: the command failed and
 * the cloud reports it up. A host whose wake failed is not.
 */
const UP_STATES: readonly PowerState[] = ['active', 'suspend-failed'];

/** The one test of "up" that the decisions, the projection's checks and the reading of the cloud's report share. */
export function isUp(power: PowerState): boolean {
  // UP_STATES, compared directly: decisions ask it of every host.
  return power === 'active' || power === 'suspend-failed';
}
assert(POWER_STATES.every((power) => isUp(power) === UP_STATES.includes(power)), 'isUp tests UP_STATES');

/**
 * The power state once the cloud has reported the host up or down. A
 * transition in progress is settled by its own events, and a state the report
 * agrees with is kept (a failure stays on record); a state it contradicts
 * gives way to the cloud's word.
 */
export function observedPower(power: PowerState, reported: 'up' | 'down'): PowerState {
  if (power === 'suspending' || power === 'waking') return power;
  if (isUp(power) === (reported === 'up')) return power;
  return reported === 'up' ? 'active' : 'asleep';
}

/**
 * Stale: the host is up, yet has neither sent a sample nor come up within the
 * max age, so its agent is presumed silent and its picture out of date. A
 * host that is not up is never stale: its agent is not expected to report.
 * A time never recorded counts as infinitely old.
 */
export function isStale(host: HostView, nowMs: number, maxAgeMs: number): boolean {
  assert(maxAgeMs > 0, 'a positive max age');
  if (!isUp(host.power)) return false;
  const heardOfMs = Math.max(host.lastSampleAtMs ?? -Infinity, host.becameUpAtMs ?? -Infinity);
  return nowMs - heardOfMs > maxAgeMs;
}

/** Time since a sample, in ms; null before any. Never negative: a clock stepped back makes a sample recent, not one from the future. */
export function sampleAgeMs(lastSampleAtMs: number | null, nowMs: number): number | null {
  return lastSampleAtMs === null ? null : Math.max(0, nowMs - lastSampleAtMs);
}

/** The last `limit` values pushed, kept with amortised O(1) pushes. */
export class BoundedHistory {
  private values: number[] = [];
  constructor(readonly limit: number) {
    assert(Number.isInteger(limit) && limit > 0, 'a history needs a positive limit');
  }

  push(value: number): void {
    this.values.push(value);
    if (this.values.length >= 2 * this.limit) this.values = this.values.slice(this.values.length - this.limit);
  }

  /** Values held, at most `limit`. */
  get length(): number {
    return Math.min(this.values.length, this.limit);
  }

  /** The latest value, or null before any; without the copy `toArray` makes, since decisions read it for every VM. */
  last(): number | null {
    return this.values.length === 0 ? null : this.values[this.values.length - 1];
  }

  /** Oldest first. */
  toArray(): number[] {
    return this.values.length <= this.limit ? [...this.values] : this.values.slice(this.values.length - this.limit);
  }
}

export interface HostView {
  readonly name: string;
  power: PowerState;
  cpuMhz: number | null;
  ramMb: number | null;
  /** Total CPU of each sample (VMs plus hypervisor), MHz. */
  readonly cpuMhzHistory: BoundedHistory;
  /** The hypervisor's own share in the last sample (Neat's `host_resource_usage`), MHz; null before any. */
  hypervisorCpuMhz: number | null;
  /** When the host's last sample was recorded; null before any. */
  lastSampleAtMs: number | null;
  /**
   * When the host last became up: first observed up, woken, or reported up
   * by the cloud after being down. A host just up has had no interval to
   * report in yet, so staleness counts from here too. Null: never up.
   */
  becameUpAtMs: number | null;
  lastPowerError: string | null;
  /** False while the cloud does not schedule onto the host (maintenance). */
  enabled: boolean;
}

export interface VmView {
  readonly id: string;
  /** Where the VM stands in `vms`' iteration order: a host's VMs are listed in it, so that sums over them add in one order. */
  readonly order: number;
  /** Set through `placeVm`, which keeps `vmsOnHosts` in step. */
  readonly host: string | null;
  ramMb: number | null;
  vcpus: number | null;
  readonly cpuMhzHistory: BoundedHistory;
  /** When the VM's last sample was recorded (by whichever host ran it then); null before any. */
  lastSampleAtMs: number | null;
}

/** The samples of a VM the cloud has not reported yet, with the time of the last, which the VM keeps when adopted. */
export interface HeldSamples {
  readonly cpuMhzHistory: BoundedHistory;
  lastSampleAtMs: number;
}

export interface MigrationView {
  readonly migrationId: string;
  readonly vmId: string;
  readonly sourceHost: string;
  readonly targetHost: string;
  readonly attempt: number;
  readonly requestId: string | null;
  readonly startedAtMs: number;
}

export interface RequestView {
  readonly requestId: string;
  readonly host: string;
  readonly reason: 'underload' | 'overload';
  readonly vmIds: readonly string[];
  readonly receivedAtMs: number;
  decided: boolean;
}

export interface Anomaly {
  readonly position: number;
  readonly type: string;
  readonly problem: string;
}

/**
 * What the decisions read of the VMs on one host, from the last samples:
 * derived from the projection, and kept until the host's samples or the
 * inventory change (`hostLoad`).
 */
export interface HostLoad {
  /** The hypervisor's share plus the VMs' last samples, MHz (Neat's host CPU usage). */
  readonly cpuUsageMhz: number;
  readonly ramUsageMb: number;
  /** The oldest of the VMs' last samples; null without VMs. */
  readonly oldestVmSampleAtMs: number | null;
  /** Some VM is migrating, has never been sampled, or has a RAM size not known yet. */
  readonly vmWithoutData: boolean;
}

/** The VMs the projection places on one host, and what the decisions derive from them. */
export interface HostVms {
  /** In `VmView.order`. */
  readonly vms: VmView[];
  /** Counts the samples that changed the host's or its VMs' data. */
  sampleRevision: number;
  load: HostLoad | null;
  /** The revisions `load` was derived at. */
  loadRevisions: [inventory: number, samples: number];
}

export interface DataCentreOptions {
  /** Samples kept per host and per VM. */
  readonly historyLength: number;
  /** Throw on an anomaly instead of recording it (tests and the simulator's checker). */
  readonly strict: boolean;
}

export const ANOMALIES_KEPT = 100;
/** VMs not reported by the cloud whose samples are held: a cloud's worth of VMs created between two inventories. */
export const UNREPORTED_VMS_KEPT = 10_000;

export interface DataCentreState {
  readonly options: DataCentreOptions;
  /** Position of the last event applied; 0 before any. */
  position: number;
  /**
   * Counts the changes to what an inventory is compared with: the hosts, their
   * capacity, power state and enabled flag, the VMs, where they run and their
   * sizes, and the migrations in flight. Samples change it only when they
   * change a VM's RAM.
   */
  inventoryRevision: number;
  readonly hosts: Map<string, HostView>;
  readonly vms: Map<string, VmView>;
  /** The VMs by the host the projection places them on (`vmsOn`), kept with every move: decisions read it for every host. */
  readonly vmsOnHosts: Map<string, HostVms>;
  /** The next `VmView.order`. */
  nextVmOrder: number;
  /** `hosts` in name order with their VMs, as of `inventoryRevision` (`hostsByName`). */
  hostsInNameOrder: { readonly revision: number; readonly hosts: readonly HostWithVms[] } | null;
  readonly migrations: Map<string, MigrationView>;
  readonly requests: Map<string, RequestView>;
  requestsCompleted: number;
  requestsRejected: number;
  /**
   * Sample entries of VMs the cloud has not reported (yet): a sample never
   * creates a VM. Their values are held aside, the newest UNREPORTED_VMS_KEPT
   * VMs' at most, and become a VM's history when the cloud reports it: an
   * agent sees a new VM before the manager's next inventory does.
   */
  readonly unreportedVms: Map<string, HeldSamples>;
  unreportedVmSamples: number;
  /** The last ANOMALIES_KEPT anomalies, and how many there were in all. */
  readonly anomalies: Anomaly[];
  anomalyCount: number;
}

export class AnomalyError extends Error {
  override name = 'AnomalyError';
  constructor(readonly anomaly: Anomaly) {
    super(`event at position ${anomaly.position} (${anomaly.type}): ${anomaly.problem}`);
  }
}

export function initialDataCentreState(options: DataCentreOptions): DataCentreState {
  return {
    options,
    position: 0,
    inventoryRevision: 0,
    hosts: new Map(),
    vms: new Map(),
    vmsOnHosts: new Map(),
    nextVmOrder: 0,
    hostsInNameOrder: null,
    migrations: new Map(),
    requests: new Map(),
    requestsCompleted: 0,
    requestsRejected: 0,
    unreportedVms: new Map(),
    unreportedVmSamples: 0,
    anomalies: [],
    anomalyCount: 0,
  };
}

function report(state: DataCentreState, event: RecordedEvent, problem: string): void {
  const anomaly = { position: event.position, type: event.type, problem };
  if (state.options.strict) throw new AnomalyError(anomaly);
  state.anomalyCount += 1;
  state.anomalies.push(anomaly);
  if (state.anomalies.length > ANOMALIES_KEPT) state.anomalies.shift();
}

function hostOf(state: DataCentreState, event: RecordedEvent, name: string): HostView {
  let host = state.hosts.get(name);
  if (host === undefined) {
    report(state, event, `host "${name}" was never observed`);
    // Taken to be up, as the event naming it implies: first observed up now.
    host = {
      name, power: 'active', cpuMhz: null, ramMb: null, cpuMhzHistory: new BoundedHistory(state.options.historyLength),
      hypervisorCpuMhz: null, lastPowerError: null, enabled: true, lastSampleAtMs: null, becameUpAtMs: event.metadata.timeMs,
    };
    state.hosts.set(name, host);
    state.inventoryRevision += 1;
  }
  return host;
}

function vmOf(state: DataCentreState, vmId: string, host: string | null): VmView {
  let vm = state.vms.get(vmId);
  if (vm === undefined) {
    const held = state.unreportedVms.get(vmId);
    state.unreportedVms.delete(vmId);
    vm = {
      id: vmId, order: state.nextVmOrder, host: null, ramMb: null, vcpus: null,
      cpuMhzHistory: held?.cpuMhzHistory ?? new BoundedHistory(state.options.historyLength), lastSampleAtMs: held?.lastSampleAtMs ?? null,
    };
    state.nextVmOrder += 1;
    state.vms.set(vmId, vm);
    placeVm(state, vm, host);
    state.inventoryRevision += 1;
  }
  return vm;
}

/** Holds a value of a VM the cloud has not reported; past the bound, the VM heard of least recently is forgotten. */
function holdUnreported(state: DataCentreState, vmId: string, cpuMhz: number, atMs: number): void {
  state.unreportedVmSamples += 1;
  let held = state.unreportedVms.get(vmId);
  state.unreportedVms.delete(vmId);
  held ??= { cpuMhzHistory: new BoundedHistory(state.options.historyLength), lastSampleAtMs: atMs };
  held.cpuMhzHistory.push(cpuMhz);
  held.lastSampleAtMs = atMs;
  state.unreportedVms.set(vmId, held);
  if (state.unreportedVms.size > UNREPORTED_VMS_KEPT) state.unreportedVms.delete(state.unreportedVms.keys().next().value as string);
}

function hostVms(state: DataCentreState, host: string): HostVms {
  let entry = state.vmsOnHosts.get(host);
  if (entry === undefined) {
    entry = { vms: [], sampleRevision: 0, load: null, loadRevisions: [-1, -1] };
    state.vmsOnHosts.set(host, entry);
  }
  return entry;
}

/** Moves a VM in the projection, keeping each host's list in `VmView.order`. */
function placeVm(state: DataCentreState, vm: VmView, host: string | null): void {
  if (vm.host === host) return;
  if (vm.host !== null) {
    const from = hostVms(state, vm.host).vms;
    const index = from.indexOf(vm);
    assert(index >= 0, () => `VM ${vm.id} is missing from the list of host ${String(vm.host)}`);
    from.splice(index, 1);
  }
  (vm as { host: string | null }).host = host;
  if (host === null) return;
  const to = hostVms(state, host).vms;
  let index = to.length;
  while (index > 0 && to[index - 1].order > vm.order) index -= 1;
  to.splice(index, 0, vm);
}

/** Builds the per-host lists from the VMs' `host` fields: for a state restored from a snapshot. */
export function indexVms(state: DataCentreState): void {
  assert(state.vmsOnHosts.size === 0, 'the VMs are indexed once');
  for (const vm of state.vms.values()) {
    if (vm.host === null) continue;
    // `vms` is in `order`, so appending keeps each list in it.
    hostVms(state, vm.host).vms.push(vm);
  }
}

function removeVm(state: DataCentreState, vm: VmView): void {
  placeVm(state, vm, null);
  state.vms.delete(vm.id);
}

/** The VMs the projection places on `host`, in the order of `vms`. */
export function vmsOn(state: DataCentreState, host: string): readonly VmView[] {
  return state.vmsOnHosts.get(host)?.vms ?? [];
}

/** A host with the VMs the projection places on it, as the decisions read it. */
export interface HostWithVms {
  readonly host: HostView;
  readonly placed: HostVms;
}

/** The hosts in name order with their VMs, kept until the inventory changes. */
export function hostsByName(state: DataCentreState): readonly HostWithVms[] {
  if (state.hostsInNameOrder?.revision !== state.inventoryRevision) {
    const hosts = [...state.hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((host) => ({ host, placed: hostVms(state, host.name) }));
    state.hostsInNameOrder = { revision: state.inventoryRevision, hosts };
  }
  return state.hostsInNameOrder.hosts;
}

function deriveLoad(host: HostView, vms: readonly VmView[], state: DataCentreState): HostLoad {
  let vmsCpuMhz = 0;
  let ramUsageMb = 0;
  let oldestVmSampleAtMs: number | null = null;
  let vmWithoutData = false;
  for (const vm of vms) {
    assert((vm.lastSampleAtMs === null) === (vm.cpuMhzHistory.length === 0), () => `VM ${vm.id} has samples without a time, or a time without samples`);
    const last = vm.cpuMhzHistory.last();
    if (last === null || vm.lastSampleAtMs === null || vm.ramMb === null || state.migrations.has(vm.id)) vmWithoutData = true;
    vmsCpuMhz += last ?? 0;
    ramUsageMb += vm.ramMb ?? 0;
    if (vm.lastSampleAtMs !== null && (oldestVmSampleAtMs === null || vm.lastSampleAtMs < oldestVmSampleAtMs)) oldestVmSampleAtMs = vm.lastSampleAtMs;
  }
  return { cpuUsageMhz: (host.hypervisorCpuMhz ?? 0) + vmsCpuMhz, ramUsageMb, oldestVmSampleAtMs, vmWithoutData };
}

/** What the decisions read of the VMs on a host, derived once per change of its samples or of the inventory. */
export function hostLoad(state: DataCentreState, { host, placed }: HostWithVms): HostLoad {
  if (placed.load === null || placed.loadRevisions[0] !== state.inventoryRevision || placed.loadRevisions[1] !== placed.sampleRevision) {
    placed.load = deriveLoad(host, placed.vms, state);
    placed.loadRevisions = [state.inventoryRevision, placed.sampleRevision];
  }
  return placed.load;
}

/** Moves a host along its power state machine, reporting a transition from a state that does not allow it. */
function transition(state: DataCentreState, event: RecordedEvent, name: string, from: readonly PowerState[], to: PowerState): HostView {
  const host = hostOf(state, event, name);
  if (!from.includes(host.power)) report(state, event, `host "${name}" is ${host.power}, so it cannot become ${to}`);
  host.power = to;
  return host;
}

function applyInventory(state: DataCentreState, event: RecordedEvent & EventOf<'InventoryObserved'>): void {
  const timeMs = event.metadata.timeMs;
  for (const observed of event.data.hosts) {
    const host = state.hosts.get(observed.host);
    if (host === undefined) {
      const up = observed.state === 'up';
      state.hosts.set(observed.host, {
        name: observed.host, power: up ? 'active' : 'asleep', cpuMhz: observed.cpuMhz,
        ramMb: observed.ramMb, cpuMhzHistory: new BoundedHistory(state.options.historyLength), hypervisorCpuMhz: null,
        lastPowerError: null, enabled: observed.enabled ?? true, lastSampleAtMs: null, becameUpAtMs: up ? timeMs : null,
      });
      continue;
    }
    host.cpuMhz = observed.cpuMhz;
    host.ramMb = observed.ramMb;
    host.enabled = observed.enabled ?? true;
    const power = observedPower(host.power, observed.state);
    if (isUp(power) && !isUp(host.power)) host.becameUpAtMs = timeMs;
    host.power = power;
  }
  const seen = new Set<string>();
  for (const observed of event.data.vms) {
    seen.add(observed.vmId);
    const vm = vmOf(state, observed.vmId, observed.host);
    if (!state.migrations.has(observed.vmId)) placeVm(state, vm, observed.host);
    vm.ramMb = observed.ramMb;
    vm.vcpus = observed.vcpus;
  }
  for (const vm of [...state.vms.values()]) if (!seen.has(vm.id)) removeVm(state, vm);
}

function applyMigration(state: DataCentreState, event: RecordedEvent): void {
  switch (event.type) {
    case 'MigrationStarted': {
      const { vmId, sourceHost, targetHost, migrationId, attempt, requestId } = event.data;
      if (state.migrations.has(vmId)) report(state, event, `VM "${vmId}" is already migrating`);
      const vm = vmOf(state, vmId, sourceHost);
      if (vm.host !== sourceHost) report(state, event, `VM "${vmId}" is on "${String(vm.host)}", not on the source "${sourceHost}"`);
      const source = hostOf(state, event, sourceHost);
      if (!isUp(source.power)) report(state, event, `source host "${sourceHost}" is ${source.power}, not up`);
      const target = hostOf(state, event, targetHost);
      if (!isUp(target.power)) report(state, event, `target host "${targetHost}" is ${target.power}, not up`);
      state.migrations.set(vmId, { migrationId, vmId, sourceHost, targetHost, attempt, requestId, startedAtMs: event.metadata.timeMs });
      return;
    }
    case 'MigrationCompleted':
    case 'MigrationFailed': {
      const { vmId, migrationId, targetHost } = event.data;
      const inFlight = state.migrations.get(vmId);
      if (inFlight?.migrationId !== migrationId) {
        report(state, event, `migration ${migrationId} of VM "${vmId}" never started`);
      }
      state.migrations.delete(vmId);
      if (event.type === 'MigrationCompleted') placeVm(state, vmOf(state, vmId, targetHost), targetHost);
      return;
    }
    case 'MigrationAbandoned': {
      if (state.migrations.get(event.data.vmId)?.migrationId === event.data.migrationId) {
        report(state, event, `migration ${event.data.migrationId} was abandoned while still in flight`);
        state.migrations.delete(event.data.vmId);
      }
      return;
    }
    case 'MigrationSkipped': {
      // Only a VM found on its target changes the picture: a skipped step otherwise leaves the VM where the log has it.
      if (event.data.reason !== 'already-on-target') return;
      const { vmId, targetHost } = event.data;
      if (state.migrations.has(vmId)) report(state, event, `VM "${vmId}" is found on "${targetHost}" while a migration of it is in flight`);
      placeVm(state, vmOf(state, vmId, targetHost), targetHost);
      return;
    }
    default:
      assert(false, () => `not a migration event: ${event.type}`);
  }
}

function applyPower(state: DataCentreState, event: RecordedEvent): void {
  switch (event.type) {
    case 'HostSuspendRequested': {
      const vms = vmsOn(state, event.data.host).length;
      if (vms > 0) report(state, event, `host "${event.data.host}" still has ${vms} VM(s)`);
      transition(state, event, event.data.host, UP_STATES, 'suspending');
      return;
    }
    case 'HostSuspended':
      transition(state, event, event.data.host, ['suspending'], 'asleep').lastPowerError = null;
      return;
    case 'HostSuspendFailed':
      transition(state, event, event.data.host, ['suspending'], 'suspend-failed').lastPowerError = event.data.error;
      return;
    case 'HostWakeRequested':
      transition(state, event, event.data.host, ['asleep', 'wake-failed'], 'waking');
      return;
    case 'HostWoken': {
      const host = transition(state, event, event.data.host, ['waking'], 'active');
      host.lastPowerError = null;
      host.becameUpAtMs = event.metadata.timeMs;
      return;
    }
    case 'HostWakeFailed':
      transition(state, event, event.data.host, ['waking'], 'wake-failed').lastPowerError = event.data.error;
      return;
    default:
      assert(false, () => `not a power event: ${event.type}`);
  }
}

function applyRequest(state: DataCentreState, event: RecordedEvent): void {
  switch (event.type) {
    case 'RequestReceived': {
      const { requestId, host, reason, vmIds } = event.data;
      if (state.requests.has(requestId)) report(state, event, `request ${requestId} was already received`);
      state.requests.set(requestId, { requestId, host, reason, vmIds, receivedAtMs: event.metadata.timeMs, decided: false });
      return;
    }
    case 'RequestRejected':
      state.requestsRejected += 1;
      return;
    case 'PlacementDecided':
    case 'NothingToDo': {
      const request = state.requests.get(event.data.requestId);
      if (request === undefined) report(state, event, `request ${event.data.requestId} is not open`);
      else request.decided = true;
      return;
    }
    case 'RequestCompleted':
      if (!state.requests.delete(event.data.requestId)) report(state, event, `request ${event.data.requestId} is not open`);
      state.requestsCompleted += 1;
      return;
    default:
      assert(false, () => `not a request event: ${event.type}`);
  }
}

/**
 * Samples are what agents report, so a VM id the cloud has not reported (a typo, a VM created since the last
 * inventory, a client making one up) is client input, not a broken state machine: its entry stays in the log
 * and changes nothing here. Only the cloud's inventory creates VMs.
 */
function applySample(state: DataCentreState, event: RecordedEvent & EventOf<'UtilizationSampled'>): void {
  const host = hostOf(state, event, event.data.host);
  const timeMs = event.metadata.timeMs;
  let totalCpuMhz = event.data.hypervisorCpuMhz;
  for (const sample of event.data.vms) {
    const vm = state.vms.get(sample.vmId);
    if (vm === undefined) {
      holdUnreported(state, sample.vmId, sample.cpuMhz, timeMs);
      continue;
    }
    vm.cpuMhzHistory.push(sample.cpuMhz);
    vm.lastSampleAtMs = timeMs;
    if (vm.host !== null && vm.host !== host.name) hostVms(state, vm.host).sampleRevision += 1;
    if (sample.ramMb !== null && sample.ramMb !== vm.ramMb) {
      vm.ramMb = sample.ramMb;
      state.inventoryRevision += 1;
    }
    totalCpuMhz += sample.cpuMhz;
  }
  host.cpuMhzHistory.push(totalCpuMhz);
  hostVms(state, host.name).sampleRevision += 1;
  host.hypervisorCpuMhz = event.data.hypervisorCpuMhz;
  host.lastSampleAtMs = timeMs;
}

/**
 * Takes the state the compaction recorded, whole: the fold so far lacks the
 * samples it removed, and ends, from here on, where the live state was.
 */
function adoptCompacted(state: DataCentreState, event: RecordedEvent & EventOf<'SamplesCompacted'>): void {
  let adopted: DataCentreState;
  try {
    adopted = decodeDataCentre(event.data.dataCentre, state.options);
  } catch (error) {
    if (!(error instanceof SnapshotDataError)) throw error;
    report(state, event, `the compacted state cannot be adopted: ${error.message}`);
    return;
  }
  Object.assign(state, adopted, { position: event.position });
}

export function evolveDataCentre(state: DataCentreState, event: RecordedEvent): DataCentreState {
  // Gaps are the log's to check: it leaves them only where samples were compacted away (`SamplesCompacted`).
  if (event.position <= state.position) {
    report(state, event, `follows position ${state.position}: events are out of order`);
  }
  state.position = event.position;
  switch (event.type) {
    case 'InventoryObserved':
      applyInventory(state, event);
      state.inventoryRevision += 1;
      break;
    case 'UtilizationSampled':
      applySample(state, event);
      break;
    case 'MigrationStarted':
    case 'MigrationCompleted':
    case 'MigrationFailed':
    case 'MigrationAbandoned':
    case 'MigrationSkipped':
      applyMigration(state, event);
      state.inventoryRevision += 1;
      break;
    case 'HostSuspendRequested':
    case 'HostSuspended':
    case 'HostSuspendFailed':
    case 'HostWakeRequested':
    case 'HostWoken':
    case 'HostWakeFailed':
      applyPower(state, event);
      state.inventoryRevision += 1;
      break;
    case 'RequestReceived':
    case 'RequestRejected':
    case 'PlacementDecided':
    case 'NothingToDo':
    case 'RequestCompleted':
      applyRequest(state, event);
      break;
    case 'SamplesCompacted':
      adoptCompacted(state, event);
      break;
    case 'HostSuspendSkipped':
    case 'PlanApproved':
    case 'PlanRejected':
    case 'SimulationStarted':
    case 'DataCentreUpdated':
    case 'SimulationEnded':
      break;
  }
  return state;
}

/** A plain, JSON-serialisable copy: for comparisons, the API, and keeping a state as it was. */
export function snapshotDataCentre(state: DataCentreState): unknown {
  const sorted = <T>(map: Map<string, T>): [string, T][] => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    position: state.position,
    hosts: sorted(state.hosts).map(([, h]) => ({
      name: h.name, power: h.power, cpuMhz: h.cpuMhz, ramMb: h.ramMb, hypervisorCpuMhz: h.hypervisorCpuMhz, lastPowerError: h.lastPowerError, enabled: h.enabled,
      cpuMhzHistory: h.cpuMhzHistory.toArray(), lastSampleAtMs: h.lastSampleAtMs, becameUpAtMs: h.becameUpAtMs,
    })),
    vms: sorted(state.vms).map(([, v]) => ({
      id: v.id, host: v.host, ramMb: v.ramMb, vcpus: v.vcpus, cpuMhzHistory: v.cpuMhzHistory.toArray(), lastSampleAtMs: v.lastSampleAtMs,
    })),
    migrations: sorted(state.migrations).map(([, m]) => ({ ...m })),
    requests: sorted(state.requests).map(([, r]) => ({ ...r, vmIds: [...r.vmIds] })),
    requestsCompleted: state.requestsCompleted,
    requestsRejected: state.requestsRejected,
    unreportedVms: sorted(state.unreportedVms).map(([id, held]) => ({ id, cpuMhzHistory: held.cpuMhzHistory.toArray(), lastSampleAtMs: held.lastSampleAtMs })),
    unreportedVmSamples: state.unreportedVmSamples,
    anomalies: state.anomalies.map((a) => ({ ...a })),
    anomalyCount: state.anomalyCount,
  };
}
