/**
 * The global manager: requests in, one plan at a time out of a bounded queue,
 * everything through the event log. Its state is the fold of the log (the
 * data-centre projection and the open requests), rebuilt on start; plans that
 * a restart interrupted are resumed before any new request is decided.
 *
 * Protocol front ends (Neat's `PUT /`, the JSON API, the simulator's local
 * managers) call `submit`; a request is acknowledged once its
 * `RequestReceived` is durable, not once its migrations are done.
 */
import { AssertionError, assert } from '../engine/assert';
import type { Rng } from '../engine/types';
import type { AUTOMATION_LEVELS, EventData, EventOf, REQUEST_OUTCOMES, REQUEST_PROTOCOLS } from '../events/catalogue';
import { evolveDataCentre, initialDataCentreState, observedPower, vmsOn } from '../events/dataCentre';
import { encodeDataCentre, SnapshotDataError } from '../events/dataCentreSnapshot';
import { lastPositionBefore } from '../log/port';
import type { CompactionResult } from '../log/port';
import type { DataCentreState } from '../events/dataCentre';
import type { RecordedEvent } from '../events/envelope';
import type { IdSource } from '../ids';
import { decideRequest } from './decide';
import type { Decision, DecisionSettings } from './decide';
import { executePlan } from './execute';
import type { ExecutionSettings } from './execute';
import type { Journal, PendingEvent } from './journal';
import { CloudError } from './ports';
import type { Timer } from '../clock';
import type { Cloud, CloudHost, CloudVm, Power, SnapshotStore } from './ports';
import { evolveRequests, requestStream } from './requests';
import { decodeCounters, encodeCounters, encodeSnapshot, loadSnapshot } from './snapshot';
import type { RequestRecord } from './requests';

export interface ManagerSettings extends DecisionSettings, ExecutionSettings {
  /** Hosts under management; null: every host the cloud reports. */
  readonly computeHosts: readonly string[] | null;
  /** Requests waiting to be decided or carried out, at most. */
  readonly queueLimit: number;
  /** Samples kept per VM and host (Neat's `data_collector_data_length`). */
  readonly historyLength: number;
}

export interface ManagerPorts {
  readonly cloud: Cloud;
  readonly power: Power;
  readonly timer: Timer;
  /** The log, with the ids and the clock that stamp events. */
  readonly journal: Journal;
  /** Names requests and migration attempts. */
  readonly ids: IdSource;
  /** For algorithms that draw (none of the placements does today); kept so that a simulation stays seeded. */
  readonly rng: Rng;
  /**
   * Where samples come from when agents do not post them (`samples_source`):
   * why its histories cannot be trusted now, or null. Absent: the agents.
   */
  readonly samples?: { problem(): string | null };
  /**
   * Runs a decision and may time it on the wall clock (the simulator reports
   * decision times); the manager itself reads no wall clock. Absent: run as is.
   */
  readonly timeDecision?: <T>(decide: () => T) => T;
  /**
   * Where the state is snapshotted, every `intervalEvents` events folded and
   * at stop, so that a start folds only the events after the snapshot.
   * Absent: every start folds the whole log.
   */
  readonly snapshots?: { readonly store: SnapshotStore; readonly intervalEvents: number; readonly onProblem: (message: string) => void };
}

/** What a start made of the snapshot: none, restored at a position, or refused (and the log folded whole). */
export type SnapshotUse = { readonly used: 'none' } | { readonly used: 'restored'; readonly position: number } | { readonly used: 'refused'; readonly reason: string };

export interface Submission {
  readonly host: string;
  readonly reason: 'underload' | 'overload';
  readonly vmIds: readonly string[];
  readonly protocol: (typeof REQUEST_PROTOCOLS)[number];
  readonly remoteAddress: string | null;
  readonly clientTimeS: number | null;
}

export type SubmitResult =
  | { readonly status: 'accepted'; readonly requestId: string; readonly supersedes: string | null }
  | { readonly status: 'queue-full'; readonly retryAfterS: number };

export type PlanAnswer = 'done' | 'not-found' | 'not-recommended' | 'queue-full';

