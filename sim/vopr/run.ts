/**
 * Runs one seed's world: the production `GlobalManager`, in process, on the
 * scheduler's virtual time, over an in-memory log, against the VOPR's cloud
 * through the faulty ports; agents report samples, local managers send
 * requests, an operator reviews manual plans, and the manager process
 * crashes and restarts from the log at the seed's moments. Every event is
 * checked as it is folded; at the end, after the fault horizon and a quiet
 * spell, one fault-free request makes the manager read the cloud, and the
 * world must have converged.
 */
import { AssertionError } from '../../src/engine/assert';
import type { Rng } from '../../src/engine/types';
import { seededIds } from '../../src/ids';
import type { RecordedEvent } from '../../src/events/envelope';
import { MemoryEventLog } from '../../src/log/memory';
import { GlobalManager } from '../../src/managers/globalManager';
import { Journal } from '../../src/managers/journal';
import type { SnapshotStore } from '../../src/managers/ports';
import { CloudError } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { Scheduler } from '../scheduler';
import { quiesce, VirtualTimer } from '../virtualTime';
import type { Activity } from '../virtualTime';
import { VoprCloud } from './cloud';
import { countFault, FaultyCloud, FaultyPower, FencedLog, Incarnation } from './faults';
import type { FaultContext, FaultKind } from './faults';
import { Checker, planBoundMs } from './invariants';
import type { Violation } from './invariants';
import { generateWorld } from './world';
import type { WorldSpec } from './world';

/** Trace lines kept; a violation prints the last `TRACE_PRINTED`. */
const TRACE_KEPT = 64;
export const TRACE_PRINTED = 20;
/** Scheduler events a seed may run: far more than any world needs, so that a livelock is a violation, not a hang. */
const MAX_EVENTS = 2_000_000;
/** What each host's own processes use, in every sample. */
const HYPERVISOR_CPU_MHZ = 50;
/** Starts that fail on an unreachable cloud before the restarts give up. */
const MAX_START_ATTEMPTS = 50;
/** Seconds between two tries of a start that found the cloud unreachable. */
const START_RETRY_S = 10;

export interface SeedStats {
  readonly faults: ReadonlyMap<FaultKind, number>;
  /** Crashes the manager came back from. */
  readonly crashes: number;
  /** From the fault horizon to the quiet, converged world, in virtual ms. */
  readonly convergenceMs: number;
  readonly worstPlanMs: number;
  readonly events: number;
  readonly requests: number;
  readonly hosts: number;
  readonly vms: number;
}

export interface SeedResult {
  readonly seed: number;
  readonly violation: Violation | null;
  /** The last trace lines (events, cloud actions, faults), oldest first. */
  readonly trace: readonly string[];
  readonly stats: SeedStats;
  /** The whole event log the run wrote, every incarnation's appends that were kept. */
  readonly log: MemoryEventLog;
}

class MemorySnapshots implements SnapshotStore {
  readonly description = 'the VOPR\'s snapshot';
  private text: string | null = null;

  async read(): Promise<Buffer | null> {
    return this.text === null ? null : Buffer.from(this.text);
  }

  // Stored before the call returns, as a crash right after it would find it: the run stays the same on every rerun.
  async write(text: string): Promise<void> {
    this.text = text;
  }
}

/** One line of the trace for an event: its position, type and the fields that tell events apart. */
function traceLine(event: RecordedEvent): string {
  const data = event.data as Record<string, unknown>;
  const fields = ['requestId', 'host', 'vmId', 'targetHost', 'attempt', 'outcome', 'reason', 'error']
    .filter((key) => data[key] !== undefined && data[key] !== null)
    .map((key) => `${key}=${typeof data[key] === 'string' ? data[key] : JSON.stringify(data[key])}`);
  if (event.type === 'PlacementDecided') fields.push(`mapping=${JSON.stringify(data.mapping)}`);
  return `#${event.position} ${event.type} ${fields.join(' ')}`;
}

class SeedRun implements Activity {
  readonly scheduler = new Scheduler();
  readonly log = new MemoryEventLog();
  private readonly traceLines: string[] = [];
  readonly cloud: VoprCloud;
  readonly checker: Checker;
  private readonly faults: FaultContext;
  private readonly faultyCloud: FaultyCloud;
  private readonly faultyPower: FaultyPower;
  private readonly snapshots: MemorySnapshots | null;
  private readonly agentRng: Rng;
  private incarnation = new Incarnation(0);
  private manager: GlobalManager | null = null;
  private journal: Journal | null = null;
  private incarnations = 0;
  private startAttempts = 0;
  private serving = false;
  crashes = 0;
  requests = 0;

