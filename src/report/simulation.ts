/**
 * A simulation run's log as a report draws it: the metrics (the projection
 * `neat replay` folds, so the same numbers) and, per processing time of the
 * data centre (`DataCentreUpdated`), the hosts by power state, power and
 * energy, the spread of VM and host CPU utilisation, migrations started and
 * SLA violation time, and each host's utilisation for a heatmap.
 *
 * Times are the simulation's (seconds from its start). Suspends, wakes and
 * migrations count at their own time, which the events' clock gives: an
 * update is written at the next processing, after the power changes of the
 * interval that follows it, so log order alone would state them early.
 */
import { assert } from '../engine/assert';
import { percentileCommonsMath } from '../engine/numeric';
import type { EventData } from '../events/catalogue';
import type { RecordedEvent } from '../events/envelope';
import { validate } from '../events/schema';
import { READ_PAGE_EVENTS } from '../log/port';
import type { EventLog } from '../log/port';
import { CODE_VERSION } from '../version';
import { checkSimulationConfig, hostNameOf, simulationConfigSchema } from '../../sim/config';
import type { SimulationConfig } from '../../sim/config';
import { MetricsProjection } from '../../sim/metrics';
import type { SimulationMetrics } from '../../sim/metrics';
import { foldIntoMetrics } from '../../sim/recorder';
import { ReportError } from './input';
import { readFirstPage } from './production';
import type { Provenance } from './model';

/** Heatmap columns kept: beyond this, neighbouring columns merge (each host's higher value). */
const MAX_HEATMAP_COLUMNS = 4_000;
/** Power changes and migrations wait for the update they precede; more than this means a log out of order. */
const MAX_PENDING = 1_000_000;
const WS_PER_KWH = 3_600_000;

/** p10, median and p90 of a set of values (null when the set is empty). */
export interface Spread {
  readonly p10: (number | null)[];
  readonly p50: (number | null)[];
  readonly p90: (number | null)[];
}

/**
 * A host's cell of the heatmap: 0 asleep (mode `neat`: suspended; mode
 * `cloudsim`: no VM allocated, which CloudSim counts as switched off), else
 * 1 + its CPU utilisation in whole percent (1 = on and idle).
 */
export const HEATMAP_ASLEEP = 0;

export interface SimulationHeatmap {
  readonly hosts: readonly string[];
  /** Start time of each column (s); a column covers one update, or several merged. */
  readonly timeS: number[];
  /** One array per column, one cell per host. */
  readonly columns: Uint8Array[];
}

export interface SimulationAnalysis {
  readonly provenance: Provenance;
  readonly run: {
    readonly mode: string;
    readonly policy: string;
    readonly seed: string;
    /** `SimulationStarted.trace`: name, format, digest, VMs, step. */
    readonly trace: unknown;
    readonly config: SimulationConfig;
  };
  /** Equal to `neat replay`'s: the same projection over the same events. */
  readonly metrics: SimulationMetrics;
  /** The metrics the run recorded at its end; null when it did not finish. */
  readonly recorded: SimulationMetrics | null;
  /** The time of each update, s; every series below has one value per update. */
  readonly timeS: number[];
  readonly series: {
    /** Hosts with VMs allocated, on without any, and asleep (suspended; switched off in mode `cloudsim`). */
    readonly hostsActive: number[];
    readonly hostsIdle: number[];
    readonly hostsAsleep: number[];
    /** Mean power over the interval ending at the update (W), and energy from the start (kWh). */
    readonly powerW: (number | null)[];
    readonly energyKwh: number[];
    /** VM CPU: allocated over the VM's MIPS, across VMs placed; host CPU: allocated over capacity, across hosts with VMs. */
    readonly vmUtilization: Spread;
    readonly hostUtilization: Spread;
    /** Migrations started in the interval ending at the update (the last also takes any after it). */
    readonly migrationsStarted: number[];
    /** Host·s active with allocated < requested in the interval ending at the update (SLATAH's numerator). */
    readonly slaViolationHostS: number[];
  };
  readonly heatmap: SimulationHeatmap;
}

export interface AnalysisOptions {
  /** The input as the user named it, and its digest. */
  readonly input: string;
  readonly inputSha256: string;
  /** The log's first page (`readFirstPage`), when the caller has read it to tell the log's kind. */
  readonly firstPage?: readonly RecordedEvent[];
  readonly onProgress?: (fraction: number) => void;
}

interface PendingChange {
  readonly timeS: number;
  readonly host: number;
  readonly asleep: boolean;
}

function emptySpread(): Spread {
  return { p10: [], p50: [], p90: [] };
}

function pushSpread(spread: Spread, values: readonly number[]): void {
  const empty = values.length === 0;
  spread.p10.push(empty ? null : percentileCommonsMath(values, 10));
  spread.p50.push(empty ? null : percentileCommonsMath(values, 50));
  spread.p90.push(empty ? null : percentileCommonsMath(values, 90));
}

