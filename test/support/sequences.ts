/**
 * Random but valid event histories for property tests: fast-check picks a list
 * of numbers, and a small data-centre model turns each into the next event that
 * its state machine allows (a migration only of a VM that is not migrating, a
 * suspend only of an empty host that is up, …).
 *
 * The model produces every transition the global manager can: migrations to
 * and from any host that is up (a host whose suspend failed is up), suspends of
 * hosts whose suspend failed before, wakes that fail, migrations that fail and
 * are abandoned or are skipped, and inventories in which the cloud contradicts
 * the log (a host gone down or come up, VMs created, deleted or moved behind
 * the manager's back). Its rules are written out here, not imported from the
 * code under test, so that the projection is checked against them.
 */
import fc from 'fast-check';
import type { DomainEvent } from '../../src/events/catalogue';
import type { PowerState } from '../../src/events/dataCentre';

export interface Batch {
  readonly stream: string;
  readonly events: readonly DomainEvent[];
}

export interface Sequence {
  readonly seed: number;
  readonly batches: readonly Batch[];
}

/** Hosts that run VMs, may receive them and may be suspended, as the manager decides (a host whose suspend failed is up). */
const UP: readonly PowerState[] = ['active', 'suspend-failed'];
/** VMs at most, so that inventories stay small however long a history is. */
const VMS_MAX = 8;

interface InFlight {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  /** The cloud reported the VM gone while it migrated: the migration can only fail. */
  deleted: boolean;
}

/** A small data centre whose state machine decides which events may come next. */
export class EventModel {
  readonly hosts = new Map<string, PowerState>([['h0', 'active'], ['h1', 'active'], ['h2', 'active'], ['h3', 'active']]);
  readonly placement = new Map<string, string>([['v0', 'h0'], ['v1', 'h0'], ['v2', 'h1'], ['v3', 'h2'], ['v4', 'h2']]);
  readonly migrating = new Map<string, InFlight>();
  readonly open = new Map<string, boolean>();
  private counter = 0;

  /** Everything but a sample, which is always possible. */
  private readonly actions: readonly ((spin: number, id: string) => Batch | undefined)[] = [
    (spin, id) => this.startMigration(spin, id),
    (spin) => this.endMigration(spin, 'completed'),
    (spin) => this.endMigration(spin, 'failed'),
    (spin, id) => this.abandonOrSkip(spin, id),
    (spin) => this.requestSuspend(spin),
    (spin) => this.settleSuspend(spin),
    (spin) => this.requestWake(spin),
    (spin) => this.settleWake(spin),
    (spin, id) => this.receiveRequest(spin, id),
    (spin) => this.decideRequest(spin),
    (spin) => this.completeRequest(spin),
    (_, id) => this.rejectRequest(id),
    (spin, id) => this.observe(spin, id),
  ];

  inventory(): Batch {
    return {
      stream: 'inventory',
      events: [{
        type: 'InventoryObserved',
        data: {
          hosts: [...this.hosts.keys()].map((host) => ({ host, cpuMhz: 8000, ramMb: 16384, state: 'up' as const })),
          vms: [...this.placement].map(([vmId, host]) => ({ vmId, host, ramMb: 1024, vcpus: 1 })),
        },
      }],
    };
  }

  /** The next valid batch for `choice`, or a sample when the chosen action is not possible now. */
  next(choice: number): Batch {
    const choices = this.actions.length + 1;
    const chosen = choice % choices;
    const spin = Math.floor(choice / choices);
    this.counter += 1;
    return (chosen === 0 ? undefined : this.actions[chosen - 1](spin, `x${this.counter}`)) ?? this.sample(choice);
  }

  private pick<T>(items: readonly T[], choice: number): T | undefined {
    return items.length === 0 ? undefined : items[choice % items.length];
  }

  private hostsIn(states: readonly PowerState[]): string[] {
    return [...this.hosts].filter(([, power]) => states.includes(power)).map(([host]) => host);
  }

  private vmsOn(host: string): string[] {
    return [...this.placement].filter(([, h]) => h === host).map(([vm]) => vm);
  }

  private power(host: string, to: PowerState, event: DomainEvent): Batch {
    this.hosts.set(host, to);
    return { stream: `host-${host}`, events: [event] };
  }

  private sample(choice: number): Batch {
    const host = this.pick(this.hostsIn(UP), choice) ?? 'h0';
    const vms = this.vmsOn(host).map((vmId, i) => ({ vmId, cpuMhz: (choice * (i + 3)) % 2500, ramMb: null }));
    return { stream: `samples-${host}`, events: [{ type: 'UtilizationSampled', data: { host, hypervisorCpuMhz: choice % 300, vms } }] };
  }

