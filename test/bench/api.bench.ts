/**
 * `npm run bench:api`: the service as production runs it (koa on a loopback
 * socket, the manager, a durable SQLite log with group commit in a temporary
 * file) managing a simulated data centre of 800 hosts and 1052 VMs, side by
 * side with bare koa on the same machine in the same run.
 *
 * 1. Throughput: 64 concurrent keep-alive clients, on a thread of their own
 *    (test/bench/load.ts), for a fixed time each:
 *    - bare koa answering `PUT /` (a form read, 200) and `POST /v1/samples` (JSON read, 202): the ceiling;
 *    - `PUT /`, Neat's form requests for random hosts: every 200 means the request was durably recorded;
 *    - `POST /v1/samples`, one host's sample each: every 202 means the sample was durably recorded.
 *    Prints requests/s, p50 / p99 / max latency, and our throughput as a fraction of bare koa's.
 * 2. Decision latency: with a sample recorded for every VM, overload requests
 *    for one VM of a host at a time, each timed from submission to its
 *    recorded decision. Automation is `off` in both phases, so that the plans
 *    are recorded but not executed and every decision sees the same data centre.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Router from '@koa/router';
import Koa from 'koa';
import { SqliteEventLog } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';
import { startFixture, ADMIN_PASSWORD, ADMIN_USER, TOKEN } from '../api/fixture';
import { formatMs, quantile } from './harness';
import { runLoad } from './load';
import type { LoadOptions, LoadResult } from './load';

const HOSTS = 800;
const VMS = 1052;
const CLIENTS = 64;
const LOAD_DURATION_MS = 10_000;
const DECISIONS = 200;
const DECISION_WAIT_MS = 10_000;
/** Distinct request bodies each phase cycles through. */
const BODIES = 4096;
const TIME = '__TIME__';

function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

async function fixtureOn(path: string): Promise<Awaited<ReturnType<typeof startFixture>>> {
  return startFixture({
    vms: VMS, hosts: HOSTS, log: new SqliteEventLog(path, { groupCommit: true }), config: { automation: 'off', requestQueueLimit: HOSTS }, speed: 1,
  });
}

/** Reads the whole body, as a real handler must before it answers. */
async function bodyOf(request: Koa.Context['req']): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Koa and its router with no work behind the routes: what the machine allows before any of ours. */
async function bareKoa(): Promise<{ url: string; close: () => Promise<void> }> {
  const app = new Koa();
  const router = new Router();
  router.put('/', async (ctx) => {
    const form = new URLSearchParams(await bodyOf(ctx.req));
    ctx.body = form.has('host') ? 'OK' : 'no host';
  });
  router.post('/v1/samples', async (ctx) => {
    const sample = JSON.parse(await bodyOf(ctx.req)) as { host: string; vms: unknown[] };
    ctx.status = 202;
    ctx.body = { host: sample.host, vms: sample.vms.length, unreportedVmIds: [] };
  });
  app.use(router.routes());
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => { resolve(listening); });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => { resolve(); }); }),
  };
}

function putBodies(hostNames: readonly string[]): string[] {
  const rng = createRng('bench-api');
  const username = sha1Hex(ADMIN_USER);
  const password = sha1Hex(ADMIN_PASSWORD);
  return Array.from({ length: BODIES }, () => new URLSearchParams({
    username, password, time: TIME, host: hostNames[Math.floor(rng.next() * hostNames.length)], reason: '0',
  }).toString());
}

