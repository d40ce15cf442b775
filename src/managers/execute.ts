/**
 * Carrying out a decided plan: wake the hosts it needs and wait until the
 * cloud reports them up, live-migrate its VMs (bounded concurrency, initial
 * wait, polling, timeout, a bounded number of attempts), then suspend the
 * hosts it emptied, each only if the cloud shows it empty. Every step is an
 * event; a step whose premise no longer holds is skipped with the reason.
 *
 * The executor starts from the request's projection, so the same code runs a
 * fresh plan and finishes one that a restart interrupted: steps already done
 * are not repeated, and a step that was in flight is first settled against
 * what the cloud reports.
 *
 * A migration is asked for again only when the cloud provably did not take
 * the request: a start whose answer was lost is followed like an accepted
 * one, a VM the cloud is already moving is waited for, and one found on its
 * target counts as migrated. Before the request completes, the log is brought
 * into agreement with the cloud.
 */
import { assert } from '../engine/assert';
import type { EventData } from '../events/catalogue';
import { isUp } from '../events/dataCentre';
import type { PowerState } from '../events/dataCentre';
import type { Causes } from '../events/envelope';
import type { IdSource } from '../ids';
import type { Journal, PendingEvent } from './journal';
import { CloudError, PowerError } from './ports';
import type { Timer } from '../clock';
import type { Cloud, CloudVm, Power } from './ports';
import { requestStream } from './requests';
import type { MigrationProgress, PlanRecord, RequestRecord } from './requests';

export interface ExecutionSettings {
  /** Migrations run at once (Neat: 1). */
  readonly migrationConcurrency: number;
  /** Wait after starting a migration before the first poll (Neat: 10 s). */
  readonly migrationInitialWaitMs: number;
  readonly migrationPollIntervalMs: number;
  /** An attempt that has not completed by then fails (Neat: 300 s). */
  readonly migrationTimeoutMs: number;
  /** Attempts per VM, the first included (Neat: unbounded). */
  readonly migrationMaxAttempts: number;
  readonly wakeTimeoutMs: number;
  readonly wakePollIntervalMs: number;
}

export interface ExecutionPorts {
  readonly cloud: Cloud;
  readonly power: Power;
  readonly timer: Timer;
  readonly journal: Journal;
  /** Names each migration attempt. */
  readonly ids: IdSource;
  /**
   * Records what the cloud reports where it differs from the log (a move the
   * plan could not settle, a VM that went elsewhere), so that the log ends in
   * agreement with the cloud; rejects with a CloudError when the cloud cannot
   * be read.
   */
  readonly reconcile: () => Promise<void>;
  /**
   * A host's power state as the log has it (null: a host it does not know). A
   * plan approved late, or resumed after a restart, may find a target that
   * another plan suspended since, or a host to wake that is up already.
   */
  readonly powerOf: (host: string) => PowerState | null;
  /** The VMs the log places on a host: a suspend must leave none there in the log either. */
  readonly vmsInLogOn: (host: string) => readonly string[];
}

interface Context {
  readonly record: RequestRecord;
  readonly plan: PlanRecord;
  readonly ports: ExecutionPorts;
  readonly settings: ExecutionSettings;
  readonly stream: string;
  readonly causes: Causes;
}

type AttemptResult =
  | { readonly kind: 'completed' }
  | { readonly kind: 'failed'; readonly error: string; readonly retryable: boolean }
  | { readonly kind: 'skipped' };

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function emit(context: Context, events: readonly PendingEvent[], causationId: string | null = null): Promise<string> {
  const recorded = await context.ports.journal.record(context.stream, events,
    causationId === null ? context.causes : { ...context.causes, causationId });
  return recorded[recorded.length - 1].id;
}

function nowMs(context: Context): number {
  return context.ports.journal.clock.nowMs();
}

/** Polls until `done` says yes or the time is up; the number of polls is bounded by the timeout. */
async function pollUntil(context: Context, timeoutMs: number, intervalMs: number, done: () => Promise<boolean>): Promise<boolean> {
  assert(intervalMs > 0 && timeoutMs >= 0, 'polling needs a positive interval');
  const polls = Math.ceil(timeoutMs / intervalMs) + 1;
  for (let poll = 0; poll < polls; poll++) {
    if (await done()) return true;
    if (poll < polls - 1) await context.ports.timer.sleep(intervalMs);
  }
  return false;
}

