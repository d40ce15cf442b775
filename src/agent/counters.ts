/**
 * Neat's collector arithmetic (`neat/locals/collector.py`): libvirt's
 * cumulative CPU-time counters and `/proc/stat`'s cumulative ticks become
 * average MHz over the interval between two readings. Pure: the adapter
 * brings the raw counters and the time; this module keeps no state of its
 * own, so the state is a plain value that a test can build and inspect.
 *
 * Where Neat crashed or misbehaved we do something else, on purpose:
 * - a host MHz that cannot be computed (no ticks passed, or a negative
 *   result) is null; Neat raised ValueError, which ended the daemon;
 * - a clock that went backwards or stood still yields no values at all and
 *   resets the baselines; Neat divided by a zero or negative interval;
 * - a VM first seen has no value; Neat took the last value of its history
 *   in the central database, which the agent has no access to.
 */
import { assert } from '../engine/assert';
import type { HostCapacity, VmReading } from './hypervisor';
import { HypervisorError } from './hypervisor';

/** The first line of `/proc/stat`, in USER_HZ ticks since boot. */
export interface HostCpuTimes {
  /** user + nice + system, as Neat counts busy. */
  readonly busy: number;
  /** user + nice + system + idle + iowait + irq + softirq: Neat's first seven fields. */
  readonly total: number;
}

/** Neat sums the first seven fields (user to softirq); steal and guest, when present, are ignored. */
const PROC_STAT_FIELDS = 7;
const PROC_STAT_BUSY_FIELDS = 3;
/** The aggregate line is about 100 characters; anything much longer is not it. */
const PROC_STAT_LINE_LIMIT_CHARS = 1024;

function malformedProcStat(what: string): HypervisorError {
  return new HypervisorError('malformed', `/proc/stat: ${what}`);
}

/** Reads the aggregate `cpu` line, which comes first; the rest of the text is not looked at. */
export function parseProcStat(text: string): HostCpuTimes {
  const newline = text.indexOf('\n');
  const line = newline === -1 ? text : text.slice(0, newline);
  if (line.length > PROC_STAT_LINE_LIMIT_CHARS) {
    throw malformedProcStat(`the first line is longer than ${PROC_STAT_LINE_LIMIT_CHARS} characters`);
  }
  const words = line.trim().split(/\s+/);
  if (words[0] !== 'cpu') {
    throw malformedProcStat(`the first line should start with "cpu", the all-CPU totals; got ${JSON.stringify(line.slice(0, 80))}`);
  }
  const fields = words.slice(1, 1 + PROC_STAT_FIELDS);
  if (fields.length < PROC_STAT_FIELDS) {
    throw malformedProcStat(`the cpu line has ${fields.length} counters; at least ${PROC_STAT_FIELDS} ` +
      '(user nice system idle iowait irq softirq) are needed');
  }
  const ticks = fields.map((field, index) => {
    const value = /^\d+$/.test(field) ? Number(field) : NaN;
    if (!Number.isSafeInteger(value)) {
      throw malformedProcStat(`counter ${index + 1} of the cpu line is not a whole number of ticks: ${JSON.stringify(field.slice(0, 40))}`);
    }
    return value;
  });
  let busy = 0;
  let total = 0;
  for (let index = 0; index < PROC_STAT_FIELDS; index++) {
    if (index < PROC_STAT_BUSY_FIELDS) busy += ticks[index];
    total += ticks[index];
  }
  return { busy, total };
}

/**
 * Neat's `calculate_cpu_mhz`: the VM's average MHz over the interval, a VM
 * keeping one core busy reading as one core's MHz. Truncated as Python's
 * int(); the operations are in Neat's order, so the result is Neat's to the
 * last bit.
 */
export function calculateCpuMhz(
  coreMhz: number, previousTimeS: number, currentTimeS: number, previousCpuTimeNs: number, currentCpuTimeNs: number,
): number {
  assert(currentTimeS > previousTimeS, () => `an interval needs time to pass: ${previousTimeS} s → ${currentTimeS} s`);
  assert(currentCpuTimeNs >= previousCpuTimeNs, () => `a CPU-time counter that went back (${previousCpuTimeNs} → ${currentCpuTimeNs} ns) has no MHz`);
  return Math.trunc(coreMhz * (currentCpuTimeNs - previousCpuTimeNs) / ((currentTimeS - previousTimeS) * 1e9));
}

