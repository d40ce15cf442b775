/**
 * `npm run bench:agent`: what an agent costs its host, and what a thousand of
 * them cost the global manager.
 *
 * 1. One collect-and-step cycle on a host of 100 running VMs: the real virsh
 *    on libvirt's test driver, Neat's default algorithms (MHOD) on full
 *    histories of `data_collector_data_length` = 100 values. Prints this
 *    process's CPU per cycle (virsh's own CPU apart) and wall time.
 * 2. A real `neat agent` process on that host for a while: its peak RSS.
 * 3. Ingest: the service as production runs it (koa, the manager, a durable
 *    SQLite log with group commit) managing 1,000 hosts of 100 VMs each,
 *    and 1,000 agents posting a 100-VM sample each, all at once, round after
 *    round. Prints samples/s, VM values/s and latency. The cloud is a fixed
 *    inventory (no real Nova holds 100,000 VMs here); automation is off, so
 *    it is never asked to act.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { VirshHypervisor } from '../../src/agent/libvirt';
import { HostAgent } from '../../src/agent/loop';
import type { AgentMemory, AgentTransport } from '../../src/agent/loop';
import { agentSettings } from '../../src/cli/agent';
import { systemClock, systemTimer } from '../../src/clock';
import { DEFAULT_CONFIG } from '../../src/config';
import type { ManagerConfig } from '../../src/config';
import { randomIds } from '../../src/ids';
import { SqliteEventLog } from '../../src/log/sqlite';
import { CloudError, PowerError } from '../../src/managers/ports';
import type { Cloud, CloudHost, CloudVm, Power } from '../../src/managers/ports';
import { createRng } from '../../src/rng';
import { startService } from '../../src/service';
import { startFixture, TOKEN } from '../api/fixture';
import { BIN } from '../support/served';
import { requireVirsh, testUri, writeNodeXml } from '../support/virsh';
import { formatMs, quantile } from './harness';

const VMS_PER_HOST = 100;
const CYCLES = 30;
const AGENT_RUN_MS = 15_000;
const AGENTS = 1_000;
/** The first round opens the agents' connections; the others reuse them, as agents posting every interval do. */
const INGEST_ROUNDS = 6;

function vmUuid(host: number, vm: number): string {
  return `00000000-0000-4000-8000-${host.toString(16).padStart(4, '0')}${vm.toString(16).padStart(8, '0')}`;
}

