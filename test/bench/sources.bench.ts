/**
 * Sample sources' poll latency. neat-db: Neat's tables on a private MariaDB
 * holding 1,000 hosts × 10 VMs × 100 values; the first poll reads every
 * history (1 M VM rows, 100 k host rows), a steady poll one interval's new rows.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '../../src/config';
import { openNeatDb } from '../../src/sources/neatDb';
import { requireMariaDb, startMariaDb } from '../support/mariadb';
import { createNeatSchema } from '../support/neatSchema';

const HOSTS = 1_000;
const VMS_PER_HOST = 10;
const VALUES = 100;
const INTERVAL_S = 300;
const T0_S = 1_700_000_000;
const ROWS_PER_INSERT = 10_000;
const STEADY_POLLS = 5;

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
}

main().catch((error: unknown) => { console.error(error); process.exitCode = 1; });