  constructor(readonly world: WorldSpec) {
    const note = (line: string): void => { this.trace(line); };
    this.cloud = new VoprCloud(world.hosts, world.vms, this.scheduler, world.timings,
      (violation) => { this.checker.fail(violation.invariant, violation.detail); }, note);
    this.checker = new Checker(world.settings, this.cloud, world.answerTimeoutMs, () => this.scheduler.timeS);
    this.faults = {
      scheduler: this.scheduler, rng: createRng(`vopr-faults-${world.seed}`), horizonS: world.horizonS,
      answerTimeoutMs: world.answerTimeoutMs, wakeLateS: world.wakeLateS, slowMigrationS: world.slowMigrationS, counts: new Map(), note,
    };
    this.faultyCloud = new FaultyCloud(this.cloud, this.faults, world.rates, this.checker);
    this.faultyPower = new FaultyPower(this.cloud, this.faults, world.rates, world.settings.wakeTimeoutMs);
    this.snapshots = world.snapshotIntervalEvents === null ? null : new MemorySnapshots();
    this.agentRng = createRng(`vopr-agents-${world.seed}`);
  }

  trace(line: string): void {
    this.traceLines.push(`${this.scheduler.timeS.toFixed(3).padStart(10)} ${line}`);
    if (this.traceLines.length > TRACE_KEPT) this.traceLines.shift();
  }

  get lastLines(): string[] {
    return this.traceLines.slice(-TRACE_PRINTED);
  }

  /** Follows work started by an event: a rejection the manager's contract does not allow is a violation. */
  private track(work: Promise<unknown>): void {
    work.catch((error: unknown) => {
      this.checker.fail(error instanceof AssertionError ? 'manager-assertion' : 'unexpected-error', error instanceof Error ? error.stack ?? error.message : String(error));
    });
  }

  /** The manager that takes requests and samples: the service listens once its start is done. */
  private live(): GlobalManager | null {
    return this.incarnation.living && this.serving ? this.manager : null;
  }

  /** A new manager process on the same log and cloud. */
  private boot(): void {
    this.incarnations += 1;
    const number = this.incarnations;
    const incarnation = new Incarnation(number);
    this.incarnation = incarnation;
    this.checker.restarted(number);
    const midAppend = number === 1 ? this.world.crashMidAppend : this.world.laterCrashesMidAppend.at(number - 2) ?? null;
    const log = new FencedLog(this.log, incarnation, midAppend === null ? null : {
      append: midAppend.append, keep: midAppend.keep, armed: () => this.scheduler.timeS < this.world.horizonS,
      crash: (kept) => { this.crash(kept ? 'crash-mid-append-kept' : 'crash-mid-append-lost', midAppend.restartAfterS); },
    });
    const ids = seededIds(createRng(`vopr-ids-${this.world.seed}-${number}`), this.scheduler);
    const journal = new Journal(log, { ids, clock: this.scheduler, source: 'global-manager' });
    const manager = new GlobalManager({
      cloud: incarnation.cloud(this.faultyCloud), power: incarnation.power(this.faultyPower),
      timer: incarnation.timer(new VirtualTimer(this.scheduler)), journal, ids, rng: createRng(`vopr-rng-${this.world.seed}-${number}`),
      ...(this.snapshots === null || this.world.snapshotIntervalEvents === null ? {} : {
        snapshots: { store: this.snapshots, intervalEvents: this.world.snapshotIntervalEvents, onProblem: (problem: string) => { this.checker.fail('unexpected-error', problem); } },
      }),
    }, this.world.settings);
    journal.onRecorded((event) => {
      this.trace(traceLine(event));
      this.checker.onEvent(event, manager);
    });
    this.manager = manager;
    this.journal = journal;
    this.serving = false;
    this.trace(`process ${number} starts`);
    this.track(manager.start().then(() => { this.serving = incarnation.living; }, (error: unknown) => {
      if (!(error instanceof CloudError) || !incarnation.living) throw error;
      // A service that cannot read the cloud on start exits, and its supervisor starts it again.
      this.startAttempts += 1;
      if (this.startAttempts > MAX_START_ATTEMPTS) throw error;
      this.trace(`process ${number} exits: ${error.message}`);
      incarnation.crash();
      this.scheduler.after(START_RETRY_S, () => { this.boot(); });
    }));
  }

