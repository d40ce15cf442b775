/**
 * The `prometheus` sample source against Debian's real Prometheus, scraping
 * a target served here (counters of chosen values at chosen timestamps) and,
 * when it runs, Debian's libvirt exporter on libvirt's test driver.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG } from '../../src/config';
import type { ManagerConfig } from '../../src/config';
import type { EventData } from '../../src/events/catalogue';
import { openPrometheus } from '../../src/sources/prometheus';
import { SourceError } from '../../src/sources/port';
import type { SampleSource, SourceReading } from '../../src/sources/port';
import { World } from '../managers/harness';
import { prerequisite } from '../support/prerequisite';
import { libvirtExposition, prometheusPresent, queryUntil, serveTarget, startPrometheus } from '../support/prometheus';
import type { ExposedVm, RunningPrometheus, ServedTarget } from '../support/prometheus';
import { freePort } from '../support/sshd';
import { testUri, writeNodeXml } from '../support/virsh';

const EXPORTER = '/usr/bin/prometheus-libvirt-exporter';
const HAVE_PROMETHEUS = prometheusPresent();
const HAVE_EXPORTER = HAVE_PROMETHEUS && prerequisite('prometheus-libvirt-exporter (Debian\'s)',
  spawnSync(EXPORTER, ['--help'], { stdio: 'ignore' }).status === 0, 'apt-get install prometheus-libvirt-exporter');
const describeWithPrometheus = HAVE_PROMETHEUS ? describe : describe.skip;
const describeWithExporter = HAVE_EXPORTER ? describe : describe.skip;

jest.setTimeout(60_000);

const CPU = 'libvirt_domain_info_cpu_time_seconds_total';
const MB = 1024 * 1024;

function configFor(url: string, overrides: Partial<ManagerConfig> = {}): ManagerConfig {
  return {
    ...DEFAULT_CONFIG, samplesSource: 'prometheus', prometheusUrl: url, prometheusHostLabel: 'host',
    dataCollectorIntervalS: 60, novaVcpuMhz: 2000, ...overrides,
  };
}

async function errorOf(source: SampleSource): Promise<SourceError> {
  try {
    await source.poll(() => null);
  } catch (error) {
    if (error instanceof SourceError) return error;
    throw error;
  }
  throw new Error('expected a SourceError');
}

/** Sets what the target exposes and waits until Prometheus holds it: every VM's newest sample is the one exposed. */
async function expose(prometheus: RunningPrometheus, target: ServedTarget, vms: readonly ExposedVm[]): Promise<void> {
  target.exposition = libvirtExposition(vms);
  await queryUntil(prometheus.url, CPU, (result) => {
    const byUuid = new Map(result.map((r) => [r.metric.uuid, r.value[1]]));
    return vms.every((vm) => byUuid.get(vm.uuid) === String(vm.cpuTimeS)) ? true : null;
  });
}

function byHost(reading: SourceReading): Record<string, EventData<'UtilizationSampled'>['vms']> {
  return Object.fromEntries(reading.samples.map((s) => [s.host, s.vms]));
}

