/**
 * Production event sequences for tests: what a global manager would write,
 * each event at a time the test states (seconds), written to a real log.
 */
import type { EventData, EventType } from '../../src/events/catalogue';
import type { NewEvent } from '../../src/events/envelope';
import { MAX_BATCH_EVENTS, NO_STREAM, READ_PAGE_EVENTS } from '../../src/log/port';
import type { EventLog } from '../../src/log/port';
import { isManagerEvent } from '../../src/report/production';
import { TestEvents } from './events';

const STREAM = 'timeline';

export interface TimelineHost {
  readonly cpuMhz: number;
  readonly state: 'up' | 'down';
}

/** Events in the order added; `at(s)` sets the time of the ones that follow. */
export class Timeline {
  readonly events: NewEvent[] = [];
  private readonly make: TestEvents;

  constructor(seed = 'timeline') {
    this.make = new TestEvents(seed);
  }

  at(timeS: number): this {
    this.make.timeMs = timeS * 1000;
    return this;
  }

  add<T extends EventType>(type: T, data: EventData<T>): this {
    this.events.push(this.make.make(type, data));
    return this;
  }

  inventory(hosts: Readonly<Record<string, TimelineHost>>, vms: Readonly<Record<string, string | null>>): this {
    return this.add('InventoryObserved', {
      hosts: Object.entries(hosts).map(([host, { cpuMhz, state }]) => ({ host, cpuMhz, ramMb: 16_384, state })),
      vms: Object.entries(vms).map(([vmId, host]) => ({ vmId, host, ramMb: 1024, vcpus: 1 })),
    });
  }

  sample(host: string, vms: Readonly<Record<string, number>>, hypervisorCpuMhz: number): this {
    return this.add('UtilizationSampled', {
      host, hypervisorCpuMhz, vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: null })),
    });
  }

  received(requestId: string, host: string, reason: 'underload' | 'overload', vmIds: readonly string[]): this {
    return this.add('RequestReceived', { requestId, host, reason, vmIds: [...vmIds], protocol: 'json', remoteAddress: null, clientTimeS: null });
  }

  decided(requestId: string, mapping: Readonly<Record<string, string>>): this {
    return this.add('PlacementDecided', {
      requestId, algorithm: 'best_fit_decreasing', params: {}, automation: 'automatic', activeHosts: 0, inactiveHosts: 0,
      mapping: { ...mapping }, unplaced: [], hostsToWake: [], hostsToSuspend: [],
    });
  }

  completed(requestId: string, outcome: EventData<'RequestCompleted'>['outcome']): this {
    return this.add('RequestCompleted', { requestId, outcome, migrationsCompleted: 0, migrationsFailed: 0, detail: '' });
  }

  migrationStarted(migrationId: string, vmId: string, sourceHost: string, targetHost: string): this {
    return this.add('MigrationStarted', { migrationId, vmId, sourceHost, targetHost, requestId: null, attempt: 1 });
  }

  migrationCompleted(migrationId: string, vmId: string, sourceHost: string, targetHost: string, durationMs: number): this {
    return this.add('MigrationCompleted', { migrationId, vmId, sourceHost, targetHost, attempt: 1, durationMs });
  }

  /** Appends every event, in order, to one stream of `log`. */
  async writeTo(log: EventLog): Promise<void> {
    await appendAll(log, STREAM, this.events);
  }
}

/** Appends `events` in order to a new stream, in batches as large as the log allows. */
export async function appendAll(log: EventLog, stream: string, events: readonly NewEvent[]): Promise<void> {
  let revision = NO_STREAM;
  for (let start = 0; start < events.length; start += MAX_BATCH_EVENTS) {
    revision = (await log.append(stream, events.slice(start, start + MAX_BATCH_EVENTS), revision)).streamRevision;
  }
}

/**
 * A production log made of a simulation run's: every event its global
 * manager wrote, in order and as written (ids, streams, times), without the
 * simulator's own (`SimulationStarted`, `DataCentreUpdated`, `SimulationEnded`).
 * Returns how many events it copied.
 */
