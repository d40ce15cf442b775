/**
 * Mode `neat`: OpenStack Neat's architecture on the simulated data centre.
 * Every interval each host's data collector samples its VMs (the MIPS the
 * host gave them) and its local manager runs Neat's step (underload, overload,
 * VM selection); requests go, in process, to the production global manager,
 * which plans with its placement algorithm and acts through the Cloud and
 * Power ports: migrations take their simulated time, hosts really sleep and
 * wake. Time is virtual and every async step settles before time moves, so a
 * run is as reproducible as a CloudSim-mode one.
 */
import { performance } from 'node:perf_hooks';
import { assert } from '../../src/engine/assert';
import type { Rng } from '../../src/engine/types';
import type { IdSource } from '../../src/ids';
import { GlobalManager } from '../../src/managers/globalManager';
import type { ManagerSettings } from '../../src/managers/globalManager';
import type { Journal } from '../../src/managers/journal';
import { localManagerStep } from '../../src/managers/localManager';
import type { LocalManagerAlgorithms, LocalManagerState } from '../../src/managers/localManager';
import type { Trace } from '../../traces/trace';
import type { SimHost } from '../cloudsim/model';
import type { SimulationConfig } from '../config';
import { SimulatedDataCentre, spreadPlacement } from '../datacentre';
import type { PowerTransitions } from '../datacentre';
import type { Scheduler } from '../scheduler';
import { StateHistory } from '../stateHistory';
import { runUntilSettled, settleMicrotasks, VirtualTimer } from '../virtualTime';

/** A bound on the scheduler events of one run. */
const MAX_EVENTS = 50_000_000;

export interface NeatWorldOptions {
  readonly config: SimulationConfig;
  readonly trace: Trace;
  readonly scheduler: Scheduler;
  readonly journal: Journal;
  /** The run's own stream, for the data-centre updates. */
  readonly stream: string;
  readonly runId: string;
  /** Names requests and migrations. */
  readonly ids: IdSource;
  readonly settings: ManagerSettings;
  readonly localManager: LocalManagerAlgorithms & { readonly hostCpuUsableByVms: number; readonly historyLength: number };
  readonly transitions: PowerTransitions;
  /** The local managers' random choices (VM selection `random`). */
  readonly rng: Rng;
  readonly onProgress?: (fraction: number) => void;
  /** Wall-clock time of each local-manager step, for the run's report (never recorded). */
  readonly onDecision?: (durationMs: number) => void;
}

type Sample = { readonly vmId: string; readonly cpuMhz: number; readonly ramMb: number };

export class NeatWorld {
  readonly dataCentre: SimulatedDataCentre;
  readonly manager: GlobalManager;
  readonly limitS: number;
  private readonly history: StateHistory;
  private energyRecordedWs = 0;
  /** Each VM's CPU history as its data collectors wrote it; it follows the VM, as Neat's collectors fetch it on arrival. */
  private readonly vmHistories = new Map<string, number[]>();
  private readonly localStates = new Map<string, LocalManagerState | null>();
  private failure: Error | null = null;
  private work: Promise<void> = Promise.resolve();

  constructor(private readonly options: NeatWorldOptions) {
    const { config, trace, scheduler, journal } = options;
    this.limitS = Math.min(config.limitS, (trace.vms[0].utilization.length - 1) * trace.stepS);
    this.dataCentre = new SimulatedDataCentre({
      config, trace, scheduler, ids: options.ids, transitions: options.transitions, placement: spreadPlacement(config),
      onMigrationChange: () => { this.processAll(); },
    });
    this.history = new StateHistory(this.dataCentre.hosts, this.dataCentre.vms.length, (update) => {
      this.track(journal.record(options.stream, [{ type: 'DataCentreUpdated', data: update }], { correlationId: options.runId, causationId: null }));
    });
    this.manager = new GlobalManager({
      cloud: this.dataCentre, power: this.dataCentre, timer: new VirtualTimer(scheduler), journal, ids: options.ids, rng: options.rng,
    }, options.settings);
  }