describeWithPrometheus('prometheus source, on a target of chosen counters', () => {
  let prometheus: RunningPrometheus;
  let target: ServedTarget;
  /** Sample times a little in the past, each poll's 10 s after the previous one's: within the 60 s interval, never in the future. */
  let baseMs: number;

  beforeAll(async () => {
    target = await serveTarget();
    prometheus = await startPrometheus([{ name: 'libvirt', targets: [target.address], honorLabels: true }]);
  });
  afterAll(async () => {
    await prometheus.stop();
    await target.close();
  });
  beforeEach(() => {
    baseMs = Math.floor(Date.now() / 1000) * 1000 - 40_000;
  });

  test("MHz are Neat's over the samples' own times; a VM first seen has none; a counter that went back reuses the previous MHz, named", async () => {
    const source = openPrometheus(configFor(prometheus.url));
    const a = 'a0000000-0000-4000-8000-000000000001';
    const b = 'a0000000-0000-4000-8000-000000000002';
    await expose(prometheus, target, [
      { uuid: a, host: 'compute-1', cpuTimeS: 100, atMs: baseMs, maxMemoryBytes: 2048 * MB },
      { uuid: b, host: 'compute-2', cpuTimeS: 7, atMs: baseMs },
    ]);
    expect(await source.poll(() => null)).toEqual({ samples: [], problems: [] });
    // 5 s and 2.5 s of CPU over 10 s at 2000 MHz a core: 1000 and 500 MHz.
    await expose(prometheus, target, [
      { uuid: a, host: 'compute-1', cpuTimeS: 105, atMs: baseMs + 10_000, maxMemoryBytes: 2048 * MB },
      { uuid: b, host: 'compute-2', cpuTimeS: 9.5, atMs: baseMs + 10_000 },
    ]);
    const second = await source.poll(() => null);
    expect(second.problems).toEqual([]);
    expect(byHost(second)).toEqual({
      'compute-1': [{ vmId: a, cpuMhz: 1000, ramMb: 2048 }],
      'compute-2': [{ vmId: b, cpuMhz: 500, ramMb: null }],
    });
    expect(second.samples.every((s) => s.hypervisorCpuMhz === 0)).toBe(true);
    // a restarted (counter 1 s); b 3 s of CPU over 20 s: 300 MHz.
    await expose(prometheus, target, [
      { uuid: a, host: 'compute-1', cpuTimeS: 1, atMs: baseMs + 30_000, maxMemoryBytes: 2048 * MB },
      { uuid: b, host: 'compute-2', cpuTimeS: 12.5, atMs: baseMs + 30_000 },
    ]);
    const third = await source.poll(() => null);
    expect(byHost(third)).toEqual({
      'compute-1': [{ vmId: a, cpuMhz: 1000, ramMb: 2048 }],
      'compute-2': [{ vmId: b, cpuMhz: 300, ramMb: null }],
    });
    expect(third.problems).toEqual([{ subject: a, problem: expect.stringMatching(/went back \(105 → 1 s\): counter reset, previous MHz reused/) as string }]);
    await source.close();
  });

  test('a series missing for one VM, a NaN and a stale sample are problems named per VM; the others are read', async () => {
    const source = openPrometheus(configFor(prometheus.url));
    const [fine, gone, nan, stale] = ['b1', 'b2', 'b3', 'b4'].map((p) => `${p}000000-0000-4000-8000-000000000000`);
    // `gone` without a timestamp: Prometheus marks it stale as soon as the target stops exposing it.
    await expose(prometheus, target, [
      { uuid: fine, host: 'compute-1', cpuTimeS: 10, atMs: baseMs },
      { uuid: gone, host: 'compute-1', cpuTimeS: 10 },
      { uuid: nan, host: 'compute-2', cpuTimeS: 10, atMs: baseMs },
    ]);
    await source.poll(() => null);
    await expose(prometheus, target, [
      { uuid: fine, host: 'compute-1', cpuTimeS: 15, atMs: baseMs + 10_000 },
      { uuid: nan, host: 'compute-2', cpuTimeS: NaN, atMs: baseMs + 10_000 },
      { uuid: stale, host: 'compute-2', cpuTimeS: 10, atMs: baseMs - 30_000 },
    ]);
    await queryUntil(prometheus.url, `${CPU}{uuid="${gone}"}`, (result) => (result.length === 0 ? true : null));
    const reading = await source.poll(() => null);
    expect(byHost(reading)).toEqual({ 'compute-1': [{ vmId: fine, cpuMhz: 1000, ramMb: null }] });
    expect(reading.problems).toEqual(expect.arrayContaining([
      { subject: gone, problem: expect.stringMatching(/no libvirt_domain_info_cpu_time_seconds_total series any more/) as string },
      { subject: nan, problem: expect.stringMatching(/is NaN/) as string },
      { subject: stale, problem: expect.stringMatching(/stale: compute-2's last sample is \d+ s old, more than data_collector_interval \(60 s\)/) as string },
    ]));
    expect(reading.problems).toHaveLength(3);
    await source.close();
  });

  test("the global manager decides from prometheus as from the same MHz posted as samples", async () => {
    // Placement [1, 1, 3, 3]: host-1 runs vm-0 and vm-1, host-3 vm-2 and vm-3.
    const mhz: Record<string, number> = { 'vm-0': 300, 'vm-1': 200, 'vm-2': 1000, 'vm-3': 800 };
    const hostOf: Record<string, string> = { 'vm-0': 'host-1', 'vm-1': 'host-1', 'vm-2': 'host-3', 'vm-3': 'host-3' };
    const vms = (atMs: number, scale: number): ExposedVm[] => Object.keys(mhz).map((id) => ({
      uuid: id, host: hostOf[id], atMs, cpuTimeS: 50 + scale * mhz[id] / 2000,
    }));
    const source = openPrometheus(configFor(prometheus.url));
    await expose(prometheus, target, vms(baseMs, 0));
    await source.poll(() => null);
    // 10 s later, each VM's MHz × 10 s / 2000 MHz of CPU time more.
    await expose(prometheus, target, vms(baseMs + 10_000, 10));
    // The earlier tests' series are still in Prometheus (within its 5 min lookback): only this test's VMs and hosts count.
    const reading = await source.poll(() => null);
    expect(reading.problems.filter((p) => Object.hasOwn(mhz, p.subject))).toEqual([]);
    const samples = reading.samples.filter((sample) => sample.host.startsWith('host-'));
    await source.close();

    const decide = async (feed: (world: World) => Promise<void>): Promise<unknown> => {
      const world = new World({ hosts: 4, placement: [1, 1, 3, 3] });
      await feed(world);
      const requestId = await world.request('host-1', 'underload');
      await world.settle();
      return (await world.eventsOf(requestId)).filter((e) => e.type === 'PlacementDecided').map((e) => e.data);
    };
    const posted = await decide((world) => world.start(mhz));
    const fromPrometheus = await decide(async (world) => {
      await world.run(world.manager.start());
      for (const sample of [...samples].sort((x, y) => x.host.localeCompare(y.host))) await world.run(world.manager.recordSample(sample));
    });
    expect(fromPrometheus).toEqual(posted);
    expect(posted).toEqual([expect.objectContaining({ mapping: { 'vm-0': 'host-3', 'vm-1': 'host-3' } })]);
  });
});

describeWithPrometheus('prometheus source, when Prometheus fails or refuses', () => {
  let prometheus: RunningPrometheus;
  let target: ServedTarget;

  beforeAll(async () => {
    target = await serveTarget(libvirtExposition([{ uuid: 'c0000000-0000-4000-8000-000000000001', host: 'compute-1', cpuTimeS: 1 }]));
    prometheus = await startPrometheus([{ name: 'libvirt', targets: [target.address], honorLabels: true }]);
  });
  afterAll(async () => {
    await prometheus.stop();
    await target.close();
  });

  test('Prometheus down: unreachable', async () => {
    const port = await freePort();
    const error = await errorOf(openPrometheus(configFor(`http://127.0.0.1:${port}`)));
    expect(error.kind).toBe('unreachable');
    expect(error.message).toMatch(/ECONNREFUSED/);
  });

  test('an answer later than prometheus_timeout_s: timeout', async () => {
    const stalled = await serveTarget('{}');
    stalled.stallMs = 2_000;
    const error = await errorOf(openPrometheus(configFor(`http://${stalled.address}`, { prometheusTimeoutS: 0.2 })));
    expect(error.kind).toBe('timeout');
    await stalled.close();
  });

  test("an answer that is not Prometheus' JSON, or its status error: malformed, with Prometheus' error text", async () => {
    const notJson = await serveTarget('<html>proxy</html>');
    expect((await errorOf(openPrometheus(configFor(`http://${notJson.address}`)))).message).toMatch(/not JSON: "<html>proxy<\/html>"/);
    notJson.exposition = JSON.stringify({ status: 'error', errorType: 'bad_data', error: '1:1: parse error: unexpected end of input' });
    const refused = await errorOf(openPrometheus(configFor(`http://${notJson.address}`)));
    expect(refused).toMatchObject({ kind: 'malformed', message: 'Prometheus refused the query (bad_data): 1:1: parse error: unexpected end of input' });
    await notJson.close();
  });

  /** A proxy in front of Prometheus that lets through the requests `allowed` says yes to, and answers 401 to the others. */
  async function guard(allowed: (request: IncomingMessage) => boolean): Promise<{ url: string; close: () => Promise<void> }> {
    const upstream = new URL(prometheus.url);
    const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
      if (!allowed(request)) {
        response.writeHead(401, { 'content-type': 'text/plain' });
        response.end('no');
        return;
      }
      const forwarded = httpRequest({ host: upstream.hostname, port: upstream.port, path: request.url, method: request.method }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      forwarded.end();
    });
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => { await new Promise<void>((resolve) => { server.close(() => { resolve(); }); }); },
    };
  }

  test('a bearer token refused: unauthorised; accepted: read', async () => {
    const proxy = await guard((request) => request.headers.authorization === 'Bearer right');
    expect((await errorOf(openPrometheus(configFor(proxy.url, { prometheusToken: 'wrong' })))).kind).toBe('unauthorised');
    expect((await openPrometheus(configFor(proxy.url, { prometheusToken: 'right' })).poll(() => null)).problems).toEqual([]);
    const basic = `Basic ${Buffer.from('neat:secret').toString('base64')}`;
    const basicProxy = await guard((request) => request.headers.authorization === basic);
    expect((await openPrometheus(configFor(basicProxy.url, { prometheusUsername: 'neat', prometheusPassword: 'secret' })).poll(() => null)).problems).toEqual([]);
    await proxy.close();
    await basicProxy.close();
  });

  test("Aetos: the Keystone session's token as X-Auth-Token; a token refused is invalidated, and the next try takes a new one", async () => {
    const proxy = await guard((request) => request.headers['x-auth-token'] === 'token-2');
    let issued = 0;
    const invalidated: string[] = [];
    const keystone = {
      current: () => Promise.resolve({ id: `token-${issued === 0 || invalidated.length > 0 ? ++issued : issued}`, expiresAtMs: Infinity, computeUrl: '' }),
      invalidate: (id: string) => { invalidated.push(id); },
    };
    const source = openPrometheus(configFor(proxy.url, { prometheusAuth: 'keystone' }), { keystone });
    expect((await errorOf(source)).kind).toBe('unauthorised');
    expect(invalidated).toEqual(['token-1']);
    expect((await source.poll(() => null)).problems).toEqual([]);
    await proxy.close();
  });
});