/**
 * Neat's `get_host_cpu_mhz`: the host's busy share of the interval times its
 * total MHz (cores × core MHz), truncated. Null where Neat divided by zero or
 * raised ValueError on a negative result: no tick passed, or the counters
 * went back (a reboot under a running agent, or a different file).
 */
export function calculateHostCpuMhz(hostMhz: number, previous: HostCpuTimes, current: HostCpuTimes): number | null {
  const totalDelta = current.total - previous.total;
  if (totalDelta <= 0) return null;
  const cpuMhz = Math.trunc(hostMhz * (current.busy - previous.busy) / totalDelta);
  return cpuMhz < 0 ? null : cpuMhz;
}

/** What the adapter read: the counters as they stand, not yet differences. */
export interface RawVmCounters {
  readonly vmId: string;
  /** Cumulative CPU time of all the VM's vCPUs since it started, ns. */
  readonly cpuTimeNs: number;
  readonly ramMb: number | null;
}

export interface RawReading {
  /** When the VM counters were read, s. */
  readonly timeS: number;
  readonly capacity: HostCapacity;
  readonly vms: readonly RawVmCounters[];
  readonly host: HostCpuTimes;
}

/**
 * The previous reading's counters: JSON-plain, holding exactly the VMs of
 * that reading. Null before the first reading.
 */
export type CounterState = {
  readonly timeS: number;
  readonly vmCpuTimeNs: Readonly<Record<string, number>>;
  /** Each VM's last MHz, reused when its counter goes back (Neat's `previous_cpu_mhz`); absent while it has none. */
  readonly vmCpuMhz: Readonly<Record<string, number>>;
  readonly hostBusy: number;
  readonly hostTotal: number;
} | null;

/** What happened in one step, for the agent to log and count. */
export interface CounterNotes {
  /** The clock stood still or went back since the previous reading: no values, baselines reset. */
  readonly clockWentBack: boolean;
  /** VMs without a previous counter: a baseline only. */
  readonly firstSeen: readonly string[];
  /** VMs whose counter went back (restarted): their previous MHz is reused. */
  readonly restarted: readonly string[];
  /** VMs of the previous reading that are gone from this one. */
  readonly removed: readonly string[];
  /** The whole host's MHz, VMs included; null without an interval or when it cannot be computed. */
  readonly hostCpuMhz: number | null;
}

export interface CounterStep {
  readonly state: NonNullable<CounterState>;
  /** One per raw VM, in the raw order. */
  readonly vms: readonly VmReading[];
  /** Host MHz minus the VMs' (those with a value), at least 0; null when the host MHz is null. */
  readonly hypervisorCpuMhz: number | null;
  readonly notes: CounterNotes;
}

function checkRaw(raw: RawReading): void {
  assert(Number.isFinite(raw.timeS), () => `a reading's time must be finite; got ${raw.timeS}`);
  const { cores, coreMhz } = raw.capacity;
  assert(Number.isInteger(cores) && cores > 0 && coreMhz > 0, () => `capacity needs cores and MHz; got ${cores} × ${coreMhz} MHz`);
  assert(raw.host.busy >= 0 && raw.host.busy <= raw.host.total, () => `host busy ticks ${raw.host.busy} must be within total ${raw.host.total}`);
  const seen = new Set<string>();
  for (const vm of raw.vms) {
    assert(!seen.has(vm.vmId), () => `VM ${vm.vmId} read twice`);
    seen.add(vm.vmId);
    assert(Number.isFinite(vm.cpuTimeNs) && vm.cpuTimeNs >= 0, () => `VM ${vm.vmId}: CPU time must be finite and ≥ 0; got ${vm.cpuTimeNs}`);
  }
}

/**
 * The state after this reading: its counters, and each current VM's last MHz.
 * Built with Object.fromEntries so that every VM id, whatever it spells, is
 * an own property.
 */
