/**
 * The dashboard in headless Chromium against a real `neat serve --sim` (a
 * child process on a SQLite log, its simulated local managers sending real
 * requests): the token asked for once (a wrong one asked again), the page
 * following the stream, then the service stopped and what the page shows
 * compared with the log folded by the service's own projection, then the
 * service restarted on the same log and port, and the page reconnected from
 * the last position it saw. No URL the page asks for holds the token; no
 * console error but those of the wrong token and of the outage.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { sha256Hex } from '../../src/api/http';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import type { RecordedEvent } from '../../src/events/envelope';
import { SqliteEventLog } from '../../src/log/sqlite';
import { launchChromium, requireChromium, screenshot, watchedPage } from '../support/browser';
import type { WatchedPage } from '../support/browser';
import { Served } from '../support/served';
import { stopProcess } from '../support/process';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { eventually } from './client';

const TOKEN = 'dashboard-test-token-5f1c9a';
const FINISHED = new Set(['completed', 'nothing-to-do', 'failed', 'partial', 'recorded', 'rejected', 'superseded']);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
  return port;
}

function serve(port: number, events: string): Served {
  return new Served(['serve', '--sim', trace, '--speed', '600', '--listen', `127.0.0.1:${port}`, '--events', events, '--log-format', 'json', '--quiet'],
    { NEAT_API_TOKENS_SHA256: sha256Hex(TOKEN) });
}

/** A call of the JSON API with the token; a body makes it a POST. */
async function api(url: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() };
}

/** What the page shows, read from its DOM once a frame has been drawn. */
interface Shown {
  readonly position: number;
  /** Per host, its power state and VM count: `active 3`. */
  readonly hosts: Record<string, string>;
  readonly requests: { id: string; outcome: string }[];
  readonly migrations: { vm: string; route: string; state: string }[];
  readonly latency: { medianMs: number; p95Ms: number; count: number };
  readonly queueDepth: string;
}

/** Run in the page (as text: the tests are compiled without the DOM's types). */
const READ_PAGE = `(() => {
  const all = (selector) => [...document.querySelectorAll(selector)];
  const latency = document.getElementById('latency').dataset;
  return {
    position: Number(document.getElementById('connection').dataset.position),
    hosts: Object.fromEntries(all('#hosts .host').map((tile) => [tile.dataset.host, tile.dataset.power + ' ' + tile.dataset.vms])),
    requests: all('#requests tr[data-request-id]').map((tr) => ({ id: tr.dataset.requestId, outcome: tr.dataset.outcome })),
    migrations: all('#migrations tr[data-vm]').map((tr) => ({ vm: tr.dataset.vm, route: tr.dataset.route, state: tr.dataset.state })),
    latency: { medianMs: Number(latency.medianMs), p95Ms: Number(latency.p95Ms), count: Number(latency.count) },
    queueDepth: document.getElementById('queue-depth').textContent,
  };
})()`;

async function shown(page: Page): Promise<Shown> {
  await page.evaluate('new Promise((resolve) => { requestAnimationFrame(resolve); })');
  return page.evaluate<Shown>(READ_PAGE);
}

/** Nearest rank: the smallest value with at least `percent` % of the values at or below it. */
function nearestRank(values: readonly number[], percent: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil((percent / 100) * sorted.length) - 1];
}

/** What the page should show after the events up to `position`, from the log and the service's own projection. */
async function expected(path: string, position: number): Promise<Omit<Shown, 'position' | 'queueDepth'>> {
  const log = new SqliteEventLog(path);
  try {
    const events: RecordedEvent[] = [];
    for (let from = 1; from <= position;) {
      const page = await log.readAll(from, Math.min(1000, position - from + 1));
      if (page.length === 0) break;
      events.push(...page);
      from = page[page.length - 1].position + 1;
    }
    const state = initialDataCentreState({ historyLength: 10, strict: false });
    const received = new Map<string, number>();
    const latenciesMs: number[] = [];
    const requests: { id: string; outcome: string }[] = [];
    const outcomes = new Map<string, string>();
    const finished: { vm: string; route: string; state: string }[] = [];
    const ends: Record<string, string> = { MigrationCompleted: 'completed', MigrationFailed: 'failed', MigrationAbandoned: 'abandoned', MigrationSkipped: 'skipped' };
    for (const event of events) {
      evolveDataCentre(state, event);
      if (event.type === 'RequestReceived') {
        received.set(event.data.requestId, event.metadata.timeMs);
        requests.push({ id: event.data.requestId, outcome: 'queued' });
      }
      if (event.type === 'RequestRejected') {
        requests.push({ id: event.data.requestId, outcome: 'refused' });
        outcomes.set(event.data.requestId, 'refused');
      }
      if (event.type === 'PlacementDecided' || event.type === 'NothingToDo') {
        latenciesMs.push(event.metadata.timeMs - received.get(event.data.requestId)!);
        outcomes.set(event.data.requestId, 'executing');
      }
      if (event.type === 'RequestCompleted') outcomes.set(event.data.requestId, event.data.outcome);
      if (event.type in ends) {
        const data = event.data as { vmId: string; sourceHost: string; targetHost: string };
        finished.unshift({ vm: data.vmId, route: `${data.sourceHost}>${data.targetHost}`, state: ends[event.type] });
      }
    }
    const window = latenciesMs.slice(-100);
    return {
      hosts: Object.fromEntries([...state.hosts.values()].map((host) => [host.name, `${host.power} ${[...state.vms.values()].filter((vm) => vm.host === host.name).length}`])),
      requests: requests.slice(-50).reverse().map((request) => ({ id: request.id, outcome: outcomes.get(request.id) ?? request.outcome })),
      migrations: [
        ...[...state.migrations.values()].map((m) => ({ vm: m.vmId, route: `${m.sourceHost}>${m.targetHost}`, state: 'in-flight' })),
        ...finished.slice(0, 20),
      ],
      latency: { medianMs: nearestRank(window, 50), p95Ms: nearestRank(window, 95), count: window.length },
    };
  } finally {
    await log.close();
  }
}

