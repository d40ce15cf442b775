/**
 * `neat agent` as a process, on the real virsh (libvirt's test driver: every
 * running domain keeps one core busy) against the real global manager over
 * loopback HTTP (the service on a simulated data centre, whose hosts are
 * host-0 … host-3).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from '../../src/log/port';
import { startFixture, TOKEN, ADMIN_PASSWORD, ADMIN_USER } from '../api/fixture';
import { freePort } from '../support/sshd';
import { BIN, Served } from '../support/served';
import { findVirsh, requireVirsh, testUri, writeNodeXml } from '../support/virsh';

const HAS_VIRSH = requireVirsh();
const maybe = HAS_VIRSH ? describe : describe.skip;

const VM_A = '6f1c0e58-0000-4000-8000-00000000000a';
const VM_B = '6f1c0e58-0000-4000-8000-00000000000b';

interface Setup {
  readonly directory: string;
  readonly config: string;
}

/** A node XML with two running domains and a neat.conf for an agent of host-0 that collects every second. */
function setup(keys: Record<string, string>): Setup {
  const directory = mkdtempSync(join(tmpdir(), 'neat-agent-'));
  const node = join(directory, 'node.xml');
  writeNodeXml(node, { cpus: 4, mhz: 2000, memoryKiB: 8 * 1024 * 1024, domains: [
    { uuid: VM_A, memoryKiB: 1024 * 1024, vcpus: 1 }, { uuid: VM_B, memoryKiB: 2048 * 1024, vcpus: 2 },
  ] });
  const settings: Record<string, string> = {
    libvirt_uri: testUri(node), agent_host_name: 'host-0', local_data_directory: join(directory, 'state'),
    data_collector_interval: '1', local_manager_interval: '1', os_admin_user: ADMIN_USER, os_admin_password: ADMIN_PASSWORD,
    agent_api_token: TOKEN, agent_request_timeout_s: '2', ...keys,
  };
  const config = join(directory, 'neat.conf');
  writeFileSync(config, `[DEFAULT]\n${Object.entries(settings).map(([key, value]) => `${key} = ${value}`).join('\n')}\n`);
  return { directory, config };
}

