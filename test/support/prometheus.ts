/**
 * Debian's `prometheus` for tests: one server per test file, scraping the
 * targets given every second, its storage in a temporary directory. And a
 * target served by the test itself, whose exposition the test rewrites, for
 * counters of chosen values at chosen timestamps (Prometheus keeps a
 * target's own timestamps: `honor_timestamps` is on by default), with the
 * target's labels kept as written (`honor_labels`), so that one target can
 * stand for many hosts.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prerequisite } from './prerequisite';
import { stopProcess } from './process';
import { freePort } from './sshd';

export const PROMETHEUS_BINARY = '/usr/bin/prometheus';
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const POLL_MS = 100;

/** Whether Debian's prometheus is here; a loud skip otherwise (a failure on CI). */
export function prometheusPresent(): boolean {
  const present = spawnSync(PROMETHEUS_BINARY, ['--version'], { stdio: 'ignore' }).status === 0;
  return prerequisite('prometheus (Debian\'s server)', present, 'apt-get install prometheus');
}

export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  stop(): Promise<void>;
}

export interface ScrapeJob {
  readonly name: string;
  /** `host:port` of each target. */
  readonly targets: readonly string[];
  /** Keep the target's own labels over Prometheus' (`instance`, `job`): for a target standing for many hosts. */
  readonly honorLabels?: boolean;
}

function scrapeConfig(jobs: readonly ScrapeJob[]): string {
  return [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    ...jobs.flatMap((job) => [
      `  - job_name: ${JSON.stringify(job.name)}`,
      `    honor_labels: ${job.honorLabels === true}`,
      '    static_configs:',
      `      - targets: ${JSON.stringify(job.targets)}`,
    ]),
    '',
  ].join('\n');
}

async function sleep(durationMs: number): Promise<void> {
  await new Promise((resolve) => { setTimeout(resolve, durationMs); });
}

/** Starts prometheus scraping `jobs` every second; resolves once `/-/ready` says so. */
export async function startPrometheus(jobs: readonly ScrapeJob[]): Promise<RunningPrometheus> {
  const directory = mkdtempSync(join(tmpdir(), 'neat-prometheus-'));
  const configFile = join(directory, 'prometheus.yml');
  writeFileSync(configFile, scrapeConfig(jobs));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(PROMETHEUS_BINARY, [
    `--config.file=${configFile}`, `--storage.tsdb.path=${join(directory, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4000); });
  const stop = async (): Promise<void> => {
    await stopProcess(child, STOP_TIMEOUT_MS);
    rmSync(directory, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${child.exitCode}) before it was ready: ${stderr}`);
    }
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ready) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within ${READY_TIMEOUT_MS} ms: ${stderr}`);
    }
    await sleep(POLL_MS);
  }
}

/** A value of Prometheus' API for `query`, polled until `accept` takes it (the next scrape has come). */
export async function queryUntil<T>(
  prometheusUrl: string, query: string, accept: (result: { metric: Record<string, string>; value: [number, string] }[]) => T | null,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`);
    const body = await response.json() as { data?: { result?: { metric: Record<string, string>; value: [number, string] }[] } };
    const accepted = accept(body.data?.result ?? []);
    if (accepted !== null) return accepted;
    if (Date.now() > deadline) throw new Error(`${query}: no acceptable answer within ${timeoutMs} ms; last: ${JSON.stringify(body).slice(0, 1000)}`);
    await sleep(POLL_MS);
  }
}

/** A scrape target on 127.0.0.1 whose `/metrics` text the test sets. */
export interface ServedTarget {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  exposition: string;
  /** Each `/metrics` waits this long first: a stalled exporter, or a stalled Prometheus behind a proxy. */
  stallMs: number;
  close(): Promise<void>;
}

export async function serveTarget(exposition = ''): Promise<ServedTarget> {
  const target: { exposition: string; stallMs: number } = { exposition, stallMs: 0 };
  const server: Server = createServer((_request, response) => {
    setTimeout(() => {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end(target.exposition);
    }, target.stallMs);
  });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address() as AddressInfo;
  return Object.assign(target, {
    address: `127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => { server.close(() => { resolve(); }); });
    },
  });
}

export interface ExposedVm {
  readonly uuid: string;
  readonly host: string;
  readonly cpuTimeS: number;
  /** When the value was read, ms since the epoch: Prometheus keeps it as the sample's time. None: the scrape's time, and the series goes stale as soon as it is no longer exposed. */
  readonly atMs?: number;
  readonly maxMemoryBytes?: number;
}

/** The libvirt exporter's series for `vms`, with a `host` label of ours and the given timestamps. */
export function libvirtExposition(vms: readonly ExposedVm[]): string {
  const labels = (vm: ExposedVm): string => `{domain="instance-${vm.uuid}",uuid="${vm.uuid}",host="${vm.host}"}`;
  const at = (vm: ExposedVm): string => (vm.atMs === undefined ? '' : ` ${vm.atMs}`);
  return [
    '# TYPE libvirt_domain_info_cpu_time_seconds_total counter',
    ...vms.map((vm) => `libvirt_domain_info_cpu_time_seconds_total${labels(vm)} ${vm.cpuTimeS}${at(vm)}`),
    '# TYPE libvirt_domain_info_maximum_memory_bytes gauge',
    ...vms.filter((vm) => vm.maxMemoryBytes !== undefined).map((vm) => `libvirt_domain_info_maximum_memory_bytes${labels(vm)} ${vm.maxMemoryBytes}${at(vm)}`),
    '',
  ].join('\n');
}
