/**
 * The serving path under SIGKILL with group commit on, as `neat serve` runs:
 * many clients at once, so that appends share commits, and the process killed
 * while batches are in flight. An answer the service sent (a 2xx received
 * whole) is an acknowledgement: its event must be in the log after the kill.
 * A service that answered before its batch committed would lose, at a kill
 * between the answer and the commit, events a client had been told were
 * recorded. Under this load a batch is almost always in flight, so some kill
 * lands in such a window: a writer made to commit 1 or 2 ms after its reply
 * fails this test. A SIGKILL cannot tell a commit written to the operating
 * system from one on the disk, so an answer sent before the fsync alone, or a
 * few microseconds before the commit's write, would pass: only a power cut
 * tests that.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startServiceProcess } from './startService';
import type { StartedService } from './startService';
import { createRng } from '../../src/rng';

const KILLS = 20;
const SEED = 'group-commit-kill';
/** Clients of each kind sending at once: 24 in all, many more than one commit takes, so commits hold several appends. */
const JSON_CLIENTS = 12;
const NEAT_CLIENTS = 6;
const SAMPLE_CLIENTS = 6;
/** The load runs this long, at least and at most, before the kill. */
const KILL_AFTER_MIN_MS = 50;
const KILL_AFTER_MAX_MS = 400;
/** The simulated data centre's hosts (`serviceProcess.ts`). */
const HOSTS = ['host-0', 'host-1', 'host-2', 'host-3'];
const TOKEN = 'test';

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');

/** What ties an answer to its event: the id a 202 names, or a value only that request carried and the event records. */
type Ack =
  | { readonly kind: 'json'; readonly requestId: string }
  | { readonly kind: 'neat'; readonly clientTimeS: number }
  | { readonly kind: 'sample'; readonly host: string; readonly hypervisorCpuMhz: number };

let directory: string;
let running: ChildProcess | null = null;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-group-commit-kill-'));
});

afterAll(() => {
  running?.kill('SIGKILL');
  rmSync(directory, { recursive: true, force: true });
});

function startService(path: string, seed: string): Promise<StartedService> {
  return startServiceProcess(path, seed, 'group-commit', (child) => { running = child; });
}

interface Row {
  readonly position: number;
  /** The position the event's own body records, which must be its row's. */
  readonly bodyPosition: unknown;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

function readLog(path: string): Row[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT position, type, body FROM events ORDER BY position').all().map((row) => {
      const { position, type, body } = row as { position: number; type: string; body: string };
      // The SQLite adapter's body: [position, id, stream, revision, type, version, data, correlationId, …].
      const parsed = JSON.parse(body) as unknown[];
      return { position, bodyPosition: parsed[0], type, data: parsed[6] as Record<string, unknown> };
    });
  } finally {
    db.close();
  }
}

/** The acknowledgements the log does not hold. */
function missingFrom(rows: readonly Row[], acks: readonly Ack[]): Ack[] {
  const requestIds = new Set<unknown>();
  const clientTimesS = new Set<unknown>();
  const samples = new Set<string>();
  for (const row of rows) {
    if (row.type === 'RequestReceived' && row.data.protocol === 'json') requestIds.add(row.data.requestId);
    if (row.type === 'RequestReceived' && row.data.protocol === 'neat') clientTimesS.add(row.data.clientTimeS);
    if (row.type === 'UtilizationSampled') samples.add(`${String(row.data.host)} ${String(row.data.hypervisorCpuMhz)}`);
  }
  return acks.filter((ack) => {
    switch (ack.kind) {
      case 'json': return !requestIds.has(ack.requestId);
      case 'neat': return !clientTimesS.has(ack.clientTimeS);
      case 'sample': return !samples.has(`${ack.host} ${ack.hypervisorCpuMhz}`);
    }
  });
}

/** The first row whose position is not the next one, or null when positions run 1..n. */
function firstGap(rows: readonly Row[]): Row | null {
  return rows.find((row, i) => row.position !== i + 1 || row.bodyPosition !== row.position) ?? null;
}

/** An answer the client received: its status and body, read to the end (only then is it an acknowledgement). */
interface Answer {
  readonly status: number;
  readonly text: string;
}

async function send(url: string, init: RequestInit): Promise<Answer> {
  const response = await fetch(url, init);
  return { status: response.status, text: await response.text() };
}

const json = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

/** Numbers the Neat and sample requests: each carries a value no other request of the run carries. */
let sequence = 0;
/** An hour ahead: Neat refuses only a stale `time`, and the millisecond digits are free to number the request. */
const neatTimeBaseMs = Date.now() + 3_600_000;

