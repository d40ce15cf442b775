/**
 * The data-centre projection as plain JSON and back, exactly: maps in their
 * iteration order, each VM's place in it (a host's VMs are summed in that
 * order), the histories' values. A restored state folds the events after its
 * position to the same state as a fold of the whole log.
 *
 * `snapshotDataCentre` (dataCentre.ts) is the comparison form: sorted, and
 * without what only the projection's bookkeeping needs.
 */
import { BoundedHistory, indexVms, initialDataCentreState, POWER_STATES } from './dataCentre';
import type { Anomaly, DataCentreOptions, DataCentreState, HostView, MigrationView, PowerState, RequestView, VmView } from './dataCentre';

/** The projection as JSON; `decodeDataCentre` checks every field of it. */
export interface EncodedDataCentre {
  readonly position: number;
  readonly hosts: readonly EncodedHost[];
  readonly vms: readonly EncodedVm[];
  readonly nextVmOrder: number;
  readonly migrations: readonly MigrationView[];
  readonly requests: readonly RequestView[];
  readonly requestsCompleted: number;
  readonly requestsRejected: number;
  readonly unreportedVms: readonly { readonly vmId: string; readonly cpuMhzHistory: readonly number[]; readonly lastSampleAtMs: number }[];
  readonly unreportedVmSamples: number;
  readonly anomalies: readonly Anomaly[];
  readonly anomalyCount: number;
}

type EncodedHost = Omit<HostView, 'cpuMhzHistory'> & { readonly cpuMhzHistory: readonly number[] };
type EncodedVm = Omit<VmView, 'cpuMhzHistory'> & { readonly cpuMhzHistory: readonly number[] };

/** A snapshot whose data is not a projection this build can restore. */
export class SnapshotDataError extends Error {
  override name = 'SnapshotDataError';
}

export function encodeDataCentre(state: DataCentreState): EncodedDataCentre {
  return {
    position: state.position,
    hosts: [...state.hosts.values()].map((host) => ({ ...host, cpuMhzHistory: host.cpuMhzHistory.toArray() })),
    vms: [...state.vms.values()].map((vm) => ({ ...vm, cpuMhzHistory: vm.cpuMhzHistory.toArray() })),
    nextVmOrder: state.nextVmOrder,
    migrations: [...state.migrations.values()],
    requests: [...state.requests.values()],
    requestsCompleted: state.requestsCompleted,
    requestsRejected: state.requestsRejected,
    unreportedVms: [...state.unreportedVms.entries()].map(([vmId, held]) => ({
      vmId, cpuMhzHistory: held.cpuMhzHistory.toArray(), lastSampleAtMs: held.lastSampleAtMs,
    })),
    unreportedVmSamples: state.unreportedVmSamples,
    anomalies: state.anomalies,
    anomalyCount: state.anomalyCount,
  };
}

/** Reads the fields of one JSON object, naming the path of the first that is missing or of the wrong kind. */
class Fields {
  constructor(private readonly value: Record<string, unknown>, private readonly path: string) {}

  static of(value: unknown, path: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SnapshotDataError(`${path} is not an object`);
    return new Fields(value as Record<string, unknown>, path);
  }

  private fail(key: string, what: string): never {
    throw new SnapshotDataError(`${this.path}.${key} is not ${what}`);
  }

