/**
 * Neat's `PUT /` over real loopback HTTP: the cases of Neat's own
 * `validate_params` tests (reference/neat.md §8), its order 401 → 403 → 400 →
 * 412, its message texts and 405, and what this service adds: a 400 where Neat
 * crashed, 413, 503 with Retry-After, and a `RequestRejected` event for every
 * refusal. The texts are copied from the reference, not imported from the
 * service, so that a changed text fails here.
 */
import fc from 'fast-check';
import type { RecordedEvent } from '../../src/events/envelope';
import { allEvents, eventually, sampleEveryHost, sha1Hex, SlowAppendLog, withFixture } from './client';
import type { Fixture } from './client';
import { ADMIN_PASSWORD, ADMIN_USER } from './fixture';

const TEXT = {
  400: 'Bad input parameter: incorrect or missing parameters',
  401: 'Unauthorized: user credentials are missing',
  403: 'Forbidden: user credentials do not much the ones specified in the configuration file',
  405: 'Method not allowed: the request has been madewith a method other than the only supported PUT',
  412: 'Precondition failed: the request has been sent more than 5 seconds ago, the states of the hosts/VMs may have changed - retry',
} as const;

const HTML = 'text/html; charset=UTF-8';

type Fields = Record<string, string>;

/** Neat's `time.time()`, read when the request is built, `ageS` seconds ago. */
function timeField(ageS: number): string {
  return String(Date.now() / 1000 - ageS);
}

function credentials(): Fields {
  return { username: sha1Hex(ADMIN_USER), password: sha1Hex(ADMIN_PASSWORD) };
}

/** What Neat's local manager sends: `requests.put(url, dict)`, a form-encoded body. */
async function put(fixture: Fixture, fields: Fields): Promise<{ status: number; type: string | null; text: string; headers: Headers }> {
  const response = await fetch(`${fixture.url}/`, { method: 'PUT', body: new URLSearchParams(fields) });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text(), headers: response.headers };
}

function rejections(events: readonly RecordedEvent[]): { status: number; host: string | null; protocol: string }[] {
  return events.flatMap((e) => (e.type === 'RequestRejected' ? [{ status: e.data.status, host: e.data.host, protocol: e.data.protocol }] : []));
}

function receptions(events: readonly RecordedEvent[]): { host: string; reason: string; vmIds: readonly string[]; clientTimeS: number | null }[] {
  return events.flatMap((e) => (e.type === 'RequestReceived'
    ? [{ host: e.data.host, reason: e.data.reason, vmIds: e.data.vmIds, clientTimeS: e.data.clientTimeS }]
    : []));
}

/** A refused PUT: Neat's status and text as `text/html`, and exactly one `RequestRejected` with that status, nothing received. */
async function expectRefused(fixture: Fixture, fields: Fields, status: 400 | 401 | 403 | 412): Promise<void> {
  const answer = await put(fixture, fields);
  expect({ status: answer.status, text: answer.text, type: answer.type }).toEqual({ status, text: TEXT[status], type: HTML });
  const events = await allEvents(fixture);
  expect(rejections(events).map((r) => r.status)).toEqual([status]);
  expect(receptions(events)).toEqual([]);
}

