/**
 * A trace from a manager's log (`neat trace export`): the samples its agents
 * recorded, on one time step, with the data centre they ran on (hosts,
 * capacities, each VM's host at the start), so that the simulator can replay
 * production's own load under another policy (traces/README.md, "Exported
 * traces").
 *
 * - **Data centre**: the log's first `InventoryObserved`: its hosts (cores and
 *   capacity; a log written before cores were recorded: one core of the
 *   host's whole capacity; the power model of a simulated run's host type,
 *   else the one given) and VMs, where each runs, its RAM and its CPU
 *   capacity (a log written before that was recorded: vCPUs × `vcpuMhz`).
 *   VMs without a host then, and VMs that appear later, are left out.
 * - **Step**: the median time between two samples of a host, unless given.
 * - **Grid**: point k is at t₀ + k·step, where t₀ is the first sample's time
 *   moved back by whole steps to the inventory's time, not before it (give or
 *   take a hundredth of a step), so that the first samples fall on the grid. Each point holds the VM's latest sample at or before
 *   it; before a VM's first sample, its first sample; after the VM left the
 *   inventory (deleted), 0.
 * - **Share**: a sample's MHz over the VM's capacity, at most 1. A sample
 *   taken while the VM was migrating out (its `MigrationStarted` is before the
 *   sample in the log, its end after) is divided by 1 − `migrationDegradation`,
 *   the share of CPU a migrating VM loses, which the simulator takes off
 *   again when it replays the migration (CloudSim's 10 %).
 */
import { assert } from '../src/engine/assert';
import type { EventData } from '../src/events/catalogue';
import type { RecordedEvent } from '../src/events/envelope';
import { READ_PAGE_EVENTS } from '../src/log/port';
import type { EventLog } from '../src/log/port';
import { validate } from '../src/events/schema';
import { writableUtilization } from '../traces/csv';
import { TraceError } from '../traces/trace';
import type { Trace, TraceDataCentre, TraceHost } from '../traces/trace';
import { hostNameOf, simulationConfigSchema } from './config';

/** Samples a host may have sent for the median step; enough for a stable median. */
const STEP_SAMPLES = 10_001;
/** Samples at most this far past a grid point (float noise of a clock) still count as at it. */
const GRID_TOLERANCE_S = 1e-3;
/** A bound on the points of an exported trace (a year of 5-minute samples is 105,120). */
export const MAX_EXPORT_POINTS = 1_000_000;

export interface TraceExportOptions {
  /** Seconds between points; null: the median time between two samples of a host. */
  readonly stepS: number | null;
  /** A VM's capacity per vCPU when the log does not record its MHz (`nova_vcpu_mhz`). */
  readonly vcpuMhz: number;
  /** The power model of a host (a `POWER_MODELS` key). */
  readonly powerModel: (host: string) => string;
  /** CloudSim's 0.1: the share of its CPU a VM loses while it migrates. */
  readonly migrationDegradation: number;
  readonly onProgress?: (fraction: number) => void;
}

export interface TraceExport {
  readonly trace: Trace;
  /** What the export left out or changed, one line each, for the file's comments and the command's summary. */
  readonly notes: readonly string[];
  readonly samples: number;
}

interface VmRecord {
  readonly index: number;
  readonly cpuMhz: number;
  readonly timesS: number[];
  readonly shares: number[];
  /** Log order of its last migration start still open, or −1. */
  migratingSince: number;
  deletedAtS: number | null;
}

/** The log read once, in order: what an export needs. */
class ExportFold {
  inventory: EventData<'InventoryObserved'> | null = null;
  inventoryTimeS = 0;
  simulationConfig: unknown = null;
  readonly vms = new Map<string, VmRecord>();
  readonly laterVms = new Set<string>();
  unplacedVms = 0;
  readonly hostSampleTimesS = new Map<string, number[]>();
  firstSampleS = Infinity;
  lastSampleS = -Infinity;
  samples = 0;
  clipped = 0;
  degradedSamples = 0;
  noInventorySamples = 0;

  constructor(private readonly options: TraceExportOptions) {}

  fold(event: RecordedEvent): void {
    const timeS = event.metadata.timeMs / 1000;
    switch (event.type) {
      case 'SimulationStarted':
        this.simulationConfig ??= event.data.config;
        return;
      case 'InventoryObserved':
        this.observe(event.data, timeS);
        return;
      case 'UtilizationSampled':
        this.sample(event.data, timeS);
        return;
      case 'MigrationStarted':
        this.migrating(event.data.vmId, event.position);
        return;
      case 'MigrationCompleted':
      case 'MigrationFailed':
      case 'MigrationAbandoned':
        this.migrating(event.data.vmId, -1);
        return;
      default:
        return;
    }
  }

