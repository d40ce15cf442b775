/**
 * A production manager's log as metrics and series (`ProductionAnalysis`),
 * with the simulator's definitions where they apply (docs/metrics.md):
 *
 * - the data centre is the log's own projection (`evolveDataCentre`): hosts'
 *   power states, capacities and last samples, VMs, open requests;
 * - a host draws power from when it is first seen up (or woken) until its
 *   `HostSuspended`, at P(u) of the configured power model, u its last sampled
 *   CPU (VMs plus hypervisor) over its capacity, capped at 1; it is saturated
 *   (SLATAH) while u ≥ 1;
 * - PDM counts 10 % of a VM's last sampled MHz over each completed migration,
 *   over all VMs' sampled MHz integrated over time.
 *
 * One pass in position order, a page at a time; the state is bounded by the
 * data centre (hosts, VMs, open requests) and the buckets, never by the log's
 * length, except the per-migration and per-decision lists the model asks for.
 */
import { RunningMean } from '../engine/numeric';
import { assert } from '../engine/assert';
import { POWER_MODELS } from '../engine/power';
import type { PowerModel } from '../engine/power';
import { EVENT_TYPES } from '../events/catalogue';
import type { EventType } from '../events/catalogue';
import { evolveDataCentre, initialDataCentreState, isUp } from '../events/dataCentre';
import type { DataCentreState, HostView } from '../events/dataCentre';
import type { RecordedEvent } from '../events/envelope';
import { READ_PAGE_EVENTS } from '../log/port';
import type { EventLog } from '../log/port';
import type { Buckets, ProductionAnalysis } from './model';

export class AnalysisError extends Error {
  override name = 'AnalysisError';
}

export interface ProductionAnalysisOptions {
  /** A key of `POWER_MODELS`. */
  readonly powerModel: string;
  /** Default: `defaultBucketS(observedS)`. */
  readonly bucketS?: number;
  /** Called after each page with the share of the log read. */
  readonly onProgress?: (fraction: number) => void;
}

const SIMULATION_EVENT_TYPES: readonly EventType[] = ['SimulationStarted', 'DataCentreUpdated', 'SimulationEnded'];
/** What a global manager writes: everything but the simulator's own bookkeeping. */
const MANAGER_EVENT_TYPES: ReadonlySet<string> = new Set(EVENT_TYPES.filter((type) => !SIMULATION_EVENT_TYPES.includes(type)));

export function isManagerEvent(event: RecordedEvent): boolean {
  return MANAGER_EVENT_TYPES.has(event.type);
}

/**
 * Tells a production log from a simulation's by its first page (the log's
 * first `READ_PAGE_EVENTS` events): a manager's events and no
 * `SimulationStarted`. A `neat serve --sim` or mode-`neat` run records its
 * `SimulationStarted` after the manager's first observation, within that page.
 */
export function isProductionLog(firstPage: readonly RecordedEvent[]): boolean {
  return firstPage.some(isManagerEvent) && !firstPage.some((event) => event.type === 'SimulationStarted');
}

/** The first page of a log, which tells its kind: read once by a caller that then analyses or replays it. */
export async function readFirstPage(log: EventLog): Promise<readonly RecordedEvent[]> {
  return (await log.headPosition()) === 0 ? [] : log.readAll(1, READ_PAGE_EVENTS);
}

// Bucket widths a reader can think in: seconds, minutes, hours, then days by 1-2-5.
const NICE_BUCKETS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const DAY_S = 86_400;
const DEFAULT_MAX_BUCKETS = 500;
/** A bound on the buckets of an explicit `bucketS`, so that the series stay small. */
export const MAX_BUCKETS = 100_000;

