/**
 * The JSON API under `/v1`, `/healthz`, `/metrics` and the OpenAPI document,
 * over real loopback HTTP against the simulated data centre: authentication,
 * validation that names the field, the life of a request (automatic and
 * manual), reading the log (paged and as Server-Sent Events), samples, and a
 * check that the document and the router describe the same routes.
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sha256Hex } from '../../src/api/http';
import { allEvents, bearer, eventually, fixtureRouter, sampleEveryHost, sha1Hex, SlowAppendLog, withFixture } from './client';
import type { Fixture } from './client';
import { ADMIN_PASSWORD, ADMIN_USER, TOKEN } from './fixture';

interface ErrorBody {
  readonly error: { readonly status: number; readonly message: string; readonly field: string | null };
}

interface Answer<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body when it is JSON, null otherwise. */
  readonly body: T;
}

interface CallOptions {
  /** The bearer token to send; null sends no Authorization header. */
  readonly token: string | null;
  /** Sent as `application/json` unless `headers` names another type. */
  readonly json?: unknown;
  /** A raw body, for what JSON.stringify cannot produce. */
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

async function call<T = ErrorBody>(fixture: Fixture, method: string, path: string, options: CallOptions): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...(options.token === null ? {} : bearer(options.token)) };
  let body = options.body;
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  Object.assign(headers, options.headers);
  const response = await fetch(`${fixture.url}${path}`, { method, headers, body });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: response.status, headers: response.headers, text, body: (isJson ? JSON.parse(text) : null) as T };
}

function expectError(answer: Answer<ErrorBody>, status: number, field: string | null): void {
  expect({ status: answer.status, type: answer.headers.get('content-type') }).toEqual({ status, type: 'application/json; charset=utf-8' });
  expect({ status: answer.status, errorStatus: answer.body.error.status, field: answer.body.error.field }).toEqual({ status, errorStatus: status, field });
  expect(answer.body.error.message).not.toBe('');
}

interface EventBody {
  readonly position: number;
  readonly type: string;
  readonly stream: string;
  readonly data: Record<string, unknown>;
}

interface RequestBody {
  readonly request: {
    readonly requestId: string;
    readonly host: string;
    readonly reason: string;
    readonly status: string;
    readonly protocol: string;
    readonly plan: { readonly automation: string; readonly mapping: Record<string, string>; readonly hostsToSuspend: string[] } | null;
    readonly nothingToDo: { readonly reason: string } | null;
    readonly migrations: { readonly vmId: string; readonly targetHost: string; readonly outcome: string | null }[];
    readonly outcome: { readonly outcome: string; readonly detail: string } | null;
  } | null;
  readonly rejection: { readonly status: number; readonly protocol: string } | null;
  readonly events: EventBody[];
}

async function submit(fixture: Fixture, json: unknown): Promise<string> {
  const answer = await call<{ requestId: string }>(fixture, 'POST', '/v1/requests', { token: TOKEN, json });
  expect(answer.status).toBe(202);
  return answer.body.requestId;
}

async function readRequest(fixture: Fixture, requestId: string): Promise<RequestBody> {
  const answer = await call<RequestBody>(fixture, 'GET', `/v1/requests/${requestId}`, { token: TOKEN });
  expect(answer.status).toBe(200);
  return answer.body;
}

async function requestWhen(fixture: Fixture, requestId: string, what: string, done: (body: RequestBody) => boolean): Promise<RequestBody> {
  return eventually(`request ${requestId}: ${what}`, async () => {
    const body = await readRequest(fixture, requestId);
    return done(body) ? body : null;
  });
}

/** Events that requests and samples caused; the simulation records its own beside them. */
async function clientEvents(fixture: Fixture): Promise<string[]> {
  return (await allEvents(fixture)).filter((e) => /^(request|samples)-/.test(e.stream)).map((e) => e.type);
}

/** The refusals the log holds, in order. */
async function refusals(fixture: Fixture): Promise<{ status: number; host: string | null; protocol: string }[]> {
  return (await allEvents(fixture)).flatMap((e) => (e.type === 'RequestRejected' ? [{ status: e.data.status, host: e.data.host, protocol: e.data.protocol }] : []));
}

async function vmHost(fixture: Fixture, vmId: string): Promise<string | null | undefined> {
  return (await fixture.dataCentre.listVms()).find((vm) => vm.id === vmId)?.host;
}

async function appendSample(fixture: Fixture, cpuMhz: number): Promise<void> {
  await fixture.service.manager.recordSample({ host: 'host-1', hypervisorCpuMhz: 0, vms: [{ vmId: 'vm-1', cpuMhz, ramMb: null }] });
}

describe('authentication', () => {
  test('no token is a 401, a wrong one a 403, both with WWW-Authenticate; the right one passes', async () => {
    await withFixture({}, async (fixture) => {
      const missing = await call(fixture, 'GET', '/v1/hosts', { token: null });
      expectError(missing, 401, null);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
      const wrong = await call(fixture, 'GET', '/v1/hosts', { token: 'not-the-token' });
      expectError(wrong, 403, null);
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      const notBearer = await call(fixture, 'GET', '/v1/hosts', { token: null, headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } });
      expectError(notBearer, 401, null);
      expect((await call(fixture, 'GET', '/v1/hosts', { token: TOKEN })).status).toBe(200);
    });
  });

  test('a write without a token is refused before its body is looked at; only the requests endpoint records it', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'POST', '/v1/requests', { token: null, body: 'not json' }), 401, null);
      expectError(await call(fixture, 'POST', '/v1/samples', { token: 'wrong', json: { host: 'host-0', vms: [] } }), 403, null);
      expect(await refusals(fixture)).toEqual([{ status: 401, host: null, protocol: 'json' }]);
      expect(await clientEvents(fixture)).toEqual(['RequestRejected']);
    });
  });
});

