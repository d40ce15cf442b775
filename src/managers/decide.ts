/**
 * The global manager's decision, as a pure function of a request and the
 * data-centre projection: Neat's `execute_underload` / `execute_overload`
 * (reference/neat.md §2.3-2.4) up to the placement, with its failures fixed:
 *
 * - a host with a VM that has no data yet, a last sample older than
 *   `sampleMaxAgeMs`, or a migration in flight, is kept out of the placement
 *   and never suspended (Neat could suspend it, §9.2), and a request to move
 *   such a VM is dropped naming each one and why;
 * - a stale host (up, and neither sampled nor come up within `sampleMaxAgeMs`,
 *   `isStale`) is never a target, active or idle: its agent is silent, so
 *   what the log knows of it may be wrong. It may still be suspended when idle;
 * - a host whose capacity the cloud has not reported is neither a target nor suspended;
 * - only hosts that are up and settled are targets (up as the projection
 *   checks it, `isUp`: a host whose suspend failed is up, one whose wake
 *   failed is not); asleep hosts are woken only when the overload placement needs them;
 * - the placement algorithm gets this request's migration time (Neat froze the first one, §9.10).
 *
 * Kept from Neat: underload moves all of the host's VMs or none, and switches
 * off the emptied host plus every other VM-less host that is still on;
 * overload offers VM-less hosts (asleep or idle) at their full capacity, and
 * never switches anything off. Waking, migrating and suspending are the
 * executor's (`execute.ts`); this only decides.
 */
import { assert } from '../engine/assert';
import { createVmPlacer } from '../engine/registry';
import type { AlgorithmChoice } from '../engine/registry';
import type { InactivePlacementHost, PlacementHost } from '../engine/types';
import { NO_DATA_REASONS } from '../events/catalogue';
import type { AUTOMATION_LEVELS, EventData } from '../events/catalogue';
import { hostLoad, hostsByName, isStale, isUp, sampleAgeMs, vmsOn } from '../events/dataCentre';
import type { DataCentreState, HostView, VmView } from '../events/dataCentre';
import type { RequestRecord } from './requests';

export interface DecisionSettings {
  readonly placement: AlgorithmChoice;
  /** Neat's `time_step`: the data collector's interval. */
  readonly timeStepS: number;
  /** Neat's `network_migration_bandwidth`, for the migration time estimate. */
  readonly migrationBandwidthMbPerS: number;
  /** Neat's `host_cpu_usable_by_vms`: the share of a host's CPU its VMs may use. */
  readonly hostCpuUsableByVms: number;
  readonly automation: (typeof AUTOMATION_LEVELS)[number];
  /** `sample_max_age_s`: older samples count as no data, and an up host heard of neither for this long is stale. */
  readonly sampleMaxAgeMs: number;
}

export type Decision =
  | { readonly type: 'PlacementDecided'; readonly data: EventData<'PlacementDecided'> }
  | { readonly type: 'NothingToDo'; readonly data: EventData<'NothingToDo'> };

interface PlacementHosts {
  /** Active hosts whose VMs all have usable data, in name order. */
  readonly active: PlacementHost[];
  /** VM-less hosts (asleep or idle), offered at their full capacity, in name order. */
  readonly inactive: InactivePlacementHost[];
  /** VM-less hosts that are up: Neat's candidates for switching off. */
  readonly idleUp: string[];
  /** Stale hosts among the candidates: left out as targets, named when nothing fits. */
  readonly stale: string[];
}

type NoDataVm = NonNullable<EventData<'NothingToDo'>['noDataVms']>[number];

/** Why the VM's data cannot be used at `nowMs`; null when it can. */
function missingData(vm: VmView, state: DataCentreState, settings: DecisionSettings, nowMs: number): NoDataVm | null {
  assert((vm.lastSampleAtMs === null) === (vm.cpuMhzHistory.length === 0), () => `VM ${vm.id} has samples without a time, or a time without samples`);
  const ageMs = sampleAgeMs(vm.lastSampleAtMs, nowMs);
  const sampleAgeS = ageMs === null ? null : ageMs / 1000;
  if (state.migrations.has(vm.id)) return { vmId: vm.id, reason: 'migrating', sampleAgeS };
  if (ageMs === null) return { vmId: vm.id, reason: 'never-sampled', sampleAgeS };
  if (ageMs > settings.sampleMaxAgeMs) return { vmId: vm.id, reason: 'sample-too-old', sampleAgeS };
  if (vm.ramMb === null) return { vmId: vm.id, reason: 'ram-unknown', sampleAgeS };
  return null;
}