/** The narrowest nice width that covers `observedS` in at most 500 buckets (so 200 or more on a long enough span). */
export function defaultBucketS(observedS: number): number {
  assert(Number.isFinite(observedS) && observedS >= 0, () => `an observed span must be finite and >= 0; got ${observedS}`);
  const targetS = observedS / DEFAULT_MAX_BUCKETS;
  const nice = NICE_BUCKETS_S.find((widthS) => widthS >= targetS);
  if (nice !== undefined) return nice;
  // Past a day: 1, 2, 5, 10, 20, 50… days; 2^53 s bounds the loop.
  for (let decade = 1; decade < 1e16; decade *= 10) {
    for (const step of [1, 2, 5]) if (step * decade * DAY_S >= targetS) return step * decade * DAY_S;
  }
  assert(false, () => `no bucket width for ${observedS} s`);
}

/** Buckets aligned on multiples of their width, the first holding `firstS`, the last `lastS`. */
export function bucketsOver(firstS: number, lastS: number, bucketS: number): Buckets {
  if (!(Number.isFinite(bucketS) && bucketS > 0)) throw new AnalysisError(`a bucket width must be a number of seconds > 0; got ${bucketS}`);
  const startS = Math.floor(firstS / bucketS) * bucketS;
  const count = Math.floor((Math.max(firstS, lastS) - startS) / bucketS) + 1;
  if (count > MAX_BUCKETS) {
    throw new AnalysisError(`${bucketS} s buckets over ${lastS - firstS} s make ${count} buckets; at most ${MAX_BUCKETS} (choose a wider bucket)`);
  }
  return { startS, bucketS, count };
}

const WS_PER_KWH = 3_600_000;
/** CloudSim's migration model: a migrating VM loses 10 % of its CPU. */
const MIGRATION_CPU_LOSS = 0.1;
const MIGRATION_FAILURES_KEPT = 1000;
type RequestSeries = keyof ProductionAnalysis['series']['requests'];

/** A host's share of the running sums: what it draws, and whether it counts as active and saturated. */
interface HostContribution {
  readonly powered: boolean;
  readonly saturated: boolean;
  readonly powerW: number;
}

const UNPOWERED: HostContribution = { powered: false, saturated: false, powerW: 0 };

interface Series {
  readonly requests: Record<RequestSeries, number[]>;
  readonly nothingToDo: Map<string, number[]>;
  readonly migrationsStarted: number[];
  readonly migrationsCompleted: number[];
  readonly migrationsFailed: number[];
  readonly suspends: number[];
  readonly wakes: number[];
  readonly suspendFailures: number[];
  readonly wakeFailures: number[];
  readonly hostsActive: number[];
  readonly hostsSuspended: number[];
  readonly powerW: number[];
  readonly energyKwh: number[];
}

export interface ProductionState {
  readonly powerModel: PowerModel;
  readonly buckets: Buckets;
  readonly dataCentre: DataCentreState;
  /** Integrated up to here (s); the bucket being filled. */
  cursorS: number;
  bucket: number;
  firstS: number | null;
  lastS: number;
  events: number;
  managerEvents: number;
  // Running sums over the hosts and VMs, kept per host and per VM so that an event updates them in O(1).
  readonly contributions: Map<string, HostContribution>;
  poweredHosts: number;
  saturatedHosts: number;
  powerW: number;
  readonly vmCpuMhz: Map<string, number>;
  vmCpuMhzTotal: number;
  // Integrals.
  energyWs: number;
  bucketEnergyWs: number;
  activeS: number;
  saturatedS: number;
  vmMhzS: number;
  migrationLossMhzS: number;
  // Counts and means.
  migrations: number;
  migrationsCompleted: number;
  migrationsFailed: number;
  migrationsAbandoned: number;
  hostShutdowns: number;
  readonly timeBeforeShutdownS: RunningMean;
  readonly migrationDurationS: RunningMean;
  readonly series: Series;
  readonly migrationDurations: { readonly endS: number[]; readonly durationS: number[] };
  readonly migrationFailures: { readonly timeS: number; readonly vmId: string; readonly sourceHost: string; readonly targetHost: string; readonly error: string }[];
  readonly decisionLatency: { readonly timeS: number[]; readonly latencyMs: number[] };
}

