/**
 * The VOPR's invariants. Safety ones are checked as things happen: on the
 * cloud side (`VoprCloud` reports a suspend of a host with VMs and a second
 * migration of a migrating VM; `started`/`answerLost` see every start), and
 * on the log side, on each event as the manager folds it. Liveness and
 * convergence are checked once the world is quiet after the fault horizon.
 */
import { isDeepStrictEqual } from 'node:util';
import { isUp } from '../../src/events/dataCentre';
import { evolveDataCentre, initialDataCentreState, snapshotDataCentre } from '../../src/events/dataCentre';
import type { RecordedEvent } from '../../src/events/envelope';
import { MAX_BATCH_EVENTS } from '../../src/log/port';
import type { EventLog } from '../../src/log/port';
import type { GlobalManager, ManagerSettings } from '../../src/managers/globalManager';
import type { VoprCloud } from './cloud';
import type { StartObserver } from './faults';

export type InvariantName =
  | 'suspend-with-vms' | 'two-migrations-of-one-vm' | 'repeat-after-lost-answer' | 'attempts-over-limit' | 'concurrency-over-limit'
  | 'queue-over-limit' | 'projection-anomaly' | 'plan-over-time-bound' | 'request-never-completed' | 'not-converged'
  | 'convergence-over-bound' | 'replay-differs' | 'manager-assertion' | 'unexpected-error';

export interface Violation {
  readonly invariant: InvariantName;
  readonly detail: string;
  readonly atS: number;
}

/** Number of polls `pollUntil` makes for a timeout and an interval. */
function polls(timeoutMs: number, intervalMs: number): number {
  return Math.ceil(timeoutMs / intervalMs) + 1;
}

/**
 * The longest a plan of `migrations` VMs and `suspends` hosts can take from
 * its decision to its completion when every answer comes as late as the
 * faults make it (`answerMs`): each bounded loop of execute.ts at its bound,
 * each call in it at its slowest. A plan slower than this has a loop that is
 * not bounded as the settings say.
 */
export function planBoundMs(s: ManagerSettings, answerMs: number, migrations: number, suspends: number): number {
  const wakeMs = answerMs + polls(s.wakeTimeoutMs, s.wakePollIntervalMs) * (s.wakePollIntervalMs + answerMs);
  const settleMs = polls(s.migrationTimeoutMs, s.migrationPollIntervalMs) * (s.migrationPollIntervalMs + answerMs);
  const followMs = polls(s.migrationTimeoutMs, s.migrationPollIntervalMs) * (s.migrationPollIntervalMs + 2 * answerMs);
  const attemptMs = s.migrationPollIntervalMs + settleMs + answerMs + s.migrationInitialWaitMs + followMs;
  // A resumed plan follows its interrupted attempt once before the attempts left.
  const migrationMs = followMs + s.migrationMaxAttempts * attemptMs;
  const suspendMs = 6 * answerMs;
  return wakeMs + Math.ceil(migrations / s.migrationConcurrency) * migrationMs + suspends * suspendMs + 3 * answerMs;
}

interface Started {
  readonly requestId: string;
  readonly incarnation: number;
}

interface Lost extends Started {
  readonly handle: string;
  readonly applied: boolean;
}

interface OpenPlan {
  /**
   * When the worker took the plan up: at its decision when automatic; for an
   * approved one, once the job ahead of it in the queue ended. Null until then.
   */
  startedAtMs: number | null;
  approvedAtMs: number | null;
  readonly boundMs: number;
  readonly inFlight: Set<string>;
  /** A crash during the plan: the resumed plan starts its bounded loops over, so its time bound does not apply. */
  crashed: boolean;
}

export class Checker implements StartObserver {
  violation: Violation | null = null;
  /** The highest position checked: a restart folds the log again, and each event is checked once. */
  private checkedPosition = 0;
  private readonly lastStarted = new Map<string, Started>();
  private readonly lostAnswers = new Map<string, Lost>();
  private readonly plans = new Map<string, OpenPlan>();
  private incarnation = 0;
  /** When the worker's last job ended, as far as the log shows: a decision, or a request's completion. */
  private lastJobEndMs = 0;
  /** Worst time from a decision to its request's completion, in virtual ms. */
  worstPlanMs = 0;