describe('POST /v1/requests', () => {
  test('202 with the id and Location once RequestReceived is durable; the request shows its events, then its outcome', async () => {
    // Each append takes 50 ms: had the 202 not waited for the event, the first read would find no request.
    await withFixture({ log: new SlowAppendLog(50) }, async (fixture) => {
      const answer = await call<{ requestId: string; supersedes: string | null }>(fixture, 'POST', '/v1/requests', {
        token: TOKEN, json: { host: 'host-1', reason: 'underload' },
      });
      expect(answer.status).toBe(202);
      expect(answer.body.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(answer.body.supersedes).toBeNull();
      expect(answer.headers.get('location')).toBe(`/v1/requests/${answer.body.requestId}`);
      const first = await readRequest(fixture, answer.body.requestId);
      expect(first.events[0]).toMatchObject({ type: 'RequestReceived', stream: `request-${answer.body.requestId}` });
      expect(first.request).toMatchObject({ requestId: answer.body.requestId, host: 'host-1', reason: 'underload', protocol: 'json' });
      // Without utilisation samples the manager drops the request, as Neat did.
      const done = await requestWhen(fixture, answer.body.requestId, 'an outcome', (body) => body.request?.outcome !== null);
      expect(done.request?.outcome?.outcome).toBe('nothing-to-do');
      expect(done.request?.nothingToDo?.reason).toBe('no-data');
      expect(done.request?.status).toBe('completed');
      expect(done.events.map((e) => e.type)).toEqual(['RequestReceived', 'NothingToDo', 'RequestCompleted']);
      expect(done.rejection).toBeNull();
    });
  });

  test('names of hosts and VMs the manager has not observed are a 422 naming the field', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-9', reason: 'underload' } }), 422, 'host');
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'overload', vmIds: ['vm-9'] } }), 422, 'vmIds[0]');
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'overload', vmIds: ['vm-0', 'vm-9'] } }), 422, 'vmIds[1]');
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'overload' } }), 422, 'vmIds');
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'overload', vmIds: [] } }), 422, 'vmIds');
      expect(await refusals(fixture)).toEqual(['host-9', 'host-0', 'host-0', 'host-0', 'host-0'].map((host) => ({ status: 422, host, protocol: 'json' })));
      expect(new Set(await clientEvents(fixture))).toEqual(new Set(['RequestRejected']));
    });
  });

  test('malformed bodies are a 400 naming the field', async () => {
    await withFixture({}, async (fixture) => {
      const cases: [unknown, string | null][] = [
        [{ host: 'host-0', reason: 'sideways' }, 'reason'],
        [{ host: 'host-0', reason: 1 }, 'reason'],
        [{ reason: 'underload' }, 'host'],
        [{ host: '', reason: 'underload' }, 'host'],
        [{ host: 'h'.repeat(256), reason: 'underload' }, 'host'],
        [{ host: 'host-0', reason: 'overload', vmIds: 'vm-0' }, 'vmIds'],
        [{ host: 'host-0', reason: 'overload', vmIds: ['vm-0', 5] }, 'vmIds[1]'],
        [{ host: 'host-0', reason: 'underload', priority: 'high' }, 'priority'],
        [[{ host: 'host-0', reason: 'underload' }], null],
        [null, null],
      ];
      for (const [json, field] of cases) {
        const answer = await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json });
        expect({ json, status: answer.status, field: answer.body.error.field }).toEqual({ json, status: 400, field });
      }
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, body: '{"host": "host-0",', headers: { 'content-type': 'application/json' } }), 400, null);
      expect(await refusals(fixture)).toEqual(Array.from({ length: cases.length + 1 }, () => ({ status: 400, host: null, protocol: 'json' })));
      expect(new Set(await clientEvents(fixture))).toEqual(new Set(['RequestRejected']));
    });
  });

  test('a body that is not application/json is a 415', async () => {
    await withFixture({}, async (fixture) => {
      const form = await call(fixture, 'POST', '/v1/requests', {
        token: TOKEN, body: 'host=host-0&reason=underload', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expectError(form, 415, null);
      const charset = await call(fixture, 'POST', '/v1/requests', {
        token: TOKEN, body: JSON.stringify({ host: 'host-0', reason: 'underload' }), headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      expect(charset.status).toBe(202);
    });
  });

  test('a body above api_body_limit_bytes is a 413', async () => {
    await withFixture({ config: { apiBodyLimitBytes: 1024 } }, async (fixture) => {
      const vmIds = Array.from({ length: 200 }, (_, i) => `vm-${i}`);
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'overload', vmIds } }), 413, null);
      expect((await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'underload' } })).status).toBe(202);
    });
  });

  test('no JSON body a client can send gets a 500', async () => {
    await withFixture({}, async (fixture) => {
      const paths = ['/v1/requests', '/v1/samples', `/v1/requests/${randomUUID()}/approve`, `/v1/requests/${randomUUID()}/reject`];
      await fc.assert(fc.asyncProperty(fc.constantFrom(...paths), fc.oneof(
        fc.json(),
        fc.record({ host: fc.constantFrom('host-0', '', 'h'.repeat(300)), reason: fc.jsonValue(), vmIds: fc.jsonValue(), vms: fc.jsonValue() }, { requiredKeys: [] }),
      ), async (path, text) => {
        const answer = await call(fixture, 'POST', path, { token: TOKEN, body: typeof text === 'string' ? text : JSON.stringify(text), headers: { 'content-type': 'application/json' } });
        expect(answer.status).toBeLessThan(500);
      }), { numRuns: 200 });
    });
  });

  test('every refusal is recorded as PUT / records its own: 400, 401, 403, 413, 415, 422, 503, each readable as a rejection', async () => {
    // One request in the queue at most, and the worker held by a migration that polls 1 s after it starts.
    await withFixture({ config: { apiBodyLimitBytes: 1024 }, settings: { queueLimit: 1, migrationInitialWaitMs: 100_000 } }, async (fixture) => {
      await sampleEveryHost(fixture, 100);
      const bad: [number, CallOptions][] = [
        [400, { token: TOKEN, json: { host: 'host-0', reason: 'sideways' } }],
        [401, { token: null, json: { host: 'host-0', reason: 'underload' } }],
        [403, { token: 'not-the-token', json: { host: 'host-0', reason: 'underload' } }],
        [413, { token: TOKEN, json: { host: 'host-0', reason: 'overload', vmIds: Array.from({ length: 200 }, (_, i) => `vm-${i}`) } }],
        [415, { token: TOKEN, body: 'host=host-0', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
        [422, { token: TOKEN, json: { host: 'host-1', reason: 'overload', vmIds: ['vm-9'] } }],
      ];
      for (const [status, options] of bad) expect((await call(fixture, 'POST', '/v1/requests', options)).status).toBe(status);
      await submit(fixture, { host: 'host-3', reason: 'overload', vmIds: ['vm-3'] });
      await eventually('the worker to be busy', async () => (fixture.service.manager.busyWith !== null ? true : null));
      await submit(fixture, { host: 'host-0', reason: 'underload' });
      const full = await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-2', reason: 'underload' } });
      expectError(full, 503, null);
      expect(full.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(await refusals(fixture)).toEqual([
        { status: 400, host: null, protocol: 'json' }, { status: 401, host: null, protocol: 'json' }, { status: 403, host: null, protocol: 'json' },
        { status: 413, host: null, protocol: 'json' }, { status: 415, host: null, protocol: 'json' }, { status: 422, host: 'host-1', protocol: 'json' },
        { status: 503, host: 'host-2', protocol: 'json' },
      ]);
      const lastRefusal = (await allEvents(fixture)).filter((e) => e.type === 'RequestRejected').pop();
      const readBack = await readRequest(fixture, lastRefusal?.type === 'RequestRejected' ? lastRefusal.data.requestId : '');
      expect({ request: readBack.request, rejection: readBack.rejection }).toEqual({
        request: null, rejection: expect.objectContaining({ status: 503, protocol: 'json', reason: expect.stringMatching(/queue is full/) as string }) as unknown,
      });
      const metrics = (await call<null>(fixture, 'GET', '/metrics', { token: null })).text.split('\n');
      for (const status of [400, 401, 403, 413, 415, 422, 503]) expect(metrics).toContain(`neat_requests_rejected_total{status="${status}"} 1`);
    });
  });

  test('a refusal that quotes the client is recorded cut to 1000 characters', async () => {
    await withFixture({}, async (fixture) => {
      const key = 'k'.repeat(20_000);
      expectError(await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'underload', [key]: 1 } }), 400, key);
      const rejected = (await allEvents(fixture)).find((e) => e.type === 'RequestRejected');
      const reason = rejected?.type === 'RequestRejected' ? rejected.data.reason : '';
      expect({ length: reason.length, start: reason.slice(0, 10), end: reason.slice(-2) }).toEqual({ length: 1000, start: 'body.kkkkk', end: 'k…' });
    });
  });

  test('requests the worker has not started yet are superseded by a newer one for the same host', async () => {
    // The worker is held by a first request's migration (100 virtual seconds = 1 s before its first poll).
    await withFixture({ settings: { migrationInitialWaitMs: 100_000 } }, async (fixture) => {
      await sampleEveryHost(fixture, 100);
      await submit(fixture, { host: 'host-3', reason: 'overload', vmIds: ['vm-3'] });
      await eventually('the worker to be busy', async () => (fixture.service.manager.busyWith !== null ? true : null));
      const older = await submit(fixture, { host: 'host-0', reason: 'underload' });
      const newer = await call<{ requestId: string; supersedes: string | null }>(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-0', reason: 'underload' } });
      expect(newer.body.supersedes).toBe(older);
      expect((await readRequest(fixture, older)).request?.outcome?.outcome).toBe('superseded');
    });
  });
});