export function initialProductionState(powerModel: PowerModel, buckets: Buckets): ProductionState {
  const zeros = (): number[] => new Array<number>(buckets.count).fill(0);
  return {
    powerModel, buckets, dataCentre: initialDataCentreState({ historyLength: 1, strict: false }),
    cursorS: buckets.startS, bucket: 0, firstS: null, lastS: buckets.startS, events: 0, managerEvents: 0,
    contributions: new Map(), poweredHosts: 0, saturatedHosts: 0, powerW: 0, vmCpuMhz: new Map(), vmCpuMhzTotal: 0,
    energyWs: 0, bucketEnergyWs: 0, activeS: 0, saturatedS: 0, vmMhzS: 0, migrationLossMhzS: 0,
    migrations: 0, migrationsCompleted: 0, migrationsFailed: 0, migrationsAbandoned: 0, hostShutdowns: 0,
    timeBeforeShutdownS: new RunningMean(), migrationDurationS: new RunningMean(),
    series: {
      requests: { completed: zeros(), partial: zeros(), failed: zeros(), superseded: zeros(), rejected: zeros(), recorded: zeros() },
      nothingToDo: new Map(), migrationsStarted: zeros(), migrationsCompleted: zeros(), migrationsFailed: zeros(),
      suspends: zeros(), wakes: zeros(), suspendFailures: zeros(), wakeFailures: zeros(),
      hostsActive: zeros(), hostsSuspended: zeros(), powerW: zeros(), energyKwh: zeros(),
    },
    migrationDurations: { endS: [], durationS: [] },
    migrationFailures: [],
    decisionLatency: { timeS: [], latencyMs: [] },
  };
}

/** A host draws power while up, and while suspending: it is off from its `HostSuspended` until its `HostWoken`. */
function isPowered(host: HostView): boolean {
  return isUp(host.power) || host.power === 'suspending';
}

/** The last sample's CPU over the host's capacity; 0 before any sample or without a known capacity. */
function cpuShare(host: HostView): number {
  const cpuMhz = host.cpuMhzHistory.last();
  return cpuMhz === null || host.cpuMhz === null || host.cpuMhz <= 0 ? 0 : cpuMhz / host.cpuMhz;
}

function contributionOf(host: HostView, powerModel: PowerModel): HostContribution {
  if (!isPowered(host)) return UNPOWERED;
  const share = cpuShare(host);
  return { powered: true, saturated: share >= 1, powerW: powerModel.powerW(Math.min(1, share)) };
}

function refreshHost(state: ProductionState, name: string): void {
  const host = state.dataCentre.hosts.get(name);
  if (host === undefined) return;
  const before = state.contributions.get(name) ?? UNPOWERED;
  const after = contributionOf(host, state.powerModel);
  state.powerW += after.powerW - before.powerW;
  state.poweredHosts += Number(after.powered) - Number(before.powered);
  state.saturatedHosts += Number(after.saturated) - Number(before.saturated);
  state.contributions.set(name, after);
}

/** Sums afresh at each bucket's end, so that rounding in the running sums never accumulates past a bucket. */
function resum(state: ProductionState): void {
  let powerW = 0;
  let saturated = 0;
  let powered = 0;
  for (const contribution of state.contributions.values()) {
    powerW += contribution.powerW;
    saturated += Number(contribution.saturated);
    powered += Number(contribution.powered);
  }
  let vmCpuMhz = 0;
  for (const cpuMhz of state.vmCpuMhz.values()) vmCpuMhz += cpuMhz;
  state.powerW = powerW;
  state.saturatedHosts = saturated;
  state.poweredHosts = powered;
  state.vmCpuMhzTotal = vmCpuMhz;
}

