/**
 * A request's life as a projection of its events: what was asked, what was
 * decided, and how far the plan got. The global manager folds every open
 * request with it (and resumes a plan after a restart from exactly this); the
 * API folds one request's stream to answer `GET /v1/requests/{id}`.
 */
import { assert } from '../engine/assert';
import type { AUTOMATION_LEVELS, EventOf, NOTHING_TO_DO_REASONS, REQUEST_OUTCOMES, REQUEST_PROTOCOLS } from '../events/catalogue';
import type { RecordedEvent } from '../events/envelope';

export type StepState = 'requested' | 'done' | 'failed' | 'skipped';

export interface MigrationProgress {
  readonly vmId: string;
  readonly targetHost: string;
  /** Attempts started so far. */
  attempts: number;
  /** Id of the latest attempt, which an abandonment refers to. */
  lastMigrationId: string | null;
  /** The attempt in flight, if any. */
  inFlight: { readonly migrationId: string; readonly attempt: number; readonly startedAtMs: number; readonly eventId: string } | null;
  /** Final: completed (or found on the target already), abandoned after failures, or skipped. */
  outcome: 'completed' | 'abandoned' | 'skipped' | null;
  lastError: string | null;
}

export interface PlanRecord {
  readonly eventId: string;
  readonly automation: (typeof AUTOMATION_LEVELS)[number];
  readonly mapping: Readonly<Record<string, string>>;
  readonly hostsToWake: readonly string[];
  readonly hostsToSuspend: readonly string[];
}

export type RequestStatus =
  /** Received, not decided yet. */
  | 'queued'
  /** A manual plan waiting for approval. */
  | 'recommended'
  /** A plan being carried out (automatic, or approved). */
  | 'executing'
  | 'completed';

export interface RequestRecord {
  readonly requestId: string;
  /** Id of the `RequestReceived` event: the cause of the decision. */
  readonly receivedEventId: string;
  readonly host: string;
  readonly reason: 'underload' | 'overload';
  readonly vmIds: readonly string[];
  readonly protocol: (typeof REQUEST_PROTOCOLS)[number];
  readonly receivedAtMs: number;
  status: RequestStatus;
  plan: PlanRecord | null;
  nothingToDo: { readonly reason: (typeof NOTHING_TO_DO_REASONS)[number]; readonly detail: string } | null;
  readonly migrations: Map<string, MigrationProgress>;
  readonly wakes: Map<string, StepState>;
  readonly suspends: Map<string, StepState>;
  outcome: { readonly outcome: (typeof REQUEST_OUTCOMES)[number]; readonly detail: string; readonly completedAtMs: number } | null;
  /** The last event folded, for causation ids. */
  lastPosition: number;
}

function received(event: RecordedEvent & EventOf<'RequestReceived'>): RequestRecord {
  const { requestId, host, reason, vmIds, protocol } = event.data;
  return {
    requestId, receivedEventId: event.id, host, reason, vmIds, protocol, receivedAtMs: event.metadata.timeMs,
    status: 'queued', plan: null, nothingToDo: null, migrations: new Map(), wakes: new Map(), suspends: new Map(),
    outcome: null, lastPosition: event.position,
  };
}

function migrationOf(record: RequestRecord, vmId: string, targetHost: string): MigrationProgress {
  let progress = record.migrations.get(vmId);
  if (progress === undefined) {
    progress = { vmId, targetHost, attempts: 0, lastMigrationId: null, inFlight: null, outcome: null, lastError: null };
    record.migrations.set(vmId, progress);
  }
  return progress;
}

function applyDecision(record: RequestRecord, event: RecordedEvent): void {
  if (event.type === 'PlacementDecided') {
    const { automation, mapping, hostsToWake, hostsToSuspend } = event.data;
    record.plan = { eventId: event.id, automation, mapping, hostsToWake, hostsToSuspend };
    record.status = automation === 'manual' ? 'recommended' : 'executing';
    for (const [vmId, target] of Object.entries(mapping)) migrationOf(record, vmId, target);
  } else if (event.type === 'NothingToDo') {
    record.nothingToDo = { reason: event.data.reason, detail: event.data.detail };
  } else if (event.type === 'PlanApproved') {
    record.status = 'executing';
  }
}