/**
 * A host's place in the queue: a newer request for the host takes it over.
 * It is queued as its request's record is appended; `recorded` settles once
 * that record is folded, false when it failed (the job is then dropped).
 */
interface DecideJob { readonly kind: 'decide'; readonly host: string; requestId: string; recorded: Promise<boolean> }
type Job = DecideJob | { readonly kind: 'execute'; readonly requestId: string };

const RECORDED: Promise<boolean> = Promise.resolve(true);

/** Counters for `/metrics`, kept as a fold of the log so that they survive a restart. */
export interface ManagerCounters {
  readonly requestsReceived: Map<string, number>;
  readonly requestsRejected: Map<number, number>;
  readonly requestsCompleted: Map<(typeof REQUEST_OUTCOMES)[number], number>;
  migrationsCompleted: number;
  migrationsFailed: number;
  migrationsAbandoned: number;
  hostsSuspended: number;
  hostsWoken: number;
  powerFailures: number;
}

function increment<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function countEvent(counters: ManagerCounters, event: RecordedEvent): void {
  switch (event.type) {
    case 'RequestReceived': increment(counters.requestsReceived, event.data.protocol); break;
    case 'RequestRejected': increment(counters.requestsRejected, event.data.status); break;
    case 'RequestCompleted': increment(counters.requestsCompleted, event.data.outcome); break;
    case 'MigrationCompleted': counters.migrationsCompleted += 1; break;
    case 'MigrationFailed': counters.migrationsFailed += 1; break;
    case 'MigrationAbandoned': counters.migrationsAbandoned += 1; break;
    case 'HostSuspended': counters.hostsSuspended += 1; break;
    case 'HostWoken': counters.hostsWoken += 1; break;
    case 'HostSuspendFailed':
    case 'HostWakeFailed': counters.powerFailures += 1; break;
    case 'SamplesCompacted': adoptCounters(counters, event); break;
    default: break;
  }
}

/**
 * The counters as the compaction recorded them: the refusals it removed are
 * counted there and nowhere else. A checkpoint from before refusals were
 * compacted has none, and removed none. Its counters are checked as a
 * snapshot's; they were written by this code, so a failure is a broken log.
 */
function adoptCounters(counters: ManagerCounters, event: RecordedEvent & EventOf<'SamplesCompacted'>): void {
  if (event.data.counters === undefined) return;
  let adopted: ManagerCounters;
  try {
    adopted = decodeCounters(event.data.counters, 'counters');
  } catch (error) {
    if (error instanceof SnapshotDataError) throw new Error(`the SamplesCompacted event at position ${event.position} has unusable counters: ${error.message}`);
    throw error;
  }
  Object.assign(counters, adopted);
}

/** Waits for the log to be idle, at most this many times, before a compaction gives up. */
const COMPACTION_IDLE_ATTEMPTS = 10_000;

/**
 * Thrown into the manager's work once it stops. The work ends where it is,
 * recording nothing more: a restart resumes it from the log, as after a crash.
 */
export class ManagerStoppedError extends Error {
  override name = 'ManagerStoppedError';
}