/** The hosts whose contribution an event may change. */
function hostsNamed(event: RecordedEvent): readonly string[] {
  switch (event.type) {
    case 'InventoryObserved': return event.data.hosts.map((host) => host.host);
    case 'UtilizationSampled':
    case 'HostSuspendRequested':
    case 'HostSuspended':
    case 'HostSuspendFailed':
    case 'HostWakeRequested':
    case 'HostWoken':
    case 'HostWakeFailed':
      return [event.data.host];
    case 'MigrationStarted':
    case 'MigrationCompleted':
    case 'MigrationFailed':
    case 'MigrationAbandoned':
    case 'MigrationSkipped':
      return [event.data.sourceHost, event.data.targetHost];
    default:
      return [];
  }
}

function gridEndS(buckets: Buckets): number {
  return buckets.startS + buckets.count * buckets.bucketS;
}

function bucketOf(buckets: Buckets, timeS: number): number {
  return Math.min(buckets.count - 1, Math.max(0, Math.floor((timeS - buckets.startS) / buckets.bucketS)));
}

function integrate(state: ProductionState, durationS: number): void {
  const energyWs = state.powerW * durationS;
  state.energyWs += energyWs;
  state.bucketEnergyWs += energyWs;
  state.activeS += state.poweredHosts * durationS;
  state.saturatedS += state.saturatedHosts * durationS;
  state.vmMhzS += state.vmCpuMhzTotal * durationS;
}

/** Closes the bucket being filled, `coveredS` of it integrated. */
function closeBucket(state: ProductionState, coveredS: number): void {
  const k = state.bucket;
  const { series } = state;
  series.hostsActive[k] = state.poweredHosts;
  series.hostsSuspended[k] = state.dataCentre.hosts.size - state.poweredHosts;
  series.energyKwh[k] = state.energyWs / WS_PER_KWH;
  // A bucket the log ends at its very start has no time to average over: its power is the one drawn then.
  series.powerW[k] = coveredS > 0 ? state.bucketEnergyWs / coveredS : state.powerW;
  state.bucketEnergyWs = 0;
  state.bucket += 1;
  resum(state);
}

/** Integrates up to `timeS` (a clock stepped back integrates nothing), closing the buckets that end on the way. */
function advance(state: ProductionState, timeS: number): void {
  const { startS, bucketS, count } = state.buckets;
  const toS = Math.min(timeS, gridEndS(state.buckets));
  for (let closed = 0; state.cursorS < toS; closed++) {
    assert(closed <= count, 'each step of an advance closes a bucket, or reaches its time');
    const boundaryS = startS + (state.bucket + 1) * bucketS;
    const nextS = Math.min(toS, boundaryS);
    integrate(state, nextS - state.cursorS);
    state.cursorS = nextS;
    if (nextS === boundaryS && state.bucket < count - 1) closeBucket(state, bucketS);
  }
}

function countIn(values: number[], k: number): void {
  values[k] += 1;
}

/** Decision latency, and the up time of a host being suspended: read before the event changes the picture. */
function recordBefore(state: ProductionState, event: RecordedEvent, timeS: number): void {
  switch (event.type) {
    case 'PlacementDecided':
    case 'NothingToDo': {
      const request = state.dataCentre.requests.get(event.data.requestId);
      if (request === undefined || request.decided) return;
      state.decisionLatency.timeS.push(timeS);
      state.decisionLatency.latencyMs.push(event.metadata.timeMs - request.receivedAtMs);
      return;
    }
    case 'HostSuspended': {
      const upSinceMs = state.dataCentre.hosts.get(event.data.host)?.becameUpAtMs ?? null;
      if (upSinceMs !== null) state.timeBeforeShutdownS.add((event.metadata.timeMs - upSinceMs) / 1000);
      return;
    }
    default:
  }
}

function recordFailure(state: ProductionState, timeS: number, data: { vmId: string; sourceHost: string; targetHost: string; error: string }): void {
  state.migrationFailures.push({ timeS, vmId: data.vmId, sourceHost: data.sourceHost, targetHost: data.targetHost, error: data.error });
  if (state.migrationFailures.length > MIGRATION_FAILURES_KEPT) state.migrationFailures.shift();
}

