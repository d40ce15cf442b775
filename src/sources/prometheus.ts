/**
 * Utilisation from Prometheus (`samples_source = prometheus`), as scraped
 * from Debian's `prometheus-libvirt-exporter` (Kumina's) on each compute
 * host: `libvirt_domain_info_cpu_time_seconds_total{domain, uuid}`,
 * `libvirt_domain_info_maximum_memory_bytes` and `libvirt_domain_state_code`,
 * the host in the scrape target's `instance` label. Aetos (Keystone in front
 * of Prometheus' own API, which Watcher uses) is the same API with an
 * `X-Auth-Token`.
 *
 * Each poll is one instant query: the CPU-time counters, their samples' own
 * timestamps (an instant query stamps every value with the evaluation time,
 * not the scrape time, which would be off by up to a scrape interval),
 * maximum memory and run state, each part tagged with a label of ours so
 * that PromQL's `or` (which matches label sets without the metric name)
 * keeps them all. Counters become MHz with Neat's arithmetic over the time
 * between this poll's sample and the previous poll's, one core's MHz being
 * `nova_vcpu_mhz`: the exporter exports nothing about the host's CPUs, and
 * the manager counts a host's capacity as vCPUs × `nova_vcpu_mhz`, so a VM
 * keeping one vCPU busy reads as one vCPU's share of that capacity.
 */
import { performance } from 'node:perf_hooks';
import { calculateCpuMhz } from '../agent/counters';
import type { ManagerConfig } from '../config';
import { ConfigError } from '../config';
import { assert } from '../engine/assert';
import type { EventData } from '../events/catalogue';
import { exchange, TransportError } from '../drivers/http';
import type { HttpAnswer } from '../drivers/http';
import { AuthError } from '../drivers/keystone';
import { caBundle } from '../drivers/production';
import type { KeystoneSession } from '../drivers/keystone';
import type { SampleSource, SourceReading } from './port';
import { SourceError } from './port';

export const CPU_TIME_METRIC = 'libvirt_domain_info_cpu_time_seconds_total';
export const MAX_MEMORY_METRIC = 'libvirt_domain_info_maximum_memory_bytes';
export const STATE_METRIC = 'libvirt_domain_state_code';
/** virDomainState: the agent, as Neat, leaves out a VM that is not running (one migrating in). */
const RUNNING = 1;
/** Our label on each part of the query. */
const PART_LABEL = 'neat_part';
type Part = 'cpu' | 'cpu_timestamp' | 'ram' | 'state';
const BYTES_PER_MB = 1024 * 1024;
const NS_PER_S = 1e9;
/** Problems named per poll: thousands of stale series are one story, told by its first lines. */
const PROBLEMS_LIMIT = 1000;
/** A reply larger than this many series is not one data centre's (1,000 hosts × 10 VMs × 4 parts is 40,000). */
const SERIES_LIMIT = 1_000_000;

/** The one query of a poll: every part tagged, so that `or` keeps them all. */
export function pollQuery(): string {
  const tagged = (expression: string, part: Part): string => `label_replace(${expression}, "${PART_LABEL}", "${part}", "", "")`;
  return [
    tagged(CPU_TIME_METRIC, 'cpu'),
    tagged(`timestamp(${CPU_TIME_METRIC})`, 'cpu_timestamp'),
    tagged(MAX_MEMORY_METRIC, 'ram'),
    tagged(STATE_METRIC, 'state'),
  ].join(' or ');
}

interface Series {
  readonly metric: Readonly<Record<string, string>>;
  /** When the query was evaluated, s. */
  readonly evaluatedS: number;
  readonly value: number;
}