describeWithExporter("Debian's prometheus-libvirt-exporter on libvirt's test driver", () => {
  let prometheus: RunningPrometheus;
  let exporter: ChildProcess;
  let directory: string;
  const uuid = 'd0000000-0000-4000-8000-000000000001';

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'neat-exporter-'));
    const nodeFile = join(directory, 'node.xml');
    writeNodeXml(nodeFile, { cpus: 4, mhz: 2400, memoryKiB: 8 * 1024 * 1024, domains: [{ uuid, memoryKiB: 1024 * 1024, vcpus: 2 }] });
    const port = await freePort();
    exporter = spawn(EXPORTER, [`--libvirt.uri=${testUri(nodeFile)}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    prometheus = await startPrometheus([{ name: 'libvirt', targets: [`127.0.0.1:${port}`] }]);
  });
  afterAll(async () => {
    await prometheus.stop();
    exporter.kill('SIGTERM');
    rmSync(directory, { recursive: true, force: true });
  });

  test("its series read as the test driver's domain: one core kept busy (the test driver's CPU time is the wall clock), max memory, host from instance", async () => {
    const source = openPrometheus({ ...DEFAULT_CONFIG, samplesSource: 'prometheus', prometheusUrl: prometheus.url, dataCollectorIntervalS: 60, novaVcpuMhz: 2000 });
    const sampledAt = async (): Promise<number> => queryUntil(prometheus.url, `timestamp(${CPU})`, (result) => (result.length === 1 ? result[0].value[1] : null)).then(Number);
    const first = await sampledAt();
    await source.poll(() => null);
    await queryUntil(prometheus.url, `timestamp(${CPU})`, (result) => (result.length === 1 && Number(result[0].value[1]) >= first + 2 ? true : null));
    const reading = await source.poll(() => null);
    expect(reading.problems).toEqual([]);
    expect(reading.samples).toHaveLength(1);
    const [sample] = reading.samples;
    expect(sample.host).toBe('127.0.0.1');
    expect(sample.vms).toHaveLength(1);
    expect(sample.vms[0]).toMatchObject({ vmId: uuid, ramMb: 1024 });
    // The CPU time is read a moment after the scrape's timestamp, a moment that varies: within 5 % of one core.
    expect(Math.abs(sample.vms[0].cpuMhz - 2000)).toBeLessThan(100);
  });
});