function stateAfter(raw: RawReading, cpuMhzOf: (vmId: string) => number | undefined): NonNullable<CounterState> {
  const vmCpuTimeNs = Object.fromEntries(raw.vms.map((vm) => [vm.vmId, vm.cpuTimeNs]));
  const vmCpuMhz: [string, number][] = [];
  for (const vm of raw.vms) {
    const cpuMhz = cpuMhzOf(vm.vmId);
    if (cpuMhz !== undefined) vmCpuMhz.push([vm.vmId, cpuMhz]);
  }
  return { timeS: raw.timeS, vmCpuTimeNs, vmCpuMhz: Object.fromEntries(vmCpuMhz), hostBusy: raw.host.busy, hostTotal: raw.host.total };
}

function lastCpuMhz(state: CounterState, vmId: string): number | undefined {
  return state !== null && Object.hasOwn(state.vmCpuMhz, vmId) ? state.vmCpuMhz[vmId] : undefined;
}

function removedSince(state: NonNullable<CounterState>, raw: RawReading): string[] {
  const current = new Set(raw.vms.map((vm) => vm.vmId));
  return Object.keys(state.vmCpuTimeNs).filter((vmId) => !current.has(vmId));
}

/** A reading without an interval (the first, or after the clock went back): baselines, no values. */
function baselineStep(state: CounterState, raw: RawReading): CounterStep {
  const next = stateAfter(raw, (vmId) => lastCpuMhz(state, vmId));
  const firstSeen = raw.vms.filter((vm) => state === null || !Object.hasOwn(state.vmCpuTimeNs, vm.vmId)).map((vm) => vm.vmId);
  return {
    state: next,
    vms: raw.vms.map((vm) => ({ vmId: vm.vmId, cpuMhz: null, ramMb: vm.ramMb })),
    hypervisorCpuMhz: null,
    notes: {
      clockWentBack: state !== null,
      firstSeen,
      restarted: [],
      removed: state === null ? [] : removedSince(state, raw),
      hostCpuMhz: null,
    },
  };
}

/**
 * One collection: the MHz of each VM and of the hypervisor since the previous
 * reading, and the state for the next. The state holds exactly the VMs of
 * `raw`: a VM that left is forgotten, and comes back as first seen.
 */
export function advanceCounters(state: CounterState, raw: RawReading): CounterStep {
  checkRaw(raw);
  if (state === null || raw.timeS <= state.timeS) return baselineStep(state, raw);

  const firstSeen: string[] = [];
  const restarted: string[] = [];
  const vms = raw.vms.map((vm): VmReading => ({ vmId: vm.vmId, cpuMhz: vmCpuMhzSince(state, raw, vm, firstSeen, restarted), ramMb: vm.ramMb }));
  const cpuMhzByVm = new Map(vms.map((vm) => [vm.vmId, vm.cpuMhz]));
  const next = stateAfter(raw, (vmId) => cpuMhzByVm.get(vmId) ?? lastCpuMhz(state, vmId));

  const hostMhz = raw.capacity.cores * raw.capacity.coreMhz;
  const hostCpuMhz = calculateHostCpuMhz(hostMhz, { busy: state.hostBusy, total: state.hostTotal }, raw.host);
  let vmsCpuMhz = 0;
  for (const vm of vms) vmsCpuMhz += vm.cpuMhz ?? 0;
  const hypervisorCpuMhz = hostCpuMhz === null ? null : Math.max(0, hostCpuMhz - vmsCpuMhz);
  return {
    state: next,
    vms,
    hypervisorCpuMhz,
    notes: { clockWentBack: false, firstSeen, restarted, removed: removedSince(state, raw), hostCpuMhz },
  };
}

/** One VM's MHz over the interval; says in `firstSeen` or `restarted` when it has none of its own. */
function vmCpuMhzSince(
  state: NonNullable<CounterState>, raw: RawReading, vm: RawVmCounters, firstSeen: string[], restarted: string[],
): number | null {
  if (!Object.hasOwn(state.vmCpuTimeNs, vm.vmId)) {
    firstSeen.push(vm.vmId);
    return null;
  }
  const previousCpuTimeNs = state.vmCpuTimeNs[vm.vmId];
  if (vm.cpuTimeNs < previousCpuTimeNs) {
    restarted.push(vm.vmId);
    return lastCpuMhz(state, vm.vmId) ?? null;
  }
  return calculateCpuMhz(raw.capacity.coreMhz, state.timeS, raw.timeS, previousCpuTimeNs, vm.cpuTimeNs);
}