/** The fold: every event of the run in log order, each update completed once the power changes up to its time are in. */
class SimulationFold {
  readonly timeS: number[] = [];
  readonly series: SimulationAnalysis['series'] = {
    hostsActive: [], hostsIdle: [], hostsAsleep: [], powerW: [], energyKwh: [],
    vmUtilization: emptySpread(), hostUtilization: emptySpread(), migrationsStarted: [], slaViolationHostS: [],
  };
  readonly heatmap: SimulationHeatmap;
  private readonly hostIndexByName: ReadonlyMap<string, number>;
  private readonly hostCapacityMips: Float64Array;
  private readonly vmCapacityMips: Float64Array;
  private readonly asleep: Uint8Array;
  private readonly clockOffsetS: number;
  private pendingUpdate: EventData<'DataCentreUpdated'> | null = null;
  private readonly pendingChanges: PendingChange[] = [];
  private readonly migrationTimesS: number[] = [];
  private previous: EventData<'DataCentreUpdated'> | null = null;
  private energyWs = 0;
  private updatesPerColumn = 1;
  private lastColumnUpdates = 0;

  constructor(config: SimulationConfig, private readonly sleepRule: 'suspended' | 'idle', startClockS: number) {
    this.clockOffsetS = startClockS;
    const hostNames = config.hosts.map((_type, index) => hostNameOf(config, index));
    this.hostIndexByName = new Map(hostNames.map((name, index) => [name, index]));
    this.hostCapacityMips = Float64Array.from(config.hosts, (type) => config.hostTypes[type].pes * config.hostTypes[type].peMips);
    this.vmCapacityMips = Float64Array.from(config.vms, (type) => config.vmTypes[type].mips * config.vmTypes[type].pes);
    this.asleep = new Uint8Array(config.hosts.length);
    this.heatmap = { hosts: hostNames, timeS: [], columns: [] };
  }

  event(event: RecordedEvent): void {
    const clockS = event.metadata.timeMs / 1000;
    switch (event.type) {
      case 'DataCentreUpdated':
        if (this.pendingUpdate !== null) this.complete(this.pendingUpdate);
        this.pendingUpdate = event.data;
        return;
      case 'MigrationStarted':
        this.migrationTimesS.push(clockS - this.clockOffsetS);
        assert(this.migrationTimesS.length <= MAX_PENDING, 'too many migrations before an update');
        return;
      case 'HostSuspended':
      case 'HostWoken':
        this.powerChange(event.data.host, clockS, event.type === 'HostSuspended');
        return;
      default:
        return;
    }
  }

  finish(): void {
    if (this.pendingUpdate !== null) this.complete(this.pendingUpdate);
    this.pendingUpdate = null;
    const last = this.series.migrationsStarted.length - 1;
    if (last >= 0) this.series.migrationsStarted[last] += this.migrationTimesS.length;
    this.migrationTimesS.length = 0;
  }

  private powerChange(host: string, clockS: number, asleep: boolean): void {
    const index = this.hostIndexByName.get(host);
    if (index === undefined) throw new ReportError(`a power change names host "${host}", which the run's configuration does not have`);
    if (this.sleepRule !== 'suspended') return;
    this.pendingChanges.push({ timeS: clockS - this.clockOffsetS, host: index, asleep });
    assert(this.pendingChanges.length <= MAX_PENDING, 'too many power changes before an update');
  }

  /** Applies the power changes up to `timeS`, in the order they were recorded. */
  private applyChanges(timeS: number): void {
    let applied = 0;
    while (applied < this.pendingChanges.length && this.pendingChanges[applied].timeS <= timeS) {
      const change = this.pendingChanges[applied];
      this.asleep[change.host] = change.asleep ? 1 : 0;
      applied += 1;
    }
    this.pendingChanges.splice(0, applied);
  }

  private migrationsUpTo(timeS: number): number {
    let count = 0;
    while (count < this.migrationTimesS.length && this.migrationTimesS[count] <= timeS) count += 1;
    this.migrationTimesS.splice(0, count);
    return count;
  }

  private complete(update: EventData<'DataCentreUpdated'>): void {
    this.applyChanges(update.timeS);
    const previous = this.previous;
    const dtS = previous === null ? 0 : update.timeS - previous.timeS;
    this.timeS.push(update.timeS);
    this.energyWs += update.energyWs;
    this.series.powerW.push(dtS > 0 ? update.energyWs / dtS : null);
    this.series.energyKwh.push(this.energyWs / WS_PER_KWH);
    this.series.migrationsStarted.push(this.migrationsUpTo(update.timeS));
    this.series.slaViolationHostS.push(previous === null ? 0 : dtS * this.hostsViolating(previous));
    this.hosts(update);
    this.vms(update);
    this.previous = update;
  }

  /** Hosts active (as SLATAH counts them: something allocated) with less allocated than requested. */
  private hostsViolating(update: EventData<'DataCentreUpdated'>): number {
    let violating = 0;
    for (let h = 0; h < update.hostAllocatedMips.length; h++) {
      if (update.hostAllocatedMips[h] > 0 && update.hostAllocatedMips[h] < update.hostRequestedMips[h]) violating += 1;
    }
    return violating;
  }