  /** A VM on a host that is up moves to another host that is up: the only migrations the manager plans. */
  private startMigration(spin: number, id: string): Batch | undefined {
    const up = this.hostsIn(UP);
    const movable = [...this.placement].filter(([v, host]) => !this.migrating.has(v) && up.includes(host)).map(([v]) => v);
    const vm = this.pick(movable, spin);
    if (vm === undefined) return undefined;
    const source = this.placement.get(vm)!;
    const target = this.pick(up.filter((h) => h !== source), Math.floor(spin / movable.length));
    if (target === undefined) return undefined;
    this.migrating.set(vm, { id, source, target, deleted: false });
    return { stream: `vm-${vm}`, events: [{ type: 'MigrationStarted', data: { migrationId: id, vmId: vm, sourceHost: source, targetHost: target, requestId: null, attempt: 1 } }] };
  }

  private endMigration(spin: number, outcome: 'completed' | 'failed'): Batch | undefined {
    const vm = this.pick([...this.migrating].filter(([, m]) => outcome === 'failed' || !m.deleted).map(([v]) => v), spin);
    if (vm === undefined) return undefined;
    const { id: migrationId, source, target, deleted } = this.migrating.get(vm)!;
    this.migrating.delete(vm);
    const fields = { migrationId, vmId: vm, sourceHost: source, targetHost: target, attempt: 1 };
    if (outcome === 'completed') {
      this.placement.set(vm, target);
      return { stream: `vm-${vm}`, events: [{ type: 'MigrationCompleted', data: { ...fields, durationMs: spin } }] };
    }
    const error = deleted ? 'the VM was deleted during its migration' : 'refused';
    return { stream: `vm-${vm}`, events: [{ type: 'MigrationFailed', data: { ...fields, error, retryable: !deleted } }] };
  }

  /** After its attempts, a migration is abandoned; or it was never tried, its premise gone. Neither moves anything. */
  private abandonOrSkip(spin: number, id: string): Batch | undefined {
    const vm = this.pick([...this.placement.keys()].filter((v) => !this.migrating.has(v)), spin);
    if (vm === undefined) return undefined;
    const source = this.placement.get(vm)!;
    const target = this.pick([...this.hosts.keys()].filter((h) => h !== source), spin)!;
    const fields = { vmId: vm, sourceHost: source, targetHost: target };
    return spin % 2 === 0
      ? { stream: `vm-${vm}`, events: [{ type: 'MigrationAbandoned', data: { ...fields, migrationId: id, attempts: 3, error: 'refused' } }] }
      : { stream: `vm-${vm}`, events: [{ type: 'MigrationSkipped', data: { ...fields, requestId: id, reason: 'vm-moved', detail: 'elsewhere' } }] };
  }

  /** An empty host that is up (active, or whose suspend failed before) and that no migration is arriving on. */
  private requestSuspend(spin: number): Batch | undefined {
    const busy = new Set([...this.migrating.values()].map((m) => m.target));
    const host = this.pick(this.hostsIn(UP).filter((h) => this.vmsOn(h).length === 0 && !busy.has(h)), spin);
    if (host === undefined) return undefined;
    if (spin % 5 === 0) {
      return { stream: `host-${host}`, events: [{ type: 'HostSuspendSkipped', data: { host, requestId: `r${spin}`, reason: 'host-has-vms', detail: 'one arrived' } }] };
    }
    return this.power(host, 'suspending', { type: 'HostSuspendRequested', data: { host, requestId: null } });
  }

  private settleSuspend(spin: number): Batch | undefined {
    const host = this.pick(this.hostsIn(['suspending']), spin);
    if (host === undefined) return undefined;
    return spin % 2 === 0
      ? this.power(host, 'suspend-failed', { type: 'HostSuspendFailed', data: { host, error: 'exit 1', stderr: 'no' } })
      : this.power(host, 'asleep', { type: 'HostSuspended', data: { host, durationMs: 5 } });
  }

  private requestWake(spin: number): Batch | undefined {
    const host = this.pick(this.hostsIn(['asleep', 'wake-failed']), spin);
    if (host === undefined) return undefined;
    return this.power(host, 'waking', { type: 'HostWakeRequested', data: { host, requestId: null } });
  }

  private settleWake(spin: number): Batch | undefined {
    const host = this.pick(this.hostsIn(['waking']), spin);
    if (host === undefined) return undefined;
    return spin % 3 === 0
      ? this.power(host, 'wake-failed', { type: 'HostWakeFailed', data: { host, error: 'no answer' } })
      : this.power(host, 'active', { type: 'HostWoken', data: { host, durationMs: 30 } });
  }

