/** Building events in tests: deterministic ids and a clock the test moves. */
import type { EventData, EventType } from '../../src/events/catalogue';
import { newEvent } from '../../src/events/envelope';
import type { Causes, EventContext, NewEvent } from '../../src/events/envelope';
import { seededIds } from '../../src/ids';
import { createRng } from '../../src/rng';

export class TestEvents {
  timeMs = 0;
  readonly context: EventContext;

  constructor(seed: string | number = 'test-events') {
    const clock = { nowMs: () => this.timeMs };
    this.context = { ids: seededIds(createRng(seed), clock), clock, source: 'test' };
  }

  make<T extends EventType>(type: T, data: EventData<T>, causes?: Causes): NewEvent {
    return newEvent(this.context, type, data, causes);
  }

  sample(host: string, vms: Record<string, number>, hypervisorCpuMhz = 100): NewEvent {
    return this.make('UtilizationSampled', {
      host, hypervisorCpuMhz, vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: null })),
    });
  }

  inventory(hosts: Record<string, 'up' | 'down'>, vms: Record<string, string | null>): NewEvent {
    return this.make('InventoryObserved', {
      hosts: Object.entries(hosts).map(([host, state]) => ({ host, cpuMhz: 8000, ramMb: 16384, state })),
      vms: Object.entries(vms).map(([vmId, host]) => ({ vmId, host, ramMb: 1024, vcpus: 1 })),
    });
  }
}
