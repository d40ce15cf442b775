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

/** A host as the placement goes: its sort key, captured once, and what is left of it. */
interface HostBin extends Item {
  freeCpuMhz: number;
  freeRamMb: number;
}

function binOf(item: Item): HostBin {
  return { cpuMhz: item.cpuMhz, ramMb: item.ramMb, name: item.name, freeCpuMhz: item.cpuMhz, freeRamMb: item.ramMb };
}

/** Inserts `bin` where the sort by captured key puts it (after equal keys, as a stable sort of the list with it appended would). */
function insertSorted(bins: HostBin[], bin: HostBin): void {
  let index = bins.length;
  while (index > 0 && compareItems(bins[index - 1], bin) > 0) index -= 1;
  bins.splice(index, 0, bin);
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
  // Bins rather than name-keyed records: the search below runs for every VM over every host.
  const hosts = [...input.hosts].sort(compareItems).map(binOf);
  const inactive = [...input.inactive].sort(compareItems);
  const activeNames = new Set(hosts.map((h) => h.name));
  for (const host of inactive) {
    assert(!activeNames.has(host.name), () => `host ${host.name} is both active and inactive`);
  }
  const mapping: Record<string, string> = {};
  let placed = 0;
  for (const vm of vms) {
    let target: HostBin | undefined;
    // Each pass either places the VM or activates one more host.
    const passLimit = inactive.length + 1;
    for (let pass = 0; pass < passLimit; pass++) {
      target = hosts.find((h) => h.freeCpuMhz >= vm.cpuMhz && h.freeRamMb >= vm.ramMb);
      if (target !== undefined || inactive.length === 0) break;
      insertSorted(hosts, binOf(inactive.shift()!));
    }
    if (target === undefined) {
      unplaced.push({ vm: vm.name, reason: 'no-host-fits' });
      continue;
    }
    mapping[vm.name] = target.name;
    placed += 1;
    target.freeCpuMhz -= vm.cpuMhz;
    target.freeRamMb -= vm.ramMb;
  }
  if (placed === vms.length) return { mapping, unplaced };
  const allOrNothing = Object.keys(mapping).map((vm) => ({ vm, reason: 'all-or-nothing' as const }));
  return { mapping: {}, unplaced: [...unplaced, ...allOrNothing] };
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