const NO_DATA_PHRASES: Readonly<Record<NoDataVm['reason'], string>> = {
  'migrating': 'migration in flight',
  'never-sampled': 'never sampled',
  'sample-too-old': 'sampled too long ago',
  'ram-unknown': 'RAM size unknown',
};

/** Names each VM under its reason, with the age of a sample too old: an operator sees which agent to look at. */
function noDataDetail(vms: readonly NoDataVm[], settings: DecisionSettings): string {
  const groups = NO_DATA_REASONS.flatMap((reason) => {
    const named = vms.filter((vm) => vm.reason === reason)
      .map((vm) => (reason === 'sample-too-old' ? `${vm.vmId} (${String(vm.sampleAgeS)} s ago)` : vm.vmId));
    return named.length === 0 ? [] : [`${NO_DATA_PHRASES[reason]}: ${named.join(', ')}`];
  });
  return `no usable utilisation data for VM(s) (samples count for ${settings.sampleMaxAgeMs / 1000} s): ${groups.join('; ')}; `
    + 'the request is dropped, as Neat drops it';
}

function usableCpuMhz(host: HostView, settings: DecisionSettings): number {
  assert(host.cpuMhz !== null, () => `host ${host.name} has no capacity`);
  return Math.trunc(host.cpuMhz * settings.hostCpuUsableByVms);
}

/**
 * The hosts the placement may use, as Neat's placement input wants them, with
 * the request's host left out. A host joins the active ones only when each of
 * its VMs has usable data (`missingData`), which its load tells at once.
 */
function placementHosts(state: DataCentreState, request: RequestRecord, settings: DecisionSettings, nowMs: number): PlacementHosts {
  const hosts: PlacementHosts = { active: [], inactive: [], idleUp: [], stale: [] };
  for (const entry of hostsByName(state)) {
    const { host } = entry;
    if (host.name === request.host || host.cpuMhz === null || host.ramMb === null || !host.enabled) continue;
    const hosted = entry.placed.vms;
    const stale = isStale(host, nowMs, settings.sampleMaxAgeMs);
    if (stale) hosts.stale.push(host.name);
    if (hosted.length === 0) {
      // The cloud says it holds no VMs: switching it off is safe even though its agent is silent.
      if (isUp(host.power)) hosts.idleUp.push(host.name);
      if (!stale && (host.power === 'asleep' || isUp(host.power))) {
        hosts.inactive.push({ name: host.name, cpuMhz: usableCpuMhz(host, settings), ramMb: host.ramMb });
      }
      continue;
    }
    if (stale || !isUp(host.power)) continue;
    const load = hostLoad(state, entry);
    const oldestAgeMs = sampleAgeMs(load.oldestVmSampleAtMs, nowMs);
    if (load.vmWithoutData || oldestAgeMs === null || oldestAgeMs > settings.sampleMaxAgeMs) continue;
    hosts.active.push({
      name: host.name, cpuTotalMhz: usableCpuMhz(host, settings), ramTotalMb: host.ramMb, cpuUsageMhz: load.cpuUsageMhz, ramUsageMb: load.ramUsageMb,
    });
  }
  return hosts;
}

function nothingToDo(request: RequestRecord, reason: EventData<'NothingToDo'>['reason'], detail: string): Decision {
  return { type: 'NothingToDo', data: { requestId: request.requestId, reason, detail } };
}

function noData(request: RequestRecord, vms: readonly NoDataVm[], settings: DecisionSettings): Decision {
  assert(vms.length > 0, 'no-data names the VMs without data');
  return { type: 'NothingToDo', data: { requestId: request.requestId, reason: 'no-data', detail: noDataDetail(vms, settings), noDataVms: [...vms] } };
}