export async function copyManagerEvents(from: EventLog, to: EventLog): Promise<number> {
  const revisions = new Map<string, number>();
  const head = await from.headPosition();
  let copied = 0;
  for (let position = 1; position <= head; position += READ_PAGE_EVENTS) {
    for (const event of await from.readAll(position, READ_PAGE_EVENTS)) {
      if (!isManagerEvent(event)) continue;
      const written = { id: event.id, type: event.type, version: event.version, data: event.data, metadata: event.metadata } as NewEvent;
      const result = await to.append(event.stream, [written], revisions.get(event.stream) ?? NO_STREAM);
      revisions.set(event.stream, result.streamRevision);
      copied += 1;
    }
  }
  return copied;
}

export interface GeneratedLog {
  readonly events: number;
  readonly migrations: number;
  readonly decisions: number;
  readonly lastS: number;
}

/**
 * A long, regular production history: every 300 s each host sends a sample of
 * its four VMs; host-0 asks to be relieved of vm-0, which is moved to host-1
 * and back on alternate rounds; host-2 asks and is told there is no capacity.
 * `events` is a lower bound: whole rounds are written. Batches are appended
 * as they fill, so that memory does not grow with the log.
 */
export async function writeGeneratedLog(log: EventLog, options: { readonly hosts: number; readonly events: number }): Promise<GeneratedLog> {
  if (options.hosts < 3) throw new RangeError('a generated log needs 3 hosts or more: host-2 makes the refused requests');
  const timeline = new Timeline('generated');
  const hostNames = Array.from({ length: options.hosts }, (_, h) => `host-${h}`);
  const vmsOn = new Map(hostNames.map((host, h) => [host, Array.from({ length: 4 }, (_, i) => `vm-${4 * h + i}`)]));
  timeline.at(0).inventory(Object.fromEntries(hostNames.map((host) => [host, { cpuMhz: 4000, state: 'up' as const }])),
    Object.fromEntries([...vmsOn].flatMap(([host, vms]) => vms.map((vm) => [vm, host]))));
  let written = 0;
  let revision = NO_STREAM;
  const flush = async (): Promise<void> => {
    written += timeline.events.length;
    revision = (await log.append(STREAM, timeline.events.splice(0), revision)).streamRevision;
  };
  let rounds = 0;
  for (let round = 1; written + timeline.events.length < options.events; round++) {
    const timeS = round * 300;
    timeline.at(timeS);
    for (const [host, vms] of vmsOn) timeline.sample(host, Object.fromEntries(vms.map((vm, i) => [vm, ((round * 7 + i * 13) % 100) * 10])), 50);
    const [source, target] = vmsOn.get('host-0')!.includes('vm-0') ? ['host-0', 'host-1'] : ['host-1', 'host-0'];
    const moved = `request-${round}`;
    const refused = `refused-${round}`;
    timeline.at(timeS + 1).received(moved, source, 'underload', ['vm-0'])
      .at(timeS + 2).decided(moved, { 'vm-0': target }).migrationStarted(`migration-${round}`, 'vm-0', source, target)
      .at(timeS + 3).received(refused, 'host-2', 'underload', []).add('NothingToDo', { requestId: refused, reason: 'no-capacity', detail: '' })
      .completed(refused, 'nothing-to-do')
      .at(timeS + 12).migrationCompleted(`migration-${round}`, 'vm-0', source, target, 10_000).completed(moved, 'completed');
    vmsOn.set(source, vmsOn.get(source)!.filter((vm) => vm !== 'vm-0'));
    vmsOn.get(target)!.push('vm-0');
    rounds = round;
    if (timeline.events.length >= MAX_BATCH_EVENTS - 10 * options.hosts) await flush();
  }
  if (timeline.events.length > 0) await flush();
  return { events: written, migrations: rounds, decisions: 2 * rounds, lastS: rounds * 300 + 12 };
}