export class GlobalManager {
  private state: DataCentreState;
  /** Requests not completed yet, by id. */
  readonly openRequests = new Map<string, RequestRecord>();
  readonly counters: ManagerCounters = {
    requestsReceived: new Map(), requestsRejected: new Map(), requestsCompleted: new Map(),
    migrationsCompleted: 0, migrationsFailed: 0, migrationsAbandoned: 0, hostsSuspended: 0, hostsWoken: 0, powerFailures: 0,
  };
  private readonly journal: Journal;
  /** The ports as the work sees them: after `stop` every call fails, so that nothing acts on the world any more. */
  private readonly cloud: Cloud;
  private readonly power: Power;
  private readonly timer: Timer;
  /**
   * How to fail each call in flight when the manager stops. A set of the calls
   * rather than a race against one pending "stopped" promise: each race would
   * leave a reaction on that promise for as long as it stays pending, a few
   * million in a simulated day.
   */
  private readonly inFlight = new Set<(error: ManagerStoppedError) => void>();
  private readonly queue: Job[] = [];
  /** The decide job of each host in the queue. */
  private readonly queuedDecisions = new Map<string, DecideJob>();
  private working: Promise<void> | null = null;
  private current: Job | null = null;
  private started = false;
  private stopping = false;
  private readonly managedHosts: ReadonlySet<string> | null;
  /** The cloud's and the projection's revisions when an observation last found them equal; null: not since the start. */
  private observedEqual: { readonly cloud: number; readonly projection: number } | null = null;
  /** The last event folded, which a snapshot is taken at. */
  private lastFolded: RecordedEvent | null = null;
  private eventsSinceSnapshot = 0;
  /** The snapshot being stored, if any: one at a time; an interval that ends meanwhile is taken at the first fold after it. */
  private snapshotWrite: Promise<void> | null = null;
  /** What the first catch-up made of the snapshot (a standby catches up long before it starts). */
  private caughtUp: SnapshotUse | null = null;

  constructor(private readonly ports: ManagerPorts, readonly settings: ManagerSettings) {
    assert(Number.isInteger(settings.queueLimit) && settings.queueLimit > 0, 'the queue needs a positive limit');
    assert(Number.isInteger(settings.migrationConcurrency) && settings.migrationConcurrency > 0, 'migration concurrency must be positive');
    assert(Number.isInteger(settings.migrationMaxAttempts) && settings.migrationMaxAttempts > 0, 'at least one migration attempt');
    assert(settings.sampleMaxAgeMs > 0, 'samples need a positive max age');
    this.state = initialDataCentreState({ historyLength: settings.historyLength, strict: false });
    assert(ports.snapshots === undefined || (Number.isInteger(ports.snapshots.intervalEvents) && ports.snapshots.intervalEvents > 0),
      'snapshots need a positive interval');
    this.managedHosts = settings.computeHosts === null ? null : new Set(settings.computeHosts);
    this.journal = ports.journal;
    this.journal.onRecorded((event) => { this.fold(event); });
    const { cloud, power, timer } = ports;
    this.cloud = {
      listHosts: () => this.unlessStopped(() => cloud.listHosts()),
      listVms: () => this.unlessStopped(() => cloud.listVms()),
      getVm: (vmId) => this.unlessStopped(() => cloud.getVm(vmId)),
      startLiveMigration: (vmId, targetHost) => this.unlessStopped(() => cloud.startLiveMigration(vmId, targetHost)),
      migrationStatus: (handle) => this.unlessStopped(() => cloud.migrationStatus(handle)),
    };
    this.power = {
      suspend: (host) => this.unlessStopped(() => power.suspend(host)),
      wake: (host) => this.unlessStopped(() => power.wake(host)),
    };
    this.timer = { sleep: (durationMs) => this.unlessStopped(() => timer.sleep(durationMs)) };
  }

  /** The data-centre projection: the fold of the log (from a snapshot, or from its first event). */
  get dataCentre(): DataCentreState {
    return this.state;
  }

  /** A call, not a field read, so that the checks after an await are not narrowed away. */
  private hasStopped(): boolean {
    return this.stopping;
  }

