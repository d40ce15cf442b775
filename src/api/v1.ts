/**
 * The JSON API under `/v1`: submit a request (202 with its id), read a
 * request with its events and outcome, list hosts and VMs, approve or reject
 * a recommended plan, read events after a position, follow them live
 * (Server-Sent Events), post utilisation samples. Every endpoint but the
 * OpenAPI document needs a bearer token.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { isEventType, REQUEST_REASONS } from '../events/catalogue';
import type { EventType } from '../events/catalogue';
import { isStale, sampleAgeMs } from '../events/dataCentre';
import type { RecordedEvent } from '../events/envelope';
import { array, nullable, number, object, oneOf, optional, string } from '../events/schema';
import { MAX_BATCH_EVENTS } from '../log/port';
import type { EventLog } from '../log/port';
import type { GlobalManager, PlanAnswer } from '../managers/globalManager';
import { foldRequest, requestStream } from '../managers/requests';
import type { RequestRecord } from '../managers/requests';
import { HttpError, MAX_AFTER_POSITION, queryInteger, readJson, requireToken } from './http';
import { QUEUE_FULL_MESSAGE } from './neat';
import { OPENAPI_DOCUMENT } from './openapi';

export interface JsonApiOptions {
  readonly manager: GlobalManager;
  readonly log: EventLog;
  readonly tokenDigestsHex: readonly string[];
  readonly bodyLimitBytes: number;
  /** Live event streams open at once, at most. */
  readonly maxStreams: number;
  /** Comment lines sent to an idle stream, so that proxies keep it open. */
  readonly keepAliveMs: number;
  /** Where a failure of a live stream is reported (it has no response left to fail). */
  readonly onError: (error: unknown) => void;
}

const hostName = string({ minLength: 1, maxLength: 255 });
const vmId = string({ minLength: 1, maxLength: 255 });

const submitSchema = object({
  host: hostName,
  reason: oneOf(REQUEST_REASONS),
  vmIds: optional(array(vmId, { maxLength: 10_000 })),
});

const decisionSchema = object({ reason: optional(string({ maxLength: 4096 })) });

/**
 * Bounds far past any host (a thousand cores at 10 GHz, a petabyte of RAM), so
 * that a mistaken or hostile value is refused instead of summing to Infinity.
 */
const MAX_CPU_MHZ = 10_000_000;
const MAX_RAM_MB = 1_000_000_000;

const sampleSchema = object({
  host: hostName,
  hypervisorCpuMhz: optional(number({ min: 0, max: MAX_CPU_MHZ })),
  vms: array(object({ vmId, cpuMhz: number({ min: 0, max: MAX_CPU_MHZ }), ramMb: optional(nullable(number({ min: 0, max: MAX_RAM_MB }))) }),
    { maxLength: 10_000 }),
});

function requestView(record: RequestRecord): unknown {
  return {
    requestId: record.requestId,
    host: record.host,
    reason: record.reason,
    vmIds: record.vmIds,
    protocol: record.protocol,
    receivedAtMs: record.receivedAtMs,
    status: record.status,
    plan: record.plan === null ? null : {
      automation: record.plan.automation, mapping: record.plan.mapping, hostsToWake: record.plan.hostsToWake, hostsToSuspend: record.plan.hostsToSuspend,
    },
    nothingToDo: record.nothingToDo,
    migrations: [...record.migrations.values()].map((m) => ({
      vmId: m.vmId, targetHost: m.targetHost, attempts: m.attempts, inFlight: m.inFlight !== null, outcome: m.outcome, lastError: m.lastError,
    })),
    outcome: record.outcome,
  };
}

function eventView(event: RecordedEvent): unknown {
  return {
    position: event.position, id: event.id, stream: event.stream, revision: event.revision,
    type: event.type, version: event.version, data: event.data, metadata: event.metadata,
  };
}

/** A request's stream, whole; none for an id that cannot be one. */
async function requestEvents(log: EventLog, requestId: string): Promise<readonly RecordedEvent[]> {
  if (!/^[0-9a-f-]{36}$/.test(requestId)) return [];
  return log.readStream(requestStream(requestId), { limit: MAX_BATCH_EVENTS });
}