function recordMigration(state: ProductionState, event: RecordedEvent, k: number, timeS: number): void {
  const { series } = state;
  switch (event.type) {
    case 'MigrationStarted':
      state.migrations += 1;
      countIn(series.migrationsStarted, k);
      return;
    case 'MigrationCompleted': {
      const durationS = event.data.durationMs / 1000;
      state.migrationsCompleted += 1;
      countIn(series.migrationsCompleted, k);
      state.migrationDurationS.add(durationS);
      state.migrationDurations.endS.push(timeS);
      state.migrationDurations.durationS.push(durationS);
      state.migrationLossMhzS += MIGRATION_CPU_LOSS * (state.vmCpuMhz.get(event.data.vmId) ?? 0) * durationS;
      return;
    }
    case 'MigrationFailed':
      state.migrationsFailed += 1;
      countIn(series.migrationsFailed, k);
      recordFailure(state, timeS, event.data);
      return;
    case 'MigrationAbandoned':
      state.migrationsAbandoned += 1;
      recordFailure(state, timeS, event.data);
      return;
    default:
  }
}

function recordCounts(state: ProductionState, event: RecordedEvent, k: number): void {
  const { series } = state;
  switch (event.type) {
    case 'RequestRejected':
      countIn(series.requests.rejected, k);
      return;
    case 'RequestCompleted': {
      // A request that ends with nothing to do is counted by its NothingToDo's reason.
      const outcome = event.data.outcome;
      if (outcome !== 'nothing-to-do') countIn(series.requests[outcome], k);
      return;
    }
    case 'NothingToDo': {
      let values = series.nothingToDo.get(event.data.reason);
      if (values === undefined) {
        values = new Array<number>(state.buckets.count).fill(0);
        series.nothingToDo.set(event.data.reason, values);
      }
      countIn(values, k);
      return;
    }
    case 'HostSuspended':
      state.hostShutdowns += 1;
      countIn(series.suspends, k);
      return;
    case 'HostSuspendFailed': countIn(series.suspendFailures, k); return;
    case 'HostWoken': countIn(series.wakes, k); return;
    case 'HostWakeFailed': countIn(series.wakeFailures, k); return;
    default:
  }
}

/** Keeps each VM's last sampled MHz, for the VMs the cloud reports. */
function trackVms(state: ProductionState, event: RecordedEvent): void {
  const { vmCpuMhz, dataCentre } = state;
  if (event.type === 'UtilizationSampled') {
    for (const sample of event.data.vms) {
      if (!dataCentre.vms.has(sample.vmId)) continue;
      state.vmCpuMhzTotal += sample.cpuMhz - (vmCpuMhz.get(sample.vmId) ?? 0);
      vmCpuMhz.set(sample.vmId, sample.cpuMhz);
    }
  } else if (event.type === 'InventoryObserved') {
    for (const [vmId, cpuMhz] of vmCpuMhz) {
      if (dataCentre.vms.has(vmId)) continue;
      state.vmCpuMhzTotal -= cpuMhz;
      vmCpuMhz.delete(vmId);
    }
  }
}

/** Folds one event in; events come in position order. Updates `state` in place, as `evolveDataCentre` does, and returns it. */
export function evolveProduction(state: ProductionState, event: RecordedEvent): ProductionState {
  const timeS = event.metadata.timeMs / 1000;
  advance(state, timeS);
  state.firstS ??= timeS;
  state.lastS = Math.max(state.lastS, timeS);
  state.events += 1;
  if (isManagerEvent(event)) state.managerEvents += 1;
  const k = bucketOf(state.buckets, timeS);
  recordBefore(state, event, timeS);
  recordMigration(state, event, k, timeS);
  recordCounts(state, event, k);
  evolveDataCentre(state.dataCentre, event);
  for (const host of hostsNamed(event)) refreshHost(state, host);
  trackVms(state, event);
  return state;
}

