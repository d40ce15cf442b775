/**
 * Input no well-behaved client sends, over node:http and raw sockets: methods
 * a route does not take (a 405 with `Allow` on every route, a 404 off them),
 * method tokens Node's parser does not know, bodies cut short or in a transfer
 * coding Node does not decode. None is a 5xx or a reported bug, and the
 * requests endpoints record each refusal, as they record every other.
 */
import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../src/events/envelope';
import { allEvents, bearer, delay, eventually, fixtureRouter, withFixture } from './client';
import type { Fixture } from './client';
import { TOKEN } from './fixture';
import type { FixtureOptions } from './fixture';
import { exchange, rawExchange, requestHead } from './wire';
import type { WireAnswer } from './wire';

/** Methods Node parses that no route of the service takes, WebDAV's and caches' among them. */
const ODD_METHODS = ['TRACE', 'PROPFIND', 'PURGE', 'DELETE', 'PATCH', 'LOCK', 'MKCOL', 'SEARCH'];

/** A fixture whose reported bugs are collected, so that a test can say there were none. */
async function withWatchedFixture(options: FixtureOptions, body: (fixture: Fixture, bugs: unknown[]) => Promise<void>): Promise<void> {
  const bugs: unknown[] = [];
  await withFixture({ ...options, onError: (error) => { bugs.push(error); } }, (fixture) => body(fixture, bugs));
}

function errorOf(answer: WireAnswer): { status: number; field: string | null } {
  expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
  const parsed = JSON.parse(answer.text) as { error: { status: number; field: string | null } };
  return { status: parsed.error.status, field: parsed.error.field };
}

function allowed(answer: WireAnswer): Set<string> {
  return new Set((answer.headers.allow ?? '').split(/,\s*/));
}

describe('methods a route does not take', () => {
  test('on every route of the service, each is a 405 JSON error with the route’s Allow', async () => {
    await withWatchedFixture({}, async (fixture, bugs) => {
      // Neat's `/` answers every method but PUT itself (next test).
      const routes = fixtureRouter(fixture).stack.filter((layer) => layer.path !== '/');
      expect(routes.map((layer) => layer.path)).toEqual(expect.arrayContaining(['/healthz', '/metrics', '/v1/hosts', '/v1/requests/:id/approve']));
      for (const layer of routes) {
        const path = String(layer.path).replace(/:\w+/g, randomUUID());
        for (const method of ODD_METHODS.filter((m) => !layer.methods.includes(m))) {
          const answer = await exchange(fixture.url, method, path, bearer());
          expect({ method, path, status: answer.status, allow: allowed(answer) }).toEqual({ method, path, status: 405, allow: new Set(layer.methods) });
          expect(errorOf(answer)).toEqual({ status: 405, field: null });
        }
      }
      expect(bugs).toEqual([]);
    });
  });

  test('on Neat’s `/`, each is Neat’s 405 with Allow: PUT', async () => {
    await withWatchedFixture({}, async (fixture, bugs) => {
      for (const method of ODD_METHODS) {
        const answer = await exchange(fixture.url, method, '/');
        expect({ method, status: answer.status, allow: answer.headers.allow }).toEqual({ method, status: 405, allow: 'PUT' });
        expect(answer.text).toMatch(/^Method not allowed: /);
      }
      expect(bugs).toEqual([]);
    });
  });

  test('off the routes, each is a 404', async () => {
    await withWatchedFixture({}, async (fixture, bugs) => {
      for (const path of ['/v2/hosts', '/healthz/x', `/v1/requests/${randomUUID()}/delete`]) {
        for (const method of [...ODD_METHODS, 'OPTIONS']) {
          const answer = await exchange(fixture.url, method, path, bearer());
          expect({ method, path, status: answer.status }).toEqual({ method, path, status: 404 });
          expect(errorOf(answer)).toEqual({ status: 404, field: null });
        }
      }
      expect(bugs).toEqual([]);
    });
  });

  test('a token Node’s parser does not know (FOO, a lower-case get) is its 400, and no bug', async () => {
    await withWatchedFixture({}, async (fixture, bugs) => {
      for (const method of ['FOO', 'BREW', 'get']) {
        for (const path of ['/', '/healthz', '/v1/hosts']) {
          const answer = await rawExchange(fixture.url, requestHead(method, path, [`Authorization: Bearer ${TOKEN}`]), { halfClose: false, timeoutMs: 5_000 });
          expect({ method, path, status: answer.status }).toEqual({ method, path, status: 400 });
        }
      }
      expect(bugs).toEqual([]);
      expect((await fetch(`${fixture.url}/healthz`)).status).toBe(200);
    });
  });
});

const SUBMISSION = JSON.stringify({ host: 'host-0', reason: 'underload' });
const JSON_HEAD = [`Authorization: Bearer ${TOKEN}`, 'Content-Type: application/json', 'Connection: close'];
const FORM_HEAD = ['Content-Type: application/x-www-form-urlencoded', 'Connection: close'];

interface BodyCase {
  readonly name: string;
  readonly bytes: string;
  /** False: the client stops writing and then closes the connection without reading. */
  readonly waits: boolean;
  /** What the client reads: Node's 400, ours (JSON naming `field`), or nothing once it has gone. */
  readonly answer: { readonly status: 400; readonly field?: string } | null;
  /** The refusal the log keeps: the requests endpoints record theirs; samples and approvals do not. */
  readonly recorded: 'json' | 'neat' | null;
}