describe("Neat's validate_params cases (reference §8), over HTTP", () => {
  const refused: [string, () => Fields, 400 | 401 | 403 | 412][] = [
    ['401: no fields at all', () => ({}), 401],
    ['401: only the username', () => ({ username: sha1Hex(ADMIN_USER) }), 401],
    ['401: only the password', () => ({ password: sha1Hex(ADMIN_PASSWORD) }), 401],
    ['403: a wrong username digest', () => ({ ...credentials(), username: sha1Hex('intruder'), time: timeField(0), host: 'host-0', reason: '0' }), 403],
    ['403: a wrong password digest', () => ({ ...credentials(), password: sha1Hex('guess'), time: timeField(0), host: 'host-0', reason: '0' }), 403],
    ['400 #1: no reason and no host', () => ({ ...credentials(), time: timeField(0) }), 400],
    ['400 #2: reason 1 without host', () => ({ ...credentials(), time: timeField(0), reason: '1', vm_uuids: 'vm-0' }), 400],
    ['400 #3: reason 0 without host', () => ({ ...credentials(), time: timeField(0), reason: '0' }), 400],
    ['400 #4: reason 1 with host but no vm_uuids', () => ({ ...credentials(), time: timeField(0), host: 'host-0', reason: '1' }), 400],
    ['400 #5: reason 0 with vm_uuids but no host', () => ({ ...credentials(), time: timeField(0), reason: '0', vm_uuids: 'vm-0' }), 400],
    ['400 #6: no time (reason 0 with vm_uuids)', () => ({ ...credentials(), host: 'host-0', reason: '0', vm_uuids: 'vm-0' }), 400],
    ['400 #7: no time (reason 1 with vm_uuids)', () => ({ ...credentials(), host: 'host-0', reason: '1', vm_uuids: 'vm-0' }), 400],
    ['412: time = 1.0', () => ({ ...credentials(), time: '1.0', host: 'host-0', reason: '0' }), 412],
    ['412: time = now - 6', () => ({ ...credentials(), time: timeField(6), host: 'host-0', reason: '0' }), 412],
  ];

  test.each(refused)('%s', async (_name, fields, status) => {
    await withFixture({}, async (fixture) => { await expectRefused(fixture, fields(), status); });
  });

  const accepted: [string, () => Fields, { host: string; reason: string; vmIds: string[] }][] = [
    ['accepted: reason 1 with vm_uuids, time = now', () => ({ ...credentials(), time: timeField(0), host: 'host-0', reason: '1', vm_uuids: 'vm-0,vm-4' }),
      { host: 'host-0', reason: 'overload', vmIds: ['vm-0', 'vm-4'] }],
    ['accepted: reason 0 without vm_uuids, time = now - 4', () => ({ ...credentials(), time: timeField(4), host: 'host-1', reason: '0' }),
      { host: 'host-1', reason: 'underload', vmIds: [] }],
  ];

  test.each(accepted)('%s: 200 with an empty body, and RequestReceived is durable before the answer', async (_name, fields, expected) => {
    await withFixture({ log: new SlowAppendLog(50) }, async (fixture) => {
      const sent = fields();
      const answer = await put(fixture, sent);
      // Each append takes 50 ms: had the answer not waited for the event, the event would not be there yet.
      const events = await allEvents(fixture);
      expect({ status: answer.status, text: answer.text }).toEqual({ status: 200, text: '' });
      expect(receptions(events)).toEqual([{ ...expected, clientTimeS: Number(sent.time) }]);
      expect(rejections(events)).toEqual([]);
    });
  });
});

describe("Neat's order of checks", () => {
  test('missing credentials win over bad and stale parameters: 401', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { username: sha1Hex(ADMIN_USER), time: '1.0', reason: 'x' }, 401);
    });
  });

  test('a missing password wins over a wrong username: 401', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { username: sha1Hex('intruder'), time: timeField(0), host: 'host-0', reason: '0' }, 401);
    });
  });

  test('wrong credentials win over bad and stale parameters: 403', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { username: sha1Hex(ADMIN_USER), password: sha1Hex('guess'), time: '1.0', reason: '7' }, 403);
    });
  });

  test('bad parameters win over staleness: 400', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { ...credentials(), time: '1.0', host: 'host-0', reason: '1' }, 400);
    });
  });

  test('a stale request with valid parameters and credentials: 412', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { ...credentials(), time: timeField(60), host: 'host-0', reason: '1', vm_uuids: 'vm-0' }, 412);
    });
  });
});