  constructor(private readonly settings: ManagerSettings, private readonly cloud: VoprCloud, private readonly answerMs: number,
    private readonly nowS: () => number) {}

  /** No violation so far: a getter, so that a check after an await is not narrowed away. */
  get clean(): boolean {
    return this.violation === null;
  }

  fail(invariant: InvariantName, detail: string): void {
    this.violation ??= { invariant, detail, atS: this.nowS() };
  }

  /** A new manager process: what the old one had asked is no longer its to remember. */
  restarted(incarnation: number): void {
    this.incarnation = incarnation;
    this.lostAnswers.clear();
    for (const plan of this.plans.values()) plan.crashed = true;
  }

  started(vmId: string): void {
    if (this.cloud.isMigrating(vmId)) return; // The cloud reports it as two migrations at once.
    const start = this.lastStarted.get(vmId);
    const lost = this.lostAnswers.get(vmId);
    if (start === undefined || lost === undefined || lost.requestId !== start.requestId || lost.incarnation !== start.incarnation) return;
    // After a lost answer the start may have taken effect: only a migration the cloud shows failed may be asked for again.
    if (!lost.applied || this.cloud.migrationState(lost.handle) !== 'failed') {
      this.fail('repeat-after-lost-answer', `VM ${vmId} was asked to migrate again in request ${start.requestId} after a start whose answer was lost`
        + ` (${lost.applied ? `migration ${lost.handle} is ${String(this.cloud.migrationState(lost.handle))}` : 'never taken by the cloud'})`);
    }
    this.lostAnswers.delete(vmId);
  }

  answerLost(vmId: string, handle: string, applied: boolean): void {
    const start = this.lastStarted.get(vmId);
    if (start !== undefined) this.lostAnswers.set(vmId, { ...start, handle, applied });
  }

  /** Each event as the live manager folds it, after the manager's own folds. */
  onEvent(event: RecordedEvent, manager: GlobalManager): void {
    if (manager.dataCentre.anomalyCount > 0) {
      const anomaly = manager.dataCentre.anomalies[manager.dataCentre.anomalies.length - 1];
      this.fail('projection-anomaly', `event ${anomaly.position} (${anomaly.type}): ${anomaly.problem}`);
    }
    if (event.position <= this.checkedPosition) return;
    this.checkedPosition = event.position;
    const nowMs = event.metadata.timeMs;
    const own = (event.data as { requestId?: unknown }).requestId;
    const approved = typeof own === 'string' ? this.plans.get(own) : undefined;
    if (approved !== undefined && approved.startedAtMs === null && approved.approvedAtMs !== null && event.type !== 'PlanApproved') {
      // The worker runs one job at a time: an approved plan waits in the queue for the job ahead of it.
      approved.startedAtMs = Math.max(approved.approvedAtMs, this.lastJobEndMs);
    }
    switch (event.type) {
      case 'PlacementDecided': {
        const { data } = event;
        this.plans.set(data.requestId, {
          startedAtMs: data.automation === 'automatic' ? nowMs : null, approvedAtMs: null, inFlight: new Set(), crashed: false,
          boundMs: planBoundMs(this.settings, this.answerMs, Object.keys(data.mapping).length, data.hostsToSuspend.length),
        });
        break;
      }
      case 'PlanApproved': {
        const plan = this.plans.get(event.data.requestId);
        if (plan !== undefined) plan.approvedAtMs = nowMs;
        break;
      }
      case 'MigrationStarted': {
        const { vmId, requestId, attempt } = event.data;
        this.lastStarted.set(vmId, { requestId: requestId ?? '', incarnation: this.incarnation });
        if (attempt > this.settings.migrationMaxAttempts) {
          this.fail('attempts-over-limit', `attempt ${attempt} of VM ${vmId}'s migration, more than the ${this.settings.migrationMaxAttempts} allowed`);
        }
        const plan = requestId === null ? undefined : this.plans.get(requestId);
        if (plan !== undefined) {
          plan.inFlight.add(vmId);
          if (plan.inFlight.size > this.settings.migrationConcurrency) {
            this.fail('concurrency-over-limit', `request ${String(requestId)} has ${plan.inFlight.size} migrations in flight, more than ${this.settings.migrationConcurrency}`);
          }
        }
        break;
      }
      case 'MigrationCompleted':
      case 'MigrationFailed':
        for (const plan of this.plans.values()) plan.inFlight.delete(event.data.vmId);
        break;
      case 'RequestCompleted': {
        const plan = this.plans.get(event.data.requestId);
        this.plans.delete(event.data.requestId);
        // A plan never carried out (rejected, superseded, automation off) has no bound to meet.
        if (plan === undefined || plan.crashed || plan.startedAtMs === null) break;
        const tookMs = nowMs - plan.startedAtMs;
        this.worstPlanMs = Math.max(this.worstPlanMs, tookMs);
        if (tookMs > plan.boundMs) {
          this.fail('plan-over-time-bound', `request ${event.data.requestId}'s plan took ${tookMs / 1000} s, more than its bound of ${plan.boundMs / 1000} s`);
        }
        break;
      }
      default: break;
    }
    if (event.type === 'RequestCompleted' || event.type === 'PlacementDecided') this.lastJobEndMs = nowMs;
    if (manager.queueDepth > this.settings.queueLimit) this.fail('queue-over-limit', `the queue holds ${manager.queueDepth} jobs, more than its ${this.settings.queueLimit}`);
    // By host: a request for a host already waiting is recorded before the one it supersedes is completed (two
    // appends), so for a moment, or across a crash until the restart supersedes it, a host has two waiting.
    const hosts = new Set([...manager.openRequests.values()].filter((r) => r.status === 'queued').map((r) => r.host)).size;
    // One more than the limit: the request being decided has left the queue but is not decided yet.
    if (hosts > this.settings.queueLimit + 1) this.fail('queue-over-limit', `requests of ${hosts} hosts wait to be decided, the queue holds ${this.settings.queueLimit}`);
  }