const BODY_CASES: BodyCase[] = [
  {
    name: 'POST /v1/requests: 38 of 100 declared bytes, then a half-close',
    bytes: requestHead('POST', '/v1/requests', [...JSON_HEAD, 'Content-Length: 100']) + SUBMISSION,
    waits: true, answer: { status: 400 }, recorded: 'json',
  },
  {
    name: 'PUT /: 10 of 100 declared bytes, then a half-close',
    bytes: `${requestHead('PUT', '/', [...FORM_HEAD, 'Content-Length: 100'])}username=a`,
    waits: true, answer: { status: 400 }, recorded: 'neat',
  },
  {
    name: 'POST /v1/requests: a chunk size that is not hexadecimal',
    bytes: `${requestHead('POST', '/v1/requests', [...JSON_HEAD, 'Transfer-Encoding: chunked'])}zz\r\n${SUBMISSION}\r\n0\r\n\r\n`,
    waits: true, answer: { status: 400 }, recorded: 'json',
  },
  {
    name: 'PUT /: a chunk size that is not hexadecimal',
    bytes: `${requestHead('PUT', '/', [...FORM_HEAD, 'Transfer-Encoding: chunked'])}zz\r\nusername=a\r\n0\r\n\r\n`,
    waits: true, answer: { status: 400 }, recorded: 'neat',
  },
  {
    name: 'POST /v1/requests: a chunk of 100 bytes cut at 38, then a half-close',
    bytes: `${requestHead('POST', '/v1/requests', [...JSON_HEAD, 'Transfer-Encoding: chunked'])}64\r\n${SUBMISSION}`,
    waits: true, answer: { status: 400 }, recorded: 'json',
  },
  {
    name: 'POST /v1/requests: Transfer-Encoding gzip, which Node refuses',
    bytes: requestHead('POST', '/v1/requests', [...JSON_HEAD, 'Transfer-Encoding: gzip']) + SUBMISSION,
    waits: true, answer: { status: 400 }, recorded: 'json',
  },
  {
    name: 'POST /v1/requests: Transfer-Encoding "gzip, chunked", which Node passes on undecoded',
    bytes: `${requestHead('POST', '/v1/requests', [...JSON_HEAD, 'Transfer-Encoding: gzip, chunked'])}${SUBMISSION.length.toString(16)}\r\n${SUBMISSION}\r\n0\r\n\r\n`,
    waits: true, answer: { status: 400, field: 'Transfer-Encoding' }, recorded: 'json',
  },
  {
    name: 'POST /v1/requests: 38 of 100 declared bytes, then the client closes without reading',
    bytes: requestHead('POST', '/v1/requests', [...JSON_HEAD, 'Content-Length: 100']) + SUBMISSION,
    waits: false, answer: null, recorded: 'json',
  },
  {
    name: 'POST /v1/samples: 16 of 100 declared bytes, then a half-close',
    bytes: `${requestHead('POST', '/v1/samples', [...JSON_HEAD, 'Content-Length: 100'])}{"host":"host-0"`,
    waits: true, answer: { status: 400 }, recorded: null,
  },
  {
    name: 'POST /v1/requests/{id}/approve: a chunk size that is not hexadecimal',
    bytes: `${requestHead('POST', `/v1/requests/${randomUUID()}/approve`, [...JSON_HEAD, 'Transfer-Encoding: chunked'])}zz\r\n{}\r\n0\r\n\r\n`,
    waits: true, answer: { status: 400 }, recorded: null,
  },
];

function refusals(events: readonly RecordedEvent[]): { status: number; protocol: string; reason: string }[] {
  return events.flatMap((e) => (e.type === 'RequestRejected' ? [{ status: e.data.status, protocol: e.data.protocol, reason: e.data.reason }] : []));
}

/** Resolves once the server holds no connection: the handler of the last one has seen its end. */
async function connectionsClosed(fixture: Fixture): Promise<void> {
  await eventually('the server to close every connection', async () => {
    const open = await new Promise<number>((resolve, reject) => {
      fixture.service.server.getConnections((error, count) => { if (error) reject(error); else resolve(count); });
    });
    return open === 0 ? true : null;
  });
}

describe('bodies cut short, or in a coding Node does not decode', () => {
  test.each(BODY_CASES)('$name', async ({ bytes, waits, answer, recorded }) => {
    await withWatchedFixture({}, async (fixture, bugs) => {
      const read = await rawExchange(fixture.url, bytes, waits ? { halfClose: true, timeoutMs: 5_000 } : { halfClose: false, timeoutMs: 200 });
      expect(read.status).toBe(answer === null ? null : answer.status);
      if (answer?.field !== undefined) {
        const [, body] = read.text.split('\r\n\r\n');
        expect(JSON.parse(body)).toMatchObject({ error: { status: 400, field: answer.field } });
      }
      await connectionsClosed(fixture);
      if (recorded === null) {
        // The handler ends in the ticks after its connection closed; it had nothing to record.
        await delay(50);
        expect(refusals(await allEvents(fixture))).toEqual([]);
      } else {
        const recordedRefusals = await eventually('the refusal to be recorded', async () => {
          const found = refusals(await allEvents(fixture));
          return found.length === 0 ? null : found;
        });
        expect(recordedRefusals).toEqual([{ status: 400, protocol: recorded, reason: expect.stringMatching(/Transfer-Encoding|the body ended after/) as string }]);
      }
      expect(bugs).toEqual([]);
      expect((await fetch(`${fixture.url}/healthz`)).status).toBe(200);
    });
  });
});
