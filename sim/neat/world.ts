/**
 * Mode `neat`: OpenStack Neat's architecture on the simulated data centre.
 * Every interval each host's data collector samples its VMs (the MIPS the
 * host gave them) and its local manager runs Neat's step (underload, overload,
 * VM selection); samples and requests go through a transport to the
 * production global manager: in process for a batch run (`neat sim --mode
 * neat`), over real HTTP for `neat serve --sim`. The manager acts through the
 * data centre's Cloud and Power ports: migrations take their simulated time,
 * hosts really sleep and wake. The world records the hosts' and VMs' state
 * history, from which the metrics are computed as in mode `cloudsim`.
 */
import { EMPTY_MEMORY, HostAgent } from '../../src/agent/loop';
import type { AgentSettings, AgentTransport } from '../../src/agent/loop';
import type { HostReading } from '../../src/agent/hypervisor';
import type { EventData } from '../../src/events/catalogue';
import type { Rng } from '../../src/engine/types';
import type { Clock } from '../../src/clock';
import type { IdSource } from '../../src/ids';
import type { GlobalManager } from '../../src/managers/globalManager';
import type { Trace } from '../../traces/trace';
import type { SimulationConfig } from '../config';
import { SimulatedDataCentre, spreadPlacement } from '../datacentre';
import type { PowerTransitions } from '../datacentre';
import { assert } from '../../src/engine/assert';
import type { Scheduler } from '../scheduler';
import { StateHistory } from '../stateHistory';
import { SimulatedHypervisor } from './hypervisor';

export interface NeatWorldOptions {
  readonly config: SimulationConfig;
  readonly trace: Trace;
  readonly scheduler: Scheduler;
  /** Names migrations. */
  readonly ids: IdSource;
  readonly transitions: PowerTransitions;
  readonly localManager: AgentSettings;
  /** The local managers' random choices (VM selection `random`). */
  readonly rng: Rng;
  /** Where the state history goes: one `DataCentreUpdated` per processing time. */
  readonly recordUpdate: (update: EventData<'DataCentreUpdated'>) => Promise<unknown>;
  readonly onProgress?: (fraction: number) => void;
  /** Wall-clock time of each local-manager step, for the run's report (never recorded). */
  readonly onDecision?: (durationMs: number) => void;
  /**
   * Resolves once the global manager has settled what a request set off. A
   * request may start a decision while the next one is on its way; waiting
   * here makes the next one find the manager in the same state whatever the
   * transport's timing (a full queue refuses the same requests in every run).
   */
  readonly settle: () => Promise<void>;
}

export class NeatWorld {
  readonly dataCentre: SimulatedDataCentre;
  /** The last interval's time: the run ends there. */
  readonly limitS: number;
  private readonly history: StateHistory;
  private energyRecordedWs = 0;
  /** Each host's agent (data collector and local manager) and what it reads the host through. */
  private readonly agents: readonly { readonly agent: HostAgent; readonly hypervisor: SimulatedHypervisor }[];
  private transport: AgentTransport | null = null;
  private stopped = false;
  private failure: Error | null = null;
  private work: Promise<void> = Promise.resolve();
  private pendingWork = 0;

  constructor(private readonly options: NeatWorldOptions) {
    const { config, trace, scheduler } = options;
    this.limitS = Math.min(config.limitS, (trace.vms[0].utilization.length - 1) * trace.stepS);
    this.dataCentre = new SimulatedDataCentre({
      config, trace, scheduler, ids: options.ids, transitions: options.transitions, placement: config.placement ?? spreadPlacement(config),
      onMigrationChange: () => { this.processAll(); },
    });
    this.history = new StateHistory(this.dataCentre.hosts, this.dataCentre.vms.length, (update) => { this.track(options.recordUpdate(update)); });
    // The agents reach the manager through whichever transport the world has at the time (see useTransport).
    const viaWorld: AgentTransport = {
      recordSample: (sample) => this.currentTransport().recordSample(sample),
      request: (host, reason, vmIds) => this.currentTransport().request(host, reason, vmIds),
      vmHistory: (vmId) => this.currentTransport().vmHistory(vmId),
    };
    this.agents = this.dataCentre.hosts.map((host) => ({
      agent: new HostAgent({ host: host.name, transport: viaWorld, settings: options.localManager, rng: options.rng, memory: EMPTY_MEMORY }),
      hypervisor: new SimulatedHypervisor(host, this.history, scheduler),
    }));
  }

