/**
 * One compute host's agent: Neat's data collector and local manager
 * (reference/neat.md §3-§4), the same code for a real host (`neat agent`,
 * reading libvirt) and for every simulated host of mode `neat` (reading the
 * simulated data centre). Who reads the host and when is the caller's: the
 * agent turns readings into histories and samples (`collect`), and histories
 * into requests (`step`).
 *
 * As Neat's collector: a VM first seen on the host continues the history the
 * global manager has of it (Neat fetched it from its database), and when the
 * hypervisor has no interval for it yet, the last fetched value stands for
 * this interval (rule 56); a VM gone from the host is forgotten; each history
 * keeps `historyLength` values. The hypervisor's own MHz has a history of its
 * own (Neat's `host` file), which the local manager adds to the VMs'.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../engine/assert';
import type { Rng } from '../engine/types';
import type { EventData } from '../events/catalogue';
import { localManagerStep } from '../managers/localManager';
import type { LocalManagerAlgorithms, LocalManagerDecision, LocalManagerState } from '../managers/localManager';
import type { HostReading } from './hypervisor';

/** How an agent reaches the global manager. */
export interface AgentTransport {
  /** Hands a sample over; a production transport queues it, so collection never waits for the network. */
  recordSample(sample: EventData<'UtilizationSampled'>): Promise<void>;
  /** Resolves once the manager has taken the request or refused it (or it could not be sent). */
  request(host: string, reason: 'underload' | 'overload', vmIds: readonly string[]): Promise<void>;
  /** The CPU history the manager holds of a VM, oldest first; null when it holds none (or cannot be asked). */
  vmHistory(vmId: string): Promise<readonly number[] | null>;
}

export interface AgentSettings extends LocalManagerAlgorithms {
  /** Neat's `host_cpu_usable_by_vms`. */
  readonly hostCpuUsableByVms: number;
  /** Values kept per VM and for the hypervisor (Neat's `data_collector_data_length`). */
  readonly historyLength: number;
}

/** What an agent keeps between steps, and across restarts in its state file: Neat's local files plus the detectors' states. */
export interface AgentMemory {
  /** Each VM's CPU history, MHz, oldest first. */
  readonly vmsCpuMhz: Readonly<Record<string, readonly number[]>>;
  /** Each VM's RAM as last read, MB. */
  readonly vmsRamMb: Readonly<Record<string, number>>;
  /** The hypervisor's own CPU history, MHz, oldest first. */
  readonly hypervisorCpuMhz: readonly number[];
  /** cores × core MHz as last read: the local manager's capacity; null before the first reading. */
  readonly hostCpuMhz: number | null;
  readonly localManager: LocalManagerState | null;
}

export const EMPTY_MEMORY: AgentMemory = { vmsCpuMhz: {}, vmsRamMb: {}, hypervisorCpuMhz: [], hostCpuMhz: null, localManager: null };

export interface CollectOutcome {
  /** What was handed to the transport; null when the reading had nothing to send yet (a first reading). */
  readonly sample: EventData<'UtilizationSampled'> | null;
  readonly addedVmIds: readonly string[];
  readonly removedVmIds: readonly string[];
}

export interface StepOutcome {
  readonly decision: LocalManagerDecision;
  /** Wall-clock time of the algorithms, for reports (never recorded in a log). */
  readonly durationMs: number;
}

export interface HostAgentOptions {
  readonly host: string;
  readonly transport: AgentTransport;
  readonly settings: AgentSettings;
  /** The VM selection's random choices (`random`). */
  readonly rng: Rng;
  /** Where a restarted agent starts: its state file's memory, or EMPTY_MEMORY. */
  readonly memory: AgentMemory;
}

function pushBounded(history: number[], value: number, limit: number): void {
  history.push(value);
  if (history.length > limit) history.splice(0, history.length - limit);
}

export class HostAgent {
  private readonly vmsCpuMhz = new Map<string, number[]>();
  private readonly vmsRamMb = new Map<string, number>();
  private readonly hypervisorCpuMhz: number[];
  private hostCpuMhz: number | null;
  private localManager: LocalManagerState | null;

  constructor(private readonly options: HostAgentOptions) {
    assert(Number.isInteger(options.settings.historyLength) && options.settings.historyLength > 0, 'a history needs a positive length');
    const { memory } = options;
    const limit = options.settings.historyLength;
    for (const [vmId, history] of Object.entries(memory.vmsCpuMhz)) this.vmsCpuMhz.set(vmId, history.slice(-limit));
    for (const [vmId, ramMb] of Object.entries(memory.vmsRamMb)) if (this.vmsCpuMhz.has(vmId)) this.vmsRamMb.set(vmId, ramMb);
    this.hypervisorCpuMhz = memory.hypervisorCpuMhz.slice(-limit);
    this.hostCpuMhz = memory.hostCpuMhz;
    this.localManager = memory.localManager;
  }

