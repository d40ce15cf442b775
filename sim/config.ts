/**
 * What a simulated data centre is made of. The preset is CloudSim 3.0.3's
 * PlanetLab experiment: 800 hosts alternating HP ProLiant ML110 G4 and G5,
 * four VM types assigned by index, 300 s scheduling, 86,400 s limit.
 */
import { POWER_MODELS } from '../src/engine/power';
import { array, json, nullable, number, object, optional, string } from '../src/events/schema';
import type { Infer } from '../src/events/schema';
import type { Trace, TraceDataCentre } from '../traces/trace';

const hostTypeSchema = object({
  name: string({ minLength: 1, maxLength: 128 }),
  pes: number({ integer: true, min: 1 }),
  peMips: number({ min: 1 }),
  ramMb: number({ min: 0 }),
  bwKbitPerS: number({ min: 1 }),
  storageMb: number({ min: 0 }),
  /** A key of POWER_MODELS. */
  power: string({ minLength: 1, maxLength: 128 }),
});

const vmTypeSchema = object({
  name: string({ minLength: 1, maxLength: 128 }),
  mips: number({ min: 1 }),
  pes: number({ integer: true, min: 1 }),
  ramMb: number({ min: 0 }),
  bwKbitPerS: number({ min: 0 }),
  sizeMb: number({ min: 0 }),
});

export const simulationConfigSchema = object({
  /** Index into hostTypes, per host; host i is named `host-<i>`. */
  hosts: array(number({ integer: true, min: 0 }), { maxLength: 100_000 }),
  hostTypes: array(hostTypeSchema, { maxLength: 64 }),
  /** Index into vmTypes, per VM (VM i is driven by trace VM i). */
  vms: array(number({ integer: true, min: 0 }), { maxLength: 1_000_000 }),
  vmTypes: array(vmTypeSchema, { maxLength: 64 }),
  /** RAM per VM from the trace, when it gives one; otherwise the type's. */
  vmRamMb: array(nullable(number({ min: 0 })), { maxLength: 1_000_000 }),
  schedulingIntervalS: number({ min: 1 }),
  limitS: number({ min: 1 }),
  /** Mode `neat`: the global manager's settings and the local managers' algorithms the run used. */
  manager: optional(json()),
  /** Host i's name, from a trace's data centre; absent: `host-<i>`. */
  hostNames: optional(array(string({ minLength: 1, maxLength: 255 }), { maxLength: 100_000 })),
  /** Mode `neat`: the host index each VM starts on, from a trace's data centre; absent: spread by RAM. */
  placement: optional(array(number({ integer: true, min: 0 }), { maxLength: 1_000_000 })),
});

export type SimulationConfig = Infer<typeof simulationConfigSchema>;
export type HostType = Infer<typeof hostTypeSchema>;
export type VmType = Infer<typeof vmTypeSchema>;

export const PLANETLAB_HOST_TYPES: readonly HostType[] = [
  { name: 'HP ProLiant ML110 G4 (Xeon 3040)', pes: 2, peMips: 1860, ramMb: 4096, bwKbitPerS: 1_000_000, storageMb: 1_000_000, power: 'hp-proliant-ml110-g4' },
  { name: 'HP ProLiant ML110 G5 (Xeon 3075)', pes: 2, peMips: 2660, ramMb: 4096, bwKbitPerS: 1_000_000, storageMb: 1_000_000, power: 'hp-proliant-ml110-g5' },
];

export const PLANETLAB_VM_TYPES: readonly VmType[] = [
  { name: 'High-CPU Medium', mips: 2500, pes: 1, ramMb: 870, bwKbitPerS: 100_000, sizeMb: 2500 },
  { name: 'Extra Large', mips: 2000, pes: 1, ramMb: 1740, bwKbitPerS: 100_000, sizeMb: 2500 },
  { name: 'Small', mips: 1000, pes: 1, ramMb: 1740, bwKbitPerS: 100_000, sizeMb: 2500 },
  { name: 'Micro', mips: 500, pes: 1, ramMb: 613, bwKbitPerS: 100_000, sizeMb: 2500 },
];

export const PLANETLAB_HOSTS = 800;

/**
 * CloudSim's PlanetLab set-up for `vmCount` VMs: host i of type i % 2, VM i of
 * type i / ceil(n / 4) (integer division), as `PlanetLabHelper` assigns them.
 */
export function planetLabConfig(vmCount: number, vmRamMb: readonly (number | null)[], hosts: number): SimulationConfig {
  const perType = Math.ceil(vmCount / PLANETLAB_VM_TYPES.length);
  return {
    hosts: Array.from({ length: hosts }, (_, i) => i % PLANETLAB_HOST_TYPES.length),
    hostTypes: [...PLANETLAB_HOST_TYPES],
    vms: Array.from({ length: vmCount }, (_, i) => Math.floor(i / perType)),
    vmTypes: [...PLANETLAB_VM_TYPES],
    vmRamMb: [...vmRamMb],
    schedulingIntervalS: 300,
    limitS: 86_400,
  };
}

/** Host i's name. */
export function hostNameOf(config: SimulationConfig, index: number): string {
  return config.hostNames?.[index] ?? `host-${index}`;
}