/** The CPU time of this process's finished children (virsh), ms: `/proc/self/stat` fields cutime and cstime, in clock ticks of 10 ms. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

function hostXml(directory: string): string {
  const path = join(directory, 'node.xml');
  writeNodeXml(path, {
    cpus: 32, mhz: 2600, memoryKiB: 512 * 1024 * 1024,
    domains: Array.from({ length: VMS_PER_HOST }, (_, vm) => ({ uuid: vmUuid(0, vm), memoryKiB: 2048 * 1024, vcpus: 1 })),
  });
  return path;
}

async function cycle(directory: string): Promise<void> {
  const config: ManagerConfig = { ...DEFAULT_CONFIG, libvirtUri: testUri(hostXml(directory)) };
  const rng = createRng('bench-agent');
  const memory: AgentMemory = {
    vmsCpuMhz: Object.fromEntries(Array.from({ length: VMS_PER_HOST }, (_, vm) => [vmUuid(0, vm),
      Array.from({ length: config.dataCollectorDataLength }, () => Math.round(rng.next() * 2600))])),
    vmsRamMb: {}, hypervisorCpuMhz: Array.from({ length: config.dataCollectorDataLength }, () => Math.round(rng.next() * 500)),
    hostCpuMhz: 32 * 2600, localManager: null,
  };
  const transport: AgentTransport = { recordSample: () => Promise.resolve(), request: () => Promise.resolve(), vmHistory: () => Promise.resolve(null) };
  const agent = new HostAgent({ host: 'compute-1', transport, settings: agentSettings(config), rng, memory });
  const hypervisor = new VirshHypervisor({ uri: config.libvirtUri, virshPath: 'virsh', procStatPath: '/proc/stat', timeoutMs: 30_000, clock: systemClock });
  await agent.collect(await hypervisor.read());
  const cpuMs: number[] = [];
  const wallMs: number[] = [];
  const stepMs: number[] = [];
  let virshMs = 0;
  for (let i = 0; i < CYCLES; i++) {
    const cpuBefore = process.cpuUsage();
    const childrenBefore = childrenCpuMs();
    const wallBefore = performance.now();
    await agent.collect(await hypervisor.read());
    const { durationMs } = await agent.step();
    wallMs.push(performance.now() - wallBefore);
    const cpu = process.cpuUsage(cpuBefore);
    cpuMs.push((cpu.user + cpu.system) / 1000);
    stepMs.push(durationMs);
    virshMs += childrenCpuMs() - childrenBefore;
  }
  for (const list of [cpuMs, wallMs, stepMs]) list.sort((a, b) => a - b);
  console.log(`One collect-and-step cycle, ${VMS_PER_HOST} running VMs (real virsh, test driver), Neat's default algorithms (MHOD) on `
    + `${config.dataCollectorDataLength}-value histories, ${CYCLES} cycles:`);
  console.log(`  this process's CPU per cycle     p50 ${formatMs(quantile(cpuMs, 0.5))}, max ${formatMs(cpuMs[cpuMs.length - 1])}`);
  console.log(`  of which the local manager step  p50 ${formatMs(quantile(stepMs, 0.5))}, max ${formatMs(stepMs[stepMs.length - 1])}`);
  console.log(`  virsh's own CPU per cycle        ${formatMs(virshMs / CYCLES)} (two virsh processes)`);
  console.log(`  wall time per cycle              p50 ${formatMs(quantile(wallMs, 0.5))}, max ${formatMs(wallMs[wallMs.length - 1])}`);
}

/** Peak RSS of a real `neat agent` process on the 100-VM host, posting to a real manager. */
async function agentRss(directory: string): Promise<void> {
  const fixture = await startFixture();
  try {
    const config = join(directory, 'agent.conf');
    writeFileSync(config, ['[DEFAULT]', `libvirt_uri = ${testUri(hostXml(directory))}`, 'agent_host_name = host-0', `global_manager_url = ${fixture.url}`,
      `agent_api_token = ${TOKEN}`, `local_data_directory = ${join(directory, 'state')}`, 'data_collector_interval = 1', 'local_manager_interval = 1',
      'os_admin_user = admin', 'os_admin_password = secret', 'log_level = 1', ''].join('\n'));
    const child = spawn(process.execPath, [BIN, 'agent', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
    const peaksKb: number[] = [];
    const endMs = Date.now() + AGENT_RUN_MS;
    while (Date.now() < endMs) {
      await new Promise((resolve) => { setTimeout(resolve, 500); });
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      peaksKb.push(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]));
    }
    child.kill('SIGTERM');
    await new Promise((resolve) => { child.on('exit', resolve); });
    console.log(`A neat agent process on that host, collecting and stepping every second for ${AGENT_RUN_MS / 1000} s:`);
    console.log(`  peak RSS                         ${(Math.max(...peaksKb) / 1024).toFixed(1)} MB`);
  } finally {
    await fixture.close();
  }
}

/** A cloud of a fixed inventory: what the manager reads at start; automation is off, so nothing asks it to act. */
function inventory(hosts: number): Cloud {
  const cloudHosts: CloudHost[] = Array.from({ length: hosts }, (_, h) => ({ name: `compute-${h}`, cpuMhz: 32 * 2600, ramMb: 512 * 1024, state: 'up', enabled: true }));
  const vms: CloudVm[] = cloudHosts.flatMap((host, h) => Array.from({ length: VMS_PER_HOST }, (_, vm) => ({
    id: vmUuid(h, vm), host: host.name, ramMb: 2048, vcpus: 1, status: 'ACTIVE' as const,
  })));
  const refuse = (): Promise<never> => Promise.reject(new CloudError('bad-request', 'the benchmark cloud does not migrate'));
  return {
    listHosts: () => Promise.resolve(cloudHosts), listVms: () => Promise.resolve(vms),
    getVm: (vmId) => Promise.resolve(vms.find((vm) => vm.id === vmId) ?? null),
    startLiveMigration: refuse, migrationStatus: refuse,
  };
}