  get host(): string {
    return this.options.host;
  }

  /** The data collector's work on one reading: histories brought up to date and the sample handed to the transport. */
  async collect(reading: HostReading): Promise<CollectOutcome> {
    const { transport, settings } = this.options;
    this.hostCpuMhz = reading.capacity.cores * reading.capacity.coreMhz;
    const current = new Set(reading.vms.map((vm) => vm.vmId));
    assert(current.size === reading.vms.length, 'a reading names each VM once');
    const removedVmIds = [...this.vmsCpuMhz.keys()].filter((vmId) => !current.has(vmId)).sort();
    for (const vmId of removedVmIds) {
      this.vmsCpuMhz.delete(vmId);
      this.vmsRamMb.delete(vmId);
    }
    const addedVmIds: string[] = [];
    const sampled: { vmId: string; cpuMhz: number; ramMb: number | null }[] = [];
    for (const vm of reading.vms) {
      let history = this.vmsCpuMhz.get(vm.vmId);
      const arrived = history === undefined;
      if (history === undefined) {
        addedVmIds.push(vm.vmId);
        history = [...((await transport.vmHistory(vm.vmId)) ?? [])].slice(-settings.historyLength);
        this.vmsCpuMhz.set(vm.vmId, history);
      }
      if (vm.ramMb !== null) this.vmsRamMb.set(vm.vmId, vm.ramMb);
      const cpuMhz = vm.cpuMhz ?? (arrived ? history.at(-1) : undefined) ?? null;
      if (cpuMhz === null) continue;
      pushBounded(history, cpuMhz, settings.historyLength);
      sampled.push({ vmId: vm.vmId, cpuMhz, ramMb: vm.ramMb });
    }
    if (reading.hypervisorCpuMhz !== null) pushBounded(this.hypervisorCpuMhz, reading.hypervisorCpuMhz, settings.historyLength);
    // A first reading has no interval: Neat's collector writes nothing then.
    if (sampled.length === 0 && reading.hypervisorCpuMhz === null) return { sample: null, addedVmIds, removedVmIds };
    const sample: EventData<'UtilizationSampled'> = { host: this.options.host, hypervisorCpuMhz: reading.hypervisorCpuMhz ?? 0, vms: sampled };
    await transport.recordSample(sample);
    return { sample, addedVmIds, removedVmIds };
  }

  /** The local manager's step on the histories; an underload or overload is sent as Neat's local manager sends it. */
  async step(): Promise<StepOutcome> {
    const { settings } = this.options;
    if (this.hostCpuMhz === null) return { decision: { kind: 'no-data' }, durationMs: 0 };
    const vmsCpuMhz: Record<string, readonly number[]> = {};
    const vmsRamMb: Record<string, number> = {};
    for (const [vmId, history] of this.vmsCpuMhz) {
      vmsCpuMhz[vmId] = history;
      const ramMb = this.vmsRamMb.get(vmId);
      if (ramMb !== undefined) vmsRamMb[vmId] = ramMb;
    }
    const startMs = performance.now();
    const [decision, state] = localManagerStep(
      { vmsCpuMhz, vmsRamMb, hostCpuMhz: this.hypervisorCpuMhz, physicalCpuMhzTotal: Math.trunc(this.hostCpuMhz * settings.hostCpuUsableByVms) },
      this.localManager, settings, this.options.rng);
    const durationMs = performance.now() - startMs;
    this.localManager = state;
    if (decision.kind === 'underload' || decision.kind === 'overload') {
      await this.options.transport.request(this.options.host, decision.kind, decision.kind === 'overload' ? decision.vmIds : []);
    }
    return { decision, durationMs };
  }

  /** What the state file keeps. */
  memory(): AgentMemory {
    return {
      vmsCpuMhz: Object.fromEntries([...this.vmsCpuMhz].map(([vmId, history]) => [vmId, [...history]])),
      vmsRamMb: Object.fromEntries(this.vmsRamMb),
      hypervisorCpuMhz: [...this.hypervisorCpuMhz],
      hostCpuMhz: this.hostCpuMhz,
      localManager: this.localManager,
    };
  }
}