  private receiveRequest(spin: number, id: string): Batch {
    const host = this.pick([...this.hosts.keys()], spin)!;
    this.open.set(id, false);
    return { stream: `request-${id}`, events: [{ type: 'RequestReceived', data: { requestId: id, host, reason: spin % 2 === 0 ? 'underload' : 'overload', vmIds: this.vmsOn(host), protocol: 'json', remoteAddress: null, clientTimeS: null } }] };
  }

  private decideRequest(spin: number): Batch | undefined {
    const requestId = this.pick([...this.open].filter(([, decided]) => !decided).map(([r]) => r), spin);
    if (requestId === undefined) return undefined;
    this.open.set(requestId, true);
    const decision: DomainEvent = spin % 2 === 0
      ? { type: 'NothingToDo', data: { requestId, reason: 'no-capacity', detail: 'full' } }
      : { type: 'PlacementDecided', data: {
        requestId, algorithm: 'best_fit_decreasing', params: {}, automation: 'automatic', activeHosts: 1, inactiveHosts: 0,
        mapping: {}, unplaced: [], hostsToWake: [], hostsToSuspend: [],
      } };
    return { stream: `decision-${requestId}`, events: [decision] };
  }

  private completeRequest(spin: number): Batch | undefined {
    const requestId = this.pick([...this.open.keys()], spin);
    if (requestId === undefined) return undefined;
    this.open.delete(requestId);
    return { stream: `done-${requestId}`, events: [{ type: 'RequestCompleted', data: { requestId, outcome: 'nothing-to-do', migrationsCompleted: 0, migrationsFailed: 0, detail: '' } }] };
  }

  private rejectRequest(id: string): Batch {
    return { stream: 'rejections', events: [{ type: 'RequestRejected', data: { requestId: id, host: null, status: 412, reason: 'stale', protocol: 'neat', remoteAddress: '127.0.0.1' } }] };
  }

  /**
   * What the cloud reports: one host's word (it may contradict the log), and at
   * most one VM created, deleted or moved behind the manager's back. A report
   * takes no host out of a transition, keeps a state it agrees with, and puts
   * a host it contradicts in active or asleep.
   */
  private observe(spin: number, id: string): Batch {
    const hosts = [...this.hosts.keys()];
    const spoken = this.pick(hosts, spin)!;
    const rest = Math.floor(spin / hosts.length);
    const reported = new Map(hosts.map((host) => [host, UP.includes(this.hosts.get(host)!) ? 'up' as const : 'down' as const]));
    reported.set(spoken, rest % 2 === 0 ? 'up' : 'down');
    for (const [host, state] of reported) {
      const power = this.hosts.get(host)!;
      if (power === 'suspending' || power === 'waking' || UP.includes(power) === (state === 'up')) continue;
      this.hosts.set(host, state === 'up' ? 'active' : 'asleep');
    }
    this.changeVms(Math.floor(rest / 2), id);
    return {
      stream: 'inventory',
      events: [{
        type: 'InventoryObserved',
        data: {
          hosts: hosts.map((host) => ({ host, cpuMhz: 8000, ramMb: 16384, state: reported.get(host)! })),
          // A VM migrating is reported on its source, as the cloud does until the migration ends.
          vms: [...this.placement].map(([vmId, host]) => ({ vmId, host, ramMb: 1024, vcpus: 1 })),
        },
      }],
    };
  }

  /** At most one VM created on a host that is up, deleted, or moved to a host that is up, behind the manager's back. */
  private changeVms(spin: number, id: string): void {
    const change = spin % 4;
    const vms = [...this.placement.keys()];
    const vm = this.pick(vms, Math.floor(spin / 4));
    const host = this.pick(this.hostsIn(UP), Math.floor(spin / 4 / Math.max(1, vms.length)));
    if (change === 1 && vm !== undefined) {
      this.placement.delete(vm);
      const inFlight = this.migrating.get(vm);
      if (inFlight !== undefined) inFlight.deleted = true;
    } else if (change === 2 && host !== undefined && vms.length < VMS_MAX) {
      this.placement.set(`v${id}`, host);
    } else if (change === 3 && vm !== undefined && host !== undefined && !this.migrating.has(vm)) {
      this.placement.set(vm, host);
    }
  }
}

/** A history: the inventory first, then up to `maxBatches` valid batches. */
export function validEventSequence(maxBatches: number): fc.Arbitrary<Sequence> {
  return fc.record({ seed: fc.integer(), choices: fc.array(fc.nat({ max: 100_000 }), { maxLength: maxBatches, size: 'max' }) })
    .map(({ seed, choices }) => {
      const model = new EventModel();
      return { seed, batches: [model.inventory(), ...choices.map((choice) => model.next(choice))] };
    });
}
