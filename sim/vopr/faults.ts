/**
 * Faults as the manager meets them: through its ports only. `FaultyCloud` and
 * `FaultyPower` stand between every manager incarnation and the VOPR's cloud,
 * and, while the seed's fault horizon lasts, answer with an error (having
 * acted or not), answer late, or lose the answer, at the seed's rates.
 * `Incarnation` fences one manager process: once it has crashed, nothing it
 * still has in flight reaches the world or hears back from it, as nothing
 * of a killed process does.
 */
import type { Timer } from '../../src/clock';
import type { NewEvent, RecordedEvent } from '../../src/events/envelope';
import type { Rng } from '../../src/engine/types';
import type { AppendResult, EventLog, ReadStreamOptions, Subscription } from '../../src/log/port';
import { CloudError, PowerError } from '../../src/managers/ports';
import type { Cloud, CloudHost, CloudVm, MigrationStatus, Power } from '../../src/managers/ports';
import type { Scheduler } from '../scheduler';
import type { VoprCloud } from './cloud';

/** Per-call probabilities of each fault, while the fault horizon lasts. */
export interface FaultRates {
  /** A read (hosts, VMs, a VM, a migration's status) answers 503, or times out after a delay. */
  readonly readUnavailable: number;
  readonly readTimeout: number;
  /** A start of a live migration answers 503 or 409 without acting. */
  readonly startUnavailable: number;
  readonly startConflict: number;
  /** A start is carried out and its answer lost (a 502, a dropped connection, a timeout). */
  readonly startLostApplied: number;
  /** A start's answer is lost and the cloud never took it. */
  readonly startLostUnapplied: number;
  /** A migration the cloud takes goes on for `slowMigrationS` longer than its RAM needs (a stuck copy, a busy network). */
  readonly migrationSlow: number;
  readonly suspendFails: number;
  readonly suspendHangs: number;
  /** The host went to sleep and the SSH connection dropped before the command's exit status came back. */
  readonly suspendDropsAfterSleep: number;
  readonly wakeRefused: number;
  readonly wakeLost: number;
  readonly wakeLate: number;
}

export type FaultKind =
  | 'read-unavailable' | 'read-timeout' | 'start-unavailable' | 'start-conflict' | 'start-lost-applied' | 'start-lost-unapplied'
  | 'migration-slow' | 'suspend-fails' | 'suspend-hangs' | 'suspend-drops-after-sleep' | 'wake-refused' | 'wake-lost' | 'wake-late'
  | 'migration-fails' | 'vm-deleted' | 'vm-error' | 'host-reported-down'
  | 'sample-missing' | 'sample-late' | 'sample-duplicated'
  | 'crash' | 'crash-mid-append-kept' | 'crash-mid-append-lost';

/** What the faults share: when they stop, how they draw, how long a late answer takes, and where they are counted. */
export interface FaultContext {
  readonly scheduler: Scheduler;
  readonly rng: Rng;
  readonly horizonS: number;
  /** How long an answer that times out keeps the caller waiting (a driver's timeout). */
  readonly answerTimeoutMs: number;
  /** How much longer a slow migration takes. */
  readonly slowMigrationS: number;
  /** How much later than a wake's timeout a late wake comes. */
  readonly wakeLateS: number;
  readonly counts: Map<FaultKind, number>;
  readonly note: (line: string) => void;
}

export function countFault(context: FaultContext, kind: FaultKind, detail: string): void {
  context.counts.set(kind, (context.counts.get(kind) ?? 0) + 1);
  context.note(`fault: ${kind} ${detail}`);
}

/** Draws which of the faults, if any, this call meets; none once the horizon is past. */
function draw<K extends FaultKind>(context: FaultContext, choices: readonly (readonly [K, number])[]): K | null {
  if (context.scheduler.timeS >= context.horizonS) return null;
  let x = context.rng.next();
  for (const [kind, rate] of choices) {
    if (x < rate) return kind;
    x -= rate;
  }
  return null;
}

function sleep(context: FaultContext, durationMs: number): Promise<void> {
  return new Promise((resolve) => { context.scheduler.after(durationMs / 1000, resolve); });
}

