/**
 * `npm run bench:nova` (needs the harness of test/openstack/harness running):
 * 20 live migrations of one server around the three fake compute hosts.
 *
 * For each, a reference observer polls Nova's raw API every 50 ms and notes
 * when the migration is over as Nova records it (record `completed`, server
 * ACTIVE on the target with no task): that is Nova's time, from the moment the
 * driver was asked. The driver, polling as the orchestration does at
 * `POLL_MS`, notes when it sees the same; the difference, plus the record
 * read the driver makes before its POST, is what the driver adds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock, systemTimer } from '../../src/clock';
import { novaCloud } from '../../src/drivers/production';
import { Admin, COMPUTE_HOSTS, requireStack, stackConfig } from '../openstack/stack';

const MIGRATIONS = 20;
const REFERENCE_POLL_MS = 50;
/** The driver's poll period here: `migration_poll_interval_s` = 0.2. */
const POLL_MS = 200;
const TIMEOUT_MS = 120_000;

interface Row {
  readonly novaMs: number;
  readonly driverMs: number;
  readonly startMs: number;
  /** The driver reads the VM's migration records before its POST: the same GET, timed alone. */
  readonly preReadMs: number;
}

async function until(timeoutMs: number, periodMs: number, done: () => Promise<boolean>): Promise<number> {
  const startMs = performance.now();
  for (let round = 0; round < 100_000; round++) {
    if (await done()) return performance.now();
    if (performance.now() - startMs > timeoutMs) break;
    await systemTimer.sleep(periodMs);
  }
  throw new Error(`not done within ${timeoutMs} ms`);
}

async function main(): Promise<void> {
  await requireStack();
  const directory = mkdtempSync(join(tmpdir(), 'neat-bench-nova-'));
  const admin = new Admin(directory);
  const { cloud, session } = novaCloud(stackConfig(directory), { clock: systemClock, timer: systemTimer, warn: () => undefined });
  await admin.deleteTestServers();
  const id = await admin.boot('bench', COMPUTE_HOSTS[0]);
  const rows: Row[] = [];
  try {
    for (let i = 0; i < MIGRATIONS; i++) {
      const target = COMPUTE_HOSTS[(i + 1) % COMPUTE_HOSTS.length];
      const preReadStartMs = performance.now();
      await admin.call('GET', `/os-migrations?instance_uuid=${id}&migration_type=live-migration`);
      const preReadMs = performance.now() - preReadStartMs;
      const t0 = performance.now();
      const handle = await cloud.startLiveMigration(id, target);
      const startMs = performance.now() - t0;
      const afterRecordId = (JSON.parse(handle) as { afterRecordId: number }).afterRecordId;
      const reference = until(TIMEOUT_MS, REFERENCE_POLL_MS, async () => {
        const records = (await admin.call('GET', `/os-migrations?instance_uuid=${id}&migration_type=live-migration`)).json as { migrations: { id: number; status: string }[] };
        const record = records.migrations.find((m) => m.id > afterRecordId);
        if (record?.status !== 'completed') return false;
        const server = await admin.server(id);
        return server?.status === 'ACTIVE' && server['OS-EXT-STS:task_state'] === null && server['OS-EXT-SRV-ATTR:host'] === target;
      });
      const driver = until(TIMEOUT_MS, POLL_MS, async () => {
        const status = await cloud.migrationStatus(handle);
        if (status.state === 'failed') throw new Error(`migration ${i} failed: ${status.error ?? ''}`);
        const vm = await cloud.getVm(id);
        return status.state === 'completed' && vm?.host === target && vm.status === 'ACTIVE';
      });
      const [referenceAt, driverAt] = await Promise.all([reference, driver]);
      // Nova's clock starts at the POST, after the driver's record read.
      rows.push({ novaMs: referenceAt - t0 - preReadMs, driverMs: driverAt - t0, startMs, preReadMs });
      console.log(`  ${String(i + 1).padStart(2)}. → ${target}: Nova ${((referenceAt - t0 - preReadMs) / 1000).toFixed(2)} s, `
        + `driver ${((driverAt - t0) / 1000).toFixed(2)} s, start call ${startMs.toFixed(0)} ms (record read ${preReadMs.toFixed(0)} ms)`);
    }
  } finally {
    await admin.deleteTestServers();
    rmSync(directory, { recursive: true, force: true });
  }
  const novaMs = rows.reduce((s, r) => s + r.novaMs, 0) / rows.length;
  const overheads = rows.map((r) => r.driverMs - r.novaMs).sort((a, b) => a - b);
  const overheadMs = overheads.reduce((s, o) => s + o, 0) / overheads.length;
  console.log(`${MIGRATIONS} live migrations (FakeLiveMigrateDriver), driver polling every ${POLL_MS} ms, reference every ${REFERENCE_POLL_MS} ms:`);
  console.log(`  Nova, asked → completed     mean ${(novaMs / 1000).toFixed(2)} s`);
  console.log(`  driver's overhead           mean ${overheadMs.toFixed(0)} ms (${((100 * overheadMs) / novaMs).toFixed(1)} % of Nova's time), `
    + `p50 ${overheads[Math.floor(overheads.length / 2)].toFixed(0)} ms, max ${overheads[overheads.length - 1].toFixed(0)} ms`);
  console.log(`  start call (record read + os-migrateLive)  mean ${(rows.reduce((s, r) => s + r.startMs, 0) / rows.length).toFixed(0)} ms, `
    + `of which the record read ${(rows.reduce((s, r) => s + r.preReadMs, 0) / rows.length).toFixed(0)} ms`);
  console.log(`  Keystone authentications    ${session.authentications}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