function sampleBodies(vmsByHost: ReadonlyMap<string, readonly { vmId: string; ramMb: number }[]>): string[] {
  const rng = createRng('bench-api-samples');
  const hosts = [...vmsByHost.keys()];
  return Array.from({ length: BODIES }, (_, k) => {
    const host = hosts[k % hosts.length];
    const vms = (vmsByHost.get(host) ?? []).map((vm) => ({ vmId: vm.vmId, cpuMhz: Math.round(rng.next() * 1000), ramMb: vm.ramMb }));
    return JSON.stringify({ host, hypervisorCpuMhz: Math.round(rng.next() * 200), vms });
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const JSON_WITH_TOKEN = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

interface Phase {
  readonly name: string;
  readonly result: LoadResult;
  readonly ok: number;
}

function load(url: string, method: LoadOptions['method'], headers: LoadOptions['headers'], bodies: readonly string[]): Promise<LoadResult> {
  return runLoad({ url, method, headers, bodies, timePlaceholder: method === 'PUT' ? TIME : null, clients: CLIENTS, durationMs: LOAD_DURATION_MS });
}

function phase(name: string, result: LoadResult, okStatus: number): Phase {
  return { name, result, ok: result.statuses[okStatus] ?? 0 };
}

function printPhase(phase: Phase, ceiling: Phase | null): void {
  const { result } = phase;
  const rate = phase.ok / result.elapsedS;
  const fraction = ceiling === null ? '' : `  ${(rate / (ceiling.ok / ceiling.result.elapsedS)).toFixed(2)} of bare koa`;
  console.log(`  ${phase.name.padEnd(34)} ${rate.toFixed(0).padStart(6)} /s   p50 ${formatMs(quantile(result.latenciesMs, 0.5))}, `
    + `p99 ${formatMs(quantile(result.latenciesMs, 0.99))}, max ${formatMs(result.latenciesMs[result.latenciesMs.length - 1])}${fraction}`);
  const statuses = Object.entries(result.statuses).map(([status, count]) => `${status}: ${count}`).join(', ');
  console.log(`  ${''.padEnd(34)} answers ${statuses}`);
}

async function throughput(directory: string): Promise<void> {
  const fixture = await fixtureOn(join(directory, 'throughput.sqlite'));
  const hostNames = (await fixture.dataCentre.listHosts()).map((h) => h.name);
  const vmsByHost = new Map<string, { vmId: string; ramMb: number }[]>();
  for (const vm of await fixture.dataCentre.listVms()) {
    if (vm.host !== null) vmsByHost.set(vm.host, [...(vmsByHost.get(vm.host) ?? []), { vmId: vm.id, ramMb: vm.ramMb }]);
  }
  const puts = putBodies(hostNames);
  const samples = sampleBodies(vmsByHost);
  const bare = await bareKoa();
  const barePut = phase('bare koa PUT /', await load(`${bare.url}/`, 'PUT', FORM, puts), 200);
  const bareSamples = phase('bare koa POST /v1/samples', await load(`${bare.url}/v1/samples`, 'POST', JSON_WITH_TOKEN, samples), 202);
  await bare.close();
  const put = phase('PUT / (durably recorded)', await load(`${fixture.url}/`, 'PUT', FORM, puts), 200);
  const sampled = phase('POST /v1/samples (durably recorded)', await load(`${fixture.url}/v1/samples`, 'POST', JSON_WITH_TOKEN, samples), 202);
  await fixture.close();
  await fixture.log.close();
  console.log(`${CLIENTS} concurrent keep-alive clients on their own thread, ${LOAD_DURATION_MS / 1000} s a phase `
    + `(durable SQLite log with group commit, ${HOSTS} hosts, ${VMS} VMs):`);
  printPhase(barePut, null);
  printPhase(put, barePut);
  printPhase(bareSamples, null);
  printPhase(sampled, bareSamples);
}

async function decisions(directory: string): Promise<void> {
  const fixture = await fixtureOn(join(directory, 'decisions.sqlite'));
  const { manager } = fixture.service;
  const rng = createRng('bench-api-samples');
  const vms = await fixture.dataCentre.listVms();
  const byHost = new Map<string, { vmId: string; cpuMhz: number; ramMb: number }[]>();
  for (const vm of vms) {
    if (vm.host === null) continue;
    const list = byHost.get(vm.host) ?? [];
    list.push({ vmId: vm.id, cpuMhz: Math.round(rng.next() * 1000), ramMb: vm.ramMb });
    byHost.set(vm.host, list);
  }
  for (const [host, samples] of byHost) await manager.recordSample({ host, hypervisorCpuMhz: 0, vms: samples });
  const decided = new Map<string, { type: string; atMs: number }>();
  fixture.service.journal.onRecorded((event) => {
    if (event.type === 'PlacementDecided' || event.type === 'NothingToDo') decided.set(event.data.requestId, { type: event.type, atMs: performance.now() });
  });
  const hosts = [...byHost.keys()];
  const latenciesMs: number[] = [];
  const outcomes = new Map<string, number>();
  for (let i = 0; i < DECISIONS; i++) {
    const host = hosts[i % hosts.length];
    const vmId = byHost.get(host)![0].vmId;
    const startMs = performance.now();
    const result = await manager.submit({ host, reason: 'overload', vmIds: [vmId], protocol: 'in-process', remoteAddress: null, clientTimeS: null });
    if (result.status !== 'accepted') throw new Error(`request ${i} was refused: ${result.status}`);
    // Bounded by time, not turns: on a loaded machine the log's writer thread may take many turns to commit.
    while (performance.now() - startMs < DECISION_WAIT_MS && !decided.has(result.requestId)) await new Promise((resolve) => { setImmediate(resolve); });
    const decision = decided.get(result.requestId);
    if (decision === undefined) throw new Error(`request ${i} was not decided within ${DECISION_WAIT_MS} ms`);
    latenciesMs.push(decision.atMs - startMs);
    outcomes.set(decision.type, (outcomes.get(decision.type) ?? 0) + 1);
  }
  await fixture.close();
  await fixture.log.close();
  latenciesMs.sort((a, b) => a - b);
  console.log(`Overload request → recorded decision, ${HOSTS} hosts, ${VMS} VMs, ${DECISIONS} requests one after another:`);
  console.log(`  latency   p50 ${formatMs(quantile(latenciesMs, 0.5))}, p99 ${formatMs(quantile(latenciesMs, 0.99))}, max ${formatMs(latenciesMs[latenciesMs.length - 1])}`);
  console.log(`  outcomes  ${[...outcomes].map(([type, n]) => `${type}: ${n}`).join(', ')}`);
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'neat-bench-api-'));
  try {
    await throughput(directory);
    await decisions(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
