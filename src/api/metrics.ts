/**
 * `GET /metrics` in Prometheus' text format: the manager's counters (a fold
 * of the log, so they survive restarts) and a few gauges of its state.
 */
import { isStale, POWER_STATES, sampleAgeMs } from '../events/dataCentre';
import type { PowerState } from '../events/dataCentre';
import type { GlobalManager } from '../managers/globalManager';

interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One metric family in Prometheus' text format. */
export function family(name: string, type: 'counter' | 'gauge', help: string, samples: readonly Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const sample of samples) {
    const labels = Object.entries(sample.labels).map(([key, value]) => `${key}="${value.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`);
    lines.push(`${name}${labels.length === 0 ? '' : `{${labels.join(',')}}`} ${sample.value}`);
  }
  return lines.join('\n');
}

function byLabel<K>(map: ReadonlyMap<K, number>, label: string): Sample[] {
  return [...map.entries()].map(([key, value]) => ({ labels: { [label]: String(key) }, value }));
}

/** Per host, judged with the manager's clock now: stale or not, and the age of its last sample (hosts never sampled have none). */
function freshness(manager: GlobalManager): { stale: Sample[]; staleCount: number; ageS: Sample[] } {
  const nowMs = manager.nowMs();
  const stale: Sample[] = [];
  const ageS: Sample[] = [];
  let staleCount = 0;
  for (const host of [...manager.dataCentre.hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const isHostStale = isStale(host, nowMs, manager.settings.sampleMaxAgeMs);
    if (isHostStale) staleCount += 1;
    stale.push({ labels: { host: host.name }, value: isHostStale ? 1 : 0 });
    const ageMs = sampleAgeMs(host.lastSampleAtMs, nowMs);
    if (ageMs !== null) ageS.push({ labels: { host: host.name }, value: ageMs / 1000 });
  }
  return { stale, staleCount, ageS };
}

export function prometheusMetrics(manager: GlobalManager): string {
  const { counters, dataCentre } = manager;
  const powerCounts = new Map<PowerState, number>(POWER_STATES.map((state) => [state, 0]));
  for (const host of dataCentre.hosts.values()) powerCounts.set(host.power, (powerCounts.get(host.power) ?? 0) + 1);
  const hostFreshness = freshness(manager);
  return [
    family('neat_requests_received_total', 'counter', 'Requests accepted, by protocol.', byLabel(counters.requestsReceived, 'protocol')),
    family('neat_requests_rejected_total', 'counter', 'Requests refused, by HTTP status.', byLabel(counters.requestsRejected, 'status')),
    family('neat_requests_completed_total', 'counter', 'Requests completed, by outcome.', byLabel(counters.requestsCompleted, 'outcome')),
    family('neat_migrations_total', 'counter', 'Live migration attempts, by result.', [
      { labels: { result: 'completed' }, value: counters.migrationsCompleted },
      { labels: { result: 'failed' }, value: counters.migrationsFailed },
      { labels: { result: 'abandoned' }, value: counters.migrationsAbandoned },
    ]),
    family('neat_host_power_transitions_total', 'counter', 'Host power transitions, by result.', [
      { labels: { result: 'suspended' }, value: counters.hostsSuspended },
      { labels: { result: 'woken' }, value: counters.hostsWoken },
      { labels: { result: 'failed' }, value: counters.powerFailures },
    ]),
    family('neat_queue_depth', 'gauge', 'Requests waiting to be decided or carried out.', [{ labels: {}, value: manager.queueDepth }]),
    family('neat_open_requests', 'gauge', 'Requests received and not completed.', [{ labels: {}, value: manager.openRequests.size }]),
    family('neat_hosts', 'gauge', 'Managed hosts, by power state.', byLabel(powerCounts, 'power')),
    family('neat_host_stale', 'gauge', 'Whether a host is stale (1): up, and neither sampled nor come up within sample_max_age_s.', hostFreshness.stale),
    family('neat_hosts_stale', 'gauge', 'Hosts that are stale: never chosen as targets until their agent reports again.',
      [{ labels: {}, value: hostFreshness.staleCount }]),
    family('neat_host_last_sample_age_seconds', 'gauge', 'Time since the last utilisation sample of each host that has sent one.', hostFreshness.ageS),
    family('neat_vms', 'gauge', 'VMs the cloud reports.', [{ labels: {}, value: dataCentre.vms.size }]),
    family('neat_vm_samples_unreported_total', 'counter', 'Sample entries of VMs the cloud had not reported: recorded, held aside until it does.',
      [{ labels: {}, value: dataCentre.unreportedVmSamples }]),
    family('neat_migrations_in_flight', 'gauge', 'Live migrations started and not finished.', [{ labels: {}, value: dataCentre.migrations.size }]),
    family('neat_log_position', 'gauge', 'Position of the last event folded.', [{ labels: {}, value: dataCentre.position }]),
    family('neat_log_anomalies_total', 'counter', 'Events that broke the data-centre state machine.', [{ labels: {}, value: dataCentre.anomalyCount }]),
  ].join('\n') + '\n';
}