describe('GET /v1/requests/{id}', () => {
  test('an unknown id is a 404', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'GET', `/v1/requests/${randomUUID()}`, { token: TOKEN }), 404, 'requestId');
      expectError(await call(fixture, 'GET', '/v1/requests/not-an-id', { token: TOKEN }), 404, 'requestId');
    });
  });

  test('a Neat PUT refused at the door reads back as a rejection', async () => {
    await withFixture({}, async (fixture) => {
      const response = await fetch(`${fixture.url}/`, { method: 'PUT', body: new URLSearchParams({ username: sha1Hex(ADMIN_USER) }) });
      expect(response.status).toBe(401);
      const rejected = (await fixture.log.readAll(1, 100)).find((e) => e.type === 'RequestRejected');
      expect(rejected?.type).toBe('RequestRejected');
      const requestId = rejected?.type === 'RequestRejected' ? rejected.data.requestId : '';
      const body = await readRequest(fixture, requestId);
      expect(body.request).toBeNull();
      expect(body.rejection).toMatchObject({ status: 401, protocol: 'neat' });
    });
  });
});

describe('approving and rejecting plans (automation manual)', () => {
  test('an approved plan runs: the VM moves, the emptied host is suspended; approving again is a 409 naming its state, executing then completed', async () => {
    // The first poll of a migration comes 30 virtual seconds (0.3 s) after it starts: time to ask twice while it runs.
    await withFixture({ settings: { automation: 'manual', migrationInitialWaitMs: 30_000 } }, async (fixture) => {
      await sampleEveryHost(fixture, 100);
      const requestId = await submit(fixture, { host: 'host-2', reason: 'underload' });
      const recommended = await requestWhen(fixture, requestId, 'a recommended plan', (body) => body.request?.status === 'recommended');
      const plan = recommended.request?.plan;
      expect(plan?.automation).toBe('manual');
      expect(Object.keys(plan?.mapping ?? {})).toEqual(['vm-2']);
      expect(plan?.hostsToSuspend).toContain('host-2');
      const target = plan?.mapping['vm-2'] ?? '';
      expect(await vmHost(fixture, 'vm-2')).toBe('host-2');

      const approved = await call<{ requestId: string; status: string }>(fixture, 'POST', `/v1/requests/${requestId}/approve`, { token: TOKEN });
      expect({ status: approved.status, body: approved.body }).toEqual({ status: 200, body: { requestId, status: 'done' } });
      const again = await call(fixture, 'POST', `/v1/requests/${requestId}/approve`, { token: TOKEN });
      expectError(again, 409, 'requestId');
      expect(again.body.error.message).toBe(`request ${requestId} is executing, not waiting for approval`);

      const done = await requestWhen(fixture, requestId, 'an outcome', (body) => body.request?.outcome !== null);
      expect(done.request?.outcome?.outcome).toBe('completed');
      expect(done.request?.migrations).toEqual([expect.objectContaining({ vmId: 'vm-2', targetHost: target, outcome: 'completed' })]);
      expect(done.events.map((e) => e.type)).toContain('PlanApproved');
      expect(await vmHost(fixture, 'vm-2')).toBe(target);
      expect((await fixture.dataCentre.listHosts()).find((h) => h.name === 'host-2')?.state).toBe('down');
      const completed = await call(fixture, 'POST', `/v1/requests/${requestId}/approve`, { token: TOKEN });
      expectError(completed, 409, 'requestId');
      expect(completed.body.error.message).toBe(`request ${requestId} is completed (completed), not waiting for approval`);
    });
  });

  test('a rejected plan completes as rejected and nothing moves', async () => {
    await withFixture({ settings: { automation: 'manual' } }, async (fixture) => {
      await sampleEveryHost(fixture, 100);
      const requestId = await submit(fixture, { host: 'host-3', reason: 'underload' });
      await requestWhen(fixture, requestId, 'a recommended plan', (body) => body.request?.status === 'recommended');
      expectError(await call(fixture, 'POST', `/v1/requests/${requestId}/reject`, { token: TOKEN, json: { reason: 5 } }), 400, 'reason');
      expectError(await call(fixture, 'POST', `/v1/requests/${requestId}/reject`, { token: TOKEN, json: { because: 'x' } }), 400, 'because');
      const rejected = await call<{ status: string }>(fixture, 'POST', `/v1/requests/${requestId}/reject`, { token: TOKEN, json: { reason: 'not tonight' } });
      expect({ status: rejected.status, outcome: rejected.body.status }).toEqual({ status: 200, outcome: 'done' });
      const body = await readRequest(fixture, requestId);
      expect(body.request?.outcome?.outcome).toBe('rejected');
      expect(body.events.find((e) => e.type === 'PlanRejected')?.data).toMatchObject({ reason: 'not tonight', rejectedBy: `token:${sha256Hex(TOKEN).slice(0, 12)}` });
      expect(await vmHost(fixture, 'vm-3')).toBe('host-3');
      for (const action of ['reject', 'approve']) {
        const late = await call(fixture, 'POST', `/v1/requests/${requestId}/${action}`, { token: TOKEN });
        expectError(late, 409, 'requestId');
        expect(late.body.error.message).toBe(`request ${requestId} is completed (rejected), not waiting for approval`);
      }
    });
  });

  test('approving or rejecting an unknown request is a 404', async () => {
    await withFixture({ settings: { automation: 'manual' } }, async (fixture) => {
      expectError(await call(fixture, 'POST', `/v1/requests/${randomUUID()}/approve`, { token: TOKEN }), 404, 'requestId');
      expectError(await call(fixture, 'POST', '/v1/requests/x/reject', { token: TOKEN }), 404, 'requestId');
    });
  });

  test('approving a request refused at the door, or one dropped for lack of data, is a 409 naming why', async () => {
    await withFixture({ settings: { automation: 'manual' } }, async (fixture) => {
      expect((await call(fixture, 'POST', '/v1/requests', { token: TOKEN, json: { host: 'host-9', reason: 'underload' } })).status).toBe(422);
      const rejected = (await allEvents(fixture)).find((e) => e.type === 'RequestRejected');
      const refusedId = rejected?.type === 'RequestRejected' ? rejected.data.requestId : '';
      const refused = await call(fixture, 'POST', `/v1/requests/${refusedId}/approve`, { token: TOKEN });
      expectError(refused, 409, 'requestId');
      expect(refused.body.error.message).toBe(`request ${refusedId} was refused with status 422: it has no plan`);
      // Without samples the manager drops the request (NothingToDo, no-data).
      const droppedId = await submit(fixture, { host: 'host-1', reason: 'underload' });
      await requestWhen(fixture, droppedId, 'an outcome', (body) => body.request?.outcome !== null);
      const dropped = await call(fixture, 'POST', `/v1/requests/${droppedId}/reject`, { token: TOKEN });
      expectError(dropped, 409, 'requestId');
      expect(dropped.body.error.message).toBe(`request ${droppedId} is completed (nothing-to-do), not waiting for approval`);
    });
  });
});