async function hostIsUp(context: Context, host: string): Promise<boolean> {
  try {
    return (await context.ports.cloud.listHosts()).some((h) => h.name === host && h.state === 'up');
  } catch (error) {
    if (error instanceof CloudError && error.kind === 'unavailable') return false;
    throw error;
  }
}

async function wakeHost(context: Context, host: string): Promise<boolean> {
  const state = context.record.wakes.get(host);
  if (state === 'done') return true;
  if (state === 'failed') return false;
  const power = context.ports.powerOf(host);
  // Woken by another plan since this one was made: nothing to wake.
  if (state === undefined && power !== null && isUp(power)) return true;
  const startMs = nowMs(context);
  if (state === undefined) {
    await emit(context, [{ type: 'HostWakeRequested', data: { host, requestId: context.record.requestId } }]);
    try {
      await context.ports.power.wake(host);
    } catch (error) {
      if (!(error instanceof PowerError)) throw error;
      await emit(context, [{ type: 'HostWakeFailed', data: { host, error: error.message } }]);
      return false;
    }
  }
  const { wakeTimeoutMs, wakePollIntervalMs } = context.settings;
  if (await pollUntil(context, wakeTimeoutMs, wakePollIntervalMs, () => hostIsUp(context, host))) {
    await emit(context, [{ type: 'HostWoken', data: { host, durationMs: nowMs(context) - startMs } }]);
    return true;
  }
  await emit(context, [{ type: 'HostWakeFailed', data: { host, error: `the cloud did not report the host up within ${wakeTimeoutMs / 1000} s` } }]);
  return false;
}

/** The VM as the cloud reports it, gone (null), or not known because the cloud could not be reached. */
type Observed = CloudVm | null | 'unknown';

/** Reads the VM, treating an unreachable cloud as "unknown" rather than as an answer. */
async function readVm(context: Context, vmId: string): Promise<Observed> {
  try {
    return await context.ports.cloud.getVm(vmId);
  } catch (error) {
    if (error instanceof CloudError && error.kind === 'unavailable') return 'unknown';
    throw error;
  }
}

/**
 * The VM once the cloud reports it and is not moving it: a VM already
 * migrating (a start whose answer was lost, or someone else's move) is waited
 * for, never asked for again. Bounded by the migration timeout; what was read
 * last when the time is up.
 */
async function settledVm(context: Context, vmId: string): Promise<Observed> {
  const { migrationTimeoutMs, migrationPollIntervalMs } = context.settings;
  let vm = 'unknown' as Observed;
  await pollUntil(context, migrationTimeoutMs, migrationPollIntervalMs, async () => {
    vm = await readVm(context, vmId);
    return vm !== 'unknown' && vm?.status !== 'MIGRATING';
  });
  return vm;
}

/** Why the migration should not start now, or null when it may. */
function premiseBroken(vm: CloudVm | null, source: string, target: string): { reason: EventData<'MigrationSkipped'>['reason']; detail: string } | null {
  if (vm === null) return { reason: 'vm-gone', detail: 'the cloud no longer has the VM' };
  if (vm.status === 'ERROR') return { reason: 'vm-error', detail: 'the VM is in ERROR' };
  if (vm.status === 'ACTIVE' && vm.host === target) {
    // Moved by an earlier attempt whose end was not seen, or by someone else: the plan's step is done.
    return { reason: 'already-on-target', detail: `the cloud shows the VM ACTIVE on the target "${target}" already` };
  }
  if (vm.host !== source) return { reason: 'vm-moved', detail: `the VM is on "${String(vm.host)}" now, not on "${source}" (target "${target}")` };
  return null;
}

/** How a started migration is followed. */
interface Followed {
  /** The cloud's handle, or null for an attempt a restart interrupted, which is judged by the VM alone. */
  readonly handle: string | null;
  readonly source: string;
  /** The start's answer was lost: the cloud may have begun the migration, or may never have taken the request. */
  readonly answerLost: boolean;
}