/** What the VOPR's invariants learn of the starts as they reach the cloud. */
export interface StartObserver {
  /** Called for every start the manager sends, before the cloud acts on it. */
  started(vmId: string): void;
  /** The start's answer was lost; `applied`: the cloud carried it out. */
  answerLost(vmId: string, handle: string, applied: boolean): void;
}

export class FaultyCloud implements Cloud {
  constructor(private readonly cloud: VoprCloud, private readonly context: FaultContext, private readonly rates: FaultRates,
    private readonly starts: StartObserver) {}

  private async read<T>(what: string, call: () => Promise<T>): Promise<T> {
    const fault = draw(this.context, [['read-unavailable', this.rates.readUnavailable], ['read-timeout', this.rates.readTimeout]] as const);
    if (fault === null) return call();
    countFault(this.context, fault, what);
    if (fault === 'read-timeout') await sleep(this.context, this.context.answerTimeoutMs);
    throw new CloudError('unavailable', `${what}: ${fault === 'read-timeout' ? 'timed out' : 'HTTP 503'}`);
  }

  listHosts(): Promise<readonly CloudHost[]> {
    return this.read('list hosts', () => this.cloud.listHosts());
  }

  listVms(): Promise<readonly CloudVm[]> {
    return this.read('list VMs', () => this.cloud.listVms());
  }

  getVm(vmId: string): Promise<CloudVm | null> {
    return this.read(`get ${vmId}`, () => this.cloud.getVm(vmId));
  }

  migrationStatus(handle: string): Promise<MigrationStatus> {
    return this.read(`status of ${handle}`, () => this.cloud.migrationStatus(handle));
  }

  revision(): number {
    return this.cloud.revision();
  }

  async startLiveMigration(vmId: string, targetHost: string): Promise<string> {
    const { rates } = this;
    const fault = draw(this.context, [
      ['start-unavailable', rates.startUnavailable], ['start-conflict', rates.startConflict],
      ['start-lost-applied', rates.startLostApplied], ['start-lost-unapplied', rates.startLostUnapplied], ['migration-slow', rates.migrationSlow],
    ] as const);
    const what = `start ${vmId} -> ${targetHost}`;
    this.starts.started(vmId);
    if (fault === 'start-unavailable' || fault === 'start-conflict') {
      countFault(this.context, fault, what);
      throw new CloudError(fault === 'start-conflict' ? 'conflict' : 'unavailable', `${what}: HTTP ${fault === 'start-conflict' ? 409 : 503}`);
    }
    if (fault === null) return this.cloud.startLiveMigration(vmId, targetHost);
    countFault(this.context, fault, what);
    if (fault === 'migration-slow') return this.cloud.startLiveMigration(vmId, targetHost, this.context.slowMigrationS);
    let handle: string;
    if (fault === 'start-lost-applied') {
      // The cloud may still refuse it: then the answer lost was a refusal, and the manager learns nothing either way.
      handle = await this.cloud.startLiveMigration(vmId, targetHost).catch((error: unknown) => {
        if (!(error instanceof CloudError)) throw error;
        return this.cloud.unusedHandle();
      });
    } else {
      handle = this.cloud.unusedHandle();
    }
    this.starts.answerLost(vmId, handle, this.cloud.migrationState(handle) !== null);
    await sleep(this.context, this.context.answerTimeoutMs);
    throw new CloudError('ambiguous', `${what}: the answer was lost`, handle);
  }
}

export class FaultyPower implements Power {
  constructor(private readonly cloud: VoprCloud, private readonly context: FaultContext, private readonly rates: FaultRates,
    private readonly wakeTimeoutMs: number) {}

  async suspend(host: string): Promise<void> {
    const { rates } = this;
    const fault = draw(this.context, [
      ['suspend-fails', rates.suspendFails], ['suspend-hangs', rates.suspendHangs], ['suspend-drops-after-sleep', rates.suspendDropsAfterSleep],
    ] as const);
    if (fault === null) return this.cloud.suspend(host);
    countFault(this.context, fault, host);
    if (fault === 'suspend-fails') throw new PowerError(`suspend of "${host}" failed: exit status 1`, 'pm-suspend: denied');
    if (fault === 'suspend-hangs') {
      await sleep(this.context, this.context.answerTimeoutMs);
      throw new PowerError(`suspend of "${host}" timed out`);
    }
    await this.cloud.suspend(host);
    throw new PowerError(`the SSH connection to "${host}" dropped before the command's exit status`);
  }