describe('hosts, VMs and samples', () => {
  test('GET /v1/hosts and /v1/vms list what the simulated cloud reports', async () => {
    await withFixture({}, async (fixture) => {
      const hosts = await call<{ hosts: Record<string, unknown>[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN });
      expect(hosts.status).toBe(200);
      const cloudHosts = await fixture.dataCentre.listHosts();
      expect(hosts.body.hosts.map((h) => h.name)).toEqual(['host-0', 'host-1', 'host-2', 'host-3']);
      for (const host of hosts.body.hosts) {
        const cloud = cloudHosts.find((h) => h.name === host.name);
        expect(host).toEqual({
          name: host.name, power: 'active', enabled: true, cpuMhz: cloud?.cpuMhz, ramMb: cloud?.ramMb, vms: expect.any(Number) as number, lastCpuMhz: null, lastPowerError: null,
          lastSampleAtMs: null, lastSampleAgeS: null, stale: false,
        });
      }
      expect(hosts.body.hosts.reduce((sum, h) => sum + (h.vms as number), 0)).toBe(6);

      const vms = await call<{ vms: Record<string, unknown>[] }>(fixture, 'GET', '/v1/vms', { token: TOKEN });
      expect(vms.status).toBe(200);
      const cloudVms = await fixture.dataCentre.listVms();
      expect(vms.body.vms).toEqual(cloudVms.map((vm) => ({
        id: vm.id, host: vm.host, ramMb: vm.ramMb, vcpus: vm.vcpus, migrating: false, lastCpuMhz: null, samples: 0,
      })).sort((a, b) => (a.id < b.id ? -1 : 1)));
    });
  });

  test('hosts and VMs are listed in natural order (host-2 before host-10), last utilisation to the kHz', async () => {
    await withFixture({ hosts: 12, vms: 12 }, async (fixture) => {
      const hosts = await call<{ hosts: { name: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN });
      expect(hosts.body.hosts.map((h) => h.name)).toEqual(Array.from({ length: 12 }, (_, i) => `host-${i}`));
      // The simulated cloud pads VM ids (vm-00 … vm-11), in which natural and code-unit order agree.
      const vms = await call<{ vms: { id: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/vms', { token: TOKEN });
      expect(vms.body.vms.map((vm) => vm.id)).toEqual(Array.from({ length: 12 }, (_, i) => `vm-${String(i).padStart(2, '0')}`));

      const host = (await fixture.dataCentre.listVms()).find((vm) => vm.id === 'vm-10')?.host ?? '';
      // 0.07 × 2500 is 175.00000000000003 in binary floating point, and 0.1 + 0.2 is 0.30000000000000004.
      const vmCpuMhz = 0.07 * 2500;
      expect(vmCpuMhz).not.toBe(175);
      await fixture.service.manager.recordSample({ host, hypervisorCpuMhz: 0.1, vms: [{ vmId: 'vm-10', cpuMhz: vmCpuMhz, ramMb: null }] });
      await fixture.service.manager.recordSample({ host, hypervisorCpuMhz: 0.1, vms: [{ vmId: 'vm-10', cpuMhz: 0.2, ramMb: null }] });
      const after = (await call<{ hosts: { name: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN })).body.hosts;
      expect(after.find((h) => h.name === host)?.lastCpuMhz).toBe(0.3);
      await fixture.service.manager.recordSample({ host, hypervisorCpuMhz: 0, vms: [{ vmId: 'vm-10', cpuMhz: vmCpuMhz, ramMb: null }] });
      const sampled = (await call<{ vms: { id: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/vms', { token: TOKEN })).body.vms;
      expect(sampled.find((vm) => vm.id === 'vm-10')?.lastCpuMhz).toBe(175);
      const rounded = (await call<{ hosts: { name: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN })).body.hosts;
      expect(rounded.find((h) => h.name === host)?.lastCpuMhz).toBe(175);
    });
  });

  test('GET /v1/hosts and /metrics say how fresh each host is, by the manager\'s clock at the request', async () => {
    // Paced a million times faster, the clock reaches the end of the trace (a day) at once, and stops there.
    await withFixture({ speed: 1_000_000 }, async (fixture) => {
      await fixture.traceEnded;
      const nowMs = fixture.scheduler.timeS * 1000;
      expect(nowMs).toBeGreaterThan(900_000);
      // Every host has been up since the start and none has sent a sample: all are stale, until host-1's agent reports (no VMs).
      expect((await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-1', vms: [] } })).status).toBe(202);
      type Freshness = { name: string; lastSampleAtMs: number | null; lastSampleAgeS: number | null; stale: boolean };
      const hosts = (await call<{ hosts: Freshness[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN })).body.hosts;
      expect(hosts.map(({ name, lastSampleAtMs, lastSampleAgeS, stale }) => ({ name, lastSampleAtMs, lastSampleAgeS, stale }))).toEqual([
        { name: 'host-0', lastSampleAtMs: null, lastSampleAgeS: null, stale: true },
        { name: 'host-1', lastSampleAtMs: nowMs, lastSampleAgeS: 0, stale: false },
        { name: 'host-2', lastSampleAtMs: null, lastSampleAgeS: null, stale: true },
        { name: 'host-3', lastSampleAtMs: null, lastSampleAgeS: null, stale: true },
      ]);
      const metrics = (await call<null>(fixture, 'GET', '/metrics', { token: null })).text.split('\n');
      for (const line of [
        '# TYPE neat_host_stale gauge', 'neat_host_stale{host="host-0"} 1', 'neat_host_stale{host="host-1"} 0', 'neat_host_stale{host="host-3"} 1',
        '# TYPE neat_hosts_stale gauge', 'neat_hosts_stale 3',
        '# TYPE neat_host_last_sample_age_seconds gauge', 'neat_host_last_sample_age_seconds{host="host-1"} 0',
      ]) expect(metrics).toContain(line);
      // A host never sampled has no age.
      expect(metrics.filter((line) => line.startsWith('neat_host_last_sample_age_seconds{'))).toEqual(['neat_host_last_sample_age_seconds{host="host-1"} 0']);
    });
  });

  test('POST /v1/samples is a 202 and shows in the last utilisation of the VM and its host', async () => {
    await withFixture({}, async (fixture) => {
      const answer = await call<{ host: string; vms: number; unreportedVmIds: string[] }>(fixture, 'POST', '/v1/samples', {
        token: TOKEN, json: { host: 'host-0', hypervisorCpuMhz: 50, vms: [{ vmId: 'vm-0', cpuMhz: 123 }, { vmId: 'vm-4', cpuMhz: 7, ramMb: 1700 }] },
      });
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 202, body: { host: 'host-0', vms: 2, unreportedVmIds: [] } });
      const vms = (await call<{ vms: { id: string; lastCpuMhz: number | null; samples: number; ramMb: number }[] }>(fixture, 'GET', '/v1/vms', { token: TOKEN })).body.vms;
      expect(vms.find((vm) => vm.id === 'vm-0')).toMatchObject({ lastCpuMhz: 123, samples: 1 });
      expect(vms.find((vm) => vm.id === 'vm-4')).toMatchObject({ lastCpuMhz: 7, samples: 1, ramMb: 1700 });
      expect(vms.find((vm) => vm.id === 'vm-1')).toMatchObject({ lastCpuMhz: null, samples: 0 });
      const hosts = (await call<{ hosts: { name: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN })).body.hosts;
      expect(hosts.find((h) => h.name === 'host-0')?.lastCpuMhz).toBe(180);
    });
  });

  test('a sample naming VMs the cloud never reported is recorded as sent; the 202 names them, and no VM appears', async () => {
    await withFixture({}, async (fixture) => {
      const vms = [{ vmId: 'vm-0', cpuMhz: 100 }, { vmId: 'ghost-1', cpuMhz: 5000 }, { vmId: 'ghost-2', cpuMhz: 7, ramMb: 64 }];
      const answer = await call<{ host: string; vms: number; unreportedVmIds: string[] }>(fixture, 'POST', '/v1/samples', {
        token: TOKEN, json: { host: 'host-0', hypervisorCpuMhz: 20, vms },
      });
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 202, body: { host: 'host-0', vms: 3, unreportedVmIds: ['ghost-1', 'ghost-2'] } });
      const recorded = (await allEvents(fixture)).filter((e) => e.stream === 'samples-host-0').map((e) => e.data);
      expect(recorded).toEqual([{ host: 'host-0', hypervisorCpuMhz: 20, vms: vms.map((vm) => ({ ramMb: null, ...vm })) }]);
      const listed = (await call<{ vms: { id: string }[] }>(fixture, 'GET', '/v1/vms', { token: TOKEN })).body.vms.map((vm) => vm.id);
      expect(listed).toEqual((await fixture.dataCentre.listVms()).map((vm) => vm.id).sort());
      // The host's total is its hypervisor and the VMs the cloud reports.
      const hosts = (await call<{ hosts: { name: string; lastCpuMhz: number | null }[] }>(fixture, 'GET', '/v1/hosts', { token: TOKEN })).body.hosts;
      expect(hosts.find((h) => h.name === 'host-0')?.lastCpuMhz).toBe(120);
      const metrics = (await call<null>(fixture, 'GET', '/metrics', { token: null })).text.split('\n');
      expect(metrics).toContain('neat_vm_samples_unreported_total 2');
      expect(metrics).toContain('neat_log_anomalies_total 0');
      expect(await refusals(fixture)).toEqual([]);
    });
  });

  test('a sample of an unknown host is a 422, a malformed one a 400 naming the field', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-9', vms: [] } }), 422, 'host');
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-0', vms: [{ vmId: 'vm-0', cpuMhz: -1 }] } }), 400, 'vms[0].cpuMhz');
      // Two values near the largest double would sum to Infinity in the host's history.
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-0', vms: [{ vmId: 'vm-0', cpuMhz: 1e308 }] } }), 400, 'vms[0].cpuMhz');
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-0', hypervisorCpuMhz: 1e308, vms: [] } }), 400, 'hypervisorCpuMhz');
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-0', vms: [{ vmId: 'vm-0', cpuMhz: 1, ramMb: 1e12 }] } }), 400, 'vms[0].ramMb');
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-0', vms: [{ vmId: 'vm-0' }] } }), 400, 'vms[0].cpuMhz');
      expectError(await call(fixture, 'POST', '/v1/samples', { token: TOKEN, json: { host: 'host-0' } }), 400, 'vms');
      expect(await clientEvents(fixture)).toEqual([]);
    });
  });
});