  private currentTransport(): AgentTransport {
    assert(this.transport !== null, 'the world has started');
    return this.transport;
  }

  /** Records the state at the current time and schedules every interval's collection and local-manager step. */
  start(transport: AgentTransport): void {
    this.transport = transport;
    this.processAll();
    const { scheduler, config } = this.options;
    const intervalS = config.schedulingIntervalS;
    // On the trace's own intervals: a paced service starts a moment after t = 0, and the trace ends at limitS whatever the start.
    for (let k = 1; k * intervalS <= this.limitS; k++) {
      if (k * intervalS > scheduler.timeS) scheduler.at(k * intervalS, () => { this.tick(); });
    }
  }

  /**
   * Sends the next messages through another transport: a resumed run replays
   * the world without one up to where its log ends, then goes live.
   */
  useTransport(transport: AgentTransport): void {
    assert(this.transport !== null && !this.stopped, 'the world is running');
    this.transport = transport;
  }

  /** No local manager sends anything from now on; a message on its way is the transport's to abandon. */
  stop(): void {
    this.stopped = true;
  }

  /** True when no collection or local-manager step is under way. */
  get idle(): boolean {
    return this.pendingWork === 0;
  }

  /** Resolves once the collections and steps under way have finished (failed ones included). */
  async settled(): Promise<void> {
    await this.work;
  }

  /** Throws the first failure of the asynchronous work, if there was one. */
  checkFailure(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Writes the last state-history entries and waits for the work in progress. */
  async finish(): Promise<void> {
    this.history.flush();
    await this.work;
    this.checkFailure();
  }

  /** Keeps the async work in order and its first failure, which ends the run. */
  private track(work: Promise<unknown>): void {
    this.pendingWork += 1;
    this.work = this.work.then(() => work).then(() => undefined, (error: unknown) => {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    }).finally(() => { this.pendingWork -= 1; });
  }

  /** Brings every host to now and records the state history (energy metered up to now included). */
  private processAll(): void {
    // The trace has no demand past its last point; a migration that ends later (in a paced service) leaves the record at the end.
    if (this.options.scheduler.timeS > this.limitS) return;
    this.history.touch(this.options.scheduler.timeS);
    this.dataCentre.process(this.history.writeVmEntry);
    this.history.addEnergy(this.dataCentre.energyWs - this.energyRecordedWs);
    this.energyRecordedWs = this.dataCentre.energyWs;
  }

  private tick(): void {
    if (this.stopped) return;
    this.processAll();
    // Every host that is up runs its agent; an asleep or transitioning host's agent does not run.
    const readings: [HostAgent, Promise<HostReading>][] = [];
    this.dataCentre.hosts.forEach((_host, index) => {
      if (this.dataCentre.powerStates[index] === 'active') readings.push([this.agents[index].agent, this.agents[index].hypervisor.read()]);
    });
    this.track(this.collectAndDecide(readings));
    this.options.onProgress?.(Math.min(1, this.options.scheduler.timeS / this.limitS));
  }

  /** Every host's data collector, then every host's local manager, in host order. */
  private async collectAndDecide(readings: readonly [HostAgent, Promise<HostReading>][]): Promise<void> {
    for (const [agent, reading] of readings) {
      if (this.stopped) return;
      await agent.collect(await reading);
    }
    for (const [agent] of readings) {
      if (this.stopped) return;
      const { decision, durationMs } = await agent.step();
      this.options.onDecision?.(durationMs);
      if (decision.kind === 'underload' || decision.kind === 'overload') await this.options.settle();
    }
  }
}

/** The batch run's transport: straight into the manager, as Neat's protocol would carry it (a full queue refuses). */
export function inProcessTransport(manager: GlobalManager, clock: Clock): AgentTransport {
  return {
    recordSample: (sample) => manager.recordSample(sample),
    async request(host, reason, vmIds) {
      const result = await manager.submit({ host, reason, vmIds, protocol: 'in-process', remoteAddress: null, clientTimeS: clock.nowMs() / 1000 });
      if (result.status === 'queue-full') {
        await manager.reject({ host, status: 503, reason: 'the request queue is full', protocol: 'in-process', remoteAddress: null });
      }
    },
    vmHistory: (vmId) => Promise.resolve(manager.vmHistory(vmId)),
  };
}