  private crash(kind: FaultKind, restartAfterS: number): void {
    if (!this.incarnation.living) return;
    countFault(this.faults, kind, `process ${this.incarnation.number}`);
    this.incarnation.crash();
    this.crashes += 1;
    this.scheduler.after(restartAfterS, () => { this.boot(); });
  }

  private sample(host: string): void {
    const manager = this.live();
    if (manager === null) return;
    const vms = [...this.cloud.placement()].filter(([, on]) => on === host).map(([vmId]) => {
      const spec = this.cloud.vmSpec(vmId)!;
      const load = this.world.vmLoad[Number(vmId.slice('vm-'.length))];
      return { vmId, cpuMhz: Math.round(spec.cpuMhz * Math.min(1, load * (0.6 + 0.8 * this.agentRng.next()))), ramMb: null };
    });
    this.track(manager.recordSample({ host, hypervisorCpuMhz: HYPERVISOR_CPU_MHZ, vms }));
  }

  /** Every up host's agent reports; the faults drop, delay or repeat a report. */
  private agents(untilS: number): void {
    const faulty = this.scheduler.timeS < this.world.horizonS;
    for (const host of this.cloud.hostNames()) {
      if (this.cloud.powerOf(host) !== 'active') continue;
      const roll = this.agentRng.next();
      const { missing, late, duplicated } = this.world.agents;
      if (faulty && roll < missing) {
        countFault(this.faults, 'sample-missing', host);
      } else if (faulty && roll < missing + late) {
        countFault(this.faults, 'sample-late', host);
        this.scheduler.after(this.agentRng.next() * this.world.settings.timeStepS, () => { this.sample(host); });
      } else {
        this.sample(host);
        if (faulty && roll < missing + late + duplicated) {
          countFault(this.faults, 'sample-duplicated', host);
          this.sample(host);
        }
      }
    }
    const nextS = this.scheduler.timeS + this.world.settings.timeStepS;
    if (nextS <= untilS) this.scheduler.at(nextS, () => { this.agents(untilS); });
  }

  private submit(hostPick: number, reason: 'underload' | 'overload', vmPicks: readonly number[]): void {
    const manager = this.live();
    if (manager === null) return;
    const placement = [...this.cloud.placement()];
    const senders = this.cloud.hostNames().filter((h) => this.cloud.powerOf(h) === 'active' && (reason === 'underload' || placement.some(([, on]) => on === h)));
    if (senders.length === 0) return;
    const host = senders[hostPick % senders.length];
    const hosted = placement.filter(([, on]) => on === host).map(([vmId]) => vmId);
    const vmIds = reason === 'overload' ? [...new Set(vmPicks.map((pick) => hosted[pick % hosted.length]))] : [];
    this.requests += 1;
    this.track(manager.submit({ host, reason, vmIds, protocol: 'in-process', remoteAddress: null, clientTimeS: null }));
  }

  /** An operator approves or rejects one of the plans waiting for approval. */
  private review(untilS: number): void {
    const manager = this.live();
    if (manager !== null) {
      const waiting = [...manager.openRequests.values()].filter((r) => r.status === 'recommended').map((r) => r.requestId).sort();
      if (waiting.length > 0) {
        const requestId = waiting[Math.floor(this.agentRng.next() * waiting.length)];
        this.track(this.agentRng.next() < 0.8 ? manager.approve(requestId, 'vopr') : manager.rejectPlan(requestId, 'vopr', 'not now'));
      }
    }
    const nextS = this.scheduler.timeS + this.world.operatorIntervalS;
    if (nextS <= untilS) this.scheduler.at(nextS, () => { this.review(untilS); });
  }