describe('GET /v1/events', () => {
  test('pages through the whole log by position with `next`', async () => {
    await withFixture({}, async (fixture) => {
      for (const cpuMhz of [1, 2, 3]) await appendSample(fixture, cpuMhz);
      const pageLimit = 2;
      const seen: EventBody[] = [];
      for (let after = 0, pages = 0; ; pages++) {
        expect(pages).toBeLessThan(100);
        const answer = await call<{ events: EventBody[]; next: number }>(fixture, 'GET', `/v1/events?after=${after}&limit=${pageLimit}`, { token: TOKEN });
        expect(answer.status).toBe(200);
        const { events, next } = answer.body;
        expect(events.length).toBeLessThanOrEqual(pageLimit);
        expect(next).toBe(events.length === 0 ? after : events[events.length - 1].position);
        if (events.length === 0) break;
        seen.push(...events);
        after = next;
      }
      expect(seen.map((e) => e.position)).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
      expect(seen.map((e) => e.type)).toEqual((await allEvents(fixture)).slice(0, seen.length).map((e) => e.type));
      expect(seen.filter((e) => e.stream === 'samples-host-1').map((e) => e.data.vms)).toEqual([1, 2, 3].map((cpuMhz) => [{ vmId: 'vm-1', cpuMhz, ramMb: null }]));
      const all = await call<{ events: EventBody[] }>(fixture, 'GET', '/v1/events', { token: TOKEN });
      expect(all.body.events.slice(0, seen.length).map((e) => e.position)).toEqual(seen.map((e) => e.position));
    });
  });

  test('`types` keeps only these types, `exclude` all but these; paging with `next` reads them all, to `next` = `after`', async () => {
    await withFixture({}, async (fixture) => {
      for (const cpuMhz of [1, 2, 3]) await appendSample(fixture, cpuMhz);
      await submit(fixture, { host: 'host-1', reason: 'underload' });
      await eventually('the request to complete', async () => ((await allEvents(fixture)).some((e) => e.type === 'RequestCompleted') ? true : null));
      const stored = await allEvents(fixture);
      const pageThrough = async (query: string): Promise<EventBody[]> => {
        const seen: EventBody[] = [];
        for (let after = 0, pages = 0; ; pages++) {
          expect(pages).toBeLessThan(100);
          const answer = await call<{ events: EventBody[]; next: number }>(fixture, 'GET', `/v1/events?${query}&after=${after}&limit=2`, { token: TOKEN });
          expect(answer.status).toBe(200);
          seen.push(...answer.body.events);
          if (answer.body.next === after) return seen;
          after = answer.body.next;
        }
      };
      const positions = (keep: (type: string) => boolean): number[] => stored.filter((e) => keep(e.type)).map((e) => e.position);
      const only = await pageThrough('types=UtilizationSampled,RequestCompleted');
      expect(only.map((e) => e.position)).toEqual(positions((type) => type === 'UtilizationSampled' || type === 'RequestCompleted'));
      expect(only.map((e) => e.type)).toEqual(['UtilizationSampled', 'UtilizationSampled', 'UtilizationSampled', 'RequestCompleted']);
      const rest = await pageThrough('exclude=UtilizationSampled,DataCentreUpdated');
      expect(rest.map((e) => e.position)).toEqual(positions((type) => type !== 'UtilizationSampled' && type !== 'DataCentreUpdated'));
      expect(rest.map((e) => e.type)).toEqual(expect.arrayContaining(['RequestReceived', 'NothingToDo', 'RequestCompleted']));
    });
  });

  test('a sparse filter reads at most 10 000 events a page: a page may be empty before the end, and `next` moves on', async () => {
    await withFixture({}, async (fixture) => {
      const sample = { type: 'UtilizationSampled' as const, data: { host: 'host-1', hypervisorCpuMhz: 0, vms: [{ vmId: 'vm-1', cpuMhz: 1, ramMb: null }] } };
      for (let batch = 0; batch < 11; batch++) {
        await fixture.service.journal.record('samples-host-1', Array.from({ length: 1_000 }, () => sample), { correlationId: null, causationId: null });
      }
      const requestId = await submit(fixture, { host: 'host-1', reason: 'underload' });
      const page = async (after: number): Promise<{ events: EventBody[]; next: number }> => (
        await call<{ events: EventBody[]; next: number }>(fixture, 'GET', `/v1/events?types=RequestReceived&after=${after}`, { token: TOKEN })).body;
      const first = await page(0);
      expect(first).toEqual({ events: [], next: 10_000 });
      const second = await page(first.next);
      expect(second.events.map((e) => e.data.requestId)).toEqual([requestId]);
      expect(second.next).toBeGreaterThan(second.events[0].position);
      // The simulation may record an update meanwhile: page on to the end.
      for (let after = second.next, pages = 0; ; pages++) {
        expect(pages).toBeLessThan(10);
        const next = await page(after);
        expect(next.events).toEqual([]);
        if (next.next === after) break;
        after = next.next;
      }
    });
  });

  test('unknown event types, or `types` with `exclude`, are a 400 naming the parameter', async () => {
    await withFixture({}, async (fixture) => {
      for (const path of ['/v1/events', '/v1/events/stream']) {
        const unknown = await call(fixture, 'GET', `${path}?types=RequestReceived,Sampled,`, { token: TOKEN });
        expectError(unknown, 400, 'types');
        expect(unknown.body.error.message).toContain('"Sampled", ""');
        expectError(await call(fixture, 'GET', `${path}?exclude=requestreceived`, { token: TOKEN }), 400, 'exclude');
        expectError(await call(fixture, 'GET', `${path}?exclude=`, { token: TOKEN }), 400, 'exclude');
        expectError(await call(fixture, 'GET', `${path}?types=RequestReceived&types=RequestCompleted`, { token: TOKEN }), 400, 'types');
        expectError(await call(fixture, 'GET', `${path}?types=RequestReceived&exclude=UtilizationSampled`, { token: TOKEN }), 400, 'exclude');
      }
    });
  });

  test('a bad `after` or `limit` is a 400 naming the parameter', async () => {
    await withFixture({}, async (fixture) => {
      const cases: [string, string][] = [
        ['after=-1', 'after'], ['after=abc', 'after'], ['after=1.5', 'after'], ['after=1&after=2', 'after'],
        // The largest safe integer has no position after it; this used to be a 500.
        [`after=${Number.MAX_SAFE_INTEGER}`, 'after'],
        ['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=', 'limit'],
      ];
      for (const [query, field] of cases) {
        const answer = await call(fixture, 'GET', `/v1/events?${query}`, { token: TOKEN });
        expect({ query, status: answer.status, field: answer.body.error.field }).toEqual({ query, status: 400, field });
      }
      expect((await call(fixture, 'GET', `/v1/events?after=${Number.MAX_SAFE_INTEGER - 1}`, { token: TOKEN })).status).toBe(200);
    });
  });
});