/** Why a request has no plan waiting for approval (a 409 naming its state), or a 404 when no request has this id. */
async function notWaiting(options: JsonApiOptions, requestId: string): Promise<HttpError> {
  const open = options.manager.openRequests.get(requestId);
  const events = open === undefined ? await requestEvents(options.log, requestId) : [];
  const record = open ?? foldRequest(events);
  if (record === null) {
    const rejected = events.find((e) => e.type === 'RequestRejected');
    if (rejected?.type !== 'RequestRejected') return new HttpError(404, `no request ${requestId}`, 'requestId');
    return new HttpError(409, `request ${requestId} was refused with status ${rejected.data.status}: it has no plan`, 'requestId');
  }
  const state = record.outcome === null ? record.status : `completed (${record.outcome.outcome})`;
  return new HttpError(409, `request ${requestId} is ${state}, not waiting for approval`, 'requestId');
}

async function answerPlan(ctx: Context, options: JsonApiOptions, answer: PlanAnswer, requestId: string): Promise<void> {
  switch (answer) {
    case 'done':
      ctx.status = 200;
      ctx.body = { requestId, status: 'done' };
      return;
    case 'not-found':
    case 'not-recommended':
      throw await notWaiting(options, requestId);
    case 'queue-full':
      throw new HttpError(503, QUEUE_FULL_MESSAGE, null, { 'Retry-After': '5' });
  }
}

const numericCollator = new Intl.Collator('en', { numeric: true });