  private observe(inventory: EventData<'InventoryObserved'>, timeS: number): void {
    if (this.inventory === null) {
      this.inventory = inventory;
      this.inventoryTimeS = timeS;
      inventory.vms.forEach((vm) => {
        if (vm.host === null) {
          this.unplacedVms += 1;
          return;
        }
        const cpuMhz = vm.cpuMhz ?? vm.vcpus * this.options.vcpuMhz;
        if (!(cpuMhz > 0)) throw new TraceError(`VM ${JSON.stringify(vm.vmId)} has no CPU capacity in the log's first inventory (${vm.vcpus} vCPUs)`);
        this.vms.set(vm.vmId, { index: this.vms.size, cpuMhz, timesS: [], shares: [], migratingSince: -1, deletedAtS: null });
      });
      return;
    }
    const present = new Set(inventory.vms.map((vm) => vm.vmId));
    const first = new Set(this.inventory.vms.map((vm) => vm.vmId));
    for (const vm of inventory.vms) if (!first.has(vm.vmId)) this.laterVms.add(vm.vmId);
    for (const [vmId, record] of this.vms) {
      if (!present.has(vmId)) record.deletedAtS ??= timeS;
      else if (record.deletedAtS !== null) record.deletedAtS = null;
    }
  }

  private migrating(vmId: string, since: number): void {
    const record = this.vms.get(vmId);
    if (record !== undefined) record.migratingSince = since;
  }

  private sample(sample: EventData<'UtilizationSampled'>, timeS: number): void {
    if (this.inventory === null) {
      this.noInventorySamples += 1;
      return;
    }
    const hostTimes = this.hostSampleTimesS.get(sample.host) ?? [];
    if (hostTimes.length < STEP_SAMPLES) hostTimes.push(timeS);
    this.hostSampleTimesS.set(sample.host, hostTimes);
    for (const vm of sample.vms) {
      const record = this.vms.get(vm.vmId);
      if (record === undefined) continue;
      let mhz = vm.cpuMhz;
      if (record.migratingSince >= 0) {
        mhz /= 1 - this.options.migrationDegradation;
        this.degradedSamples += 1;
      }
      const share = mhz / record.cpuMhz;
      if (share > 1) this.clipped += 1;
      const last = record.timesS.length - 1;
      // Two samples of a VM at one time (a host's and a source's during a migration): the later one stands.
      if (last >= 0 && record.timesS[last] === timeS) record.shares[last] = Math.min(1, share);
      else {
        record.timesS.push(timeS);
        record.shares.push(Math.min(1, share));
      }
      this.samples += 1;
      this.firstSampleS = Math.min(this.firstSampleS, timeS);
      this.lastSampleS = Math.max(this.lastSampleS, timeS);
    }
  }
}