  private hosts(update: EventData<'DataCentreUpdated'>): void {
    const column = new Uint8Array(this.hostCapacityMips.length);
    const utilizations: number[] = [];
    let active = 0;
    let idle = 0;
    for (let h = 0; h < column.length; h++) {
      const allocated = update.hostAllocatedMips[h];
      if (allocated > 0) {
        const utilization = Math.min(1, allocated / this.hostCapacityMips[h]);
        utilizations.push(utilization);
        column[h] = 1 + Math.round(utilization * 100);
        active += 1;
      } else if (this.sleepRule === 'suspended' && this.asleep[h] === 0) {
        column[h] = 1;
        idle += 1;
      } else {
        column[h] = HEATMAP_ASLEEP;
      }
    }
    this.series.hostsActive.push(active);
    this.series.hostsIdle.push(idle);
    this.series.hostsAsleep.push(column.length - active - idle);
    pushSpread(this.series.hostUtilization, utilizations);
    this.addColumn(update.timeS, column);
  }

  private vms(update: EventData<'DataCentreUpdated'>): void {
    const utilizations: number[] = [];
    for (let v = 0; v < update.vmHost.length; v++) {
      if (update.vmHost[v] >= 0) utilizations.push(update.vmAllocatedMips[v] / this.vmCapacityMips[v]);
    }
    pushSpread(this.series.vmUtilization, utilizations);
  }

  /**
   * Columns beyond the bound merge pairwise (each cell the higher), and from
   * then on each column takes twice as many updates: memory stays bounded on
   * a run of any length.
   */
  private addColumn(timeS: number, column: Uint8Array): void {
    const { columns, timeS: times } = this.heatmap;
    const last = columns.at(-1);
    if (last !== undefined && this.lastColumnUpdates < this.updatesPerColumn) {
      for (let h = 0; h < column.length; h++) last[h] = Math.max(last[h], column[h]);
      this.lastColumnUpdates += 1;
      return;
    }
    columns.push(column);
    times.push(timeS);
    this.lastColumnUpdates = 1;
    if (columns.length <= MAX_HEATMAP_COLUMNS) return;
    // An odd count (the bound is even): the new column stays alone, holding its one update.
    assert(columns.length % 2 === 1, 'the heatmap halves at an odd number of columns');
    let kept = 0;
    for (let c = 0; c < columns.length; c += 2) {
      const next = columns.at(c + 1);
      if (next !== undefined) for (let h = 0; h < next.length; h++) columns[c][h] = Math.max(columns[c][h], next[h]);
      columns[kept] = columns[c];
      times[kept] = times[c];
      kept += 1;
    }
    columns.length = kept;
    times.length = kept;
    this.updatesPerColumn *= 2;
  }
}

/** The run's `SimulationStarted`, in the log's first page as `neat replay` looks for it; null when the log is not a simulation run's. */
export function simulationStart(firstPage: readonly RecordedEvent[]): RecordedEvent & { readonly type: 'SimulationStarted' } | null {
  const first = firstPage.find((event) => event.type === 'SimulationStarted');
  return first?.type === 'SimulationStarted' ? first : null;
}

export async function analyseSimulationLog(log: EventLog, options: AnalysisOptions): Promise<SimulationAnalysis> {
  const start = simulationStart(options.firstPage ?? await readFirstPage(log));
  if (start === null) throw new ReportError(`${options.input} is not a simulation run's log (no SimulationStarted among its first ${READ_PAGE_EVENTS} events)`);
  const config = validate(simulationConfigSchema, start.data.config, 'SimulationStarted.config');
  checkSimulationConfig(config);
  const sleepRule = start.data.mode === 'neat' ? 'suspended' : 'idle';
  const metrics = new MetricsProjection(config, sleepRule);
  const fold = new SimulationFold(config, sleepRule, start.metadata.timeMs / 1000);
  const head = await log.headPosition();
  let recorded: SimulationMetrics | null = null;
  for (let from = start.position; from <= head; from += READ_PAGE_EVENTS) {
    const page = await log.readAll(from, READ_PAGE_EVENTS);
    for (const event of page) {
      foldIntoMetrics(metrics, event);
      fold.event(event);
      if (event.type === 'SimulationEnded') recorded = event.data.metrics as SimulationMetrics;
    }
    options.onProgress?.((from - 1 + page.length) / head);
  }
  fold.finish();
  if (fold.timeS.length === 0) throw new ReportError(`${options.input}: the run recorded no processing of its data centre (no DataCentreUpdated), so there is nothing to draw`);
  return {
    provenance: { input: options.input, inputSha256: options.inputSha256, reportVersion: CODE_VERSION, logVersion: start.data.codeVersion, events: head },
    run: { mode: start.data.mode, policy: start.data.policy, seed: start.data.seed, trace: start.data.trace, config },
    metrics: metrics.result(), recorded, timeS: fold.timeS, series: fold.series, heatmap: fold.heatmap,
  };
}