/** One request of a client of `kind`; the acknowledgement, if the answer is one. */
async function request(kind: Ack['kind'], url: string, host: string): Promise<{ answer: Answer; ack: Ack | null }> {
  switch (kind) {
    case 'json': {
      const answer = await send(`${url}/v1/requests`, { method: 'POST', headers: json, body: JSON.stringify({ host, reason: 'underload' }) });
      return { answer, ack: answer.status === 202 ? { kind, requestId: (JSON.parse(answer.text) as { requestId: string }).requestId } : null };
    }
    case 'neat': {
      const time = ((neatTimeBaseMs + sequence++) / 1000).toFixed(3);
      const answer = await send(`${url}/`, {
        method: 'PUT', body: new URLSearchParams({ username: sha1('admin'), password: sha1('secret'), time, host, reason: '0' }),
      });
      return { answer, ack: answer.status === 200 ? { kind, clientTimeS: Number(time) } : null };
    }
    case 'sample': {
      const hypervisorCpuMhz = sequence++ / 1000;
      const answer = await send(`${url}/v1/samples`, { method: 'POST', headers: json, body: JSON.stringify({ host, hypervisorCpuMhz, vms: [] }) });
      return { answer, ack: answer.status === 202 ? { kind, host, hypervisorCpuMhz } : null };
    }
  }
}

interface Round {
  readonly acks: Ack[];
  /** Answers that were neither an acknowledgement nor the kill's doing. */
  readonly unexpected: string[];
}

/**
 * Clients send one request after another until the service is gone. A failed
 * fetch after the kill is the kill; before it, it is a failure of the service.
 */
async function load(url: string, killed: () => boolean): Promise<Round> {
  const round: Round = { acks: [], unexpected: [] };
  const kinds: Ack['kind'][] = [
    ...Array<Ack['kind']>(JSON_CLIENTS).fill('json'), ...Array<Ack['kind']>(NEAT_CLIENTS).fill('neat'), ...Array<Ack['kind']>(SAMPLE_CLIENTS).fill('sample'),
  ];
  await Promise.all(kinds.map(async (kind, client) => {
    for (let n = 0; ; n++) {
      let outcome: Awaited<ReturnType<typeof request>>;
      try {
        outcome = await request(kind, url, HOSTS[(client + n) % HOSTS.length]);
      } catch (error) {
        if (!killed()) round.unexpected.push(`${kind} client ${client}: ${String(error)}`);
        return;
      }
      if (outcome.ack === null) round.unexpected.push(`${kind} client ${client}: ${outcome.answer.status} ${outcome.answer.text}`);
      else round.acks.push(outcome.ack);
    }
  }));
  return round;
}

test(`serving with group commit: after ${KILLS} SIGKILLs under concurrent load, every acknowledged request and sample is in the log and positions are gap-free`, async () => {
  const path = join(directory, 'service.sqlite');
  const rng = createRng(SEED);
  const acknowledged: Ack[] = [];
  let rows: Row[] = [];
  for (let kill = 0; kill <= KILLS; kill++) {
    // A seed per start: the manager's ids are seeded, and a restart must not hand out its predecessor's.
    const service = await startService(path, `${SEED}/${kill}`);
    // As `neat serve` opens it: appends committed together on the log's writer thread.
    expect(service.logOptions).toEqual({ groupCommit: true });
    expect(service.recovery.events).toBe(rows.length);
    // Recovered and serving: a request is acknowledged before the load starts.
    const first = await request('json', service.url, HOSTS[kill % HOSTS.length]);
    expect(first.answer.status).toBe(202);
    acknowledged.push(first.ack!);
    const exited = new Promise((resolve) => { service.child.once('exit', resolve); });
    if (kill === KILLS) {
      service.child.kill('SIGKILL');
      await exited;
      break;
    }

    let killSent = false;
    const killAfterMs = KILL_AFTER_MIN_MS + Math.floor(rng.next() * (KILL_AFTER_MAX_MS - KILL_AFTER_MIN_MS));
    const timer = setTimeout(() => {
      killSent = true;
      service.child.kill('SIGKILL');
    }, killAfterMs);
    const round = await load(service.url, () => killSent);
    // Only when every client failed before the kill (reported below): the service must still go.
    clearTimeout(timer);
    service.child.kill('SIGKILL');
    await exited;
    expect(round.unexpected).toEqual([]);
    acknowledged.push(...round.acks);

    rows = readLog(path);
    expect(firstGap(rows)).toBeNull();
    // Every acknowledgement so far, from this round and all before: a recovery must not lose what an earlier one kept.
    expect(missingFrom(rows, acknowledged)).toEqual([]);
  }
  // The last start's request, acknowledged after the twentieth recovery, outlives a kill too.
  rows = readLog(path);
  expect(firstGap(rows)).toBeNull();
  expect(missingFrom(rows, acknowledged)).toEqual([]);
  // The load ran: every kind of client was acknowledged, and more than once per kill.
  expect(new Set(acknowledged.map((ack) => ack.kind))).toEqual(new Set(['json', 'neat', 'sample']));
  expect(acknowledged.length).toBeGreaterThan(KILLS * JSON_CLIENTS);
}, 120_000);