interface SseFrame {
  readonly id: number;
  readonly event: string;
  readonly data: EventBody;
}

/** Reads `text/event-stream` frames from a fetch body, skipping keep-alive comments. */
class SseReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async next(): Promise<SseFrame> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const lines = this.buffer.slice(0, end).split('\n').filter((line) => !line.startsWith(':'));
        this.buffer = this.buffer.slice(end + 2);
        if (lines.length === 0) continue;
        const field = (name: string): string => {
          const line = lines.find((l) => l.startsWith(`${name}: `));
          if (line === undefined) throw new Error(`a frame without ${name}: ${lines.join(' | ')}`);
          return line.slice(name.length + 2);
        };
        return { id: Number(field('id')), event: field('event'), data: JSON.parse(field('data')) as EventBody };
      }
      const { value, done } = await this.reader.read();
      if (done) throw new Error('the event stream ended');
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  async close(): Promise<void> {
    await this.reader.cancel();
  }
}

/** Opens the stream; a stuck read fails the test after 10 s instead of hanging it. */
async function openStream(fixture: Fixture, query: string, headers: Record<string, string> = {}): Promise<{ response: Response; frames: SseReader }> {
  const response = await fetch(`${fixture.url}/v1/events/stream${query}`, { headers: { ...bearer(TOKEN), ...headers }, signal: AbortSignal.timeout(10_000) });
  if (response.body === null) throw new Error('no body');
  return { response, frames: new SseReader(response.body.getReader()) };
}