describe('Neat behaviours kept', () => {
  test.each(['GET', 'POST', 'DELETE'])("%s / is a 405 with the catch-all route's joined text", async (method) => {
    await withFixture({}, async (fixture) => {
      const response = await fetch(`${fixture.url}/`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('content-type')).toBe(HTML);
      expect(response.headers.get('allow')).toBe('PUT');
      expect(await response.text()).toBe(TEXT[405]);
    });
  });

  test('reason 0 with extra vm_uuids is accepted; the VMs are not part of an underload', async () => {
    await withFixture({}, async (fixture) => {
      const answer = await put(fixture, { ...credentials(), time: timeField(0), host: 'host-2', reason: '0', vm_uuids: 'vm-2,vm-9' });
      expect(answer.status).toBe(200);
      expect(receptions(await allEvents(fixture)).map((r) => ({ reason: r.reason, vmIds: r.vmIds }))).toEqual([{ reason: 'underload', vmIds: [] }]);
    });
  });

  test('a JSON body carries no form fields, as bottle reads it: 401', async () => {
    await withFixture({}, async (fixture) => {
      const response = await fetch(`${fixture.url}/`, {
        method: 'PUT', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...credentials(), time: timeField(0), host: 'host-0', reason: '0' }),
      });
      expect(response.status).toBe(401);
      expect(await response.text()).toBe(TEXT[401]);
      expect(rejections(await allEvents(fixture)).map((r) => r.status)).toEqual([401]);
    });
  });

  test('a repeated field counts with its last value, as bottle’s FormsDict does', async () => {
    await withFixture({}, async (fixture) => {
      const body = new URLSearchParams({ ...credentials(), time: timeField(0), host: 'host-9', reason: '0' });
      body.append('host', 'host-3');
      const response = await fetch(`${fixture.url}/`, { method: 'PUT', body });
      expect(response.status).toBe(200);
      expect(receptions(await allEvents(fixture)).map((r) => r.host)).toEqual(['host-3']);
    });
  });
});

describe('input Neat did not survive is a 400 here', () => {
  const cases: [string, Fields][] = [
    ["time 'abc' (Neat: float() raised, 500)", { time: 'abc', reason: '0' }],
    ["reason 'x' (Neat: int() raised, 500)", { time: timeField(0), reason: 'x' }],
    ["reason '1.0' (Neat: int() raised, 500)", { time: timeField(0), reason: '1.0' }],
    ["time 'nan' (Neat: never stale, so accepted forever)", { time: 'nan', reason: '0' }],
    ["time 'inf' (Neat: never stale, so accepted forever)", { time: 'inf', reason: '0' }],
    ["time '1e400' (overflows to infinity)", { time: '1e400', reason: '0' }],
    ["reason '2' (Neat too: not in {0, 1})", { time: timeField(0), reason: '2' }],
    ["reason 1 with an empty vm_uuids (Neat: went on to migrate a VM named '', 500)", { time: timeField(0), reason: '1', vm_uuids: '' }],
    ["reason 1 with vm_uuids ',' (no VM named at all)", { time: timeField(0), reason: '1', vm_uuids: ' , ' }],
  ];

  test.each(cases)('%s', async (_name, fields) => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { ...credentials(), host: 'host-0', ...fields }, 400);
    });
  });

  // The log's event catalogue bounds names at 255 characters and requests at 10 000 VMs; these used to be 500s.
  test('a host name the log cannot hold is a 400, recorded without the host', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { ...credentials(), time: timeField(0), host: 'h'.repeat(256), reason: '0' }, 400);
      expect(rejections(await allEvents(fixture))[0].host).toBeNull();
    });
  });

  test('a refusal for another reason that names an over-long host is still recorded: 401', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { host: 'h'.repeat(300) }, 401);
    });
  });

  test('a VM id the log cannot hold is a 400', async () => {
    await withFixture({}, async (fixture) => {
      await expectRefused(fixture, { ...credentials(), time: timeField(0), host: 'host-0', reason: '1', vm_uuids: `vm-0,${'v'.repeat(256)}` }, 400);
    });
  });

  test('more than 10 000 VMs in one request is a 400', async () => {
    await withFixture({}, async (fixture) => {
      // One-character ids keep the body under the 64 KiB limit.
      const vmIds = Array.from({ length: 10_001 }, (_, i) => String(i % 10)).join(',');
      await expectRefused(fixture, { ...credentials(), time: timeField(0), host: 'host-0', reason: '1', vm_uuids: vmIds }, 400);
    });
  });

  test('no form a client can send gets a 500', async () => {
    const names = ['username', 'password', 'time', 'host', 'reason', 'vm_uuids', 'other'] as const;
    const value = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('0', '1', '-0', '+1', ' 1 ', '1e3', 'nan', 'inf', '-inf', '', ',', 'vm-0,vm-1', 'host-0'),
      fc.string({ minLength: 250, maxLength: 300 }),
    );
    await withFixture({}, async (fixture) => {
      await fc.assert(fc.asyncProperty(
        fc.dictionary(fc.constantFrom(...names), value), fc.boolean(), fc.boolean(),
        async (fields, validCredentials, freshTime) => {
          const sent: Fields = { ...fields, ...(validCredentials ? credentials() : {}), ...(freshTime ? { time: timeField(0) } : {}) };
          const answer = await put(fixture, sent);
          // 503 is a fair answer too: accepted requests queue up faster than nothing-to-do empties them.
          expect([200, 400, 401, 403, 412, 503]).toContain(answer.status);
          expect(answer.type).toBe(HTML);
        },
      ), { numRuns: 150 });
    });
  });
});