/** Follows a started migration until it completes, fails, or its time is up. */
async function follow(context: Context, vmId: string, target: string, followed: Followed): Promise<AttemptResult> {
  const { migrationTimeoutMs, migrationPollIntervalMs } = context.settings;
  const { handle, source } = followed;
  let result = null as AttemptResult | null;
  let lastVm = 'unknown' as Observed;
  // Whether anything of the migration showed: a final record, or the VM moving or moved.
  let seen = false as boolean;
  await pollUntil(context, migrationTimeoutMs, migrationPollIntervalMs, async () => {
    const status = handle === null ? null : await context.ports.cloud.migrationStatus(handle).catch((error: unknown) => {
      if (error instanceof CloudError && error.kind === 'unavailable') return null;
      throw error;
    });
    const vm = await readVm(context, vmId);
    lastVm = vm;
    if (vm === 'unknown') return false;
    seen ||= (status !== null && status.state !== 'running') || vm === null || vm.status !== 'ACTIVE' || vm.host !== source;
    if (vm === null) result = { kind: 'failed', error: 'the VM was deleted during its migration', retryable: false };
    else if (vm.status === 'ERROR') result = { kind: 'failed', error: 'the VM went into ERROR', retryable: false };
    else if (status?.state === 'failed') result = { kind: 'failed', error: status.error ?? 'the cloud reports the migration failed', retryable: true };
    else if (vm.host === target && vm.status === 'ACTIVE' && (status === null || status.state === 'completed')) result = { kind: 'completed' };
    else if (handle === null && vm.status === 'ACTIVE') {
      result = { kind: 'failed', error: `interrupted by a restart; the VM is still on "${String(vm.host)}"`, retryable: true };
    }
    return result !== null;
  });
  if (result !== null) return result;
  const timeoutS = migrationTimeoutMs / 1000;
  if (followed.answerLost && !seen) {
    return {
      kind: 'failed',
      error: `the cloud's answer to the start was lost, and nothing of the migration showed within ${timeoutS} s`
        + ` (no migration record; the VM ACTIVE on "${source}"): it may yet take effect, so it is not asked for again`,
      retryable: false,
    };
  }
  const stillMigrating = lastVm !== null && lastVm !== 'unknown' && lastVm.status === 'MIGRATING';
  return {
    kind: 'failed',
    error: `not completed within ${timeoutS} s${stillMigrating ? '; the VM is still migrating, left to the cloud' : ''}`,
    // Starting another migration of a VM the cloud is still moving would only be refused.
    retryable: !stillMigrating,
  };
}

async function startAttempt(context: Context, progress: MigrationProgress, source: string, attempt: number): Promise<AttemptResult> {
  const { vmId, targetHost } = progress;
  const skip = async (reason: EventData<'MigrationSkipped'>['reason'], detail: string): Promise<AttemptResult> => {
    await emit(context, [{ type: 'MigrationSkipped', data: { requestId: context.record.requestId, vmId, sourceHost: source, targetHost, reason, detail } }]);
    return { kind: 'skipped' };
  };
  const timeoutS = context.settings.migrationTimeoutMs / 1000;
  const vm = await settledVm(context, vmId);
  if (vm === 'unknown') return skip('cloud-unavailable', `the cloud could not be reached for ${timeoutS} s to check the VM`);
  if (vm?.status === 'MIGRATING') {
    return skip('vm-migrating', `the cloud was still migrating the VM (on "${String(vm.host)}") after ${timeoutS} s; left to the cloud`);
  }
  const broken = premiseBroken(vm, source, targetHost);
  if (broken !== null) return skip(broken.reason, broken.detail);
  const [sourcePower, targetPower] = [context.ports.powerOf(source), context.ports.powerOf(targetHost)];
  if (targetPower === null || !isUp(targetPower)) {
    return skip('target-not-awake', `host "${targetHost}" is ${targetPower ?? 'unknown'} in the log, not up (another plan may have suspended it since this one was made)`);
  }
  if (sourcePower === null || !isUp(sourcePower)) return skip('host-not-active', `the source host "${source}" is ${sourcePower ?? 'unknown'} in the log, not up`);
  const migrationId = context.ports.ids.next();
  await emit(context, [{ type: 'MigrationStarted', data: { migrationId, vmId, sourceHost: source, targetHost, requestId: context.record.requestId, attempt } }]);
  let followed: Followed;
  try {
    followed = { handle: await context.ports.cloud.startLiveMigration(vmId, targetHost), source, answerLost: false };
  } catch (error) {
    if (!(error instanceof CloudError)) throw error;
    if (error.kind !== 'ambiguous') {
      // Provably not taken: a conflict is retried once the VM is seen settled, an unreachable cloud after a wait.
      return { kind: 'failed', error: `the cloud refused: ${error.message}`, retryable: error.kind === 'conflict' || error.kind === 'unavailable' };
    }
    assert(error.handle !== null, () => `the cloud's ambiguous start of VM ${vmId} carries no handle to follow`);
    followed = { handle: error.handle, source, answerLost: true };
  }
  await context.ports.timer.sleep(context.settings.migrationInitialWaitMs);
  return follow(context, vmId, targetHost, followed);
}