  /**
   * At quiescence after the faults: every request received has completed, no
   * migration runs, and the manager's projection is the cloud's state and
   * the strict fold of the whole log.
   */
  async checkConverged(manager: GlobalManager, log: EventLog): Promise<void> {
    const events: RecordedEvent[] = [];
    const head = await log.headPosition();
    for (let from = 1; from <= head; from += MAX_BATCH_EVENTS) events.push(...await log.readAll(from, MAX_BATCH_EVENTS));
    const received = new Set<string>();
    for (const event of events) {
      if (event.type === 'RequestReceived') received.add(event.data.requestId);
      if (event.type === 'RequestCompleted') received.delete(event.data.requestId);
    }
    if (received.size > 0) {
      this.fail('request-never-completed', `request(s) ${[...received].join(', ')} received and never completed`);
      return;
    }
    const problems: string[] = [];
    if (this.cloud.running > 0) problems.push(`the cloud still runs ${this.cloud.running} migration(s)`);
    const dc = manager.dataCentre;
    if (dc.migrations.size > 0) problems.push(`the log has migrations in flight: ${[...dc.migrations.keys()].join(', ')}`);
    const placement = this.cloud.placement();
    for (const [vmId, host] of placement) {
      const logged = dc.vms.get(vmId);
      if (logged?.host !== host) problems.push(`VM ${vmId} is on ${host}, the log has it on ${String(logged?.host)}`);
    }
    for (const vmId of dc.vms.keys()) if (!placement.has(vmId)) problems.push(`the log has VM ${vmId}, which the cloud no longer has`);
    for (const name of this.cloud.hostNames()) {
      const power = dc.hosts.get(name)?.power;
      if (power === undefined || isUp(power) !== this.cloud.reportsUp(name) || power === 'suspending' || power === 'waking') {
        problems.push(`host ${name} is ${String(power)} in the log, ${this.cloud.reportsUp(name) ? 'up' : 'down'} in the cloud`);
      }
    }
    if (problems.length > 0) {
      this.fail('not-converged', problems.slice(0, 5).join('; '));
      return;
    }
    const strict = initialDataCentreState({ historyLength: this.settings.historyLength, strict: true });
    try {
      for (const event of events) evolveDataCentre(strict, event);
    } catch (error) {
      this.fail('projection-anomaly', `the log does not fold strictly: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    if (!isDeepStrictEqual(snapshotDataCentre(strict), snapshotDataCentre(dc))) {
      this.fail('replay-differs', 'the whole log folded anew differs from the manager\'s projection');
    }
  }
}
