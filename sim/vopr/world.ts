/**
 * One seed, one world: the data centre, its workload, the manager's
 * configuration and the fault schedule, all drawn from `createRng(seed)` in
 * a fixed order, so that a seed names the same world on every machine.
 */
import type { Rng } from '../../src/engine/types';
import type { AUTOMATION_LEVELS } from '../../src/events/catalogue';
import type { ManagerSettings } from '../../src/managers/globalManager';
import { createRng } from '../../src/rng';
import type { CloudTimings, VoprHostSpec, VoprVmSpec } from './cloud';
import type { FaultRates } from './faults';

export interface ScheduledRequest {
  readonly atS: number;
  /** Chooses among the hosts whose agents run when it fires. */
  readonly hostPick: number;
  readonly reason: 'underload' | 'overload';
  /** Choose among the host's VMs, for an overload. */
  readonly vmPicks: readonly number[];
}

export interface ScheduledFault {
  readonly atS: number;
  readonly kind: 'vm-deleted' | 'vm-error' | 'host-reported-down' | 'migration-fails';
  /** Chooses the VM or host, among those there when it fires. */
  readonly pick: number;
  /** How long a host stays reported down. */
  readonly durationS: number;
}

export interface ScheduledCrash {
  readonly atS: number;
  readonly restartAfterS: number;
}

export interface MidAppendCrash {
  readonly append: number;
  readonly keep: boolean;
  readonly restartAfterS: number;
}

export interface WorldSpec {
  readonly seed: number;
  readonly hosts: readonly VoprHostSpec[];
  readonly vms: readonly VoprVmSpec[];
  /** Each VM's mean CPU load, a fraction of its capacity. */
  readonly vmLoad: readonly number[];
  readonly settings: ManagerSettings;
  readonly timings: CloudTimings;
  /** Faults stop here; requests too. */
  readonly horizonS: number;
  /** Agents go on reporting this long after the horizon. */
  readonly tailS: number;
  readonly requests: readonly ScheduledRequest[];
  readonly rates: FaultRates;
  readonly scheduled: readonly ScheduledFault[];
  readonly crashes: readonly ScheduledCrash[];
  /** The append of the first incarnation that the process dies in, the log keeping it or not; null: none. */
  readonly crashMidAppend: MidAppendCrash | null;
  /** The same for the next incarnations in turn, from the second: a crash in the appends of a recovery. */
  readonly laterCrashesMidAppend: readonly (MidAppendCrash | null)[];
  readonly agents: { readonly missing: number; readonly late: number; readonly duplicated: number };
  /** How long a late answer keeps its caller, in ms. */
  readonly answerTimeoutMs: number;
  readonly wakeLateS: number;
  readonly slowMigrationS: number;
  /** Snapshot interval in events, or null: no snapshots. */
  readonly snapshotIntervalEvents: number | null;
  /** How often an operator reviews waiting plans (manual automation). */
  readonly operatorIntervalS: number;
}

/** Incarnations after the first that may die mid-append. */
const LATER_MID_APPEND_CRASHES = 4;

const HOST_TYPES = [
  { cpuMhz: 3720, cores: 2 }, { cpuMhz: 5320, cores: 2 }, { cpuMhz: 8000, cores: 4 }, { cpuMhz: 16000, cores: 8 },
] as const;
const HOST_RAM_MB = [4096, 8192, 16384] as const;
const FLAVOURS = [
  { ramMb: 512, vcpus: 1, cpuMhz: 500 }, { ramMb: 1024, vcpus: 1, cpuMhz: 1000 },
  { ramMb: 2048, vcpus: 2, cpuMhz: 2000 }, { ramMb: 4096, vcpus: 4, cpuMhz: 2500 },
] as const;

class Draw {
  constructor(readonly rng: Rng) {}

  fraction(): number {
    return this.rng.next();
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.rng.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.rng.next() * items.length)];
  }

  chance(p: number): boolean {
    return this.rng.next() < p;
  }

  /** Zero for some seeds, so that worlds without a given fault are run too; otherwise up to `max`. */
  rate(max: number): number {
    return this.chance(0.35) ? 0 : this.rng.next() * max;
  }

  /** An index to choose among however many there are when it is used. */
  nat(): number {
    return Math.floor(this.rng.next() * 0x7fffffff);
  }
}