async function migrate(context: Context, progress: MigrationProgress): Promise<void> {
  const source = context.record.host;
  const { vmId, targetHost } = progress;
  const fields = { vmId, sourceHost: source, targetHost };
  const maxAttempts = context.settings.migrationMaxAttempts;
  let lastError = progress.lastError ?? 'no attempt was made';
  for (let round = 0; round <= maxAttempts && progress.outcome === null; round++) {
    const inFlight = progress.inFlight;
    if (inFlight === null && progress.attempts >= maxAttempts) break;
    // No attempt follows a failed one at once: the cloud gets a poll interval to settle.
    if (round > 0) await context.ports.timer.sleep(context.settings.migrationPollIntervalMs);
    const attempt = inFlight?.attempt ?? progress.attempts + 1;
    const result = inFlight !== null
      ? await follow(context, vmId, targetHost, { handle: null, source, answerLost: false })
      : await startAttempt(context, progress, source, attempt);
    if (result.kind === 'skipped') return;
    const migrationId = progress.inFlight?.migrationId;
    assert(migrationId !== undefined, () => `migration of ${vmId} has no attempt in flight`);
    const startedEvent = progress.inFlight?.eventId ?? null;
    if (result.kind === 'completed') {
      const durationMs = nowMs(context) - (progress.inFlight?.startedAtMs ?? nowMs(context));
      await emit(context, [{ type: 'MigrationCompleted', data: { ...fields, migrationId, attempt, durationMs } }], startedEvent);
      return;
    }
    lastError = result.error;
    await emit(context, [{ type: 'MigrationFailed', data: { ...fields, migrationId, attempt, error: result.error, retryable: result.retryable } }], startedEvent);
    if (!result.retryable) break;
  }
  if (progress.outcome !== null) return;
  const migrationId = progress.lastMigrationId ?? context.ports.ids.next();
  await emit(context, [{ type: 'MigrationAbandoned', data: { ...fields, migrationId, attempts: Math.max(1, progress.attempts), error: lastError } }]);
}

async function migrateAll(context: Context, awake: ReadonlySet<string>): Promise<void> {
  const pending = [...context.record.migrations.values()].filter((p) => p.outcome === null);
  for (const progress of pending.filter((p) => p.inFlight === null && !awake.has(p.targetHost))) {
    await emit(context, [{
      type: 'MigrationSkipped',
      data: { requestId: context.record.requestId, vmId: progress.vmId, sourceHost: context.record.host, targetHost: progress.targetHost,
        reason: 'target-not-awake', detail: `host "${progress.targetHost}" did not come up` },
    }]);
  }
  const queue = pending.filter((p) => p.outcome === null);
  const workers = Math.min(context.settings.migrationConcurrency, queue.length);
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await migrate(context, next);
  }));
}