/** Migrations in flight sorted by VM (the page may learn of them in another order than the log), then the finished in order. */
function inFlightFirst(migrations: Shown['migrations']): Shown['migrations'] {
  const inFlight = migrations.filter((m) => m.state === 'in-flight').sort((a, b) => (a.vm < b.vm ? -1 : 1));
  return [...inFlight, ...migrations.filter((m) => m.state !== 'in-flight')];
}

/** The errors recorded since `from`, which must all match `allowed`. */
function unexpectedErrors(watched: WatchedPage, from: number, allowed: RegExp | null): string[] {
  return watched.errors.slice(from).filter((error) => allowed === null || !allowed.test(error));
}

const chromiumPresent = requireChromium();
const maybe = chromiumPresent ? test : test.skip;

let directory: string;
/**
 * A day of 16 VMs on 13 hosts: each local manager asks every 5 simulated minutes (half a second at 600×), so the
 * last 50 requests the page lists span seconds, long enough to watch one of ours reach its outcome, and the page's
 * window of 100 decision latencies fills in about ten.
 */
let trace: string;
let browser: Browser | null = null;
const running: Served[] = [];

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'neat-dashboard-'));
  trace = join(directory, 'day.csv');
  writeCsvTrace(trace, generateSyntheticTrace({ seed: 'dashboard', vms: 16, steps: 288, stepS: 300 }));
  if (chromiumPresent) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const served of running) await stopProcess(served.child, 5_000);
  rmSync(directory, { recursive: true, force: true });
});