function applyMigration(record: RequestRecord, event: RecordedEvent): void {
  switch (event.type) {
    case 'MigrationStarted': {
      const progress = migrationOf(record, event.data.vmId, event.data.targetHost);
      progress.attempts = Math.max(progress.attempts, event.data.attempt);
      progress.lastMigrationId = event.data.migrationId;
      progress.inFlight = { migrationId: event.data.migrationId, attempt: event.data.attempt, startedAtMs: event.metadata.timeMs, eventId: event.id };
      return;
    }
    case 'MigrationCompleted':
      migrationOf(record, event.data.vmId, event.data.targetHost).inFlight = null;
      migrationOf(record, event.data.vmId, event.data.targetHost).outcome = 'completed';
      return;
    case 'MigrationFailed': {
      const progress = migrationOf(record, event.data.vmId, event.data.targetHost);
      progress.inFlight = null;
      progress.lastError = event.data.error;
      return;
    }
    case 'MigrationAbandoned':
      migrationOf(record, event.data.vmId, event.data.targetHost).outcome = 'abandoned';
      return;
    case 'MigrationSkipped': {
      const progress = migrationOf(record, event.data.vmId, event.data.targetHost);
      if (event.data.reason === 'already-on-target') {
        progress.outcome = 'completed';
        return;
      }
      progress.outcome = 'skipped';
      progress.lastError = event.data.detail;
      return;
    }
    default:
      assert(false, () => `not a migration event: ${event.type}`);
  }
}

function applyPower(record: RequestRecord, event: RecordedEvent): void {
  switch (event.type) {
    case 'HostWakeRequested':
      record.wakes.set(event.data.host, 'requested');
      return;
    case 'HostWoken':
      record.wakes.set(event.data.host, 'done');
      return;
    case 'HostWakeFailed':
      record.wakes.set(event.data.host, 'failed');
      return;
    case 'HostSuspendRequested':
      record.suspends.set(event.data.host, 'requested');
      return;
    case 'HostSuspended':
      record.suspends.set(event.data.host, 'done');
      return;
    case 'HostSuspendFailed':
      record.suspends.set(event.data.host, 'failed');
      return;
    case 'HostSuspendSkipped':
      record.suspends.set(event.data.host, 'skipped');
      return;
    default:
      assert(false, () => `not a power event: ${event.type}`);
  }
}

/**
 * Folds one event into the open requests. Events of requests that are not open
 * (completed before, or never received) are ignored: the data-centre
 * projection is the one that reports anomalies.
 */
export function evolveRequests(requests: Map<string, RequestRecord>, event: RecordedEvent): void {
  if (event.type === 'RequestReceived') {
    if (!requests.has(event.data.requestId)) requests.set(event.data.requestId, received(event));
    return;
  }
  // Every event written on a request's behalf carries the request's id as its correlation id.
  const requestId = event.metadata.correlationId;
  if (requestId === null) return;
  const record = requests.get(requestId);
  if (record === undefined) return;
  record.lastPosition = event.position;
  switch (event.type) {
    case 'PlacementDecided':
    case 'NothingToDo':
    case 'PlanApproved':
      applyDecision(record, event);
      return;
    case 'PlanRejected':
      return;
    case 'MigrationStarted':
    case 'MigrationCompleted':
    case 'MigrationFailed':
    case 'MigrationAbandoned':
    case 'MigrationSkipped':
      applyMigration(record, event);
      return;
    case 'HostWakeRequested':
    case 'HostWoken':
    case 'HostWakeFailed':
    case 'HostSuspendRequested':
    case 'HostSuspended':
    case 'HostSuspendFailed':
    case 'HostSuspendSkipped':
      applyPower(record, event);
      return;
    case 'RequestCompleted':
      record.status = 'completed';
      record.outcome = { outcome: event.data.outcome, detail: event.data.detail, completedAtMs: event.metadata.timeMs };
      return;
    default:
      return;
  }
}

/** A request's record from its own events (its stream), or null when there are none. */
export function foldRequest(events: readonly RecordedEvent[]): RequestRecord | null {
  const requests = new Map<string, RequestRecord>();
  for (const event of events) evolveRequests(requests, event);
  assert(requests.size <= 1, 'a request stream holds one request');
  return requests.values().next().value ?? null;
}

/** Every event of a request goes to its own stream, so that one read returns its whole story. */
export function requestStream(requestId: string): string {
  return `request-${requestId}`;
}
