/**
 * What a simulated data centre is made of. The preset is CloudSim 3.0.3's
 * PlanetLab experiment: 800 hosts alternating HP ProLiant ML110 G4 and G5,
 * four VM types assigned by index, 300 s scheduling, 86,400 s limit.
 */
import { POWER_MODELS } from '../src/engine/power';
import { array, json, nullable, number, object, optional, string } from '../src/events/schema';
import type { Infer } from '../src/events/schema';

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
  for (const type of config.hostTypes) {
    if (!Object.hasOwn(POWER_MODELS, type.power)) {
      throw new ConfigError(`host type "${type.name}" names power model "${type.power}"; known: ${Object.keys(POWER_MODELS).join(', ')}`);
    }
  }
}