maybe('follows a simulated service live, matches its log, survives a restart, never puts the token in a URL', async () => {
  const port = await freePort();
  const events = join(directory, 'events.sqlite');
  const first = serve(port, events);
  running.push(first);
  const url = (await first.line((line) => line.event === 'listening', 20_000)).url as string;
  expect((await first.line((line) => line.event === 'listening', 0)).dashboard).toBe(`${url}/ui`);

  const watched = await watchedPage(browser!);
  const { page } = watched;
  await page.goto(`${url}/ui`);
  await page.locator('#token-dialog[open]').waitFor({ timeout: 5_000 });
  expect(unexpectedErrors(watched, 0, null)).toEqual([]);
  // Without a token the page shows the prompt, and nothing of the data centre.
  expect(await page.textContent('body')).not.toMatch(/host-\d/);

  // A wrong token is refused and asked for again; only its refusals are console errors.
  await page.fill('#token-input', 'not-the-token');
  await page.press('#token-input', 'Enter');
  await page.locator('#token-problem', { hasText: 'the token was refused (403)' }).waitFor({ timeout: 5_000 });
  await screenshot(page, 'dashboard-token');
  expect(await page.locator('#token-dialog').getAttribute('open')).not.toBeNull();
  expect(await page.textContent('body')).not.toMatch(/host-\d/);
  // Its three reads (/v1/hosts, /v1/vms, /v1/events) are refused in parallel: the dialog opens at the first.
  await eventually('the three refusals', async () => (watched.errors.filter((error) => error.includes('status of 403')).length === 3 ? true : null), 5_000);
  expect(unexpectedErrors(watched, 0, /status of 403/)).toEqual([]);
  const afterWrongToken = watched.errors.length;

  await page.fill('#token-input', TOKEN);
  await page.press('#token-input', 'Enter');
  await page.locator('#connection.live').waitFor({ timeout: 10_000 });
  expect(await page.evaluate('[localStorage.length, document.cookie, sessionStorage.length]')).toEqual([0, '', 1]);

  // Requests of our own beside the local managers', once these have consolidated the hosts (so the VMs have samples):
  // a VM to move off a host said to be overloaded, which the page sees migrate (a host woken if none has room), and one refused.
  // Asleep hosts mean the first round has begun; an empty queue and no VM migrating, that it has ended (the next
  // rounds find the hosts consolidated), so that no plan of theirs moves our VM first.
  await page.locator('#hosts .host[data-power="asleep"]').first().waitFor({ timeout: 15_000 });
  type Vm = { id: string; host: string | null; migrating: boolean };
  const vms = await eventually('the first round of consolidation to end', async () => {
    const queueDepth = ((await api(url, '/healthz')).body as { queueDepth: number }).queueDepth;
    const listed = ((await api(url, '/v1/vms')).body as { vms: Vm[] }).vms;
    return queueDepth === 0 && listed.every((vm) => !vm.migrating) ? listed : null;
  }, 10_000);
  const moved = vms.find((vm) => vm.host !== null)!;
  const submitted = await api(url, '/v1/requests', { host: moved.host, reason: 'overload', vmIds: [moved.id] });
  expect(submitted.status).toBe(202);
  const { requestId } = submitted.body as { requestId: string };
  const refused = await api(url, '/v1/requests', { host: 'no-such-host', reason: 'underload' });
  expect(refused.status).toBe(422);
  const ours = page.locator(`#requests tr[data-request-id="${requestId}"]`);
  await eventually('our request to reach its outcome on the page', async () => (FINISHED.has(await ours.getAttribute('data-outcome', { timeout: 10_000 }) ?? '') ? true : null), 15_000);
  const { outcome } = ((await api(url, `/v1/requests/${requestId}`)).body as { request: { outcome: { outcome: string; detail: string } } }).request;
  expect(outcome).toMatchObject({ outcome: 'completed', detail: expect.any(String) as string });
  expect(await ours.getAttribute('data-outcome')).toBe('completed');
  await page.locator(`#migrations tr[data-vm="${moved.id}"][data-state="completed"][data-route^="${moved.host}>"]`).first().waitFor({ timeout: 5_000 });
  await page.locator('#requests tr[data-outcome="refused"]').first().waitFor({ timeout: 5_000 });
  // The queue depth is read from /healthz every 2 s: a bar per reading.
  await eventually('a second reading of the queue depth', async () => (await page.locator('#queue-bars rect').count() >= 2 ? true : null), 5_000);
  expect(await page.locator('#queue-depth').textContent()).toMatch(/^\d+$/);
  await eventually('a full window of decision latencies', async () => (await page.locator('#latency[data-count="100"]').count() === 1 ? true : null), 20_000);
  expect(unexpectedErrors(watched, afterWrongToken, null)).toEqual([]);

  // Stopped, the service leaves the page with the last position it saw: what it shows is the log up to there.
  const stoppedAt = watched.errors.length;
  await stopProcess(first.child, 5_000);
  await page.locator('#connection.reconnecting').waitFor({ timeout: 5_000 });
  const before = await shown(page);
  const truth = await expected(events, before.position);
  expect(before.hosts).toEqual(truth.hosts);
  expect(Object.values(before.hosts)).toEqual(expect.arrayContaining([expect.stringMatching(/^active [1-9]/) as string, 'asleep 0']));
  expect(before.requests).toEqual(truth.requests);
  expect(inFlightFirst(before.migrations)).toEqual(inFlightFirst(truth.migrations));
  expect(before.migrations.length).toBeGreaterThan(0);
  expect(before.latency).toEqual(truth.latency);
  expect(before.latency.count).toBe(100);
  expect(before.queueDepth).toMatch(/^\d+$/);
  // The page began with the whole log (shorter than its backfill), as the comparison assumes.
  expect(watched.requests).toContain(`${url}/v1/events/stream?exclude=UtilizationSampled,DataCentreUpdated&after=0`);

  // Restarted on the same log and port, the service resumes; the page reconnects by itself from where it was.
  const second = serve(port, events);
  running.push(second);
  await second.line((line) => line.event === 'listening', 20_000);
  await page.locator('#connection.live').waitFor({ timeout: 15_000 });
  const reconnectedAt = watched.errors.length;
  expect(watched.requests).toContain(`${url}/v1/events/stream?exclude=UtilizationSampled,DataCentreUpdated&after=${before.position}`);
  await eventually('new events after the restart', async () => ((await shown(page)).position > before.position ? true : null), 10_000);
  expect(unexpectedErrors(watched, stoppedAt, /net::ERR_|Failed to load resource/)).toEqual([]);

  await page.waitForTimeout(1_000);
  await screenshot(page, 'dashboard');
  expect(unexpectedErrors(watched, reconnectedAt, null)).toEqual([]);
  expect(watched.requests.filter((requested) => requested.includes(TOKEN) || requested.includes('not-the-token'))).toEqual([]);
  await page.close();
  await stopProcess(second.child, 5_000);
});