  async wake(host: string): Promise<void> {
    const { rates } = this;
    const fault = draw(this.context, [['wake-refused', rates.wakeRefused], ['wake-lost', rates.wakeLost], ['wake-late', rates.wakeLate]] as const);
    if (fault === null) return this.cloud.wake(host);
    countFault(this.context, fault, host);
    if (fault === 'wake-refused') throw new PowerError(`no route to the broadcast address of "${host}"`);
    if (fault === 'wake-late') return this.cloud.wake(host, this.wakeTimeoutMs / 1000 + this.context.wakeLateS);
  }
}

/** A promise that never settles: what a dead process's calls come to. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => undefined);
}

/**
 * One manager process. While it lives, its calls go through; once it has
 * crashed, a call neither reaches the world nor, if it went out before, comes
 * back: its work stops where it was, at whatever await it had reached.
 */
export class Incarnation {
  private alive = true;
  private died: () => void = () => undefined;
  /** Resolves when the process crashes: what waiting for its work comes to then. */
  readonly dead = new Promise<void>((resolve) => { this.died = resolve; });

  constructor(readonly number: number) {}

  get living(): boolean {
    return this.alive;
  }

  crash(): void {
    this.alive = false;
    this.died();
  }

  /** The call's answer while the process lives; nothing at all after. */
  guard<T>(call: () => Promise<T>): Promise<T> {
    if (!this.alive) return never();
    return call().then(
      (value) => (this.alive ? value : never<T>()),
      (error: unknown) => (this.alive ? Promise.reject(error instanceof Error ? error : new Error(String(error))) : never<T>()),
    );
  }

  cloud(cloud: Cloud): Cloud {
    return {
      listHosts: () => this.guard(() => cloud.listHosts()),
      listVms: () => this.guard(() => cloud.listVms()),
      getVm: (vmId) => this.guard(() => cloud.getVm(vmId)),
      startLiveMigration: (vmId, targetHost) => this.guard(() => cloud.startLiveMigration(vmId, targetHost)),
      migrationStatus: (handle) => this.guard(() => cloud.migrationStatus(handle)),
      revision: () => cloud.revision?.() ?? 0,
    };
  }

  power(power: Power): Power {
    return {
      suspend: (host) => this.guard(() => power.suspend(host)),
      wake: (host) => this.guard(() => power.wake(host)),
    };
  }

  timer(timer: Timer): Timer {
    return { sleep: (durationMs) => this.guard(() => timer.sleep(durationMs)) };
  }
}

/**
 * The log as one incarnation reaches it: its appends stop with the process.
 * The append numbered `crashAt.append`, if it comes while the crash is armed
 * (before the fault horizon), is where the process dies: the log keeps that
 * batch or not (`crashAt.keep`), and the process never hears back.
 */
export class FencedLog implements EventLog {
  readonly appendsInCallOrder = true;
  readonly description: string;
  private appends = 0;

  constructor(private readonly log: EventLog, private readonly incarnation: Incarnation,
    private readonly crashAt: { readonly append: number; readonly keep: boolean; readonly armed: () => boolean; readonly crash: (kept: boolean) => void } | null) {
    this.description = `${log.description} (incarnation ${incarnation.number})`;
  }

  append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    if (!this.incarnation.living) return never();
    this.appends += 1;
    if (this.crashAt !== null && this.appends === this.crashAt.append && this.crashAt.armed()) {
      // The memory log stores the batch before its first await: kept means durable, whatever the process saw.
      if (this.crashAt.keep) void this.log.append(stream, events, expectedRevision).catch(() => undefined);
      this.crashAt.crash(this.crashAt.keep);
      return never();
    }
    return this.incarnation.guard(() => this.log.append(stream, events, expectedRevision));
  }

  readStream(stream: string, options?: ReadStreamOptions): Promise<readonly RecordedEvent[]> {
    return this.incarnation.guard(() => this.log.readStream(stream, options));
  }

  readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]> {
    return this.incarnation.guard(() => this.log.readAll(fromPosition, limit));
  }

  headPosition(): Promise<number> {
    return this.incarnation.guard(() => this.log.headPosition());
  }

  subscribe(fromPosition: number): Subscription {
    return this.log.subscribe(fromPosition);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