describe('what this service adds to the protocol', () => {
  test('a body above api_body_limit_bytes is a 413, recorded', async () => {
    await withFixture({ config: { apiBodyLimitBytes: 1024 } }, async (fixture) => {
      const answer = await put(fixture, { ...credentials(), time: timeField(0), host: 'host-0', reason: '0', padding: 'x'.repeat(2048) });
      expect(answer.status).toBe(413);
      expect(answer.type).toBe(HTML);
      expect(rejections(await allEvents(fixture))).toEqual([{ status: 413, host: null, protocol: 'neat' }]);
      // The connection is still usable and a body within the limit still works.
      expect((await put(fixture, { ...credentials(), time: timeField(0), host: 'host-0', reason: '0' })).status).toBe(200);
    });
  });

  test('every refused PUT leaves a RequestRejected with its status, in order', async () => {
    await withFixture({}, async (fixture) => {
      const statuses: number[] = [];
      for (const fields of [{}, { ...credentials(), password: 'x' }, { ...credentials(), time: 'abc' }, { ...credentials(), time: '1', host: 'host-1', reason: '0' }]) {
        statuses.push((await put(fixture, fields)).status);
      }
      expect(statuses).toEqual([401, 403, 400, 412]);
      const recorded = rejections(await allEvents(fixture));
      expect(recorded.map((r) => r.status)).toEqual([401, 403, 400, 412]);
      expect(recorded.map((r) => r.host)).toEqual([null, null, null, 'host-1']);
    });
  });

  test('a full queue is a 503 with Retry-After, recorded', async () => {
    // One request in the queue at most; the worker is held by a migration whose
    // first poll comes 100 virtual seconds (1 s of wall time at speed 100) after it starts.
    await withFixture({ settings: { queueLimit: 1, automation: 'automatic', migrationInitialWaitMs: 100_000 } }, async (fixture) => {
      await sampleEveryHost(fixture, 100);
      const manager = fixture.service.manager;
      const first = await put(fixture, { ...credentials(), time: timeField(0), host: 'host-3', reason: '1', vm_uuids: 'vm-3' });
      expect(first.status).toBe(200);
      await eventually('the migration of vm-3 to start', async () => (
        (await allEvents(fixture)).some((e) => e.type === 'MigrationStarted' && e.data.vmId === 'vm-3') ? true : null));
      const second = await put(fixture, { ...credentials(), time: timeField(0), host: 'host-0', reason: '0' });
      expect(second.status).toBe(200);
      // The premise of the next answer: the worker is busy and the one slot is taken.
      expect({ busy: manager.busyWith !== null, queueDepth: manager.queueDepth }).toEqual({ busy: true, queueDepth: 1 });
      const third = await put(fixture, { ...credentials(), time: timeField(0), host: 'host-1', reason: '0' });
      expect(third.status).toBe(503);
      expect(third.type).toBe(HTML);
      expect(third.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      const events = await allEvents(fixture);
      expect(rejections(events)).toEqual([{ status: 503, host: 'host-1', protocol: 'neat' }]);
      expect(receptions(events).map((r) => r.host)).toEqual(['host-3', 'host-0']);
    });
  });
});