/** One type per distinct value of `key`, in order of first appearance, and each item's type index. */
function typesBy<T>(items: readonly T[], key: (item: T) => string | number): { readonly firsts: T[]; readonly indexes: number[] } {
  const indexByKey = new Map<string | number, number>();
  const firsts: T[] = [];
  const indexes = items.map((item) => {
    const k = key(item);
    let index = indexByKey.get(k);
    if (index === undefined) {
      index = firsts.length;
      indexByKey.set(k, index);
      firsts.push(item);
    }
    return index;
  });
  return { firsts, indexes };
}

/**
 * The data centre a trace was recorded on, as a simulation configuration:
 * its hosts (with their names), one single-core VM type per distinct CPU
 * capacity, and where each VM starts. Network and storage are PlanetLab's
 * (a 1 Gbit/s host link, which sets the migration time), which a recorded
 * trace does not say; VMs reserve no bandwidth, as under Nova.
 */
export function recordedDataCentreConfig(trace: Trace, dataCentre: TraceDataCentre): SimulationConfig {
  const [planetLabHost] = PLANETLAB_HOST_TYPES;
  const [planetLabVm] = PLANETLAB_VM_TYPES;
  const hostTypes = typesBy(dataCentre.hosts, (host) => `${host.cores}/${host.coreMhz}/${host.ramMb}/${host.power}`);
  const vmTypes = typesBy(dataCentre.vms, (vm) => vm.cpuMhz);
  const hostIndexByName = new Map(dataCentre.hosts.map((host, index) => [host.name, index]));
  return {
    hosts: hostTypes.indexes,
    hostTypes: hostTypes.firsts.map((host) => ({
      name: `${host.cores} × ${host.coreMhz} MHz, ${host.ramMb} MB`, pes: host.cores, peMips: host.coreMhz, ramMb: host.ramMb,
      bwKbitPerS: planetLabHost.bwKbitPerS, storageMb: planetLabHost.storageMb, power: host.power,
    })),
    vms: vmTypes.indexes,
    // Nova reserves no network for a VM, so neither does a recorded data centre: CloudSim's 100 Mbit/s a VM
    // would cap a host of any size at ten VMs on its 1 Gbit/s link, a limit the recorded cloud never had.
    vmTypes: vmTypes.firsts.map((vm) => ({ ...planetLabVm, name: `${vm.cpuMhz} MHz`, mips: vm.cpuMhz, bwKbitPerS: 0 })),
    vmRamMb: trace.vms.map((vm) => vm.ramMb),
    schedulingIntervalS: trace.stepS,
    limitS: (trace.vms[0].utilization.length - 1) * trace.stepS,
    hostNames: dataCentre.hosts.map((host) => host.name),
    placement: dataCentre.vms.map((vm) => {
      const index = hostIndexByName.get(vm.host);
      if (index === undefined) throw new ConfigError(`a VM starts on host "${vm.host}", which the trace's data centre does not have`);
      return index;
    }),
  };
}

/**
 * The data centre a run simulates: the trace's own when it has one, else
 * CloudSim's PlanetLab set-up with `hosts` hosts. Mode `cloudsim` places the
 * VMs itself (its allocation policy's initial placement), so a recorded
 * placement is for mode `neat` only.
 */
export function simulationConfigFor(trace: Trace, hosts: number, mode: 'cloudsim' | 'neat'): SimulationConfig {
  let config = planetLabConfig(trace.vms.length, trace.vms.map((vm) => vm.ramMb), hosts);
  if (trace.dataCentre !== undefined) {
    const { placement, ...recorded } = recordedDataCentreConfig(trace, trace.dataCentre);
    config = mode === 'neat' ? { ...recorded, placement } : recorded;
  }
  checkSimulationConfig(config);
  return config;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Cross-field checks the schema cannot express. */
export function checkSimulationConfig(config: SimulationConfig): void {
  const badHost = config.hosts.findIndex((type) => type >= config.hostTypes.length);
  if (badHost >= 0) throw new ConfigError(`host ${badHost} has type ${config.hosts[badHost]}, but there are ${config.hostTypes.length} host types`);
  const badVm = config.vms.findIndex((type) => type >= config.vmTypes.length);
  if (badVm >= 0) throw new ConfigError(`VM ${badVm} has type ${config.vms[badVm]}, but there are ${config.vmTypes.length} VM types`);
  if (config.vmRamMb.length !== config.vms.length) throw new ConfigError(`vmRamMb has ${config.vmRamMb.length} entries for ${config.vms.length} VMs`);
  if (config.hostNames !== undefined) {
    if (config.hostNames.length !== config.hosts.length) throw new ConfigError(`hostNames has ${config.hostNames.length} entries for ${config.hosts.length} hosts`);
    if (new Set(config.hostNames).size !== config.hostNames.length) throw new ConfigError('hostNames has a name twice');
  }
  if (config.placement !== undefined) {
    if (config.placement.length !== config.vms.length) throw new ConfigError(`placement has ${config.placement.length} entries for ${config.vms.length} VMs`);
    const badPlacement = config.placement.findIndex((host) => host >= config.hosts.length);
    if (badPlacement >= 0) throw new ConfigError(`VM ${badPlacement} starts on host ${config.placement[badPlacement]}, but there are ${config.hosts.length} hosts`);
  }
  for (const type of config.hostTypes) {
    if (!Object.hasOwn(POWER_MODELS, type.power)) {
      throw new ConfigError(`host type "${type.name}" names power model "${type.power}"; known: ${Object.keys(POWER_MODELS).join(', ')}`);
    }
  }
}
