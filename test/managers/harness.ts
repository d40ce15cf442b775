/**
 * A global manager driving the simulated data centre on virtual time, for
 * given/when/then tests: hosts alternate HP ML110 G4 (3720 MHz) and G5
 * (5320 MHz), 4096 MB each; VMs are placed by host index.
 */
import { INSTANT_TRANSITIONS, SimulatedDataCentre } from '../../sim/datacentre';
import type { PowerTransitions } from '../../sim/datacentre';
import { planetLabConfig } from '../../sim/config';
import { Scheduler } from '../../sim/scheduler';
import { runUntilSettled, VirtualTimer } from '../../sim/virtualTime';
import { assert } from '../../src/engine/assert';
import type { EventType } from '../../src/events/catalogue';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import type { DataCentreState } from '../../src/events/dataCentre';
import type { RecordedEvent } from '../../src/events/envelope';
import { seededIds } from '../../src/ids';
import { MemoryEventLog } from '../../src/log/memory';
import type { EventLog } from '../../src/log/port';
import { GlobalManager } from '../../src/managers/globalManager';
import { Journal } from '../../src/managers/journal';
import type { ManagerPorts, ManagerSettings } from '../../src/managers/globalManager';
import { PowerError } from '../../src/managers/ports';
import type { Cloud, Power } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { generateSyntheticTrace } from '../../traces/synthetic';

/** Neat's behaviour where Neat has one (BFD defaults, 10 s / 3 s / 300 s), three attempts. */
export const NEAT_LIKE: ManagerSettings = {
  placement: { name: 'best_fit_decreasing', params: { cpu_threshold: 0.8, ram_threshold: 0.95, last_n_vm_cpu: 2 } },
  timeStepS: 300,
  migrationBandwidthMbPerS: 10,
  hostCpuUsableByVms: 1,
  automation: 'automatic',
  sampleMaxAgeMs: 900_000,
  migrationConcurrency: 1,
  migrationInitialWaitMs: 10_000,
  migrationPollIntervalMs: 3_000,
  migrationTimeoutMs: 300_000,
  migrationMaxAttempts: 3,
  wakeTimeoutMs: 300_000,
  wakePollIntervalMs: 5_000,
  computeHosts: null,
  queueLimit: 64,
  historyLength: 100,
};

/** How one suspend command goes: done by the data centre, or failing with the host left up. */
export type SuspendOutcome = 'done' | 'fails';
/** How one wake-up goes: done by the data centre, refused (it could not be sent), or lost (sent, and the host never comes up). */
export type WakeOutcome = 'done' | 'refused' | 'lost';

export interface PowerFaults {
  /** Asked once per suspend command, before the data centre sees it. */
  suspend(host: string): SuspendOutcome;
  /** Asked once per wake-up, before the data centre sees it. */
  wake(host: string): WakeOutcome;
}

/**
 * The data centre's Power port with faults injected: a suspend that fails
 * leaves the host up, as a `pm-suspend` that exits non-zero does; a refused
 * wake throws; a lost one resolves and the host stays asleep.
 */
export function faultyPower(dc: SimulatedDataCentre, faults: PowerFaults): Power {
  return {
    suspend: async (host) => {
      if (faults.suspend(host) === 'fails') throw new PowerError(`suspend of "${host}" failed: exit status 1`, 'pm-suspend: denied');
      await dc.suspend(host);
    },
    wake: async (host) => {
      const outcome = faults.wake(host);
      if (outcome === 'refused') throw new PowerError(`no route to the broadcast address of "${host}"`);
      if (outcome === 'done') await dc.wake(host);
    },
  };
}

/** More events than any test world writes; a log that reaches it fails the replay rather than being cut short. */
const REPLAY_EVENTS_MAX = 10_000;

export interface WorldOptions {
  readonly hosts: number;
  /** Host index of each VM. */
  readonly placement: readonly number[];
  readonly vmRamMb?: readonly number[];
  readonly transitions?: PowerTransitions;
  readonly settings?: Partial<ManagerSettings>;
  readonly log?: EventLog;
  /** Wraps the data centre's ports, to inject what the simulated cloud does not do by itself. */
  readonly cloud?: (dc: SimulatedDataCentre) => Cloud;
  readonly power?: (dc: SimulatedDataCentre) => Power;
  /** Where each manager keeps its snapshots; absent: none. */
  readonly snapshots?: ManagerPorts['snapshots'];
}

export class World {
  readonly scheduler = new Scheduler();
  readonly dc: SimulatedDataCentre;
  readonly log: EventLog;
  manager: GlobalManager;

