/**
 * Random but valid event histories for property tests: fast-check picks a list
 * of numbers, and a small data-centre model turns each into the next event that
 * its state machine allows (a migration only of a VM that is not migrating, a
 * suspend only of an empty active host, …).
 */
import fc from 'fast-check';
import type { DomainEvent } from '../../src/events/catalogue';

export interface Batch {
  readonly stream: string;
  readonly events: readonly DomainEvent[];
}

export interface Sequence {
  readonly seed: number;
  readonly batches: readonly Batch[];
}

type Power = 'active' | 'suspending' | 'asleep' | 'waking' | 'suspend-failed' | 'wake-failed';

/** A small data centre whose state machine decides which events may come next. */
export class EventModel {
  readonly hosts = new Map<string, Power>([['h0', 'active'], ['h1', 'active'], ['h2', 'active'], ['h3', 'active']]);
  readonly placement = new Map<string, string>([['v0', 'h0'], ['v1', 'h0'], ['v2', 'h1'], ['v3', 'h2'], ['v4', 'h2']]);
  readonly migrating = new Map<string, { id: string; target: string }>();
  readonly open = new Map<string, boolean>();
  private counter = 0;

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

  private pick<T>(items: readonly T[], choice: number): T | undefined {
    return items.length === 0 ? undefined : items[choice % items.length];
  }

  private hostsIn(...states: Power[]): string[] {
    return [...this.hosts].filter(([, power]) => states.includes(power)).map(([host]) => host);
  }

  private vmsOn(host: string): string[] {
    return [...this.placement].filter(([, h]) => h === host).map(([vm]) => vm);
  }

  private power(host: string, to: Power, event: DomainEvent): Batch {
    this.hosts.set(host, to);
    return { stream: `host-${host}`, events: [event] };
  }

  private sample(choice: number): Batch {
    const host = this.pick(this.hostsIn('active'), choice) ?? 'h0';
    const vms = this.vmsOn(host).map((vmId, i) => ({ vmId, cpuMhz: (choice * (i + 3)) % 2500, ramMb: null }));
    return { stream: `samples-${host}`, events: [{ type: 'UtilizationSampled', data: { host, hypervisorCpuMhz: choice % 300, vms } }] };
  }

  /** The next valid batch for `choice`, or a sample when the chosen action is not possible now. */
  next(choice: number): Batch {
    const action = choice % 12;
    const spin = Math.floor(choice / 12);
    this.counter += 1;
    const id = `x${this.counter}`;
    switch (action) {
      case 1: {
        const vm = this.pick([...this.placement.keys()].filter((v) => !this.migrating.has(v)), spin);
        if (vm === undefined) break;
        const source = this.placement.get(vm)!;
        const target = this.pick(this.hostsIn('active').filter((h) => h !== source), spin);
        if (target === undefined) break;
        this.migrating.set(vm, { id, target });
        return { stream: `vm-${vm}`, events: [{ type: 'MigrationStarted', data: { migrationId: id, vmId: vm, sourceHost: source, targetHost: target, requestId: null, attempt: 1 } }] };
      }
      case 2:
      case 3: {
        const vm = this.pick([...this.migrating.keys()], spin);
        if (vm === undefined) break;
        const { id: migrationId, target } = this.migrating.get(vm)!;
        const source = this.placement.get(vm)!;
        this.migrating.delete(vm);
        const fields = { migrationId, vmId: vm, sourceHost: source, targetHost: target, attempt: 1 };
        if (action === 2) {
          this.placement.set(vm, target);
          return { stream: `vm-${vm}`, events: [{ type: 'MigrationCompleted', data: { ...fields, durationMs: spin } }] };
        }
        return { stream: `vm-${vm}`, events: [{ type: 'MigrationFailed', data: { ...fields, error: 'refused', retryable: true } }] };
      }
      case 4: {
        const busy = new Set([...this.migrating.values()].map((m) => m.target));
        const host = this.pick(this.hostsIn('active', 'suspend-failed').filter((h) => this.vmsOn(h).length === 0 && !busy.has(h)), spin);
        if (host === undefined) break;
        return this.power(host, 'suspending', { type: 'HostSuspendRequested', data: { host, requestId: null } });
      }
      case 5: {
        const host = this.pick(this.hostsIn('suspending'), spin);
        if (host === undefined) break;
        return spin % 3 === 0
          ? this.power(host, 'suspend-failed', { type: 'HostSuspendFailed', data: { host, error: 'exit 1', stderr: 'no' } })
          : this.power(host, 'asleep', { type: 'HostSuspended', data: { host, durationMs: 5 } });
      }
      case 6: {
        const host = this.pick(this.hostsIn('asleep', 'wake-failed'), spin);
        if (host === undefined) break;
        return this.power(host, 'waking', { type: 'HostWakeRequested', data: { host, requestId: null } });
      }
      case 7: {
        const host = this.pick(this.hostsIn('waking'), spin);
        if (host === undefined) break;
        return spin % 3 === 0
          ? this.power(host, 'wake-failed', { type: 'HostWakeFailed', data: { host, error: 'no answer' } })
          : this.power(host, 'active', { type: 'HostWoken', data: { host, durationMs: 30 } });
      }
      case 8: {
        const host = this.pick([...this.hosts.keys()], spin)!;
        this.open.set(id, false);
        return { stream: `request-${id}`, events: [{ type: 'RequestReceived', data: { requestId: id, host, reason: spin % 2 === 0 ? 'underload' : 'overload', vmIds: this.vmsOn(host), protocol: 'json', remoteAddress: null, clientTimeS: null } }] };
      }
      case 9: {
        const requestId = this.pick([...this.open].filter(([, decided]) => !decided).map(([r]) => r), spin);
        if (requestId === undefined) break;
        this.open.set(requestId, true);
        return { stream: `decision-${requestId}`, events: [{ type: 'NothingToDo', data: { requestId, reason: 'no-capacity', detail: 'full' } }] };
      }
      case 10: {
        const requestId = this.pick([...this.open.keys()], spin);
        if (requestId === undefined) break;
        this.open.delete(requestId);
        return { stream: `done-${requestId}`, events: [{ type: 'RequestCompleted', data: { requestId, outcome: 'nothing-to-do', migrationsCompleted: 0, migrationsFailed: 0, detail: '' } }] };
      }
      case 11:
        return { stream: 'rejections', events: [{ type: 'RequestRejected', data: { requestId: id, host: null, status: 412, reason: 'stale', protocol: 'neat', remoteAddress: '127.0.0.1' } }] };
      default:
        break;
    }
    return this.sample(choice);
  }
}

/** A history: the inventory first, then up to `maxBatches` valid batches. */
export function validEventSequence(maxBatches = 40): fc.Arbitrary<Sequence> {
  return fc.record({ seed: fc.integer(), choices: fc.array(fc.nat({ max: 100_000 }), { maxLength: maxBatches }) })
    .map(({ seed, choices }) => {
      const model = new EventModel();
      return { seed, batches: [model.inventory(), ...choices.map((choice) => model.next(choice))] };
    });
}