const NO_POWER: Power = {
  suspend: () => Promise.reject(new PowerError('the benchmark does not suspend')),
  wake: () => Promise.reject(new PowerError('the benchmark does not wake')),
};

function post(agent: Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, {
      method: 'POST', agent,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
    }, (answer) => { answer.resume(); answer.on('end', () => { resolve(answer.statusCode ?? 0); }); });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

async function ingest(directory: string): Promise<void> {
  const config: ManagerConfig = {
    ...DEFAULT_CONFIG, automation: 'off', apiTokensSha256: [createHash('sha256').update(TOKEN).digest('hex')],
    computeHosts: Array.from({ length: AGENTS }, (_, h) => `compute-${h}`), apiBodyLimitBytes: 1024 * 1024,
  };
  const service = await startService({
    config, ports: {
      cloud: inventory(AGENTS), power: NO_POWER, log: new SqliteEventLog(join(directory, 'ingest.sqlite'), { groupCommit: true }),
      clock: systemClock, timer: systemTimer, ids: randomIds, rng: createRng('bench-ingest'),
    },
    listen: { host: '127.0.0.1', port: 0 }, onError: (error) => { throw error; },
  });
  const rng = createRng('bench-ingest-samples');
  const bodies = Array.from({ length: AGENTS }, (_, h) => JSON.stringify({
    host: `compute-${h}`, hypervisorCpuMhz: 300,
    vms: Array.from({ length: VMS_PER_HOST }, (_, vm) => ({ vmId: vmUuid(h, vm), cpuMhz: Math.round(rng.next() * 2600), ramMb: 2048 })),
  }));
  const keepAlive = new Agent({ keepAlive: true, maxSockets: AGENTS });
  const url = new URL('/v1/samples', service.url);
  const latenciesMs: number[][] = Array.from({ length: INGEST_ROUNDS }, () => []);
  const statuses = new Map<number, number>();
  const roundEndMs: number[] = [];
  const startMs = performance.now();
  try {
    for (let round = 0; round < INGEST_ROUNDS; round++) {
      await Promise.all(bodies.map(async (body) => {
        const before = performance.now();
        const status = await post(keepAlive, url, body);
        latenciesMs[round].push(performance.now() - before);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }));
      roundEndMs.push(performance.now());
    }
  } finally {
    keepAlive.destroy();
  }
  const steadyS = (roundEndMs[roundEndMs.length - 1] - roundEndMs[0]) / 1000;
  const steady = latenciesMs.slice(1).flat().sort((a, b) => a - b);
  const first = latenciesMs[0].sort((a, b) => a - b);
  const recorded = service.manager.dataCentre.position;
  await service.close();
  const perS = (AGENTS * (INGEST_ROUNDS - 1)) / steadyS;
  console.log(`Ingest: ${AGENTS} agents posting at once, ${VMS_PER_HOST} VMs each, ${INGEST_ROUNDS} rounds (durable SQLite log, group commit; `
    + `${recorded} events in the log, ${((performance.now() - startMs) / 1000).toFixed(1)} s in all):`);
  console.log(`  answers by status                ${[...statuses].sort().map(([s, n]) => `${s}: ${n}`).join(', ')}`);
  console.log(`  first round (opens connections)  p50 ${formatMs(quantile(first, 0.5))}, p99 ${formatMs(quantile(first, 0.99))}`);
  console.log(`  later rounds: sustained          ${perS.toFixed(0)} samples/s = ${(perS * VMS_PER_HOST).toFixed(0)} VM values/s, durable`);
  console.log(`  later rounds: latency            p50 ${formatMs(quantile(steady, 0.5))}, p99 ${formatMs(quantile(steady, 0.99))}, max ${formatMs(steady[steady.length - 1])}`);
  console.log(`  at 300 s per sample, one manager keeps up with ${Math.floor(perS * 300)} agents`);
}

async function main(): Promise<void> {
  if (!requireVirsh()) return;
  const directory = mkdtempSync(join(tmpdir(), 'neat-bench-agent-'));
  try {
    await cycle(directory);
    await agentRss(directory);
    await ingest(directory);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

void main().then(() => { process.exit(0); }, (error: unknown) => { console.error(error); process.exit(1); });