  constructor(private readonly options: WorldOptions) {
    const trace = generateSyntheticTrace({ seed: 'manager-world', vms: options.placement.length, steps: 288, stepS: 300 });
    const config = planetLabConfig(options.placement.length, options.vmRamMb ?? options.placement.map(() => 870), options.hosts);
    this.dc = new SimulatedDataCentre({
      config, trace, scheduler: this.scheduler, ids: seededIds(createRng('dc'), this.scheduler),
      transitions: options.transitions ?? INSTANT_TRANSITIONS, placement: options.placement,
    });
    this.log = options.log ?? new MemoryEventLog();
    this.manager = this.newManager('first');
  }

  /** A manager on the same log and cloud, as a restarted process would have. */
  newManager(seed: string, log: EventLog = this.log): GlobalManager {
    const ids = seededIds(createRng(`manager-${seed}`), this.scheduler);
    this.manager = new GlobalManager({
      cloud: this.options.cloud?.(this.dc) ?? this.dc,
      power: this.options.power?.(this.dc) ?? this.dc,
      timer: new VirtualTimer(this.scheduler),
      journal: new Journal(log, { ids, clock: this.scheduler, source: 'global-manager' }),
      ids,
      rng: createRng(`rng-${seed}`),
      ...(this.options.snapshots === undefined ? {} : { snapshots: this.options.snapshots }),
    }, { ...NEAT_LIKE, ...this.options.settings });
    return this.manager;
  }

  run<T>(work: Promise<T>): Promise<T> {
    return runUntilSettled(this.scheduler, work, 100_000);
  }

  /** Starts the manager and feeds it one sample per host with the given VM MHz (hypervisor 0), from the hosts running such a VM. */
  async start(samplesMhz: Readonly<Record<string, number>>): Promise<void> {
    await this.run(this.manager.start());
    const byHost = await this.samplesByHost(samplesMhz);
    for (const [host, vms] of [...byHost.entries()].sort()) await this.run(this.manager.recordSample({ host, hypervisorCpuMhz: 0, vms }));
  }

  /**
   * One interval of the agents: every up host for which `reports` holds sends a sample, of its VMs that have a
   * value in `samplesMhz` (none: an idle host's agent still reports, which is how the manager knows it is alive).
   */
  async report(samplesMhz: Readonly<Record<string, number>>, reports: (host: string) => boolean = () => true): Promise<void> {
    const byHost = await this.samplesByHost(samplesMhz);
    for (const host of await this.dc.listHosts()) {
      if (host.state !== 'up' || !reports(host.name)) continue;
      await this.run(this.manager.recordSample({ host: host.name, hypervisorCpuMhz: 0, vms: byHost.get(host.name) ?? [] }));
    }
  }

  private async samplesByHost(samplesMhz: Readonly<Record<string, number>>): Promise<Map<string, { vmId: string; cpuMhz: number; ramMb: null }[]>> {
    const byHost = new Map<string, { vmId: string; cpuMhz: number; ramMb: null }[]>();
    for (const vm of await this.dc.listVms()) {
      if (!Object.hasOwn(samplesMhz, vm.id) || vm.host === null) continue;
      const list = byHost.get(vm.host) ?? [];
      list.push({ vmId: vm.id, cpuMhz: samplesMhz[vm.id], ramMb: null });
      byHost.set(vm.host, list);
    }
    return byHost;
  }

  /** Moves the virtual clock on by `durationS`, running what the data centre has due meanwhile. */
  advance(durationS: number): void {
    const untilS = this.scheduler.timeS + durationS;
    this.scheduler.run(untilS, 10_000);
    this.scheduler.advanceTo(untilS);
  }

  async request(host: string, reason: 'underload' | 'overload', vmIds: readonly string[] = []): Promise<string> {
    const result = await this.run(this.manager.submit({ host, reason, vmIds, protocol: 'in-process', remoteAddress: null, clientTimeS: null }));
    if (result.status !== 'accepted') throw new Error(`request refused: ${result.status}`);
    return result.requestId;
  }

  /** Runs until the manager is idle, and the cloud's transitions due by then (instant ones) are done. */
  async settle(): Promise<void> {
    await this.run(this.manager.idle());
    this.scheduler.run(this.scheduler.timeS, 1000);
  }

  async eventsOf(requestId: string): Promise<RecordedEvent[]> {
    return [...await this.log.readStream(`request-${requestId}`)];
  }

  async typesOf(requestId: string): Promise<EventType[]> {
    return (await this.eventsOf(requestId)).map((e) => e.type);
  }

  /** The whole log folded into a strict projection: throws at the first event that breaks its state machine. */
  async replayStrictly(): Promise<DataCentreState> {
    const state = initialDataCentreState({ historyLength: this.manager.settings.historyLength, strict: true });
    const events = await this.log.readAll(1, REPLAY_EVENTS_MAX);
    assert(events.length < REPLAY_EVENTS_MAX, 'the log holds more events than a replay reads');
    for (const event of events) evolveDataCentre(state, event);
    return state;
  }

  async hostOf(vmId: string): Promise<string | null> {
    return (await this.dc.getVm(vmId))?.host ?? null;
  }
}