  async run(): Promise<void> {
    const { scheduler, config } = this.options;
    await runUntilSettled(scheduler, this.manager.start(), MAX_EVENTS);
    this.processAll();
    const intervalS = config.schedulingIntervalS;
    for (let k = 1; k * intervalS <= this.limitS; k++) scheduler.at(k * intervalS, () => { this.tick(); });
    for (let events = 0; ; events++) {
      await settleMicrotasks();
      this.checkFailure();
      const next = scheduler.nextS;
      if (next === null || next > this.limitS) break;
      assert(events < MAX_EVENTS, () => `more than ${MAX_EVENTS} events before ${this.limitS} s`);
      scheduler.step();
    }
    this.history.flush();
    await this.work;
    this.checkFailure();
  }

  private checkFailure(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Keeps the async work in order and its first failure, which ends the run. */
  private track(work: Promise<unknown>): void {
    this.work = this.work.then(() => work).then(() => undefined, (error: unknown) => {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    });
  }

  /** Brings every host to now and records the state history (energy metered up to now included). */
  private processAll(): void {
    this.history.touch(this.options.scheduler.timeS);
    this.dataCentre.process(this.history.writeVmEntry);
    this.history.addEnergy(this.dataCentre.energyWs - this.energyRecordedWs);
    this.energyRecordedWs = this.dataCentre.energyWs;
  }

  private tick(): void {
    this.processAll();
    const samples = new Map<SimHost, Sample[]>();
    for (const host of this.dataCentre.hosts) {
      const hosted: Sample[] = [];
      for (const vm of host.vms) {
        const cpuMhz = this.history.allocatedMipsOf(vm);
        if (cpuMhz !== null && vm.tableHost === host) hosted.push({ vmId: vm.id, cpuMhz, ramMb: vm.ramMb });
      }
      if (hosted.length > 0) samples.set(host, hosted);
    }
    this.track(this.collectAndDecide(samples));
    this.options.onProgress?.(this.options.scheduler.timeS / this.limitS);
  }

  private push(vmId: string, cpuMhz: number): number[] {
    let history = this.vmHistories.get(vmId);
    if (history === undefined) {
      history = [];
      this.vmHistories.set(vmId, history);
    }
    history.push(cpuMhz);
    if (history.length > this.options.localManager.historyLength) history.shift();
    return history;
  }

  /** Every host's data collector, then every host's local manager, in host order. */
  private async collectAndDecide(samples: Map<SimHost, Sample[]>): Promise<void> {
    for (const [host, hosted] of samples) {
      await this.manager.recordSample({ host: host.name, hypervisorCpuMhz: 0, vms: hosted.map((s) => ({ ...s })) });
      for (const sample of hosted) this.push(sample.vmId, sample.cpuMhz);
    }
    const { localManager } = this.options;
    for (const [host, hosted] of samples) {
      const vmsCpuMhz: Record<string, readonly number[]> = {};
      const vmsRamMb: Record<string, number> = {};
      for (const sample of hosted) {
        vmsCpuMhz[sample.vmId] = this.vmHistories.get(sample.vmId) ?? [];
        vmsRamMb[sample.vmId] = sample.ramMb;
      }
      const startMs = performance.now();
      const [decision, state] = localManagerStep(
        { vmsCpuMhz, vmsRamMb, hostCpuMhz: [], physicalCpuMhzTotal: host.totalMips * localManager.hostCpuUsableByVms },
        this.localStates.get(host.name) ?? null, localManager, this.options.rng);
      this.options.onDecision?.(performance.now() - startMs);
      this.localStates.set(host.name, state);
      if (decision.kind !== 'underload' && decision.kind !== 'overload') continue;
      const result = await this.manager.submit({
        host: host.name, reason: decision.kind, vmIds: decision.kind === 'overload' ? decision.vmIds : [],
        protocol: 'in-process', remoteAddress: null, clientTimeS: this.options.scheduler.timeS,
      });
      if (result.status === 'queue-full') {
        await this.manager.reject({ host: host.name, status: 503, reason: 'the request queue is full', protocol: 'in-process', remoteAddress: null });
      }
    }
  }
}
