/**
 * Every event the product records, with the schema of its data and its schema
 * version. Events read back from any log are checked against this catalogue.
 */
import { array, boolean, json, nullable, number, numbers, object, oneOf, optional, record, string } from './schema';
import type { Infer, Schema } from './schema';

const id = string({ minLength: 1, maxLength: 128 });
const hostName = string({ minLength: 1, maxLength: 255 });
const vmId = string({ minLength: 1, maxLength: 255 });
const count = number({ integer: true, min: 0 });
const durationMs = number({ min: 0 });
const attempt = number({ integer: true, min: 1 });
const text = string({ maxLength: 16_384 });

export const REQUEST_REASONS = ['underload', 'overload'] as const;
export const REQUEST_PROTOCOLS = ['neat', 'json', 'in-process'] as const;
export const REQUEST_OUTCOMES = [
  'completed', 'nothing-to-do', 'failed', 'partial', 'recorded', 'rejected', 'superseded',
] as const;
export const NOTHING_TO_DO_REASONS = [
  'no-data', 'no-capacity', 'no-vms', 'unknown-host', 'host-not-up', 'cloud-unavailable', 'source-unavailable',
] as const;
/**
 * Why a VM a request would move has no usable data: no sample yet, a last
 * sample older than `sample_max_age_s`, a migration in flight (whatever its
 * samples), or no RAM size known (neither the cloud nor a sample gave one).
 */
export const NO_DATA_REASONS = ['never-sampled', 'sample-too-old', 'migrating', 'ram-unknown'] as const;
export const UNPLACED_REASONS = ['no-cpu-data', 'no-host-fits', 'all-or-nothing', 'not-on-host'] as const;
/**
 * Why a step of a plan was not attempted: its premise no longer held when its
 * turn came. `already-on-target`: the cloud shows the VM on its target before
 * any start, so the step counts as done and the VM as moved there.
 */
export const SKIP_REASONS = [
  'vm-gone', 'vm-moved', 'vm-error', 'vm-migrating', 'already-on-target', 'target-not-awake', 'host-has-vms', 'host-not-active',
  'plan-failed', 'cloud-unavailable',
] as const;
export const AUTOMATION_LEVELS = ['automatic', 'manual', 'off'] as const;

const migrationFields = {
  migrationId: id,
  vmId,
  sourceHost: hostName,
  targetHost: hostName,
};

function eventType<S extends Schema<unknown>>(version: number, schema: S): { readonly version: number; readonly schema: S } {
  return { version, schema };
}