/** The VMs the request asks to move, and those it names that are not (or no longer) on its host. */
function vmsToMove(state: DataCentreState, request: RequestRecord, hosted: readonly VmView[]): { move: VmView[]; notOnHost: string[] } {
  if (request.reason === 'underload') return { move: [...hosted].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)), notOnHost: [] };
  const move: VmView[] = [];
  const notOnHost: string[] = [];
  for (const vmId of new Set(request.vmIds)) {
    const vm = state.vms.get(vmId);
    if (vm?.host === request.host) move.push(vm);
    else notOnHost.push(vmId);
  }
  return { move, notOnHost };
}

function meanRamMb(vms: readonly VmView[]): number {
  return vms.length === 0 ? 0 : vms.reduce((sum, vm) => sum + (vm.ramMb ?? 0), 0) / vms.length;
}

/**
 * `nowMs` is the manager's clock at the decision: samples and hosts are judged
 * fresh or not against it, so the same log and time give the same decision.
 */
export function decideRequest(request: RequestRecord, state: DataCentreState, settings: DecisionSettings, nowMs: number): Decision {
  assert(settings.sampleMaxAgeMs > 0, 'a positive sample max age');
  const host = state.hosts.get(request.host);
  if (host === undefined) return nothingToDo(request, 'unknown-host', `the cloud does not report a host "${request.host}"`);
  if (!isUp(host.power)) return nothingToDo(request, 'host-not-up', `host "${request.host}" is ${host.power}, not up`);
  const { move, notOnHost } = vmsToMove(state, request, vmsOn(state, request.host));
  const withoutData = move.flatMap((vm) => missingData(vm, state, settings, nowMs) ?? []);
  if (withoutData.length > 0) return noData(request, withoutData, settings);
  if (request.reason === 'overload' && move.length === 0) {
    return nothingToDo(request, 'no-vms', `none of the VMs named (${request.vmIds.join(', ')}) is on host "${request.host}"`);
  }
  const hosts = placementHosts(state, request, settings, nowMs);
  const placer = createVmPlacer(settings.placement, {
    timeStepS: settings.timeStepS, migrationTimeS: meanRamMb(move) / settings.migrationBandwidthMbPerS,
  });
  const vmsCpuMhz: Record<string, readonly number[]> = {};
  const vmsRamMb: Record<string, number> = {};
  for (const vm of move) {
    vmsCpuMhz[vm.id] = vm.cpuMhzHistory.toArray();
    vmsRamMb[vm.id] = vm.ramMb ?? 0;
  }
  const overload = request.reason === 'overload';
  const [result] = placer.place({ hosts: hosts.active, inactiveHosts: overload ? hosts.inactive : [], vmsCpuMhz, vmsRamMb }, placer.initialState());
  const placedAll = move.length > 0 && Object.keys(result.mapping).length === move.length;
  const hostsToWake = overload
    ? [...new Set(Object.values(result.mapping))].filter((name) => state.hosts.get(name)?.power === 'asleep').sort()
    : [];
  // A disabled host is being serviced: emptied for its operator, not put to sleep under them.
  const emptied = !overload && host.enabled && (placedAll || move.length === 0) ? [request.host] : [];
  const hostsToSuspend = overload ? [] : [...emptied, ...hosts.idleUp].sort();
  if (Object.keys(result.mapping).length === 0 && hostsToSuspend.length === 0) {
    return nothingToDo(request, 'no-capacity',
      `${placer.name} found no placement for ${move.map((vm) => vm.id).join(', ')} on ${hosts.active.length} active`
      + `${overload ? ` and ${hosts.inactive.length} inactive` : ''} host(s)`
      + (hosts.stale.length > 0 ? `; stale host(s) left out: ${hosts.stale.join(', ')}` : ''));
  }
  return {
    type: 'PlacementDecided',
    data: {
      requestId: request.requestId,
      algorithm: placer.name,
      params: settings.placement.params ?? {},
      automation: settings.automation,
      activeHosts: hosts.active.length,
      inactiveHosts: overload ? hosts.inactive.length : 0,
      mapping: { ...result.mapping },
      unplaced: [
        ...result.unplaced.map(({ vm, reason }) => ({ vmId: vm, reason })),
        ...notOnHost.map((vmId) => ({ vmId, reason: 'not-on-host' as const })),
      ],
      hostsToWake,
      hostsToSuspend,
    },
  };
}
