/**
 * Neat's Best Fit Decreasing (`neat/globals/vm_placement/bin_packing.py`),
 * reproduced exactly: integer arithmetic as Python 2 does it, sort keys
 * captured once, inactive hosts activated smallest first, all-or-nothing.
 */
import { assert } from '../assert';
import type { ParamSpecs, ParamValues } from '../params';
import { lastN, sum } from '../numeric';
import { NO_STATE } from '../types';
import type { NoState, PlacementInput, PlacementResult, VmPlacer } from '../types';

export const bestFitDecreasingParamSpecs = {
  cpu_threshold: { type: 'number', min: 0, max: 1, default: 0.8, description: 'usable fraction of a host CPU' },
  ram_threshold: { type: 'number', min: 0, max: 1, default: 0.95, description: 'usable fraction of a host RAM' },
  last_n_vm_cpu: { type: 'number', integer: true, min: 1, default: 2, description: 'VM CPU values averaged' },
} as const satisfies ParamSpecs;

/** Neat's `get_available_resources` for one host: `int(threshold × total − usage)`; may be negative. */
export function availableResource(threshold: number, usage: number, total: number): number {
  return Math.trunc(threshold * total - usage);
}

/** A host or VM with the sort key Neat builds once: (cpu, ram, name). */
interface Item {
  readonly cpuMhz: number;
  readonly ramMb: number;
  readonly name: string;
}

function compareItems(a: Item, b: Item): number {
  if (a.cpuMhz !== b.cpuMhz) return a.cpuMhz - b.cpuMhz;
  if (a.ramMb !== b.ramMb) return a.ramMb - b.ramMb;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function itemsOf(cpu: Readonly<Record<string, number>>, ram: Readonly<Record<string, number>>): Item[] {
  return Object.entries(cpu).map(([name, cpuMhz]) => {
    assert(Object.hasOwn(ram, name), () => `${name} has a CPU figure but no RAM figure`);
    return { cpuMhz, ramMb: ram[name], name };
  });
}

export interface BestFitDecreasingInput {
  readonly lastNVmCpu: number;
  /** Free CPU (MHz) and RAM (MB) of the active hosts. */
  readonly hostsCpuMhz: Readonly<Record<string, number>>;
  readonly hostsRamMb: Readonly<Record<string, number>>;
  /** Full capacity of hosts that may be switched on, used only if the active ones do not suffice. */
  readonly inactiveHostsCpuMhz: Readonly<Record<string, number>>;
  readonly inactiveHostsRamMb: Readonly<Record<string, number>>;
  readonly vmsCpuMhz: Readonly<Record<string, readonly number[]>>;
  readonly vmsRamMb: Readonly<Record<string, number>>;
}

/** Neat's `best_fit_decreasing`, with its name-keyed dicts. */
export function bestFitDecreasing(input: BestFitDecreasingInput): PlacementResult {
  return packBins({
    lastNVmCpu: input.lastNVmCpu, vmsCpuMhz: input.vmsCpuMhz, vmsRamMb: input.vmsRamMb,
    hosts: itemsOf(input.hostsCpuMhz, input.hostsRamMb), inactive: itemsOf(input.inactiveHostsCpuMhz, input.inactiveHostsRamMb),
  });
}

interface Bins {
  readonly lastNVmCpu: number;
  readonly vmsCpuMhz: Readonly<Record<string, readonly number[]>>;
  readonly vmsRamMb: Readonly<Record<string, number>>;
  /** Free CPU and RAM of the active hosts, and the full capacity of those that may be switched on; in any order. */
  readonly hosts: readonly Item[];
  readonly inactive: readonly Item[];
}

/**
 * Neat sorts the hosts once by their captured key and gives each VM the first
 * host in that order with room for it; an inactive host, when activated, joins
 * the list where its key puts it. Keys are unique (they end with the name), so
 * that first host is the one of least key among those with room: found here
 * by one scan of the hosts per VM, with no sort, since a request moves a few
 * VMs and the hosts are hundreds.
 */
function packBins(input: Bins): PlacementResult {
  const unplaced: { vm: string; reason: 'no-cpu-data' | 'no-host-fits' | 'all-or-nothing' }[] = [];
  const vmCpuMhz: Record<string, number> = {};
  for (const [vm, history] of Object.entries(input.vmsCpuMhz)) {
    if (history.length === 0) {
      unplaced.push({ vm, reason: 'no-cpu-data' });
      continue;
    }
    const recent = lastN(history, input.lastNVmCpu);
    vmCpuMhz[vm] = Math.floor(sum(recent) / recent.length);
  }
  const vms = itemsOf(vmCpuMhz, input.vmsRamMb).sort((a, b) => compareItems(b, a));
  const hosts: Item[] = [...input.hosts];
  const freeCpuMhz = hosts.map((h) => h.cpuMhz);
  const freeRamMb = hosts.map((h) => h.ramMb);
  const inactive = [...input.inactive].sort(compareItems);
  const activeNames = new Set(hosts.map((h) => h.name));
  for (const host of inactive) {
    assert(!activeNames.has(host.name), () => `host ${host.name} is both active and inactive`);
  }
  const mapping: Record<string, string> = {};
  let placed = 0;
  let activated = 0;
  for (const vm of vms) {
    let target = -1;
    // Each pass either places the VM or activates one more host.
    const passLimit = inactive.length - activated + 1;
    for (let pass = 0; pass < passLimit; pass++) {
      target = leastFitting(hosts, freeCpuMhz, freeRamMb, vm);
      if (target >= 0 || activated === inactive.length) break;
      const host = inactive[activated];
      activated += 1;
      hosts.push(host);
      freeCpuMhz.push(host.cpuMhz);
      freeRamMb.push(host.ramMb);
    }
    if (target < 0) {
      unplaced.push({ vm: vm.name, reason: 'no-host-fits' });
      continue;
    }
    mapping[vm.name] = hosts[target].name;
    placed += 1;
    freeCpuMhz[target] -= vm.cpuMhz;
    freeRamMb[target] -= vm.ramMb;
  }
  if (placed === vms.length) return { mapping, unplaced };
  const allOrNothing = Object.keys(mapping).map((vm) => ({ vm, reason: 'all-or-nothing' as const }));
  return { mapping: {}, unplaced: [...unplaced, ...allOrNothing] };
}

/** The index of the host of least key with room for `vm`, or -1. */
function leastFitting(hosts: readonly Item[], freeCpuMhz: readonly number[], freeRamMb: readonly number[], vm: Item): number {
  let best = -1;
  for (let index = 0; index < hosts.length; index++) {
    if (freeCpuMhz[index] < vm.cpuMhz || freeRamMb[index] < vm.ramMb) continue;
    if (best < 0 || compareItems(hosts[index], hosts[best]) < 0) best = index;
  }
  return best;
}

export function createBestFitDecreasing(params: ParamValues<typeof bestFitDecreasingParamSpecs>): VmPlacer<NoState> {
  return {
    name: 'best_fit_decreasing',
    initialState: () => NO_STATE,
    place: (input: PlacementInput) => [
      packBins({
        lastNVmCpu: params.last_n_vm_cpu,
        hosts: input.hosts.map((h) => ({
          name: h.name,
          cpuMhz: availableResource(params.cpu_threshold, h.cpuUsageMhz, h.cpuTotalMhz),
          ramMb: availableResource(params.ram_threshold, h.ramUsageMb, h.ramTotalMb),
        })),
        inactive: input.inactiveHosts,
        vmsCpuMhz: input.vmsCpuMhz,
        vmsRamMb: input.vmsRamMb,
      }),
      NO_STATE,
    ],
  };
}
