/**
 * `npm run bench:sources`: polls of the sample sources at data-centre scale,
 * 1,000 hosts × 10 VMs each.
 *
 * `neatDbBench()`: Neat's tables on a private MariaDB holding 100 values per
 * VM; the first poll reads every history (1 M VM rows, 100 k host rows), a
 * steady poll one interval's new rows.
 *
 * `prometheusBench()`: Debian's prometheus scraping every second a target
 * served here that exposes the libvirt exporter's series for the 10,000 VMs
 * (CPU time growing with the wall clock, maximum memory). Times whole polls,
 * the HTTP query and the reading both, once Prometheus holds a few scrapes.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '../../src/config';
import { openNeatDb } from '../../src/sources/neatDb';
import { openPrometheus, parseVector, pollQuery } from '../../src/sources/prometheus';
import { requireMariaDb, startMariaDb } from '../support/mariadb';
import { createNeatSchema } from '../support/neatSchema';
import { libvirtExposition, prometheusPresent, queryUntil, serveTarget, startPrometheus } from '../support/prometheus';
import type { ExposedVm } from '../support/prometheus';
import { formatMs, quantile } from './harness';

const HOSTS = 1_000;
const VMS_PER_HOST = 10;
const VALUES = 100;
const INTERVAL_S = 300;
const T0_S = 1_700_000_000;
const ROWS_PER_INSERT = 10_000;
const STEADY_POLLS = 5;
const POLLS = 20;
/** Between polls: past the 1 s scrape interval, so that each poll has new samples. */
const POLL_GAP_MS = 1_100;
const MB = 1024 * 1024;

async function prometheusBench(): Promise<void> {
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
    console.log(`prometheus: ${HOSTS} hosts × ${VMS_PER_HOST} VMs, ${POLLS} polls (${HOSTS * VMS_PER_HOST * 2} series scraped every 1 s)`);
    console.log(`  poll: median ${formatMs(quantile(pollsMs, 0.5))}, max ${formatMs(pollsMs[pollsMs.length - 1])}, min ${formatMs(pollsMs[0])}`);
    console.log(`  of which parsing the ${(answer.length / MB).toFixed(1)} MB answer (${series} series): ${formatMs(parseMs)}`);
    console.log(`  VM values read: ${samples} of ${POLLS * HOSTS * VMS_PER_HOST}; problems: ${problems}`);
  } finally {
    clearInterval(refresh);
    await prometheus.stop();
    await target.close();
  }
}

async function neatDbBench(): Promise<void> {
  if (!requireMariaDb()) return;
  const db = await startMariaDb();
  const admin = await db.admin('neat');
  try {
    await createNeatSchema(admin);
    const hostOf = new Map<string, string>();
    await admin.query('INSERT INTO hosts (hostname, cpu_mhz, cpu_cores, ram) VALUES ?', [Array.from({ length: HOSTS }, (_, h) => [`host-${h}`, 3720, 2, 4096])]);
    await admin.query('INSERT INTO vms (uuid) VALUES ?', [Array.from({ length: HOSTS * VMS_PER_HOST }, (_, v) => [`vm-${v}`])]);
    for (let v = 0; v < HOSTS * VMS_PER_HOST; v++) hostOf.set(`vm-${v}`, `host-${Math.floor(v / VMS_PER_HOST)}`);
    const insertStep = async (step: number): Promise<void> => {
      const when = new Date((T0_S + step * INTERVAL_S) * 1000);
      const vmRows = Array.from({ length: HOSTS * VMS_PER_HOST }, (_, v) => [v + 1, (v * 7 + step) % 1000, when]);
      for (let start = 0; start < vmRows.length; start += ROWS_PER_INSERT) {
        await admin.query('INSERT INTO vm_resource_usage (vm_id, cpu_mhz, timestamp) VALUES ?', [vmRows.slice(start, start + ROWS_PER_INSERT)]);
      }
      await admin.query('INSERT INTO host_resource_usage (host_id, cpu_mhz, timestamp) VALUES ?', [Array.from({ length: HOSTS }, (_, h) => [h + 1, 50, when])]);
    };
    const loadStartMs = performance.now();
    for (let step = 0; step < VALUES; step++) await insertStep(step);
    console.log(`neat-db: loaded ${HOSTS} hosts × ${VMS_PER_HOST} VMs × ${VALUES} values in ${((performance.now() - loadStartMs) / 1000).toFixed(1)} s`);
    const source = openNeatDb({ ...DEFAULT_CONFIG, sqlConnection: db.url, dataCollectorDataLength: VALUES, dataCollectorIntervalS: INTERVAL_S });
    try {
      const vmHost = (vm: string): string | null => hostOf.get(vm) ?? null;
      let startMs = performance.now();
      const first = await source.poll(vmHost);
      console.log(`neat-db first poll: ${(performance.now() - startMs).toFixed(0)} ms, ${first.samples.length} samples`);
      const steadyMs: number[] = [];
      for (let poll = 0; poll < STEADY_POLLS; poll++) {
        await insertStep(VALUES + poll);
        startMs = performance.now();
        const reading = await source.poll(vmHost);
        steadyMs.push(performance.now() - startMs);
        if (reading.samples.length !== HOSTS) throw new Error(`a steady poll gave ${reading.samples.length} samples, not ${HOSTS}`);
      }
      steadyMs.sort((a, b) => a - b);
      console.log(`neat-db steady poll (${HOSTS * VMS_PER_HOST} VM rows, ${HOSTS} host rows): median ${steadyMs[Math.floor(STEADY_POLLS / 2)]?.toFixed(0)} ms, max ${steadyMs[STEADY_POLLS - 1]?.toFixed(0)} ms`);
    } finally {
      await source.close();
    }
  } finally {
    await admin.end();
    await db.remove();
  }
}

async function main(): Promise<void> {
  await neatDbBench();
  await prometheusBench();
}

main().catch((error: unknown) => { console.error(error); process.exitCode = 1; });