/** The analysis of what has been folded in: the last bucket closes at the last event's time, later ones hold the state then. */
export function productionResult(state: ProductionState): ProductionAnalysis {
  const { buckets } = state;
  for (let k = state.bucket; k < buckets.count; k++) {
    closeBucket(state, Math.max(0, Math.min(state.cursorS, gridEndS(buckets)) - (buckets.startS + k * buckets.bucketS)));
  }
  const energyKwh = state.energyWs / WS_PER_KWH;
  const slatah = state.activeS === 0 ? 0 : state.saturatedS / state.activeS;
  const pdm = state.vmMhzS === 0 ? 0 : state.migrationLossMhzS / state.vmMhzS;
  const slav = slatah * pdm;
  const { series } = state;
  return {
    metrics: {
      energyKwh, migrations: state.migrations, migrationsCompleted: state.migrationsCompleted, migrationsFailed: state.migrationsFailed,
      migrationsAbandoned: state.migrationsAbandoned, slatah, pdm, slav, esv: energyKwh * slav, hostShutdowns: state.hostShutdowns,
      meanTimeBeforeHostShutdownS: state.timeBeforeShutdownS.value(), meanMigrationDurationS: state.migrationDurationS.value(),
      hosts: state.dataCentre.hosts.size, vms: state.dataCentre.vms.size,
      observedS: state.firstS === null ? 0 : state.lastS - state.firstS, powerModel: state.powerModel.name,
    },
    buckets,
    series: { ...series, nothingToDo: Object.fromEntries(series.nothingToDo) },
    migrationDurations: state.migrationDurations,
    migrationFailures: state.migrationFailures,
    decisionLatency: state.decisionLatency,
  };
}

function typesIn(events: readonly RecordedEvent[]): string {
  return [...new Set(events.map((event) => event.type))].join(', ');
}

export function powerModelNamed(name: string): PowerModel {
  if (!Object.hasOwn(POWER_MODELS, name)) {
    throw new AnalysisError(`unknown power model "${name}"; valid: ${Object.keys(POWER_MODELS).join(', ')}`);
  }
  return POWER_MODELS[name];
}

/**
 * Reads the whole log once, a page at a time. Throws AnalysisError when the
 * log holds no event a global manager writes (it is empty, or a simulation's
 * in mode cloudsim). A simulation run in mode `neat` is analysed as its
 * manager saw it; its simulator events are left out.
 */
export async function analyseProductionLog(log: EventLog, options: ProductionAnalysisOptions): Promise<ProductionAnalysis> {
  const powerModel = powerModelNamed(options.powerModel);
  const firstPage = await readFirstPage(log);
  if (firstPage.length === 0) throw new AnalysisError(`${log.description} is empty: there is nothing to analyse`);
  if (!firstPage.some(isManagerEvent)) {
    throw new AnalysisError(`${log.description} holds no event a global manager writes (requests, decisions, migrations, `
      + `power changes, inventories, samples) among its first ${firstPage.length}, only ${typesIn(firstPage)}: `
      + 'not a production log (a simulation in mode cloudsim? `neat replay` reads those)');
  }
  const head = await log.headPosition();
  const firstS = firstPage[0].metadata.timeMs / 1000;
  const [last] = await log.readAll(head, 1);
  const lastS = last.metadata.timeMs / 1000;
  const buckets = bucketsOver(firstS, lastS, options.bucketS ?? defaultBucketS(Math.max(0, lastS - firstS)));
  const state = initialProductionState(powerModel, buckets);
  for (let from = 1; from <= head; from += READ_PAGE_EVENTS) {
    const page = from === 1 ? firstPage : await log.readAll(from, READ_PAGE_EVENTS);
    assert(page.length > 0, () => `the log ends before its head ${head}: nothing at position ${from}`);
    for (const event of page) evolveProduction(state, event);
    options.onProgress?.((from - 1 + page.length) / head);
  }
  return productionResult(state);
}