  private schedule(): void {
    const w = this.world;
    const endS = w.horizonS + w.tailS;
    this.scheduler.at(0, () => { this.boot(); });
    this.scheduler.at(0, () => { this.agents(endS); });
    if (w.settings.automation === 'manual') this.scheduler.at(w.operatorIntervalS, () => { this.review(endS); });
    for (const r of w.requests) this.scheduler.at(r.atS, () => { this.submit(r.hostPick, r.reason, r.vmPicks); });
    for (const c of w.crashes) this.scheduler.at(c.atS, () => { this.crash('crash', c.restartAfterS); });
    for (const f of w.scheduled) {
      this.scheduler.at(f.atS, () => {
        const vmIds = [...this.cloud.placement().keys()];
        const hosts = this.cloud.hostNames();
        if (f.kind === 'migration-fails') {
          this.cloud.failNextMigrations(1);
        } else if (f.kind === 'host-reported-down') {
          const host = hosts[f.pick % hosts.length];
          this.cloud.setReportedDown(host, true);
          this.scheduler.after(f.durationS, () => { this.cloud.setReportedDown(host, false); });
        } else if (vmIds.length > 0) {
          const vmId = vmIds[f.pick % vmIds.length];
          if (f.kind === 'vm-deleted') this.cloud.deleteVm(vmId);
          else this.cloud.setVmError(vmId);
        } else {
          return;
        }
        countFault(this.faults, f.kind, '');
      });
    }
  }

  /** The live process's appends are what the clock waits for; a crash ends the wait, as its appends never end. */
  get idle(): boolean {
    return this.journal === null || !this.incarnation.living || this.journal.idle;
  }

  settled(): Promise<void> {
    return Promise.race([this.journal?.settled() ?? Promise.resolve(), this.incarnation.dead]);
  }

  /** The operator's last round: every plan still waiting is approved or rejected, and carried out. */
  private async reviewAll(manager: GlobalManager): Promise<number> {
    let events = 0;
    for (let round = 0; round <= this.world.requests.length + 1 && this.checker.violation === null; round++) {
      const waiting = [...manager.openRequests.values()].filter((r) => r.status === 'recommended');
      if (waiting.length === 0) break;
      this.review(this.scheduler.timeS);
      events += await this.drain();
    }
    return events;
  }

  /** Runs every scheduled event, each once the work the last one started has settled, checking between events. */
  private async drain(): Promise<number> {
    let events = 0;
    for (; events < MAX_EVENTS; events++) {
      await quiesce([this]);
      if (this.checker.violation !== null) return events;
      if (!this.scheduler.step()) return events;
    }
    this.checker.fail('not-converged', `still busy after ${MAX_EVENTS} scheduler events`);
    return events;
  }

  async run(): Promise<SeedResult> {
    this.schedule();
    let events = await this.drain();
    let convergenceMs = 0;
    if (this.checker.violation === null) {
      // Quiet, faults over, nothing left moving in the cloud: one request makes the manager read the cloud, as the next local manager's would.
      const manager = this.live();
      if (manager === null) {
        this.checker.fail('not-converged', 'no manager process runs at the end');
      } else {
        events += await this.reviewAll(manager);
        this.requests += 1;
        // An overload naming no VM: the manager reads the cloud and has nothing to move, so the probe changes nothing itself.
        this.track(manager.submit({ host: this.cloud.hostNames()[0], reason: 'overload', vmIds: [], protocol: 'in-process', remoteAddress: null, clientTimeS: null }));
        events += await this.drain();
        events += await this.reviewAll(manager);
        convergenceMs = Math.max(0, this.scheduler.nowMs() - this.world.horizonS * 1000);
        if (this.checker.clean) await this.checker.checkConverged(manager, this.log);
        const boundMs = (this.world.settings.queueLimit + 3) * planBoundMs(this.world.settings, this.world.answerTimeoutMs, this.world.vms.length, this.world.hosts.length)
          + 1000 * (this.world.tailS + 120 + START_RETRY_S);
        if (convergenceMs > boundMs) this.checker.fail('convergence-over-bound', `converged ${convergenceMs / 1000} s after the horizon, more than ${boundMs / 1000} s`);
      }
    }
    return {
      seed: this.world.seed, violation: this.checker.violation, trace: this.lastLines, log: this.log,
      stats: {
        faults: this.faults.counts, crashes: this.crashes, convergenceMs, worstPlanMs: this.checker.worstPlanMs, events,
        requests: this.requests, hosts: this.world.hosts.length, vms: this.world.vms.length,
      },
    };
  }
}

/**
 * Runs the seed's world. An assertion of the manager that fails in work no
 * caller awaits (its queue's worker) surfaces as an unhandled rejection: it is
 * caught here as the seed's violation.
 */
export async function runSeed(seed: number): Promise<SeedResult> {
  const run = new SeedRun(generateWorld(seed));
  const onUnhandled = (error: unknown): void => {
    run.checker.fail(error instanceof AssertionError ? 'manager-assertion' : 'unexpected-error', error instanceof Error ? error.stack ?? error.message : String(error));
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    return await run.run();
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}
