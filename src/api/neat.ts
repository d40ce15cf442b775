/**
 * Neat's wire protocol (reference/neat.md §1.3), so that Neat's own local
 * managers work unchanged: `PUT /` with form fields, SHA-1 credential digests,
 * the checks in Neat's order 401 → 403 → 400 → 412, Neat's status codes and
 * message texts (typos included), 405 for every other method.
 *
 * Where Neat answered 200 only after every migration, this answers 200 as
 * soon as the request is durably in the log; the plan runs afterwards. Input
 * Neat would have crashed on (a non-numeric `time`, `nan`) or that the log
 * cannot hold (a host name or VM id over 255 characters) is a 400 here. A
 * full queue answers 503 with Retry-After. Every refused PUT is recorded.
 */
import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Clock } from '../clock';
import type { GlobalManager } from '../managers/globalManager';
import { HttpError, mediaType, readBody } from './http';

export const NEAT_MESSAGES = {
  400: 'Bad input parameter: incorrect or missing parameters',
  401: 'Unauthorized: user credentials are missing',
  403: 'Forbidden: user credentials do not much the ones specified in the configuration file',
  412: 'Precondition failed: the request has been sent more than 5 seconds ago, the states of the hosts/VMs may have changed - retry',
} as const;

/** Neat's catch-all route joins its two string literals without a space. */
export const NEAT_METHOD_NOT_ALLOWED = 'Method not allowed: the request has been madewith a method other than the only supported PUT';

export const QUEUE_FULL_MESSAGE = 'Service unavailable: the request queue is full - retry later';

export interface NeatProtocolOptions {
  readonly manager: GlobalManager;
  readonly clock: Clock;
  /** SHA-1 hex of `os_admin_user` and `os_admin_password`, as the local managers send them. */
  readonly usernameSha1: string;
  readonly passwordSha1: string;
  /** Neat's 5 s: a request older than this is refused with 412. */
  readonly stalenessS: number;
  readonly bodyLimitBytes: number;
}

/** Bottle's `request.forms`: the fields of a form-encoded body (the last value of a repeated key); nothing otherwise. */
async function formFields(ctx: Context, limitBytes: number): Promise<Map<string, string>> {
  const text = await readBody(ctx, limitBytes);
  const fields = new Map<string, string>();
  if (mediaType(ctx) !== 'application/x-www-form-urlencoded') return fields;
  for (const [key, value] of new URLSearchParams(text)) fields.set(key, value);
  return fields;
}

function sameDigest(presented: string, expected: string): boolean {
  const a = Buffer.from(presented, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The event catalogue's bounds: longer names, or more VMs, could not be recorded. */
const MAX_NAME_LENGTH = 255;
const MAX_VMS = 10_000;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/** Python's `float()` on a finite decimal (its `nan` and `inf` are refused: no clock is that time). */
function parseTime(raw: string): number | null {
  const trimmed = raw.trim();
  const value = Number(trimmed);
  return DECIMAL.test(trimmed) && Number.isFinite(value) ? value : null;
}

/** Python's `int()`, then Neat's check that the reason is 0 or 1. */
function parseReason(raw: string): 0 | 1 | null {
  const trimmed = raw.trim();
  if (!INTEGER.test(trimmed)) return null;
  const value = Number(trimmed);
  return value === 0 ? 0 : value === 1 ? 1 : null;
}

interface ValidRequest {
  readonly host: string;
  readonly reason: 0 | 1;
  readonly timeS: number;
  readonly vmIds: string[];
}

/** Neat's `validate_params`, in its order; returns the status to refuse with, or the parsed request. */
function validateNeat(fields: Map<string, string>, options: NeatProtocolOptions, nowS: number): ValidRequest | 400 | 401 | 403 | 412 {
  const username = fields.get('username');
  const password = fields.get('password');
  if (username === undefined || password === undefined) return 401;
  const userOk = sameDigest(username, options.usernameSha1);
  const passOk = sameDigest(password, options.passwordSha1);
  if (!userOk || !passOk) return 403;
  const [host, rawReason, rawTime] = [fields.get('host'), fields.get('reason'), fields.get('time')];
  if (host === undefined || rawReason === undefined || rawTime === undefined) return 400;
  if (host.trim() === '' || host.trim().length > MAX_NAME_LENGTH) return 400;
  const reason = parseReason(rawReason);
  const timeS = parseTime(rawTime);
  if (reason === null || timeS === null) return 400;
  const rawVms = fields.get('vm_uuids');
  const vmIds = rawVms === undefined ? [] : rawVms.split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (reason === 1 && (vmIds.length === 0 || vmIds.length > MAX_VMS || vmIds.some((id) => id.length > MAX_NAME_LENGTH))) return 400;
  if (timeS + options.stalenessS < nowS) return 412;
  return { host: host.trim(), reason, timeS, vmIds: reason === 1 ? vmIds : [] };
}

function answerText(ctx: Context, status: number, text: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=UTF-8';
  ctx.body = text;
}

export function neatRoutes(router: Router, options: NeatProtocolOptions): void {
  router.put('/', async (ctx) => {
    const remoteAddress = ctx.ip || null;
    let fields: Map<string, string>;
    try {
      fields = await formFields(ctx, options.bodyLimitBytes);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      await options.manager.reject({ host: null, status: error.status, reason: error.message, protocol: 'neat', remoteAddress });
      answerText(ctx, error.status, error.message);
      return;
    }
    const checked = validateNeat(fields, options, options.clock.nowMs() / 1000);
    const claimedHost = fields.get('host')?.trim() ?? '';
    // A refusal is recorded even when the host it names is not a name the log can hold.
    const host = claimedHost === '' || claimedHost.length > MAX_NAME_LENGTH ? null : claimedHost;
    if (typeof checked === 'number') {
      await options.manager.reject({ host, status: checked, reason: NEAT_MESSAGES[checked], protocol: 'neat', remoteAddress });
      answerText(ctx, checked, NEAT_MESSAGES[checked]);
      return;
    }
    const result = await options.manager.submit({
      host: checked.host, reason: checked.reason === 0 ? 'underload' : 'overload', vmIds: checked.vmIds,
      protocol: 'neat', remoteAddress, clientTimeS: checked.timeS,
    });
    if (result.status === 'queue-full') {
      await options.manager.reject({ host, status: 503, reason: QUEUE_FULL_MESSAGE, protocol: 'neat', remoteAddress });
      ctx.set('Retry-After', String(result.retryAfterS));
      answerText(ctx, 503, QUEUE_FULL_MESSAGE);
      return;
    }
    answerText(ctx, 200, '');
  });
  router.all('/', (ctx) => {
    ctx.set('Allow', 'PUT');
    answerText(ctx, 405, NEAT_METHOD_NOT_ALLOWED);
  });
}
