/**
 * The global manager's HTTP service: Neat's `PUT /`, the JSON API under
 * `/v1`, `/healthz`, `/metrics` and the live dashboard `/ui`. Client errors are 4xx with a JSON body
 * naming the field; a 500 means a bug, and is logged with its stack.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { METHODS } from 'node:http';
import type { Clock } from '../clock';
import type { EventLog } from '../log/port';
import type { GlobalManager } from '../managers/globalManager';
import { HttpError, sendError } from './http';
import { prometheusMetrics } from './metrics';
import { neatRoutes } from './neat';
import type { NeatProtocolOptions } from './neat';
import { uiRoutes } from './ui';
import { jsonApiRoutes } from './v1';

export interface AppOptions {
  readonly manager: GlobalManager;
  readonly log: EventLog;
  /** What Neat's `time` field is compared with: the wall clock. */
  readonly clock: Clock;
  readonly neat: Pick<NeatProtocolOptions, 'usernameSha1' | 'passwordSha1' | 'stalenessS'>;
  readonly tokenDigestsHex: readonly string[];
  readonly bodyLimitBytes: number;
  readonly maxStreams: number;
  readonly keepAliveMs: number;
  /** Where unexpected errors are reported. */
  readonly onError: (error: unknown) => void;
  /** More metric families for `/metrics` (a simulated service's pace), in Prometheus' text format. */
  readonly extraMetrics?: () => string;
  /**
   * Set on a standby of a highly available deployment: it answers reads from
   * the log it follows, and sends every write to the leader (`leaderUrl`,
   * null while none is known), the one process that appends.
   */
  readonly standby?: { readonly leaderUrl: () => string | null };
}

/** Methods that change nothing: a standby answers them itself. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A write to a standby is redirected, not recorded: only the leader appends
 * (its epoch fences every other writer), and a request recorded elsewhere
 * would wait for the leader to decide it anyway. 307 keeps the method and
 * the body, so Neat's local managers (python-requests) follow it unchanged.
 */
function standbyWrites(standby: NonNullable<AppOptions['standby']>): Koa.Middleware {
  return async (ctx, next) => {
    if (READ_METHODS.has(ctx.method)) {
      await next();
      return;
    }
    const leader = standby.leaderUrl();
    if (leader === null) throw new HttpError(503, 'this instance is a standby and no leader is known yet: retry shortly', null, { 'Retry-After': '1' });
    const location = new URL(ctx.url, leader).toString();
    ctx.status = 307;
    ctx.set('Location', location);
    ctx.body = { redirect: location, message: 'this instance is a standby: the leader takes writes' };
  };
}

export function createApp(options: AppOptions): Koa {
  const app = new Koa();
  app.silent = true;
  app.use(async (ctx, next) => {
    try {
      await next();
      // The router leaves these without a body; the 405 keeps the `Allow` header the router set (RFC 9110 requires it).
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) throw new HttpError(404, `no such resource: ${ctx.method} ${ctx.path}`);
        if (ctx.status === 405) throw new HttpError(405, 'method not allowed on this resource', null, { Allow: ctx.response.get('Allow') });
      }
    } catch (error) {
      if (error instanceof HttpError) {
        sendError(ctx, error);
        return;
      }
      options.onError(error);
      sendError(ctx, new HttpError(500, 'internal error: the service hit a bug; it is logged'));
    }
  });
  if (options.standby !== undefined) app.use(standbyWrites(options.standby));
  const router = createRouter(options);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: false }));
  return app;
}

/** Every route of the service; `createApp` mounts it, and a test checks it against the OpenAPI document. */
export function createRouter(options: AppOptions): Router {
  // Every method Node's parser accepts counts as implemented: a method a path does not take is then its 405 with
  // `Allow`, where the router's default list of seven made TRACE, PROPFIND or PURGE a 501. Node's parser answers a
  // token it does not know (FOO) with a 400 before the app sees it.
  const router = new Router({ methods: [...METHODS] });
  neatRoutes(router, { ...options.neat, manager: options.manager, clock: options.clock, bodyLimitBytes: options.bodyLimitBytes });
  jsonApiRoutes(router, {
    manager: options.manager, log: options.log, tokenDigestsHex: options.tokenDigestsHex,
    bodyLimitBytes: options.bodyLimitBytes, maxStreams: options.maxStreams, keepAliveMs: options.keepAliveMs, onError: options.onError,
  });
  router.get('/healthz', (ctx) => {
    ctx.body = {
      status: 'ok', role: options.standby === undefined ? 'leader' : 'standby', position: options.manager.dataCentre.position,
      queueDepth: options.manager.queueDepth, log: options.log.description,
      ...(options.standby === undefined ? {} : { leader: options.standby.leaderUrl() }),
    };
  });
  router.get('/metrics', (ctx) => {
    ctx.type = 'text/plain; version=0.0.4; charset=utf-8';
    ctx.body = prometheusMetrics(options.manager) + (options.extraMetrics?.() ?? '');
  });
  uiRoutes(router);
  return router;
}