function malformed(what: string): SourceError {
  return new SourceError('malformed', `not an answer of Prometheus' query API: ${what}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `data.result` of a vector answer; `status: error` and anything else not Prometheus' JSON are malformed. */
export function parseVector(text: string): Series[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw malformed(`not JSON: ${JSON.stringify(text.slice(0, 120))}`);
  }
  if (!isRecord(body)) throw malformed('not a JSON object');
  if (body.status === 'error') {
    throw new SourceError(body.errorType === 'timeout' ? 'timeout' : 'malformed',
      `Prometheus refused the query (${String(body.errorType)}): ${String(body.error)}`);
  }
  if (body.status !== 'success' || !isRecord(body.data)) throw malformed(`status ${JSON.stringify(body.status)}, or no data`);
  if (body.data.resultType !== 'vector') throw malformed(`resultType ${JSON.stringify(body.data.resultType)}, not vector`);
  const result = body.data.result;
  if (!Array.isArray(result)) throw malformed('data.result is not an array');
  if (result.length > SERIES_LIMIT) throw malformed(`${result.length} series, more than ${SERIES_LIMIT}`);
  return result.map((element: unknown, index): Series => {
    if (!isRecord(element) || !isRecord(element.metric) || !Array.isArray(element.value) || element.value.length !== 2) {
      throw malformed(`result ${index} is not {metric, value: [time, "value"]}`);
    }
    const [evaluatedS, value] = element.value as unknown[];
    if (typeof evaluatedS !== 'number' || typeof value !== 'string') throw malformed(`result ${index}'s value is not [time, "value"]`);
    const labels: Record<string, string> = {};
    for (const [name, label] of Object.entries(element.metric)) {
      if (typeof label !== 'string') throw malformed(`result ${index}'s label ${name} is not a string`);
      labels[name] = label;
    }
    // Prometheus writes NaN and the infinities as "NaN", "+Inf", "-Inf"; Number() reads "NaN" as NaN too.
    return { metric: labels, evaluatedS, value: value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value) };
  });
}

/** One VM as one poll read it. */
interface VmRead {
  readonly host: string;
  cpuTimeS: number | null;
  sampledAtS: number | null;
  ramMb: number | null;
  running: boolean;
}

/** What the previous polls left for one VM: its counter, and its MHz for a counter reset. */
interface VmBaseline {
  readonly cpuTimeS: number;
  readonly sampledAtS: number;
  readonly cpuMhz: number | null;
}

export interface PrometheusOptions {
  /** The Nova driver's session, for `prometheus_auth = keystone` (Aetos). */
  readonly keystone?: Pick<KeystoneSession, 'current' | 'invalidate'>;
}

class PrometheusSource implements SampleSource {
  readonly description: string;
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly ca: Buffer | null;
  private baselines = new Map<string, VmBaseline>();

  constructor(private readonly config: ManagerConfig, private readonly options: PrometheusOptions) {
    if (config.prometheusUrl === null) throw new ConfigError('prometheus_url', 'must be set for samples_source = prometheus');
    assert(config.prometheusAuth !== 'keystone' || options.keystone !== undefined, 'prometheus_auth = keystone needs the Keystone session');
    this.description = `prometheus at ${config.prometheusUrl}`;
    this.url = new URL(`${config.prometheusUrl}/api/v1/query`);
    this.url.searchParams.set('query', pollQuery());
    this.timeoutMs = config.prometheusTimeoutS * 1000;
    // Aetos sits in the cloud behind the same CAs as Keystone and Nova: `nova_ca_bundle` serves it too.
    this.ca = caBundle(config);
  }