  number(key: string, options: { integer?: boolean; min?: number } = {}): number {
    const value = this.value[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(key, 'a finite number');
    if (options.integer === true && !Number.isInteger(value)) this.fail(key, 'an integer');
    if (options.min !== undefined && value < options.min) this.fail(key, `>= ${options.min}`);
    return value;
  }

  nullableNumber(key: string): number | null {
    return this.value[key] === null ? null : this.number(key);
  }

  string(key: string): string {
    const value = this.value[key];
    if (typeof value !== 'string') this.fail(key, 'a string');
    return value;
  }

  nullableString(key: string): string | null {
    return this.value[key] === null ? null : this.string(key);
  }

  boolean(key: string): boolean {
    const value = this.value[key];
    if (typeof value !== 'boolean') this.fail(key, 'a boolean');
    return value;
  }

  array(key: string): readonly unknown[] {
    const value = this.value[key];
    if (!Array.isArray(value)) this.fail(key, 'an array');
    return value;
  }

  strings(key: string): string[] {
    return this.array(key).map((item, i) => {
      if (typeof item !== 'string') throw new SnapshotDataError(`${this.path}.${key}[${i}] is not a string`);
      return item;
    });
  }

  /** Keeps the last `limit` values: a reader that keeps shorter histories (a report keeps one value) takes the newest. */
  history(key: string, limit: number): BoundedHistory {
    const values = this.array(key);
    const history = new BoundedHistory(limit);
    values.forEach((value, i) => {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new SnapshotDataError(`${this.path}.${key}[${i}] is not a finite number`);
      history.push(value);
    });
    return history;
  }

  power(key: string): PowerState {
    const value = this.value[key];
    if (!POWER_STATES.includes(value as PowerState)) this.fail(key, `one of ${POWER_STATES.join(', ')}`);
    return value as PowerState;
  }
}

function decodeHost(value: unknown, path: string, limit: number): HostView {
  const f = Fields.of(value, path);
  return {
    name: f.string('name'), power: f.power('power'), cpuMhz: f.nullableNumber('cpuMhz'), ramMb: f.nullableNumber('ramMb'),
    cpuMhzHistory: f.history('cpuMhzHistory', limit), hypervisorCpuMhz: f.nullableNumber('hypervisorCpuMhz'),
    lastSampleAtMs: f.nullableNumber('lastSampleAtMs'), becameUpAtMs: f.nullableNumber('becameUpAtMs'),
    lastPowerError: f.nullableString('lastPowerError'), enabled: f.boolean('enabled'),
  };
}

function decodeVm(value: unknown, path: string, limit: number): VmView {
  const f = Fields.of(value, path);
  return {
    id: f.string('id'), order: f.number('order', { integer: true, min: 0 }), host: f.nullableString('host'),
    ramMb: f.nullableNumber('ramMb'), vcpus: f.nullableNumber('vcpus'), cpuMhzHistory: f.history('cpuMhzHistory', limit),
    lastSampleAtMs: f.nullableNumber('lastSampleAtMs'),
  };
}

function decodeMigration(value: unknown, path: string): MigrationView {
  const f = Fields.of(value, path);
  return {
    migrationId: f.string('migrationId'), vmId: f.string('vmId'), sourceHost: f.string('sourceHost'), targetHost: f.string('targetHost'),
    attempt: f.number('attempt', { integer: true, min: 1 }), requestId: f.nullableString('requestId'), startedAtMs: f.number('startedAtMs'),
  };
}

function decodeRequest(value: unknown, path: string): RequestView {
  const f = Fields.of(value, path);
  const reason = f.string('reason');
  if (reason !== 'underload' && reason !== 'overload') throw new SnapshotDataError(`${path}.reason is not underload or overload`);
  return {
    requestId: f.string('requestId'), host: f.string('host'), reason, vmIds: f.strings('vmIds'),
    receivedAtMs: f.number('receivedAtMs'), decided: f.boolean('decided'),
  };
}

/** Adds `item` under `key`, refusing a key seen twice (a map's JSON holds each once). */
function putOnce<T>(map: Map<string, T>, key: string, item: T, path: string): void {
  if (map.has(key)) throw new SnapshotDataError(`${path} names "${key}" twice`);
  map.set(key, item);
}

export function decodeDataCentre(value: unknown, options: DataCentreOptions): DataCentreState {
  const f = Fields.of(value, 'dataCentre');
  const limit = options.historyLength;
  const state = initialDataCentreState(options);
  state.position = f.number('position', { integer: true, min: 0 });
  f.array('hosts').forEach((item, i) => {
    const host = decodeHost(item, `dataCentre.hosts[${i}]`, limit);
    putOnce(state.hosts, host.name, host, 'dataCentre.hosts');
  });
  let lastOrder = -1;
  f.array('vms').forEach((item, i) => {
    const vm = decodeVm(item, `dataCentre.vms[${i}]`, limit);
    // The map's iteration order is the VMs' order: a VM added later has a greater one.
    if (vm.order <= lastOrder) throw new SnapshotDataError(`dataCentre.vms[${i}].order does not follow the VM before it`);
    lastOrder = vm.order;
    putOnce(state.vms, vm.id, vm, 'dataCentre.vms');
  });
  state.nextVmOrder = f.number('nextVmOrder', { integer: true, min: lastOrder + 1 });
  f.array('migrations').forEach((item, i) => {
    const migration = decodeMigration(item, `dataCentre.migrations[${i}]`);
    putOnce(state.migrations, migration.vmId, migration, 'dataCentre.migrations');
  });
  f.array('requests').forEach((item, i) => {
    const request = decodeRequest(item, `dataCentre.requests[${i}]`);
    putOnce(state.requests, request.requestId, request, 'dataCentre.requests');
  });
  state.requestsCompleted = f.number('requestsCompleted', { integer: true, min: 0 });
  state.requestsRejected = f.number('requestsRejected', { integer: true, min: 0 });
  f.array('unreportedVms').forEach((item, i) => {
    const held = Fields.of(item, `dataCentre.unreportedVms[${i}]`);
    putOnce(state.unreportedVms, held.string('vmId'), {
      cpuMhzHistory: held.history('cpuMhzHistory', limit), lastSampleAtMs: held.number('lastSampleAtMs'),
    }, 'dataCentre.unreportedVms');
  });
  state.unreportedVmSamples = f.number('unreportedVmSamples', { integer: true, min: 0 });
  f.array('anomalies').forEach((item, i) => {
    const anomaly = Fields.of(item, `dataCentre.anomalies[${i}]`);
    state.anomalies.push({ position: anomaly.number('position', { integer: true, min: 0 }), type: anomaly.string('type'), problem: anomaly.string('problem') });
  });
  state.anomalyCount = f.number('anomalyCount', { integer: true, min: state.anomalies.length });
  indexVms(state);
  return state;
}