async function suspendHost(context: Context, host: string): Promise<void> {
  const state = context.record.suspends.get(host);
  if (state === 'done' || state === 'failed' || state === 'skipped') return;
  const { cloud } = context.ports;
  if (state === 'requested') {
    const down = !(await hostIsUp(context, host));
    await emit(context, [down
      ? { type: 'HostSuspended', data: { host, durationMs: 0 } }
      : { type: 'HostSuspendFailed', data: { host, error: 'interrupted by a restart; the host is still up', stderr: null } }]);
    return;
  }
  const skip = async (reason: EventData<'HostSuspendSkipped'>['reason'], detail: string): Promise<void> => {
    await emit(context, [{ type: 'HostSuspendSkipped', data: { host, requestId: context.record.requestId, reason, detail } }]);
  };
  if (host === context.record.host && [...context.record.migrations.values()].some((p) => p.outcome !== 'completed')) {
    return skip('plan-failed', 'not every VM of the host was migrated');
  }
  const vms = await cloud.listVms();
  const hosted = vms.filter((vm) => vm.host === host);
  if (hosted.length > 0) return skip('host-has-vms', `the cloud shows ${hosted.length} VM(s) on it: ${hosted.map((vm) => vm.id).join(', ')}`);
  // A migration left to the cloud (timed out, or started by an answer that was lost) may be bound for this host, and the
  // cloud shows a migrating VM on its source only: suspending the target would take the arriving VM down with it.
  const moving = vms.filter((vm) => vm.status === 'MIGRATING');
  if (moving.length > 0) return skip('vm-migrating', `the cloud is migrating ${moving.map((vm) => vm.id).join(', ')}, which may be bound for this host`);
  // The log may still place VMs here that the cloud no longer shows (deleted, or moved behind our back since the
  // last observation): the cloud's view is recorded first, so that the log never suspends a host it thinks holds VMs.
  if (context.ports.vmsInLogOn(host).length > 0) {
    const unreconciled = await reconcile(context);
    const inLog = context.ports.vmsInLogOn(host);
    if (unreconciled !== null) return skip('host-has-vms', `the log shows VM(s) on it (${inLog.join(', ')}) and the cloud could not be read: ${unreconciled}`);
    if (inLog.length > 0) return skip('host-has-vms', `the log shows ${inLog.length} VM(s) on it: ${inLog.join(', ')}`);
  }
  if (!(await hostIsUp(context, host))) return skip('host-not-active', 'the cloud does not report the host up');
  // The log may still hold the host down (reported down when last observed, up again since): the cloud's view is
  // recorded first, so that the log never suspends a host it thinks is not up.
  const logged = context.ports.powerOf(host);
  if (logged === null || !isUp(logged)) {
    const unreconciled = await reconcile(context);
    const power = context.ports.powerOf(host);
    if (unreconciled !== null || power === null || !isUp(power)) {
      return skip('host-not-active', `the log has the host ${power ?? 'unknown'}${unreconciled === null ? '' : ` and the cloud could not be read: ${unreconciled}`}`);
    }
  }
  const startMs = nowMs(context);
  await emit(context, [{ type: 'HostSuspendRequested', data: { host, requestId: context.record.requestId } }]);
  try {
    await context.ports.power.suspend(host);
  } catch (error) {
    if (!(error instanceof PowerError)) throw error;
    await emit(context, [{ type: 'HostSuspendFailed', data: { host, error: message(error), stderr: error.stderr } }]);
    return;
  }
  await emit(context, [{ type: 'HostSuspended', data: { host, durationMs: nowMs(context) - startMs } }]);
}

/** Brings the log into agreement with the cloud; why it could not, when the cloud could not be read. */
async function reconcile(context: Context): Promise<string | null> {
  try {
    await context.ports.reconcile();
    return null;
  } catch (error) {
    if (!(error instanceof CloudError)) throw error;
    return error.message;
  }
}

function outcomeOf(record: RequestRecord, unreconciled: string | null): EventData<'RequestCompleted'> {
  const migrations = [...record.migrations.values()];
  const completed = migrations.filter((p) => p.outcome === 'completed').length;
  const failed = migrations.length - completed;
  const suspendFailures = [...record.suspends.values()].filter((s) => s === 'failed').length;
  const suspended = [...record.suspends.values()].filter((s) => s === 'done').length;
  const outcome = failed === 0 && suspendFailures === 0 ? 'completed'
    : completed === 0 && suspended === 0 ? 'failed'
      : 'partial';
  return {
    requestId: record.requestId, outcome, migrationsCompleted: completed, migrationsFailed: failed,
    detail: `${completed} of ${migrations.length} migration(s) completed; ${suspended} host(s) suspended`
      + (suspendFailures > 0 ? `, ${suspendFailures} suspend(s) failed` : '')
      + (unreconciled === null ? '' : `; the cloud could not be read to check the log against it: ${unreconciled}`),
  };
}

/** Runs (or resumes) the plan of an open request whose plan is to be carried out, and completes the request. */
export async function executePlan(record: RequestRecord, ports: ExecutionPorts, settings: ExecutionSettings): Promise<void> {
  const plan = record.plan;
  assert(plan !== null && record.status === 'executing', () => `request ${record.requestId} has no plan to carry out`);
  const context: Context = {
    record, plan, ports, settings, stream: requestStream(record.requestId),
    causes: { correlationId: record.requestId, causationId: plan.eventId },
  };
  const woken = await Promise.all(plan.hostsToWake.map(async (host) => [host, await wakeHost(context, host)] as const));
  const awake = new Set(Object.values(plan.mapping).filter((host) => !plan.hostsToWake.includes(host)));
  for (const [host, ok] of woken) if (ok) awake.add(host);
  await migrateAll(context, awake);
  for (const host of plan.hostsToSuspend) await suspendHost(context, host);
  const unreconciled = await reconcile(context);
  await emit(context, [{ type: 'RequestCompleted', data: outcomeOf(record, unreconciled) }]);
}