/** host-2 before host-10; names the collator finds equal (host-01, host-1) in code-unit order, so that the order is total. */
function naturalOrder(a: string, b: string): number {
  return numericCollator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The last value of a utilisation history, to the kHz: samples are products of fractions (7 % of 2500 MHz is
 * 175.00000000000003) and a host's are sums, so their last binary digits are noise, not measurement.
 */
function lastCpuMhz(history: readonly number[]): number | null {
  return history.length === 0 ? null : Number(history[history.length - 1].toFixed(3));
}

/** Freshness is judged with the manager's clock now, as the next decision would judge it. */
function hostsView(manager: GlobalManager): unknown[] {
  const vmCounts = new Map<string, number>();
  for (const vm of manager.dataCentre.vms.values()) if (vm.host !== null) vmCounts.set(vm.host, (vmCounts.get(vm.host) ?? 0) + 1);
  const nowMs = manager.nowMs();
  return [...manager.dataCentre.hosts.values()].sort((a, b) => naturalOrder(a.name, b.name)).map((host) => {
    const ageMs = sampleAgeMs(host.lastSampleAtMs, nowMs);
    return {
      name: host.name, power: host.power, enabled: host.enabled, cpuMhz: host.cpuMhz, ramMb: host.ramMb, vms: vmCounts.get(host.name) ?? 0,
      lastCpuMhz: lastCpuMhz(host.cpuMhzHistory.toArray()), lastPowerError: host.lastPowerError,
      lastSampleAtMs: host.lastSampleAtMs, lastSampleAgeS: ageMs === null ? null : ageMs / 1000,
      stale: isStale(host, nowMs, manager.settings.sampleMaxAgeMs),
    };
  });
}

function vmsView(manager: GlobalManager): unknown[] {
  return [...manager.dataCentre.vms.values()].sort((a, b) => naturalOrder(a.id, b.id)).map((vm) => {
    const history = vm.cpuMhzHistory.toArray();
    return {
      id: vm.id, host: vm.host, ramMb: vm.ramMb, vcpus: vm.vcpus, migrating: manager.dataCentre.migrations.has(vm.id),
      lastCpuMhz: lastCpuMhz(history), samples: history.length,
    };
  });
}

/** One VM with its whole CPU history (what an agent continues when the VM arrives on its host); null when none is held. */
function vmView(manager: GlobalManager, vmId: string): unknown {
  const history = manager.vmHistory(vmId);
  if (history === null) return null;
  const vm = manager.dataCentre.vms.get(vmId);
  return {
    id: vmId, reported: vm !== undefined, host: vm?.host ?? null, ramMb: vm?.ramMb ?? null, vcpus: vm?.vcpus ?? null,
    migrating: manager.dataCentre.migrations.has(vmId), cpuMhzHistory: history,
  };
}

/** Whether a reader asked for events of a type. */
type TypeFilter = (type: EventType) => boolean;

/** Which event types a reader asked for: `?types=` (only these) or `?exclude=` (all but these); null for every type. */
function typeFilter(ctx: Context): TypeFilter | null {
  const only = eventTypes(ctx, 'types');
  const excluded = eventTypes(ctx, 'exclude');
  if (only !== null && excluded !== null) throw new HttpError(400, 'query parameters "types" and "exclude" cannot be combined: give one', 'exclude');
  if (only !== null) return (type) => only.has(type);
  if (excluded !== null) return (type) => !excluded.has(type);
  return null;
}

/** One comma-separated list of names from the event catalogue; an unknown name is a 400 naming it. */
function eventTypes(ctx: Context, name: 'types' | 'exclude'): ReadonlySet<EventType> | null {
  const raw = ctx.query[name];
  if (raw === undefined) return null;
  if (typeof raw !== 'string') throw new HttpError(400, `query parameter "${name}" must be given once, as a comma-separated list`, name);
  const names = raw.split(',').map((type) => type.trim());
  const unknown = names.filter((type) => !isEventType(type));
  if (unknown.length > 0) {
    throw new HttpError(400, `query parameter "${name}" names unknown event types: ${unknown.map((type) => JSON.stringify(type)).join(', ')}`, name);
  }
  return new Set(names as EventType[]);
}

/** Events read at a time when a filter may drop most of them, and the most one page reads: a sparse filter pages on. */
const SCAN_BATCH_EVENTS = 1_000;
const MAX_SCANNED_EVENTS = 10_000;

/**
 * Up to `limit` selected events after `after`, and `next`, the position the page read up to: the following
 * page starts after it, and the log has been read to its end when it equals `after`.
 */
async function readPage(log: EventLog, after: number, limit: number, selected: TypeFilter | null): Promise<{ events: RecordedEvent[]; next: number }> {
  const batchEvents = selected === null ? limit : SCAN_BATCH_EVENTS;
  const events: RecordedEvent[] = [];
  let next = after;
  for (let scanned = 0; scanned < MAX_SCANNED_EVENTS && events.length < limit;) {
    const batch = await log.readAll(next + 1, batchEvents);
    if (batch.length === 0) break;
    scanned += batch.length;
    for (const event of batch) {
      next = event.position;
      if (selected === null || selected(event.type)) events.push(event);
      if (events.length === limit) break;
    }
  }
  return { events, next };
}

/** What a refusal of a request can say about it: the host, once the body has named a valid one. */
interface Claim {
  host: string | null;
}

/** `POST /v1/requests`; a refusal is thrown, and recorded by the route. */
async function submitRequest(ctx: Context, options: JsonApiOptions, claim: Claim): Promise<void> {
  const { manager } = options;
  requireToken(ctx, options.tokenDigestsHex);
  const body = await readJson(ctx, submitSchema, options.bodyLimitBytes);
  claim.host = body.host;
  const vmIds = body.vmIds ?? [];
  if (!manager.knowsHost(body.host)) throw new HttpError(422, `unknown host "${body.host}"`, 'host');
  if (body.reason === 'overload' && vmIds.length === 0) throw new HttpError(422, 'an overload request names the VMs to move', 'vmIds');
  const unknown = vmIds.findIndex((id) => !manager.knowsVm(id));
  if (unknown >= 0) throw new HttpError(422, `unknown VM "${vmIds[unknown]}"`, `vmIds[${unknown}]`);
  const result = await manager.submit({ host: body.host, reason: body.reason, vmIds, protocol: 'json', remoteAddress: ctx.ip || null, clientTimeS: null });
  if (result.status === 'queue-full') throw new HttpError(503, QUEUE_FULL_MESSAGE, null, { 'Retry-After': String(result.retryAfterS) });
  ctx.status = 202;
  ctx.set('Location', `/v1/requests/${result.requestId}`);
  ctx.body = { requestId: result.requestId, supersedes: result.supersedes };
}

/** A refusal's reason as recorded: a message can quote the client (an unknown key), and the log bounds its texts. */
const MAX_REASON_LENGTH = 1_000;

/** Records a refused `POST /v1/requests` as `PUT /` records its refusals: a `RequestRejected` of protocol `json`. */
async function recordRefusal(manager: GlobalManager, ctx: Context, error: HttpError, host: string | null): Promise<void> {
  const { message } = error;
  await manager.reject({
    host, status: error.status, protocol: 'json', remoteAddress: ctx.ip || null,
    reason: message.length <= MAX_REASON_LENGTH ? message : `${message.slice(0, MAX_REASON_LENGTH - 1)}…`,
  });
}

/**
 * Where a stream starts. `Last-Event-ID` wins: it is what a reconnecting EventSource sends (an id we sent, a
 * position), on the URL it first opened, `?from=end` included. Otherwise after `?after`, or after the last
 * event recorded so far with `?from=end`; the two together are a contradiction, a 400.
 */
function streamStart(ctx: Context, manager: GlobalManager): number {
  const from = ctx.query.from;
  if (from !== undefined && from !== 'end') throw new HttpError(400, 'query parameter "from" can only be "end"', 'from');
  if (from !== undefined && ctx.query.after !== undefined) throw new HttpError(400, 'query parameters "from" and "after" cannot be combined: give one', 'from');
  const lastEventId = ctx.get('last-event-id');
  if (lastEventId !== '') {
    const position = /^\d+$/.test(lastEventId) ? Number(lastEventId) : NaN;
    if (!Number.isSafeInteger(position) || position > MAX_AFTER_POSITION) {
      throw new HttpError(400, `the Last-Event-ID header must be an event position in 0..${MAX_AFTER_POSITION}`, 'Last-Event-ID');
    }
    return position;
  }
  // The manager folds every event this process records as soon as it is durable: what follows it is new.
  if (from === 'end') return manager.dataCentre.position;
  return queryInteger(ctx, 'after', 0, 0, MAX_AFTER_POSITION);
}

/** `GET /v1/events/stream`: catch up from a position, then follow, as `text/event-stream`, the selected types only. */
function streamEvents(ctx: Context, options: JsonApiOptions, open: { count: number }): void {
  const selected = typeFilter(ctx);
  const after = streamStart(ctx, options.manager);
  if (open.count >= options.maxStreams) throw new HttpError(503, `${options.maxStreams} event streams are open already`, null, { 'Retry-After': '30' });
  const subscription = options.log.subscribe(after + 1);
  const body = new PassThrough();
  open.count += 1;
  const keepAlive = setInterval(() => { body.write(': keep-alive\n\n'); }, options.keepAliveMs);
  const closing = new AbortController();
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    open.count -= 1;
    clearInterval(keepAlive);
    closing.abort();
    void subscription.close();
    body.end();
  };
  ctx.req.on('close', close);
  ctx.status = 200;
  ctx.set('Content-Type', 'text/event-stream; charset=utf-8');
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = body;
  // The headers leave with the first bytes: a reader of rare types, or of new events only, gets them now.
  body.write(`: after position ${after}\n\n`);
  void (async () => {
    try {
      // Closing the subscription ends this loop.
      for await (const event of subscription) {
        if (selected !== null && !selected(event.type)) continue;
        const frame = `id: ${event.position}\nevent: ${event.type}\ndata: ${JSON.stringify(eventView(event))}\n\n`;
        // A slow reader holds back the catch-up, instead of the whole log piling up in memory.
        if (!body.write(frame)) await once(body, 'drain', { signal: closing.signal });
      }
    } catch (error) {
      // The reader went away while the stream waited for it; a failing log is a bug to report.
      if (!closing.signal.aborted) options.onError(error);
    } finally {
      close();
    }
  })();
}