export const EVENT_CATALOGUE = {
  RequestReceived: eventType(1, object({
    requestId: id,
    host: hostName,
    reason: oneOf(REQUEST_REASONS),
    vmIds: array(vmId, { maxLength: 10_000 }),
    protocol: oneOf(REQUEST_PROTOCOLS),
    remoteAddress: nullable(string({ maxLength: 255 })),
    /** The client's own clock (Neat's `time` field), in seconds since the epoch. */
    clientTimeS: nullable(number()),
  })),
  RequestRejected: eventType(1, object({
    requestId: id,
    host: nullable(hostName),
    status: number({ integer: true, min: 400, max: 599 }),
    reason: text,
    protocol: oneOf(REQUEST_PROTOCOLS),
    remoteAddress: nullable(string({ maxLength: 255 })),
  })),
  RequestCompleted: eventType(1, object({
    requestId: id,
    outcome: oneOf(REQUEST_OUTCOMES),
    migrationsCompleted: count,
    migrationsFailed: count,
    detail: text,
  })),
  PlacementDecided: eventType(1, object({
    requestId: id,
    algorithm: id,
    params: json(),
    automation: oneOf(AUTOMATION_LEVELS),
    activeHosts: count,
    inactiveHosts: count,
    /** VM id → target host. */
    mapping: record(hostName),
    unplaced: array(object({ vmId, reason: oneOf(UNPLACED_REASONS) })),
    hostsToWake: array(hostName),
    hostsToSuspend: array(hostName),
  })),
  NothingToDo: eventType(1, object({
    requestId: id,
    reason: oneOf(NOTHING_TO_DO_REASONS),
    detail: text,
    /**
     * With reason `no-data`: each VM without usable data and why; `sampleAgeS`, the age of its last sample
     * at the decision (null: never sampled). Absent in logs written before it existed, and with other reasons.
     */
    noDataVms: optional(array(object({ vmId, reason: oneOf(NO_DATA_REASONS), sampleAgeS: nullable(number({ min: 0 })) }), { maxLength: 10_000 })),
  })),
  MigrationStarted: eventType(1, object({
    ...migrationFields,
    requestId: nullable(id),
    attempt,
  })),
  MigrationCompleted: eventType(1, object({ ...migrationFields, attempt, durationMs })),
  MigrationFailed: eventType(1, object({ ...migrationFields, attempt, error: text, retryable: boolean() })),
  MigrationAbandoned: eventType(1, object({ ...migrationFields, attempts: attempt, error: text })),
  /** A planned migration not attempted, because its premise no longer held (Watcher's SKIPPED). */
  MigrationSkipped: eventType(1, object({
    requestId: id, vmId, sourceHost: hostName, targetHost: hostName, reason: oneOf(SKIP_REASONS), detail: text,
  })),
  /** A manual plan approved through the API; it runs next. */
  PlanApproved: eventType(1, object({ requestId: id, approvedBy: string({ maxLength: 255 }) })),
  PlanRejected: eventType(1, object({ requestId: id, rejectedBy: string({ maxLength: 255 }), reason: text })),
  HostSuspendRequested: eventType(1, object({ host: hostName, requestId: nullable(id) })),
  HostSuspended: eventType(1, object({ host: hostName, durationMs })),
  HostSuspendFailed: eventType(1, object({ host: hostName, error: text, stderr: nullable(text) })),
  HostSuspendSkipped: eventType(1, object({ host: hostName, requestId: id, reason: oneOf(SKIP_REASONS), detail: text })),
  HostWakeRequested: eventType(1, object({ host: hostName, requestId: nullable(id) })),
  HostWoken: eventType(1, object({ host: hostName, durationMs })),
  HostWakeFailed: eventType(1, object({ host: hostName, error: text })),
  /** What the cloud reports: capacities, power state and where each VM runs. */
  InventoryObserved: eventType(1, object({
    hosts: array(object({
      host: hostName,
      cpuMhz: number({ min: 0 }),
      ramMb: number({ min: 0 }),
      state: oneOf(['up', 'down'] as const),
      /** Absent in logs written before it existed: enabled. */
      enabled: optional(boolean()),
      /** CPU cores, when the cloud says (absent in logs written before it existed). */
      cores: optional(number({ integer: true, min: 1 })),
    })),
    vms: array(object({
      vmId,
      host: nullable(hostName),
      ramMb: number({ min: 0 }),
      vcpus: count,
      /** CPU capacity in MHz, when the cloud says (absent in logs written before it existed). */
      cpuMhz: optional(number({ min: 0 })),
    })),
  })),
  /** One measurement of a host: its VMs' CPU (and RAM), plus the hypervisor's own share. */
  UtilizationSampled: eventType(1, object({
    host: hostName,
    hypervisorCpuMhz: number({ min: 0 }),
    vms: array(object({ vmId, cpuMhz: number({ min: 0 }), ramMb: nullable(number({ min: 0 })) })),
  })),
  /**
   * The samples at or before `throughPosition` (each host's last one kept, so
   * that its stream goes on), the refused requests, the earlier checkpoints
   * (this one supersedes them) and the requests completed as nothing-to-do
   * or superseded (their whole streams) there are removed from
   * the log: moved to `archive` (a SQLite file beside a SQLite log, table
   * `<schema>.events_archive` beside a PostgreSQL one), or dropped when null.
   * `dataCentre` is the projection as of the event before this one
   * (`encodeDataCentre`), and `counters` the global manager's counters then
   * (`encodeCounters`); a fold adopts both whole: folded without the removed
   * events, the log still ends in the state it had with them. Written before
   * refusals were compacted, an event has no `counters`.
   */
  SamplesCompacted: eventType(1, object({
    throughPosition: count,
    archive: nullable(string({ minLength: 1, maxLength: 4096 })),
    dataCentre: json(),
    counters: optional(json()),
  })),
  SimulationStarted: eventType(1, object({
    runId: id,
    mode: string({ minLength: 1, maxLength: 64 }),
    policy: string({ minLength: 1, maxLength: 255 }),
    seed: string({ maxLength: 255 }),
    trace: json(),
    config: json(),
    codeVersion: string({ maxLength: 255 }),
  })),
  /**
   * One processing time of the simulated data centre, as CloudSim records it in
   * its host and VM state histories: per host (by index) the MIPS allocated and
   * requested; per VM (by index) the host that recorded it (-1: no entry at this
   * time), MIPS allocated and requested, and whether it is migrating out (1) or
   * not (0); and the energy the hosts drew since the previous processing, as a
   * power meter would report it. SLA, shutdown and energy metrics are computed
   * from the sequence of these.
   */
  DataCentreUpdated: eventType(1, object({
    timeS: number({ min: 0 }),
    energyWs: number({ min: 0 }),
    hostAllocatedMips: numbers({ min: 0 }),
    hostRequestedMips: numbers({ min: 0 }),
    vmHost: numbers({ integer: true, min: -1 }),
    vmAllocatedMips: numbers({ min: 0 }),
    vmRequestedMips: numbers({ min: 0 }),
    vmInMigration: numbers({ integer: true, min: 0 }),
  })),
  SimulationEnded: eventType(1, object({
    runId: id,
    simulatedS: number({ min: 0 }),
    metrics: json(),
  })),
} as const;

type Catalogue = typeof EVENT_CATALOGUE;
export type EventType = keyof Catalogue;
export type EventData<T extends EventType> = Infer<Catalogue[T]['schema']>;

/** The discriminated union of every event's type and data. */
export type DomainEvent = { [T in EventType]: { readonly type: T; readonly data: EventData<T> } }[EventType];
export type EventOf<T extends EventType> = Extract<DomainEvent, { readonly type: T }>;

export const EVENT_TYPES = Object.keys(EVENT_CATALOGUE) as EventType[];

export function isEventType(type: string): type is EventType {
  return Object.hasOwn(EVENT_CATALOGUE, type);
}