export function generateWorld(seed: number): WorldSpec {
  const d = new Draw(createRng(`vopr-world-${seed}`));
  // Mostly small worlds, now and then a large one: the rare big world costs as much as many small ones.
  const hostCount = 3 + Math.floor(57 * d.fraction() ** 4);
  const hosts: VoprHostSpec[] = Array.from({ length: hostCount }, (_, i) => {
    const type = d.pick(HOST_TYPES);
    return { name: `host-${String(i).padStart(2, '0')}`, cpuMhz: type.cpuMhz, cores: type.cores, ramMb: d.pick(HOST_RAM_MB) };
  });
  const freeMb = hosts.map((h) => h.ramMb);
  const vms: VoprVmSpec[] = [];
  const vmLoad: number[] = [];
  const wanted = Math.round(hostCount * (0.5 + 2 * d.fraction()));
  for (let i = 0; i < wanted; i++) {
    const flavour = d.pick(FLAVOURS);
    const start = d.int(0, hostCount - 1);
    for (let k = 0; k < hostCount; k++) {
      const host = (start + k) % hostCount;
      if (freeMb[host] < flavour.ramMb) continue;
      freeMb[host] -= flavour.ramMb;
      vms.push({ id: `vm-${String(vms.length).padStart(3, '0')}`, ramMb: flavour.ramMb, vcpus: flavour.vcpus, cpuMhz: flavour.cpuMhz, host });
      vmLoad.push(0.05 + 0.85 * d.fraction() ** 2);
      break;
    }
  }
  const timeStepS = d.pick([60, 120, 300]);
  const migrationPollIntervalMs = 1000 * d.int(1, 8);
  const automation: (typeof AUTOMATION_LEVELS)[number] = d.chance(0.8) ? 'automatic' : d.chance(0.5) ? 'manual' : 'off';
  const settings: ManagerSettings = {
    placement: { name: 'best_fit_decreasing', params: { cpu_threshold: 0.6 + 0.4 * d.fraction(), ram_threshold: 0.8 + 0.2 * d.fraction(), last_n_vm_cpu: d.int(1, 3) } },
    timeStepS,
    migrationBandwidthMbPerS: d.pick([10, 100, 1000]),
    hostCpuUsableByVms: 0.8 + 0.2 * d.fraction(),
    automation,
    sampleMaxAgeMs: 1000 * timeStepS * d.int(2, 4),
    migrationConcurrency: d.int(1, 3),
    migrationInitialWaitMs: 1000 * d.int(0, 10),
    migrationPollIntervalMs,
    migrationTimeoutMs: 1000 * d.int(20, 200),
    migrationMaxAttempts: d.int(1, 4),
    wakeTimeoutMs: 1000 * d.int(30, 200),
    wakePollIntervalMs: 1000 * d.int(2, 15),
    computeHosts: null,
    queueLimit: d.int(1, 16),
    historyLength: d.int(3, 20),
  };
  const timings: CloudTimings = { migrationSPerGb: d.int(2, 30), suspendLatencyS: d.int(0, 20), wakeLatencyS: d.int(0, 40) };
  const horizonS = timeStepS * d.int(6, 24);
  const requests: ScheduledRequest[] = Array.from({ length: d.int(2, Math.max(3, Math.round(horizonS / timeStepS * 1.5))) }, () => ({
    atS: d.int(timeStepS, horizonS - 1),
    hostPick: d.nat(),
    reason: d.chance(0.6) ? 'underload' as const : 'overload' as const,
    vmPicks: Array.from({ length: d.int(1, 3) }, () => d.nat()),
  })).sort((a, b) => a.atS - b.atS);
  const rates: FaultRates = {
    readUnavailable: d.rate(0.08), readTimeout: d.rate(0.02),
    startUnavailable: d.rate(0.15), startConflict: d.rate(0.15), startLostApplied: d.rate(0.25), startLostUnapplied: d.rate(0.15), migrationSlow: d.rate(0.2),
    suspendFails: d.rate(0.25), suspendHangs: d.rate(0.15), suspendDropsAfterSleep: d.rate(0.25),
    wakeRefused: d.rate(0.2), wakeLost: d.rate(0.2), wakeLate: d.rate(0.2),
  };
  const faultKinds = ['vm-deleted', 'vm-error', 'host-reported-down', 'migration-fails'] as const;
  const scheduled: ScheduledFault[] = Array.from({ length: d.int(0, 5) }, () => ({
    atS: d.int(0, horizonS - 1), kind: d.pick(faultKinds), pick: d.nat(), durationS: d.int(10, 600),
  }));
  const crashes: ScheduledCrash[] = Array.from({ length: d.int(0, 3) }, () => ({ atS: d.int(1, horizonS - 1), restartAfterS: d.int(1, 120) }));
  const midAppend = (from: Draw): MidAppendCrash | null => (from.chance(0.4) ? { append: from.int(1, 60), keep: from.chance(0.5), restartAfterS: from.int(1, 120) } : null);
  const crashMidAppend = midAppend(d);
  // A stream of its own, drawn last: the rest of a seed's world is what it was before these crashes were added.
  const restarts = new Draw(createRng(`vopr-restarts-${seed}`));
  const laterCrashesMidAppend = Array.from({ length: LATER_MID_APPEND_CRASHES }, () => midAppend(restarts));
  return {
    seed, hosts, vms, vmLoad, settings, timings, horizonS, tailS: 2 * timeStepS, requests, rates, scheduled, crashes, crashMidAppend, laterCrashesMidAppend,
    agents: { missing: d.rate(0.2), late: d.rate(0.2), duplicated: d.rate(0.1) },
    answerTimeoutMs: 1000 * d.int(1, 30),
    wakeLateS: d.int(1, 300),
    slowMigrationS: d.int(30, 900),
    snapshotIntervalEvents: d.chance(0.5) ? d.int(5, 200) : null,
    operatorIntervalS: d.int(30, 600),
  };
}
