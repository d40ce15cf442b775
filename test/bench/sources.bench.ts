/**
 * `npm run bench:sources`: polls of the sample sources at data-centre scale.
 *
 * `prometheusBench()`: 1,000 hosts × 10 VMs from Debian's prometheus, which
 * scrapes every second a target served here exposing the libvirt exporter's
 * series for the 10,000 VMs (CPU time growing with the wall clock, maximum
 * memory). Times whole polls, the HTTP query and the reading both, once
 * Prometheus holds a few scrapes.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '../../src/config';
import { openPrometheus, parseVector, pollQuery } from '../../src/sources/prometheus';
import { libvirtExposition, prometheusPresent, queryUntil, serveTarget, startPrometheus } from '../support/prometheus';
import type { ExposedVm } from '../support/prometheus';
import { formatMs } from './harness';

const HOSTS = 1_000;
const VMS_PER_HOST = 10;
const POLLS = 20;
/** Between polls: past the 1 s scrape interval, so that each poll has new samples. */
const POLL_GAP_MS = 1_100;
const MB = 1024 * 1024;

export async function prometheusBench(): Promise<void> {
  if (!prometheusPresent()) return;
  const startedMs = Date.now();
  const vms = (): ExposedVm[] => {
    const elapsedS = (Date.now() - startedMs) / 1000;
    const exposed: ExposedVm[] = [];
    for (let h = 0; h < HOSTS; h++) {
      for (let v = 0; v < VMS_PER_HOST; v++) {
        // VM v keeps (v + 1) tenths of a core busy.
        exposed.push({ uuid: `vm-${h}-${v}`, host: `compute-${h}`, cpuTimeS: 1000 + elapsedS * (v + 1) / 10, maxMemoryBytes: 2048 * MB });
      }
    }
    return exposed;
  };
  const target = await serveTarget(libvirtExposition(vms()));
  const refresh = setInterval(() => { target.exposition = libvirtExposition(vms()); }, 250);
  const prometheus = await startPrometheus([{ name: 'libvirt', targets: [target.address], honorLabels: true }]);
  try {
    await queryUntil(prometheus.url, 'count(libvirt_domain_info_cpu_time_seconds_total)', (r) => (r.length === 1 && Number(r[0].value[1]) === HOSTS * VMS_PER_HOST ? true : null), 60_000);
    const source = openPrometheus({
      ...DEFAULT_CONFIG, samplesSource: 'prometheus', prometheusUrl: prometheus.url, prometheusHostLabel: 'host', dataCollectorIntervalS: 60,
    });
    await source.poll(() => null);
    const pollsMs: number[] = [];
    let samples = 0;
    let problems = 0;
    for (let i = 0; i < POLLS; i++) {
      await new Promise((resolve) => { setTimeout(resolve, POLL_GAP_MS); });
      const start = performance.now();
      const reading = await source.poll(() => null);
      pollsMs.push(performance.now() - start);
      samples += reading.samples.reduce((sum, s) => sum + s.vms.length, 0);
      problems += reading.problems.length;
    }
    await source.close();
    // The poll's own share: the same answer's parse alone (the rest is Prometheus evaluating and encoding it, and the transfer).
    const answer = await (await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(pollQuery())}`)).text();
    const parseStart = performance.now();
    const series = parseVector(answer).length;
    const parseMs = performance.now() - parseStart;
    pollsMs.sort((a, b) => a - b);
    const at = (q: number): number => pollsMs[Math.min(pollsMs.length - 1, Math.floor(q * pollsMs.length))];
    console.log(`prometheus: ${HOSTS} hosts × ${VMS_PER_HOST} VMs, ${POLLS} polls (${HOSTS * VMS_PER_HOST * 2} series scraped every 1 s)`);
    console.log(`  poll: median ${formatMs(at(0.5))}, max ${formatMs(pollsMs[pollsMs.length - 1])}, min ${formatMs(pollsMs[0])}`);
    console.log(`  of which parsing the ${(answer.length / MB).toFixed(1)} MB answer (${series} series): ${formatMs(parseMs)}`);
    console.log(`  VM values read: ${samples} of ${POLLS * HOSTS * VMS_PER_HOST}; problems: ${problems}`);
  } finally {
    clearInterval(refresh);
    await prometheus.stop();
    await target.close();
  }
}

if (require.main === module) {
  prometheusBench().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