describe('GET /v1/events/stream (Server-Sent Events)', () => {
  test('catches up with the stored events, then follows new ones; Last-Event-ID resumes after a position', async () => {
    await withFixture({}, async (fixture) => {
      await appendSample(fixture, 10);
      const stored = await allEvents(fixture);
      const { response, frames } = await openStream(fixture, '');
      let livePosition: number;
      try {
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
        const caughtUp: SseFrame[] = [];
        while (caughtUp.length < stored.length) caughtUp.push(await frames.next());
        expect(caughtUp.map((f) => [f.id, f.event, f.data.position, f.data.type])).toEqual(stored.map((e) => [e.position, e.type, e.position, e.type]));
        await appendSample(fixture, 30);
        // The simulation records its own events too; the sample is the one from samples-host-1.
        let live = await frames.next();
        while (live.data.stream !== 'samples-host-1') live = await frames.next();
        expect({ event: live.event, type: live.data.type }).toEqual({ event: 'UtilizationSampled', type: 'UtilizationSampled' });
        expect(live.data.data).toMatchObject({ vms: [{ vmId: 'vm-1', cpuMhz: 30 }] });
        expect(live.id).toBeGreaterThan(stored[stored.length - 1].position);
        livePosition = live.id;
      } finally {
        await frames.close();
      }
      const resumed = await openStream(fixture, '?after=0', { 'last-event-id': String(livePosition - 1) });
      try {
        expect((await resumed.frames.next()).id).toBe(livePosition);
      } finally {
        await resumed.frames.close();
      }
      const after = await openStream(fixture, `?after=${livePosition - 2}`);
      try {
        expect([(await after.frames.next()).id, (await after.frames.next()).id]).toEqual([livePosition - 1, livePosition]);
      } finally {
        await after.frames.close();
      }
    });
  });

  test('`from=end` with `exclude` follows only new events of the other types', async () => {
    await withFixture({}, async (fixture) => {
      await appendSample(fixture, 10);
      const head = await fixture.log.headPosition();
      const { response, frames } = await openStream(fixture, '?exclude=UtilizationSampled,DataCentreUpdated&from=end');
      try {
        expect(response.status).toBe(200);
        await appendSample(fixture, 20);
        const requestId = await submit(fixture, { host: 'host-1', reason: 'underload' });
        const seen: SseFrame[] = [];
        while (seen.at(-1)?.event !== 'RequestCompleted') seen.push(await frames.next());
        expect(seen.map((f) => f.event)).toEqual(expect.arrayContaining(['RequestReceived', 'NothingToDo', 'RequestCompleted']));
        expect(seen.filter((f) => ['UtilizationSampled', 'DataCentreUpdated'].includes(f.event))).toEqual([]);
        expect(seen.every((f) => f.id > head)).toBe(true);
        expect(seen.find((f) => f.event === 'RequestReceived')?.data.data.requestId).toBe(requestId);
      } finally {
        await frames.close();
      }
    });
  });

  test('`types` keeps only these types in the catch-up and after; Last-Event-ID wins over `from=end`', async () => {
    await withFixture({}, async (fixture) => {
      for (const cpuMhz of [1, 2, 3]) await appendSample(fixture, cpuMhz);
      const samples = (await allEvents(fixture)).filter((e) => e.type === 'UtilizationSampled').map((e) => e.position);
      const { frames } = await openStream(fixture, '?types=UtilizationSampled');
      try {
        expect([(await frames.next()).id, (await frames.next()).id, (await frames.next()).id]).toEqual(samples);
        await submit(fixture, { host: 'host-1', reason: 'underload' });
        await appendSample(fixture, 4);
        const live = await frames.next();
        expect({ event: live.event, cpuMhz: (live.data.data.vms as { cpuMhz: number }[])[0].cpuMhz }).toEqual({ event: 'UtilizationSampled', cpuMhz: 4 });
      } finally {
        await frames.close();
      }
      // An EventSource reconnects with the URL it opened and the last id it saw.
      const resumed = await openStream(fixture, '?types=UtilizationSampled&from=end', { 'last-event-id': String(samples[0]) });
      try {
        expect([(await resumed.frames.next()).id, (await resumed.frames.next()).id]).toEqual(samples.slice(1));
      } finally {
        await resumed.frames.close();
      }
    });
  });

  test('`from` other than `end`, or with `after`, is a 400 naming it', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'GET', '/v1/events/stream?from=start', { token: TOKEN }), 400, 'from');
      expectError(await call(fixture, 'GET', '/v1/events/stream?from=end&after=5', { token: TOKEN }), 400, 'from');
      expectError(await call(fixture, 'GET', '/v1/events/stream?from=end&from=end', { token: TOKEN }), 400, 'from');
    });
  });

  test('a bad `after` or Last-Event-ID is a 400 naming it', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'GET', '/v1/events/stream?after=-1', { token: TOKEN }), 400, 'after');
      expectError(await call(fixture, 'GET', `/v1/events/stream?after=${Number.MAX_SAFE_INTEGER}`, { token: TOKEN }), 400, 'after');
      expectError(await call(fixture, 'GET', '/v1/events/stream', { token: TOKEN, headers: { 'last-event-id': 'abc' } }), 400, 'Last-Event-ID');
      expectError(await call(fixture, 'GET', '/v1/events/stream', { token: TOKEN, headers: { 'last-event-id': '99999999999999999999' } }), 400, 'Last-Event-ID');
      expectError(await call(fixture, 'GET', '/v1/events/stream', { token: null }), 401, null);
    });
  });

  test('at most 64 streams are open at once; closed streams give their slot back', async () => {
    // src/service.ts's MAX_EVENT_STREAMS.
    const limit = 64;
    await withFixture({}, async (fixture) => {
      const openAll = async (): Promise<SseReader[]> => {
        const held: SseReader[] = [];
        // Slots free up when the server sees the connections close, shortly after the client closes them.
        await eventually(`${limit} streams open at once`, async () => {
          while (held.length < limit) {
            const { response, frames } = await openStream(fixture, '');
            if (response.status !== 200) {
              await frames.close();
              return null;
            }
            await frames.next();
            held.push(frames);
          }
          return true;
        });
        return held;
      };
      for (let round = 0; round < 2; round++) {
        const held = await openAll();
        try {
          const refused = await call(fixture, 'GET', '/v1/events/stream', { token: TOKEN });
          expectError(refused, 503, null);
          expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
        } finally {
          await Promise.all(held.map((frames) => frames.close()));
        }
      }
    });
  });
});

