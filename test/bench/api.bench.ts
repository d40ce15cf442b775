/**
 * `npm run bench:api`: the service as production runs it (koa on a loopback
 * socket, the manager, a durable SQLite log in a temporary file) managing a
 * simulated data centre of 800 hosts and 1052 VMs.
 *
 * 1. `PUT /` acceptance: 64 concurrent clients send Neat's form requests for
 *    random hosts for a fixed time; every 200 means the request was durably
 *    recorded. Prints throughput and p50 / p99 latency.
 * 2. Decision latency: with a sample recorded for every VM, overload requests
 *    for one VM of a host at a time, each timed from submission to its
 *    recorded decision. Automation is `off` in both phases, so that the plans
 *    are recorded but not executed and every decision sees the same data centre.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteEventLog } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';
import { startFixture, ADMIN_PASSWORD, ADMIN_USER } from '../api/fixture';
import { formatMs, quantile } from './harness';

const HOSTS = 800;
const VMS = 1052;
const CLIENTS = 64;
const ACCEPTANCE_DURATION_MS = 10_000;
const DECISIONS = 200;

function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

async function fixtureOn(path: string): Promise<Awaited<ReturnType<typeof startFixture>>> {
  return startFixture({
    vms: VMS, hosts: HOSTS, log: new SqliteEventLog(path, { groupCommit: true }), config: { automation: 'off', requestQueueLimit: HOSTS }, speed: 1,
  });
}

async function acceptance(directory: string): Promise<void> {
  const fixture = await fixtureOn(join(directory, 'acceptance.sqlite'));
  const rng = createRng('bench-api');
  const hostNames = (await fixture.dataCentre.listHosts()).map((h) => h.name);
  const username = sha1Hex(ADMIN_USER);
  const password = sha1Hex(ADMIN_PASSWORD);
  const latenciesMs: number[] = [];
  const statuses = new Map<number, number>();
  const endMs = performance.now() + ACCEPTANCE_DURATION_MS;
  const startMs = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    for (let sent = 0; sent < 1_000_000 && performance.now() < endMs; sent++) {
      const host = hostNames[Math.floor(rng.next() * hostNames.length)];
      const form = new URLSearchParams({ username, password, time: String(Date.now() / 1000), host, reason: '0' });
      const before = performance.now();
      const response = await fetch(`${fixture.url}/`, { method: 'PUT', body: form });
      await response.arrayBuffer();
      latenciesMs.push(performance.now() - before);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  }));
  const elapsedS = (performance.now() - startMs) / 1000;
  await fixture.close();
  latenciesMs.sort((a, b) => a - b);
  const accepted = statuses.get(200) ?? 0;
  console.log(`PUT / with ${CLIENTS} concurrent clients for ${elapsedS.toFixed(1)} s (durable SQLite log, ${HOSTS} hosts):`);
  console.log(`  accepted (200, durably recorded)  ${(accepted / elapsedS).toFixed(0)} requests/s`);
  console.log(`  answers by status                 ${[...statuses].sort().map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  console.log(`  latency                           p50 ${formatMs(quantile(latenciesMs, 0.5))}, p99 ${formatMs(quantile(latenciesMs, 0.99))}, `
    + `max ${formatMs(latenciesMs[latenciesMs.length - 1])}`);
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
    for (let wait = 0; wait < 10_000 && !decided.has(result.requestId); wait++) await new Promise((resolve) => { setImmediate(resolve); });
    const decision = decided.get(result.requestId);
    if (decision === undefined) throw new Error(`request ${i} was not decided`);
    latenciesMs.push(decision.atMs - startMs);
    outcomes.set(decision.type, (outcomes.get(decision.type) ?? 0) + 1);
  }
  await fixture.close();
  latenciesMs.sort((a, b) => a - b);
  console.log(`Overload request → recorded decision, ${HOSTS} hosts, ${VMS} VMs, ${DECISIONS} requests one after another:`);
  console.log(`  latency   p50 ${formatMs(quantile(latenciesMs, 0.5))}, p99 ${formatMs(quantile(latenciesMs, 0.99))}, max ${formatMs(latenciesMs[latenciesMs.length - 1])}`);
  console.log(`  outcomes  ${[...outcomes].map(([type, n]) => `${type}: ${n}`).join(', ')}`);
}

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'neat-bench-api-'));
  try {
    await acceptance(directory);
    await decisions(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