  async poll(): Promise<SourceReading> {
    const answer = await this.query();
    return this.read(parseVector(answer.text));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private async headers(): Promise<{ headers: Record<string, string>; keystoneToken: string | null }> {
    const { config } = this;
    if (config.prometheusAuth === 'keystone') {
      try {
        const token = await this.options.keystone!.current();
        return { headers: { 'x-auth-token': token.id }, keystoneToken: token.id };
      } catch (error) {
        if (error instanceof AuthError) throw new SourceError('unauthorised', `Keystone: ${error.message}`);
        if (error instanceof TransportError) throw new SourceError('unreachable', `Keystone: ${error.message}`);
        throw error;
      }
    }
    if (config.prometheusToken !== null) return { headers: { authorization: `Bearer ${config.prometheusToken}` }, keystoneToken: null };
    if (config.prometheusUsername !== null && config.prometheusPassword !== null) {
      const basic = Buffer.from(`${config.prometheusUsername}:${config.prometheusPassword}`).toString('base64');
      return { headers: { authorization: `Basic ${basic}` }, keystoneToken: null };
    }
    return { headers: {}, keystoneToken: null };
  }

  private async query(): Promise<HttpAnswer> {
    const { headers, keystoneToken } = await this.headers();
    const startedMs = performance.now();
    let answer: HttpAnswer;
    try {
      answer = await exchange({ method: 'GET', url: this.url, headers, timeoutMs: this.timeoutMs, ca: this.ca });
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      const timedOut = performance.now() - startedMs >= this.timeoutMs;
      throw new SourceError(timedOut ? 'timeout' : 'unreachable', error.message);
    }
    if (answer.status === 401 || answer.status === 403) {
      // A revoked Keystone token: the next try authenticates afresh.
      if (keystoneToken !== null) this.options.keystone!.invalidate(keystoneToken);
      throw new SourceError('unauthorised', `${this.description} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
    }
    // Prometheus answers its own errors as JSON with 400, 422 or 503; a proxy in front answers 502 or 504 when Prometheus is down.
    if (answer.status === 502 || answer.status === 504) throw new SourceError('unreachable', `${this.description} answered ${answer.status}`);
    if (answer.status !== 200 && !/^application\/json/.test(answer.headers['content-type'] ?? '')) {
      throw malformed(`HTTP ${answer.status}: ${answer.text.slice(0, 200)}`);
    }
    return answer;
  }

  /** Series → per-VM reads → MHz against the baselines, which this poll replaces. */
  private read(series: readonly Series[]): SourceReading {
    const problems: { subject: string; problem: string }[] = [];
    const problem = (subject: string, what: string): void => {
      if (problems.length < PROBLEMS_LIMIT) problems.push({ subject, problem: what });
    };
    const { vms, evaluatedS } = this.vmsOf(series, problem);
    const previous = this.baselines;
    const next = new Map<string, VmBaseline>();
    const byHost = new Map<string, EventData<'UtilizationSampled'>['vms'][number][]>();
    const intervalS = this.config.dataCollectorIntervalS;
    for (const [vmId, vm] of vms) {
      if (!vm.running) continue;
      const baseline = previous.get(vmId);
      const { cpuTimeS, sampledAtS } = vm;
      if (cpuTimeS === null || sampledAtS === null) {
        problem(vmId, `no ${cpuTimeS === null ? CPU_TIME_METRIC : 'sample timestamp'} series on ${vm.host}`);
        if (baseline !== undefined) next.set(vmId, baseline);
        continue;
      }
      if (!Number.isFinite(cpuTimeS) || cpuTimeS < 0) {
        problem(vmId, `${CPU_TIME_METRIC} on ${vm.host} is ${cpuTimeS}`);
        if (baseline !== undefined) next.set(vmId, baseline);
        continue;
      }
      if (evaluatedS - sampledAtS > intervalS) {
        problem(vmId, `stale: ${vm.host}'s last sample is ${Math.round(evaluatedS - sampledAtS)} s old, more than data_collector_interval (${intervalS} s)`);
        if (baseline !== undefined) next.set(vmId, baseline);
        continue;
      }
      const cpuMhz = this.cpuMhz(vmId, vm.host, cpuTimeS, sampledAtS, baseline, problem);
      next.set(vmId, { cpuTimeS, sampledAtS, cpuMhz: cpuMhz ?? baseline?.cpuMhz ?? null });
      if (cpuMhz === null) continue;
      const hostVms = byHost.get(vm.host) ?? [];
      hostVms.push({ vmId, cpuMhz, ramMb: vm.ramMb });
      byHost.set(vm.host, hostVms);
    }
    for (const vmId of previous.keys()) {
      // Said once: a VM deleted, or whose host is no longer scraped, is forgotten after.
      if (!vms.has(vmId)) problem(vmId, `no ${CPU_TIME_METRIC} series any more (it had one at the previous poll)`);
    }
    this.baselines = next;
    const samples = [...byHost].map(([host, hostVms]) => ({ host, hypervisorCpuMhz: 0, vms: hostVms }));
    return { samples, problems };
  }

  /** Neat's MHz since the baseline; null for a VM first seen or no newer sample; the previous MHz after a counter reset. */
  private cpuMhz(
    vmId: string, host: string, cpuTimeS: number, sampledAtS: number, baseline: VmBaseline | undefined,
    problem: (subject: string, what: string) => void,
  ): number | null {
    if (baseline === undefined) return null;
    if (sampledAtS <= baseline.sampledAtS) return null;
    if (cpuTimeS < baseline.cpuTimeS) {
      // A restarted domain (a reboot, a migration's new process): Neat reuses the VM's last MHz.
      problem(vmId, `${CPU_TIME_METRIC} on ${host} went back (${baseline.cpuTimeS} → ${cpuTimeS} s): counter reset, previous MHz reused`);
      return baseline.cpuMhz;
    }
    return calculateCpuMhz(this.config.novaVcpuMhz, baseline.sampledAtS, sampledAtS, baseline.cpuTimeS * NS_PER_S, cpuTimeS * NS_PER_S);
  }

  /**
   * Groups the tagged parts by VM and host; series without a VM or a host are
   * problems. A VM under two hosts (migrated between two scrapes) is read from
   * the one where it runs, the newer sample if both say so.
   */
  private vmsOf(series: readonly Series[], problem: (subject: string, what: string) => void): { vms: Map<string, VmRead>; evaluatedS: number } {
    const { prometheusVmLabel: vmLabel, prometheusHostLabel: hostLabel, prometheusHostPattern: hostPattern } = this.config;
    const reads = new Map<string, Map<string, VmRead>>();
    let evaluatedS = 0;
    for (const { metric, value, evaluatedS: at } of series) {
      evaluatedS = Math.max(evaluatedS, at);
      const vmId = metric[vmLabel] as string | undefined;
      const part = metric[PART_LABEL] as Part | undefined;
      if (vmId === undefined || vmId === '') {
        if (part === 'cpu') problem(JSON.stringify(metric), `no ${vmLabel} label (prometheus_vm_label)`);
        continue;
      }
      const hostValue = metric[hostLabel] ?? '';
      const host = hostPattern.exec(hostValue)?.[1];
      if (host === undefined || host === '') {
        if (part === 'cpu') problem(vmId, `${hostLabel} label ${JSON.stringify(hostValue)} does not match prometheus_host_pattern ${hostPattern.source}`);
        continue;
      }
      const hosts = reads.get(vmId) ?? new Map<string, VmRead>();
      reads.set(vmId, hosts);
      const vm = hosts.get(host) ?? { host, cpuTimeS: null, sampledAtS: null, ramMb: null, running: true };
      hosts.set(host, vm);
      if (part === 'cpu') vm.cpuTimeS = value;
      else if (part === 'cpu_timestamp') vm.sampledAtS = value;
      else if (part === 'ram') vm.ramMb = Number.isFinite(value) && value >= 0 ? Math.trunc(value / BYTES_PER_MB) : null;
      else if (part === 'state') vm.running = value === RUNNING;
    }
    const vms = new Map<string, VmRead>();
    for (const [vmId, hosts] of reads) {
      vms.set(vmId, [...hosts.values()].reduce((best, vm) => (preferred(vm, best) ? vm : best)));
    }
    return { vms, evaluatedS };
  }
}

/** Running first, then the newer sample. */
function preferred(vm: VmRead, than: VmRead): boolean {
  if (vm.running !== than.running) return vm.running;
  return (vm.sampledAtS ?? -Infinity) > (than.sampledAtS ?? -Infinity);
}

/** The `prometheus` sample source; `options.keystone` is required with `prometheus_auth = keystone`. */
export function openPrometheus(config: ManagerConfig, options: PrometheusOptions = {}): SampleSource {
  return new PrometheusSource(config, options);
}