describe('service endpoints', () => {
  test('GET /healthz needs no token and reports the log position', async () => {
    await withFixture({}, async (fixture) => {
      await appendSample(fixture, 10);
      const before = await fixture.log.headPosition();
      const answer = await call<{ position: number }>(fixture, 'GET', '/healthz', { token: null });
      const after = await fixture.log.headPosition();
      expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: { status: 'ok', role: 'leader', position: expect.any(Number) as number, queueDepth: 0, log: 'memory' } });
      // The simulation may record an update meanwhile.
      expect(answer.body.position).toBeGreaterThanOrEqual(before);
      expect(answer.body.position).toBeLessThanOrEqual(after);
    });
  });

  test('GET /metrics needs no token and counts what happened', async () => {
    await withFixture({}, async (fixture) => {
      const neat = { username: sha1Hex(ADMIN_USER), password: sha1Hex(ADMIN_PASSWORD), time: String(Date.now() / 1000), host: 'host-0', reason: '0' };
      expect((await fetch(`${fixture.url}/`, { method: 'PUT', body: new URLSearchParams(neat) })).status).toBe(200);
      expect((await fetch(`${fixture.url}/`, { method: 'PUT', body: new URLSearchParams({ username: neat.username }) })).status).toBe(401);
      expect((await fetch(`${fixture.url}/`, { method: 'PUT', body: new URLSearchParams({ ...neat, password: 'x' }) })).status).toBe(403);
      await submit(fixture, { host: 'host-1', reason: 'underload' });
      const metrics = await eventually('both requests completed', async () => {
        const answer = await call<null>(fixture, 'GET', '/metrics', { token: null });
        return answer.text.includes('neat_requests_completed_total{outcome="nothing-to-do"} 2') ? answer : null;
      });
      expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const lines = metrics.text.split('\n');
      for (const line of [
        '# TYPE neat_requests_received_total counter',
        'neat_requests_received_total{protocol="neat"} 1',
        'neat_requests_received_total{protocol="json"} 1',
        'neat_requests_rejected_total{status="401"} 1',
        'neat_requests_rejected_total{status="403"} 1',
        'neat_queue_depth 0',
        'neat_open_requests 0',
        'neat_hosts{power="active"} 4',
        'neat_vms 6',
      ]) expect(lines).toContain(line);
      expect(lines.find((line) => line.startsWith('neat_log_position '))).toMatch(/^neat_log_position [1-9]\d*$/);
      expect(metrics.text.endsWith('\n')).toBe(true);
    });
  });

  test('a wrong method on a /v1 path is a 405 JSON error with Allow, a WebDAV one too', async () => {
    await withFixture({}, async (fixture) => {
      const deleted = await call(fixture, 'DELETE', '/v1/hosts', { token: TOKEN });
      expectError(deleted, 405, null);
      expect(new Set(deleted.headers.get('allow')?.split(/,\s*/))).toEqual(new Set(['GET', 'HEAD']));
      const put = await call(fixture, 'PUT', '/v1/requests', { token: TOKEN, json: {} });
      expectError(put, 405, null);
      expect(put.headers.get('allow')).toBe('POST');
      const propfind = await call(fixture, 'PROPFIND', '/v1/hosts', { token: TOKEN });
      expectError(propfind, 405, null);
      expect(new Set(propfind.headers.get('allow')?.split(/,\s*/))).toEqual(new Set(['GET', 'HEAD']));
    });
  });

  test('an unknown path is a 404 JSON error', async () => {
    await withFixture({}, async (fixture) => {
      expectError(await call(fixture, 'GET', '/v2/hosts', { token: TOKEN }), 404, null);
      expectError(await call(fixture, 'POST', '/v1/requests/x/delete', { token: TOKEN }), 404, null);
    });
  });
});

describe('the OpenAPI document', () => {
  interface OpenApi {
    readonly openapi: string;
    readonly paths: Record<string, Record<string, unknown>>;
  }

  test('GET /v1/openapi.json needs no token and is OpenAPI 3.1.0', async () => {
    await withFixture({}, async (fixture) => {
      const answer = await call<OpenApi>(fixture, 'GET', '/v1/openapi.json', { token: null });
      expect(answer.status).toBe(200);
      expect(answer.body.openapi).toBe('3.1.0');
    });
  });

  test('documents the parameters of reading the log, and what a sample answers', async () => {
    await withFixture({}, async (fixture) => {
      const document = (await call<OpenApi>(fixture, 'GET', '/v1/openapi.json', { token: null })).body;
      const parameters = (path: string): string[] => ((document.paths[path].get as { parameters: { name: string }[] }).parameters).map((p) => p.name);
      expect(parameters('/v1/events')).toEqual(['after', 'limit', 'types', 'exclude']);
      expect(parameters('/v1/events/stream')).toEqual(['after', 'from', 'types', 'exclude', 'Last-Event-ID']);
      expect(JSON.stringify(document.paths['/v1/samples'].post)).toContain('unreportedVmIds');
    });
  });

  test('documents exactly the routes the service answers', async () => {
    await withFixture({}, async (fixture) => {
      const document = (await call<OpenApi>(fixture, 'GET', '/v1/openapi.json', { token: null })).body;
      const operations = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);
      const documented = Object.entries(document.paths)
        .flatMap(([path, item]) => Object.keys(item).filter((key) => operations.has(key)).map((method) => `${method.toUpperCase()} ${path}`))
        .sort();
      const router = fixtureRouter(fixture);
      const served = router.stack
        // Neat's catch-all (every method on `/`) is documented as the 405 of `PUT /`, not as operations.
        .filter((layer) => !router.methods.every((method) => layer.methods.includes(method)))
        // The router answers HEAD for every GET by itself.
        .flatMap((layer) => layer.methods.filter((method) => method !== 'HEAD').map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`))
        .sort();
      expect(served).toEqual(documented);
    });
  });
});