  /** The call's answer, or ManagerStoppedError once the manager stops (the call itself is abandoned). */
  private unlessStopped<T>(call: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new ManagerStoppedError('the global manager has stopped'));
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      call().then(resolve, reject).finally(() => { this.inFlight.delete(reject); });
    });
  }

  private fold(event: RecordedEvent): void {
    evolveDataCentre(this.state, event);
    evolveRequests(this.openRequests, event);
    countEvent(this.counters, event);
    if (event.type === 'RequestCompleted') {
      this.openRequests.delete(event.data.requestId);
      this.journal.forget(requestStream(event.data.requestId));
    }
    // A refused request's stream holds that one event for good: kept, its revision would grow the journal (and every
    // snapshot) by one entry a refusal, 1.4 million a day at 5,000 hosts.
    if (event.type === 'RequestRejected') this.journal.forget(requestStream(event.data.requestId));
    this.lastFolded = event;
    this.eventsSinceSnapshot += 1;
    // Taken here, between two folds, where the state is exactly the fold of the log up to this event. Only once
    // started: a standby folds the leader's log, and the leader keeps the snapshot.
    if (this.started && this.ports.snapshots !== undefined && this.eventsSinceSnapshot >= this.ports.snapshots.intervalEvents) this.writeSnapshot();
  }

  /**
   * Encodes the state as of the last event folded, now, and stores it in the
   * background; a failure is reported, and the next interval tries again.
   */
  private writeSnapshot(): void {
    const snapshots = this.ports.snapshots;
    if (snapshots === undefined || this.lastFolded === null || this.snapshotWrite !== null) return;
    this.eventsSinceSnapshot = 0;
    const report = (error: unknown): void => {
      snapshots.onProblem(`could not write the snapshot to ${snapshots.store.description}: ${error instanceof Error ? error.message : String(error)}`);
    };
    let text: string;
    try {
      text = encodeSnapshot({
        event: this.lastFolded, historyLength: this.settings.historyLength,
        dataCentre: this.state, openRequests: [...this.openRequests.values()].map((r) => [r.requestId, r.lastPosition] as const),
        counters: this.counters, streamRevisions: this.journal.foldedStreamRevisions(),
      });
    } catch (error) {
      report(error);
      return;
    }
    this.snapshotWrite = snapshots.store.write(text).catch(report).finally(() => { this.snapshotWrite = null; });
  }

  /**
   * Adopts the stored snapshot when every check passes: its header and
   * checksum, its data, and the log's event at its position. Otherwise the
   * state stays empty, for the log to be folded whole, and says why.
   */
  private async restoreSnapshot(): Promise<SnapshotUse> {
    const snapshots = this.ports.snapshots;
    const log = this.journal.log;
    if (snapshots === undefined || log === null) return { used: 'none' };
    try {
      const data = await snapshots.store.read();
      if (data === null) return { used: 'none' };
      const snapshot = await loadSnapshot(data, log, this.settings.historyLength);
      const { position } = snapshot.event;
      this.state = snapshot.dataCentre;
      for (const [requestId, record] of snapshot.openRequests) this.openRequests.set(requestId, record);
      Object.assign(this.counters, snapshot.counters);
      this.journal.restore(position, snapshot.streamRevisions);
      this.lastFolded = snapshot.event;
      return { used: 'restored', position };
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      snapshots.onProblem(`${snapshots.store.description} refused, the log is folded whole: ${reason}`);
      return { used: 'refused', reason };
    }
  }

  /**
   * Folds the log: from the stored snapshot the first time, when it passes
   * every check, then every event not folded yet. A standby catches up, then
   * follows the log; `start` catches up first.
   */
  async catchUp(): Promise<{ events: number; snapshot: SnapshotUse }> {
    this.caughtUp ??= await this.restoreSnapshot();
    return { events: await this.journal.rebuild(), snapshot: this.caughtUp };
  }

  /**
   * Rebuilds the state from the log, observes the cloud, and queues what the
   * log left unfinished: interrupted plans first (they are settled against the
   * cloud before anything new is decided), then undecided requests in order.
   */
  async start(): Promise<{ events: number; resumed: number; requeued: number; snapshot: SnapshotUse }> {
    assert(!this.started, 'the manager starts once');
    this.started = true;
    const { events, snapshot } = await this.catchUp();
    await this.observe(null);
    const open = [...this.openRequests.values()].sort((a, b) => a.receivedAtMs - b.receivedAtMs);
    let resumed = 0;
    let requeued = 0;
    for (const record of open) {
      if (record.status === 'executing' && record.plan?.automation === 'off') {
        await this.complete(record, { outcome: 'recorded', detail: 'automation is off: the plan was recorded, not carried out' });
      } else if (record.status === 'executing') {
        this.queue.push({ kind: 'execute', requestId: record.requestId });
        resumed += 1;
      }
    }
    // One waiting request a host, the latest, as `submit` keeps it: a crash between a newer request's record and its
    // supersede leaves both in the log (and the queue over its limit).
    const latest = new Map<string, RequestRecord>();
    for (const record of open) if (record.status === 'queued') latest.set(record.host, record);
    for (const record of open) {
      if (record.status !== 'queued') continue;
      const newer = latest.get(record.host);
      if (newer !== undefined && newer !== record) {
        await this.complete(record, { outcome: 'superseded', detail: `superseded by request ${newer.requestId} for the same host` });
        continue;
      }
      this.enqueueDecision({ kind: 'decide', requestId: record.requestId, host: record.host, recorded: RECORDED });
      requeued += 1;
    }
    this.kick();
    return { events, resumed, requeued, snapshot };
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /** A host the cloud reported and that is managed. */
  knowsHost(host: string): boolean {
    return this.dataCentre.hosts.has(host);
  }

  knowsVm(vmId: string): boolean {
    return this.dataCentre.vms.has(vmId);
  }

  /**
   * The CPU history held of a VM, oldest first, whether the cloud has reported
   * it or its samples are held until it does; null when none is held. An agent
   * that sees a VM arrive continues it, as Neat's collector fetched it from its database.
   */
  vmHistory(vmId: string): number[] | null {
    return (this.dataCentre.vms.get(vmId) ?? this.dataCentre.unreportedVms.get(vmId))?.cpuMhzHistory.toArray() ?? null;
  }

  /** The manager's clock, the one that stamps its events: what samples' ages are measured against, in decisions and on the read side. */
  nowMs(): number {
    return this.journal.clock.nowMs();
  }

  async submit(submission: Submission): Promise<SubmitResult> {
    assert(this.started, 'requests are taken once the manager has started');
    if (this.stopping) return { status: 'queue-full', retryAfterS: this.retryAfterS() };
    const queued = this.queuedDecisions.get(submission.host);
    if (queued === undefined && this.queue.length >= this.settings.queueLimit) {
      return { status: 'queue-full', retryAfterS: this.retryAfterS() };
    }
    const requestId = this.ports.ids.next();
    // The record and the supersede it causes are both appended before either is awaited, so that they share a group
    // commit; the queue is changed with no await since it was read, so a concurrent submit sees the change.
    const received = this.journal.record(requestStream(requestId), [{
      type: 'RequestReceived',
      data: {
        requestId, host: submission.host, reason: submission.reason, vmIds: [...submission.vmIds],
        protocol: submission.protocol, remoteAddress: submission.remoteAddress, clientTimeS: submission.clientTimeS,
      },
    }], { correlationId: requestId, causationId: null });
    const recorded = received.then(() => true, () => false);
    let supersedes: string | null = null;
    let superseded: Promise<void> = Promise.resolve();
    if (queued !== undefined) {
      supersedes = queued.requestId;
      superseded = this.supersedeQueued(queued.requestId, queued.recorded, requestId);
      queued.requestId = requestId;
      queued.recorded = recorded;
    } else {
      this.enqueueDecision({ kind: 'decide', requestId, host: submission.host, recorded });
    }
    this.kick();
    await Promise.all([received, superseded]);
    return { status: 'accepted', requestId, supersedes };
  }

  /**
   * Completes a queued request that a newer one for its host replaced. Its
   * record is folded already unless it arrived within the same commit: then
   * the completion follows it; a record that failed leaves nothing to complete.
   */
  private async supersedeQueued(olderId: string, olderRecorded: Promise<boolean>, by: string): Promise<void> {
    const record = this.openRequests.get(olderId) ?? ((await olderRecorded) ? this.openRequests.get(olderId) : undefined);
    if (record === undefined) return;
    await this.complete(record, { outcome: 'superseded', detail: `superseded by request ${by} for the same host` });
  }

  private enqueueDecision(job: DecideJob): void {
    assert(!this.queuedDecisions.has(job.host), 'one decide job a host in the queue');
    this.queue.push(job);
    this.queuedDecisions.set(job.host, job);
  }

  /** Records a request refused at the door (authentication, validation, staleness, a full queue). */
  async reject(rejection: Omit<EventData<'RequestRejected'>, 'requestId'>): Promise<string> {
    const requestId = this.ports.ids.next();
    await this.journal.record(requestStream(requestId), [{ type: 'RequestRejected', data: { requestId, ...rejection } }],
      { correlationId: requestId, causationId: null });
    return requestId;
  }

  async recordSample(sample: EventData<'UtilizationSampled'>): Promise<void> {
    await this.journal.record(`samples-${sample.host}`, [{ type: 'UtilizationSampled', data: sample }], { correlationId: null, causationId: null });
  }

  async approve(requestId: string, by: string): Promise<PlanAnswer> {
    const record = this.openRequests.get(requestId);
    if (record === undefined) return 'not-found';
    if (record.status !== 'recommended') return 'not-recommended';
    if (this.queue.length >= this.settings.queueLimit) return 'queue-full';
    await this.emit(record, [{ type: 'PlanApproved', data: { requestId, approvedBy: by } }]);
    this.queue.push({ kind: 'execute', requestId });
    this.kick();
    return 'done';
  }

  async rejectPlan(requestId: string, by: string, reason: string): Promise<PlanAnswer> {
    const record = this.openRequests.get(requestId);
    if (record === undefined) return 'not-found';
    if (record.status !== 'recommended') return 'not-recommended';
    await this.emit(record, [{ type: 'PlanRejected', data: { requestId, rejectedBy: by, reason } }]);
    await this.complete(record, { outcome: 'rejected', detail: `the plan was rejected by ${by}: ${reason}` });
    return 'done';
  }

  /**
   * Compacts the samples older than `retentionMs`: records the projection
   * as it stands in a `SamplesCompacted` event, appended when no other append
   * is in flight (so that it directly follows the state it records), then
   * lets the log remove the samples at or before the last position older than
   * that. Null when there was nothing old enough.
   */
  async compactSamples(retentionMs: number, archive: string | null): Promise<(CompactionResult & { throughPosition: number; checkpointPosition: number }) | null> {
    assert(retentionMs > 0, 'a positive retention');
    const log = this.journal.log;
    if (log?.compactSamples === undefined) throw new Error(`${log?.description ?? 'a run without a log'} keeps every event: it cannot compact samples`);
    const throughPosition = await lastPositionBefore(log, this.nowMs() - retentionMs);
    if (throughPosition === 0) return null;
    let checkpoint: RecordedEvent | null = null;
    for (let attempt = 0; attempt < COMPACTION_IDLE_ATTEMPTS && checkpoint === null; attempt++) {
      await this.journal.settled();
      if (this.hasStopped()) throw new ManagerStoppedError('the global manager has stopped');
      if (!this.journal.idle) continue;
      // No await between the check and the record: the event takes the position right after the state encoded here.
      const data = { throughPosition, archive, dataCentre: encodeDataCentre(this.state), counters: encodeCounters(this.counters) };
      [checkpoint] = await this.journal.record('compactions', [{ type: 'SamplesCompacted', data }], { correlationId: null, causationId: null });
    }
    if (checkpoint === null) throw new Error(`the log was never idle in ${COMPACTION_IDLE_ATTEMPTS} tries: the samples were not compacted`);
    const result = await log.compactSamples(throughPosition, archive, () => this.timer.sleep(0));
    return { ...result, throughPosition, checkpointPosition: checkpoint.position };
  }

  /** Resolves when the queue is empty and nothing is being worked on. */
  async idle(): Promise<void> {
    for (let round = 0; this.working !== null; round++) {
      assert(round < 1_000_000, 'the queue never drained');
      await this.working;
    }
  }

  /**
   * Takes no more requests or jobs, and abandons the job in progress where it
   * waits (a restart resumes it from the log); resolves once every append
   * already called is acknowledged, so that the log can be closed.
   */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      const stopped = new ManagerStoppedError('the global manager has stopped');
      for (const fail of this.inFlight) fail(stopped);
      this.inFlight.clear();
    }
    await this.journal.settled();
    // A clean stop leaves a snapshot of the last event, so that the next start folds nothing.
    await this.snapshotWrite;
    if (this.started && this.eventsSinceSnapshot > 0) this.writeSnapshot();
    await this.snapshotWrite;
  }

  private retryAfterS(): number {
    const perJobS = (this.settings.migrationInitialWaitMs + this.settings.migrationPollIntervalMs) / 1000;
    return Math.max(1, Math.ceil(perJobS * Math.max(1, this.queue.length) / this.settings.queueLimit));
  }

  private kick(): void {
    if (this.working !== null || this.stopping) return;
    this.working = this.work().finally(() => { this.working = null; });
  }

  private async work(): Promise<void> {
    for (let job = this.queue.shift(); job !== undefined && !this.stopping; job = this.queue.shift()) {
      if (job.kind === 'decide') this.queuedDecisions.delete(job.host);
      this.current = job;
      try {
        await this.run(job);
      } catch (error) {
        if (error instanceof AssertionError) throw error;
        // A stopped manager records nothing more: the job is left for a restart to resume.
        if (this.hasStopped()) return;
        await this.fail(job.requestId, error);
      } finally {
        this.current = null;
      }
    }
  }

  /** What the worker is doing now, for `/metrics` and tests. */
  get busyWith(): string | null {
    return this.current?.requestId ?? null;
  }

  private async fail(requestId: string, error: unknown): Promise<void> {
    const record = this.openRequests.get(requestId);
    if (record === undefined) return;
    const detail = `the request failed: ${error instanceof Error ? error.message : String(error)}`;
    await this.complete(record, { outcome: 'failed', detail });
  }

  private async run(job: Job): Promise<void> {
    if (job.kind === 'decide' && !(await job.recorded)) return;
    const record = this.openRequests.get(job.requestId);
    if (record === undefined) return;
    if (job.kind === 'decide') {
      await this.decide(record);
      return;
    }
    await this.execute(record);
  }

  private async execute(record: RequestRecord): Promise<void> {
    const { cloud, power, timer } = this;
    await executePlan(record, { cloud, power, timer, journal: this.journal, ids: this.ports.ids, reconcile: () => this.observe(record),
      powerOf: (host) => this.dataCentre.hosts.get(host)?.power ?? null,
      vmsInLogOn: (host) => vmsOn(this.dataCentre, host).map((vm) => vm.id),
    }, this.settings);
  }

  private async decide(record: RequestRecord): Promise<void> {
    try {
      await this.observe(record);
    } catch (error) {
      if (!(error instanceof CloudError)) throw error;
      await this.emit(record, [{ type: 'NothingToDo', data: { requestId: record.requestId, reason: 'cloud-unavailable', detail: error.message } }]);
      await this.complete(record, { outcome: 'failed', detail: `the cloud could not be read: ${error.message}` });
      return;
    }
    const sourceProblem = this.ports.samples?.problem() ?? null;
    const decide = (): Decision => decideRequest(record, this.dataCentre, this.settings, this.nowMs());
    const decision: Decision = sourceProblem !== null
      ? { type: 'NothingToDo', data: { requestId: record.requestId, reason: 'source-unavailable', detail: sourceProblem } }
      : this.ports.timeDecision === undefined ? decide() : this.ports.timeDecision(decide);
    await this.emit(record, [decision]);
    if (decision.type === 'NothingToDo') {
      await this.complete(record, { outcome: 'nothing-to-do', detail: decision.data.detail });
      return;
    }
    const automation: (typeof AUTOMATION_LEVELS)[number] = decision.data.automation;
    if (automation === 'off') {
      await this.complete(record, { outcome: 'recorded', detail: 'automation is off: the plan was recorded, not carried out' });
    } else if (automation === 'manual') {
      await this.supersedeRecommendations(record);
    } else {
      await this.execute(record);
    }
  }

  /** A newer plan for a host replaces the older ones still waiting for approval, as Watcher's continuous audits do. */
  private async supersedeRecommendations(record: RequestRecord): Promise<void> {
    const older = [...this.openRequests.values()].filter((r) => r !== record && r.host === record.host && r.status === 'recommended');
    for (const old of older) {
      await this.complete(old, { outcome: 'superseded', detail: `superseded by the plan of request ${record.requestId}` });
    }
  }

  private async emit(record: RequestRecord, events: readonly PendingEvent[]): Promise<void> {
    await this.journal.record(requestStream(record.requestId), events, { correlationId: record.requestId, causationId: record.receivedEventId });
  }

  private async complete(record: RequestRecord, result: { outcome: (typeof REQUEST_OUTCOMES)[number]; detail: string }): Promise<void> {
    const migrations = [...record.migrations.values()];
    const completed = migrations.filter((m) => m.outcome === 'completed').length;
    await this.emit(record, [{
      type: 'RequestCompleted',
      data: { requestId: record.requestId, ...result, migrationsCompleted: completed, migrationsFailed: migrations.filter((m) => m.outcome !== null && m.outcome !== 'completed').length },
    }]);
  }

  /**
   * Reads the cloud and records what it reports when that differs from the
   * log (a VM created, deleted or moved behind our back, a host gone down).
   * Decisions are made on the projection, so their inputs are in the log.
   */
  private async observe(record: RequestRecord | null): Promise<void> {
    // Read before the lists: a change made while they are read leaves an older revision, so the next observation reads again.
    const cloudRevision = this.ports.cloud.revision?.() ?? null;
    const projectionRevision = this.dataCentre.inventoryRevision;
    if (cloudRevision !== null && this.observedEqual?.cloud === cloudRevision && this.observedEqual.projection === projectionRevision) return;
    const [hosts, vms] = await Promise.all([this.cloud.listHosts(), this.cloud.listVms()]);
    const managed = hosts.filter((h) => this.managedHosts === null || this.managedHosts.has(h.name));
    const managedNames = new Set(managed.map((h) => h.name));
    const managedVms = vms.filter((vm) => vm.host === null || managedNames.has(vm.host));
    // Most observations find nothing new: compared before the sorted inventory is built, as only a difference records it.
    if (!this.differs(managed, managedVms)) {
      this.observedEqual = cloudRevision === null || projectionRevision !== this.dataCentre.inventoryRevision ? null
        : { cloud: cloudRevision, projection: projectionRevision };
      return;
    }
    const inventory: EventData<'InventoryObserved'> = {
      hosts: managed.map((h) => ({ host: h.name, cpuMhz: h.cpuMhz, ramMb: h.ramMb, state: h.state, enabled: h.enabled, ...(h.cores === undefined ? {} : { cores: h.cores }) }))
        .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
      vms: managedVms.map((vm) => ({ vmId: vm.id, host: vm.host, ramMb: vm.ramMb, vcpus: vm.vcpus, ...(vm.cpuMhz === undefined ? {} : { cpuMhz: vm.cpuMhz }) }))
        .sort((a, b) => (a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0)),
    };
    const causes = record === null
      ? { correlationId: null, causationId: null }
      : { correlationId: record.requestId, causationId: record.receivedEventId };
    await this.journal.record('inventory', [{ type: 'InventoryObserved', data: inventory }], causes);
  }

  /** Whether the cloud's managed hosts and their VMs differ from the projection (a VM seen mid-migration is where the log has it). */
  private differs(hosts: readonly CloudHost[], vms: readonly CloudVm[]): boolean {
    const dc = this.dataCentre;
    for (const observed of hosts) {
      const host = dc.hosts.get(observed.name);
      if (host === undefined || host.cpuMhz !== observed.cpuMhz || host.ramMb !== observed.ramMb || host.enabled !== observed.enabled) return true;
      if (observedPower(host.power, observed.state) !== host.power) return true;
    }
    if (vms.length !== dc.vms.size) return true;
    for (const observed of vms) {
      const vm = dc.vms.get(observed.id);
      if (vm === undefined || vm.ramMb !== observed.ramMb || vm.vcpus !== observed.vcpus) return true;
      if (vm.host !== observed.host && observed.status !== 'MIGRATING' && !dc.migrations.has(observed.id)) return true;
    }
    return false;
  }
}