async function metricsOf(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return response.text();
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

async function until<T>(what: string, probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
}

async function samplesOf(log: EventLog, host: string): Promise<{ vmId: string; cpuMhz: number }[][]> {
  const events = await log.readAll(1, 10_000);
  return events.filter((e) => e.type === 'UtilizationSampled' && e.data.host === host)
    .map((e) => (e.type === 'UtilizationSampled' ? e.data.vms.map((vm) => ({ vmId: vm.vmId, cpuMhz: vm.cpuMhz })) : []));
}

maybe('neat agent (real virsh, real global manager over HTTP)', () => {
  test('--once reads the host twice, steps, and prints what it would send, sending nothing', async () => {
    const fixture = await startFixture();
    try {
      // Two busy cores of four: under an underload threshold of 0.9, unless this machine is busy (below).
      const { config } = setup({ global_manager_url: fixture.url, algorithm_underload_detection_parameters: '{"threshold": 0.9, "n": 2}' });
      const run = spawnSync(process.execPath, [BIN, 'agent', '--config', config, '--once'], { encoding: 'utf8', timeout: 30_000 });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const shown = JSON.parse(run.stdout) as {
        reading: { capacity: unknown; vms: { vmId: string; cpuMhz: number; ramMb: number }[]; hypervisorCpuMhz: number | null };
        decision: { kind: string }; wouldSend: { samples: unknown[] };
      };
      expect(shown.reading.capacity).toEqual({ cores: 4, coreMhz: 2000, ramMb: 8192 });
      expect(shown.reading.vms.map((vm) => [vm.vmId, vm.ramMb])).toEqual([[VM_A, 1024], [VM_B, 2048]]);
      // One busy core at 2000 MHz, over about a second read at 0.1 s resolution.
      for (const vm of shown.reading.vms) expect(Math.abs(vm.cpuMhz - 2000)).toBeLessThan(500);
      // The hypervisor's share is this machine's /proc/stat busy time less the VMs': other processes' load
      // (a parallel test, a helper build) can lift the host past the threshold, and then Neat says normal.
      const hostMhz = shown.reading.vms.reduce((sum, vm) => sum + vm.cpuMhz, 0) + (shown.reading.hypervisorCpuMhz ?? 0);
      expect(shown.decision.kind).toBe(hostMhz / (4 * 2000) <= 0.9 ? 'underload' : 'normal');
      expect(shown.wouldSend.samples).toHaveLength(1);
      expect(await samplesOf(fixture.log, 'host-0')).toEqual([]);
    } finally {
      await fixture.close();
    }
  });

  test('runs: samples reach the log, the state file keeps the histories, /metrics counts, SIGTERM stops it cleanly', async () => {
    const fixture = await startFixture();
    const metricsPort = await freePort();
    const { config, directory } = setup({ global_manager_url: fixture.url });
    const agent = new Served(['agent', '--config', config, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--log-format', 'json']);
    try {
      await agent.line((line) => line.event === 'started', 10_000);
      const samples = await until('three samples', async () => {
        const found = await samplesOf(fixture.log, 'host-0');
        return found.length >= 3 ? found : null;
      }, 15_000);
      for (const sample of samples) expect(sample.map((vm) => vm.vmId)).toEqual([VM_A, VM_B]);
      const text = await metricsOf(metricsPort);
      expect(metric(text, 'neat_agent_samples_total{result="sent"}')).toBeGreaterThanOrEqual(3);
      expect(metric(text, 'neat_agent_vms')).toBe(2);
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toEqual({ code: 0, signal: null });
      const state = JSON.parse(readFileSync(join(directory, 'state', 'agent-state.json'), 'utf8')) as { host: string; memory: { vmsCpuMhz: Record<string, number[]> } };
      expect(state.host).toBe('host-0');
      expect(state.memory.vmsCpuMhz[VM_A].length).toBeGreaterThanOrEqual(3);
    } finally {
      agent.child.kill('SIGKILL');
      await fixture.close();
    }
  });

  test('the global manager down, then back: samples wait and none is lost within the buffer', async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const { config } = setup({ global_manager_url: `http://127.0.0.1:${port}` });
    const agent = new Served(['agent', '--config', config, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--log-format', 'json']);
    try {
      await agent.line((line) => line.event === 'manager-unreachable', 15_000);
      await until('three samples waiting', async () => (metric(await metricsOf(metricsPort), 'neat_agent_samples_waiting') >= 3 ? true : null), 15_000);
      const fixture = await startFixture({ port });
      try {
        const text = await until('the buffer emptied', async () => {
          const now = await metricsOf(metricsPort);
          return metric(now, 'neat_agent_samples_waiting') === 0 ? now : null;
        }, 20_000);
        const sent = metric(text, 'neat_agent_samples_total{result="sent"}');
        expect(sent).toBeGreaterThanOrEqual(3);
        expect(metric(text, 'neat_agent_samples_total{result="dropped"}')).toBe(0);
        expect(metric(text, 'neat_agent_send_failures_total')).toBeGreaterThanOrEqual(1);
        // Every sample it sent is in the log, those that waited included; later ones may have come since.
        expect((await samplesOf(fixture.log, 'host-0')).length).toBeGreaterThanOrEqual(sent);
      } finally {
        await fixture.close();
      }
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  test('a wrong token stops the agent with an error naming agent_api_token (403), and so does none (401)', async () => {
    const fixture = await startFixture();
    try {
      for (const [token, status] of [['not-the-token', 403], ['', 401]] as const) {
        const { config } = setup({ global_manager_url: fixture.url, agent_api_token: token });
        const agent = new Served(['agent', '--config', config, '--log-format', 'json']);
        let timer: NodeJS.Timeout | undefined;
        const exit = await Promise.race([agent.exited, new Promise((resolve) => { timer = setTimeout(resolve, 20_000, 'hung'); })]);
        clearTimeout(timer);
        agent.child.kill('SIGKILL');
        expect(exit).toEqual({ code: 1, signal: null });
        expect(agent.stdout).toMatch(new RegExp(`refused the bearer token of (POST /v1/samples|GET /v1/vms) \\(${status}: .*\\); check agent_api_token in the configuration`));
      }
    } finally {
      await fixture.close();
    }
  });

  test("a sample the manager refuses (400) is logged with the manager's message and dropped, not retried; the agent goes on", async () => {
    const fixture = await startFixture();
    const metricsPort = await freePort();
    const { config } = setup({ global_manager_url: fixture.url, agent_host_name: 'h'.repeat(300) });
    const agent = new Served(['agent', '--config', config, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--log-format', 'json']);
    try {
      const refused = await agent.line((line) => line.event === 'sample-refused', 15_000);
      expect(refused).toMatchObject({ level: 40, status: 400 });
      expect(String(refused.msg)).toMatch(/refused a sample of h+ \(400\): .*host/);
      await until('two refused', async () => (metric(await metricsOf(metricsPort), 'neat_agent_samples_total{result="refused"}') >= 2 ? true : null), 15_000);
      expect(metric(await metricsOf(metricsPort), 'neat_agent_send_failures_total')).toBe(0);
      expect(agent.child.exitCode).toBeNull();
    } finally {
      agent.child.kill('SIGKILL');
      await fixture.close();
    }
  });

  test('libvirt missing, unreachable or answering garbage: each reading is skipped with a named error, counted, and the agent goes on', async () => {
    const fixture = await startFixture();
    const metricsPort = await freePort();
    const { config, directory } = setup({ global_manager_url: fixture.url });
    // The one stand-in: a real virsh cannot be made to print garbage. It does so while a flag file exists, then runs the real one.
    const bin = join(directory, 'bin');
    const flag = join(directory, 'garbage');
    writeFileSync(flag, '');
    mkdirSync(bin);
    writeFileSync(join(bin, 'virsh'), `#!/bin/sh\nif [ -e ${flag} ]; then echo 'CPU(s): lots'; echo '%%%'; exit 0; fi\nexec ${findVirsh()} "$@"\n`);
    chmodSync(join(bin, 'virsh'), 0o755);
    const agent = new Served(['agent', '--config', config, '--metrics-listen', `127.0.0.1:${metricsPort}`, '--log-format', 'json'],
      { PATH: `${bin}:${process.env.PATH ?? ''}` });
    try {
      const failed = await agent.line((line) => line.event === 'read-failed', 15_000);
      expect(failed).toMatchObject({ kind: 'malformed', level: 50 });
      rmSync(flag);
      await until('a sample after the garbage', async () => ((await samplesOf(fixture.log, 'host-0')).length >= 1 ? true : null), 15_000);
      expect(metric(await metricsOf(metricsPort), 'neat_agent_read_errors_total{kind="malformed"}')).toBeGreaterThanOrEqual(1);
    } finally {
      agent.child.kill('SIGKILL');
      await fixture.close();
    }
    // Missing and unreachable, through --once, which exits non-zero naming the cause.
    const noVirsh = join(directory, 'empty');
    mkdirSync(noVirsh);
    symlinkSync(process.execPath, join(noVirsh, 'node'));
    const missing = spawnSync(process.execPath, [BIN, 'agent', '--config', config, '--once'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PATH: noVirsh } });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/libvirt could not be read \(unavailable\): .*virsh not found; install libvirt-clients/);
    const wrongUri = spawnSync(process.execPath, [BIN, 'agent', '--config', config, '--once'], {
      encoding: 'utf8', timeout: 30_000, env: { ...process.env, NEAT_LIBVIRT_URI: 'test:///nonexistent/node.xml' },
    });
    expect(wrongUri.status).toBe(1);
    expect(wrongUri.stderr).toMatch(/libvirt could not be read \(connect\): .*test:\/\/\/nonexistent\/node\.xml/);
    expect(existsSync(join(directory, 'state', 'agent-state.json'))).toBe(true);
  });
});