export function jsonApiRoutes(router: Router, options: JsonApiOptions): void {
  const { manager, log } = options;
  const streams = { count: 0 };
  const authorised = (ctx: Context): string => requireToken(ctx, options.tokenDigestsHex);

  router.get('/v1/openapi.json', (ctx) => { ctx.body = OPENAPI_DOCUMENT; });

  router.post('/v1/requests', async (ctx) => {
    const claim: Claim = { host: null };
    try {
      await submitRequest(ctx, options, claim);
    } catch (error) {
      if (error instanceof HttpError) await recordRefusal(manager, ctx, error, claim.host);
      throw error;
    }
  });

  router.get('/v1/requests/:id', async (ctx) => {
    authorised(ctx);
    const requestId = ctx.params.id;
    const events = await requestEvents(log, requestId);
    if (events.length === 0) throw new HttpError(404, `no request ${requestId}`, 'requestId');
    const record = foldRequest(events);
    const rejected = events.find((e) => e.type === 'RequestRejected');
    ctx.body = {
      request: record === null ? null : requestView(record),
      rejection: rejected?.type === 'RequestRejected' ? rejected.data : null,
      events: events.map(eventView),
    };
  });

  router.post('/v1/requests/:id/approve', async (ctx) => {
    const by = authorised(ctx);
    await readJson(ctx, decisionSchema, options.bodyLimitBytes, true);
    await answerPlan(ctx, options, await manager.approve(ctx.params.id, by), ctx.params.id);
  });

  router.post('/v1/requests/:id/reject', async (ctx) => {
    const by = authorised(ctx);
    const body = await readJson(ctx, decisionSchema, options.bodyLimitBytes, true);
    await answerPlan(ctx, options, await manager.rejectPlan(ctx.params.id, by, body.reason ?? 'no reason given'), ctx.params.id);
  });

  router.get('/v1/hosts', (ctx) => {
    authorised(ctx);
    // The position the view reflects, so that a reader following the stream knows which events it already holds.
    ctx.body = { hosts: hostsView(manager), position: manager.dataCentre.position };
  });

  router.get('/v1/vms', (ctx) => {
    authorised(ctx);
    ctx.body = { vms: vmsView(manager), position: manager.dataCentre.position };
  });

  router.get('/v1/vms/:id', (ctx) => {
    authorised(ctx);
    const vm = vmView(manager, ctx.params.id);
    if (vm === null) throw new HttpError(404, `no VM "${ctx.params.id}" is known: the cloud has not reported it and no sample named it`, null);
    ctx.body = vm;
  });

  router.get('/v1/events', async (ctx) => {
    authorised(ctx);
    const after = queryInteger(ctx, 'after', 0, 0, MAX_AFTER_POSITION);
    const limit = queryInteger(ctx, 'limit', 100, 1, 1000);
    const { events, next } = await readPage(log, after, limit, typeFilter(ctx));
    ctx.body = { events: events.map(eventView), next };
  });

  router.get('/v1/events/stream', (ctx) => {
    authorised(ctx);
    streamEvents(ctx, options, streams);
  });

  router.post('/v1/samples', async (ctx) => {
    authorised(ctx);
    const body = await readJson(ctx, sampleSchema, options.bodyLimitBytes);
    if (!manager.knowsHost(body.host)) throw new HttpError(422, `unknown host "${body.host}"`, 'host');
    // Recorded as sent; the projection holds the values of VMs the cloud has not reported aside (src/events/dataCentre.ts).
    const unreportedVmIds = body.vms.filter((vm) => !manager.knowsVm(vm.vmId)).map((vm) => vm.vmId);
    await manager.recordSample({
      host: body.host, hypervisorCpuMhz: body.hypervisorCpuMhz ?? 0,
      vms: body.vms.map((vm) => ({ vmId: vm.vmId, cpuMhz: vm.cpuMhz, ramMb: vm.ramMb ?? null })),
    });
    ctx.status = 202;
    ctx.body = { host: body.host, vms: body.vms.length, unreportedVmIds };
  });
}