function median(values: readonly number[]): number {
  assert(values.length > 0, 'a median of something');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The median time between two samples of a host, over every host. */
function sampleStepS(fold: ExportFold): number {
  const gaps: number[] = [];
  for (const times of fold.hostSampleTimesS.values()) {
    for (let i = 1; i < times.length; i++) if (times[i] > times[i - 1]) gaps.push(times[i] - times[i - 1]);
  }
  if (gaps.length === 0) throw new TraceError('the log has no host with two samples at different times, so no step can be found; pass --step');
  return median(gaps);
}

/** The VM's shares on the grid `t0 + k·step`, k < points. */
function gridShares(record: VmRecord, t0S: number, stepS: number, points: number): Float64Array {
  const shares = new Float64Array(points);
  let next = 0;
  for (let k = 0; k < points; k++) {
    const timeS = t0S + k * stepS;
    while (next < record.timesS.length && record.timesS[next] <= timeS + GRID_TOLERANCE_S) next += 1;
    const share = record.deletedAtS !== null && timeS >= record.deletedAtS ? 0 : record.shares[Math.max(0, next - 1)];
    shares[k] = writableUtilization(share);
  }
  return shares;
}

/** A simulated run's hosts by name: their index (the order the simulator runs them in) and power model. */
function simulatedHosts(config: unknown): ReadonlyMap<string, { readonly index: number; readonly power: string }> {
  if (config === null) return new Map();
  const simulation = validate(simulationConfigSchema, config, 'SimulationStarted.config');
  return new Map(simulation.hosts.map((type, index) => [hostNameOf(simulation, index), { index, power: simulation.hostTypes[type].power }]));
}

/**
 * The inventory's hosts, in a simulated run's own order when the log is one
 * (its agents and placements run in host order), else the inventory's.
 */
function hostsOf(fold: ExportFold, inventory: EventData<'InventoryObserved'>, options: TraceExportOptions): TraceHost[] {
  const simulated = simulatedHosts(fold.simulationConfig);
  const order = (name: string): number => simulated.get(name)?.index ?? Infinity;
  return [...inventory.hosts].sort((a, b) => order(a.host) - order(b.host)).map((host) => {
    const cores = host.cores ?? 1;
    return { name: host.host, cores, coreMhz: host.cpuMhz / cores, ramMb: host.ramMb, power: simulated.get(host.host)?.power ?? options.powerModel(host.host) };
  });
}

export async function exportTrace(log: EventLog, name: string, options: TraceExportOptions): Promise<TraceExport> {
  assert(options.migrationDegradation >= 0 && options.migrationDegradation < 1, 'a degradation is a share below 1');
  const head = await log.headPosition();
  if (head === 0) throw new TraceError(`${log.description} holds no events`);
  const fold = new ExportFold(options);
  for (let from = 1; from <= head; from += READ_PAGE_EVENTS) {
    for (const event of await log.readAll(from, READ_PAGE_EVENTS)) fold.fold(event);
    options.onProgress?.(Math.min(1, (from + READ_PAGE_EVENTS - 1) / head));
  }
  const inventory = fold.inventory;
  if (inventory === null) throw new TraceError(`${log.description} has no InventoryObserved event: it records no data centre to export`);
  const sampled = [...fold.vms.entries()].filter(([, record]) => record.timesS.length > 0);
  if (sampled.length === 0) throw new TraceError(`${log.description} has no sample of any VM of its first inventory`);
  const stepS = options.stepS ?? sampleStepS(fold);
  // Whole steps back from the first sample to the inventory (its placement is the trace's start), give or take a hundredth of a step.
  const t0S = fold.firstSampleS - stepS * Math.max(0, Math.floor((fold.firstSampleS - fold.inventoryTimeS) / stepS + 0.01));
  const points = Math.floor((fold.lastSampleS - t0S) / stepS + GRID_TOLERANCE_S) + 1;
  if (points < 2) throw new TraceError(`the samples span less than one step of ${stepS} s; a trace needs two points`);
  if (points > MAX_EXPORT_POINTS) throw new TraceError(`${points} points of ${stepS} s is more than ${MAX_EXPORT_POINTS}; pass a longer --step`);
  const inventoryVms = new Map(inventory.vms.map((vm) => [vm.vmId, vm]));
  const vms = sampled.map(([vmId, record]) => ({ id: vmId, utilization: gridShares(record, t0S, stepS, points), ramMb: inventoryVms.get(vmId)?.ramMb ?? null }));
  const dataCentre: TraceDataCentre = {
    hosts: hostsOf(fold, inventory, options),
    vms: sampled.map(([vmId, record]) => ({ cpuMhz: record.cpuMhz, host: inventoryVms.get(vmId)?.host ?? '' })),
  };
  const notes = exportNotes(fold, sampled.length, { t0S, stepS, points });
  return { trace: { name, format: 'csv', stepS, vms, digest: '', dataCentre }, notes, samples: fold.samples };
}

/** `1 VM`, `2 VMs`. */
function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function exportNotes(fold: ExportFold, exported: number, grid: { t0S: number; stepS: number; points: number }): string[] {
  const notes = [`t = 0 is ${grid.t0S} s of the log's clock; ${grid.points} points of ${grid.stepS} s; ${counted(exported, 'VM')}, ${counted(fold.samples, 'sample')}`];
  const unsampled = fold.vms.size - exported;
  if (unsampled > 0) notes.push(`${counted(unsampled, 'VM')} of the first inventory never sampled: left out`);
  if (fold.unplacedVms > 0) notes.push(`${counted(fold.unplacedVms, 'VM')} without a host in the first inventory: left out`);
  if (fold.laterVms.size > 0) notes.push(`${counted(fold.laterVms.size, 'VM')} that appeared after the first inventory: left out`);
  const deleted = [...fold.vms.values()].filter((record) => record.deletedAtS !== null).length;
  if (deleted > 0) notes.push(`${counted(deleted, 'VM')} that left the inventory: idle (0 %) from then on`);
  const down = fold.inventory?.hosts.filter((host) => host.state === 'down').length ?? 0;
  if (down > 0) notes.push(`${counted(down, 'host')} down in the first inventory: a simulation starts every host on`);
  if (fold.clipped > 0) notes.push(`${counted(fold.clipped, 'sample')} above the VM's capacity: cut to 100 %`);
  if (fold.degradedSamples > 0) notes.push(`${counted(fold.degradedSamples, 'sample')} taken during a migration out: raised by the migration's CPU loss`);
  if (fold.noInventorySamples > 0) notes.push(`${counted(fold.noInventorySamples, 'sample')} before the first inventory: left out`);
  return notes;
}
