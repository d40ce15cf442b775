/**
 * `npm run bench:month`: the production global manager at scale, for weeks of
 * virtual time. The real manager code in mode `neat` (local managers on every
 * host, the simulated data centre behind the Cloud and Power ports) writes its
 * log to SQLite as `neat serve` does: snapshots every `--snapshot-events`
 * events, and every simulated day the samples older than `--retention-days`
 * compacted into the archive beside the log. The simulator's own state
 * history is folded into the metrics in memory and not logged: at 50,000 VMs
 * it would be 1.6 MB a processing time, and it is not the manager's.
 *
 * Prints, per simulated day: wall time, peak RSS, the log's events and size,
 * and the compaction. At the end: the log's size, its growth per host-day
 * with and without compaction, decision latency (p50, p99) over the run, and
 * the time a real process takes to restart the manager on the file (from the
 * snapshot), measured from spawn to ready.
 *
 * Options: `--hosts 5000 --vms 50000 --days 30 --policy thr-mmtc-0.8
 * --retention-days 1 --snapshot-events 1000000 --archive beside|none --dir <directory>`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { MAX_NEAT_EVENTS, neatRun } from '../../sim/neat/setup';
import { inProcessTransport } from '../../sim/neat/world';
import { INSTANT_TRANSITIONS } from '../../sim/datacentre';
import { MetricsProjection } from '../../sim/metrics';
import { quiesce, runScheduled, runUntilSettled, VirtualTimer } from '../../sim/virtualTime';
import { DEFAULT_CONFIG } from '../../src/config';
import { SqliteEventLog } from '../../src/log/sqlite';
import { FileSnapshotStore, snapshotPathOf } from '../../src/log/snapshotFile';
import { GlobalManager } from '../../src/managers/globalManager';
import { Journal } from '../../src/managers/journal';
import { monthTrace } from './monthWorld';

const DAY_S = 86_400;
const STEP_S = 300;

function fileMb(path: string): number {
  return existsSync(path) ? statSync(path).size / 1e6 : 0;
}

function logMb(path: string): { logMb: number; walMb: number; archiveMb: number; snapshotMb: number } {
  return { logMb: fileMb(path), walMb: fileMb(`${path}-wal`), archiveMb: fileMb(`${path}.archive`), snapshotMb: fileMb(snapshotPathOf(path)) };
}

/** The bytes the log's pages hold, free pages left out: the file keeps its size once compaction frees pages, and reuses them. */
function liveMb(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    return ((pages - free) * (db.pragma('page_size', { simple: true }) as number)) / 1e6;
  } finally {
    db.close();
  }
}

function percentile(sortedMs: readonly number[], q: number): number {
  return sortedMs.length === 0 ? 0 : sortedMs[Math.min(sortedMs.length - 1, Math.floor(q * sortedMs.length))];
}

function rssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '5000' }, vms: { type: 'string', default: '50000' }, days: { type: 'string', default: '30' },
      policy: { type: 'string', default: 'thr-mmtc-0.8' }, 'retention-days': { type: 'string', default: '1' },
      'snapshot-events': { type: 'string', default: '1000000' }, dir: { type: 'string', default: '/tmp/neat-month' },
      archive: { type: 'string', default: 'beside' },
    },
  });
  const hosts = Number(values.hosts);
  const vmCount = Number(values.vms);
  const days = Number(values.days);
  const retentionS = Number(values['retention-days']) * DAY_S;
  mkdirSync(values.dir, { recursive: true });
  const path = join(values.dir, 'events.sqlite');
  if (values.archive !== 'beside' && values.archive !== 'none') throw new Error(`--archive is beside or none, not ${values.archive}`);
  const archive = values.archive === 'beside' ? `${path}.archive` : null;
  for (const stale of [path, `${path}-wal`, `${path}-shm`, `${path}.archive`, snapshotPathOf(path)]) rmSync(stale, { force: true });
  console.log(`bench:month — ${hosts} hosts, ${vmCount} VMs, ${days} days of ${STEP_S} s, policy ${values.policy}, retention ${retentionS / DAY_S} day(s)`);
  console.log(`machine: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GB, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const traceFromMs = performance.now();
  const trace = monthTrace(hosts, vmCount, days * (DAY_S / STEP_S) + 1, STEP_S);
  console.log(`trace: ${((performance.now() - traceFromMs) / 1000).toFixed(1)} s to generate, ${(vmCount * trace.vms[0].utilization.length * 8 / 1e9).toFixed(2)} GB of utilisation`);

  let metrics: MetricsProjection | null = null;
  let journal: Journal | null = null;
  const run = neatRun({
    trace, hosts, managerConfig: DEFAULT_CONFIG, policy: values.policy, seed: '1', transitions: INSTANT_TRANSITIONS, resume: null,
    recordUpdate: (update) => { metrics?.updated(update, run.scheduler.timeS); return Promise.resolve(); },
    settle: () => quiesce(journal === null ? [] : [journal]),
  });
  const projection = new MetricsProjection(run.config, 'suspended');
  metrics = projection;
  const { scheduler, world } = run;
  const log = new SqliteEventLog(path, { durable: false, appendsPerCommit: 10_000 });
  journal = new Journal(log, { ids: run.ids, clock: scheduler, source: 'global-manager' });
  journal.onRecorded((event) => {
    if (event.type === 'HostSuspended') projection.hostPower(event.data.host, event.metadata.timeMs / 1000, 'suspended');
    else if (event.type === 'HostWoken') projection.hostPower(event.data.host, event.metadata.timeMs / 1000, 'woken');
    else if (event.type === 'MigrationStarted') projection.migrationStarted();
  });
  const decisionsMs: number[] = [];
  const problems: string[] = [];
  const manager = new GlobalManager({
    cloud: world.dataCentre, power: world.dataCentre, timer: new VirtualTimer(scheduler), journal, ids: run.ids, rng: run.managerRng,
    snapshots: { store: new FileSnapshotStore(snapshotPathOf(path)), intervalEvents: Number(values['snapshot-events']), onProblem: (m) => { problems.push(m); } },
    timeDecision: (decide) => {
      const fromMs = performance.now();
      const decision = decide();
      decisionsMs.push(performance.now() - fromMs);
      return decision;
    },
  }, run.settings);
  metrics.started(0);
  const startMs = performance.now();
  await runUntilSettled(scheduler, manager.start(), MAX_NEAT_EVENTS);
  world.start(inProcessTransport(manager, scheduler));
  let samples = 0;
  let sampleBytesBefore = 0;
  journal.onRecorded((event) => {
    if (event.type !== 'UtilizationSampled') return;
    samples += 1;
    sampleBytesBefore += JSON.stringify(event).length;
  });
  let removed = 0;
  console.log('day  wall s  RSS MB  log events  samples  log MB  live MB  archive MB  removed  decisions  migrations  compaction s');
  const liveMbByDay: number[] = [];
  for (let day = 1; day <= days; day++) {
    await runScheduled(scheduler, Math.min(day * DAY_S, world.limitS), MAX_NEAT_EVENTS, [journal, world], () => { world.checkFailure(); });
    const compactFromMs = performance.now();
    const compacted = day * DAY_S > retentionS ? await runUntilSettled(scheduler, manager.compactSamples(retentionS * 1000, archive), MAX_NEAT_EVENTS) : null;
    removed += compacted?.removed ?? 0;
    const sizes = logMb(path);
    liveMbByDay[day] = liveMb(path);
    console.log(`${String(day).padStart(3)}  ${((performance.now() - startMs) / 1000).toFixed(0).padStart(6)}  ${rssMb().toFixed(0).padStart(6)}  `
      + `${String(await log.headPosition()).padStart(10)}  ${String(samples).padStart(7)}  ${(sizes.logMb + sizes.walMb).toFixed(0).padStart(6)}  `
      + `${liveMbByDay[day].toFixed(0).padStart(7)}  ${sizes.archiveMb.toFixed(0).padStart(10)}  ${String(removed).padStart(7)}  ${String(decisionsMs.length).padStart(9)}  `
      + `${String(metrics.result().migrations).padStart(10)}  ${((performance.now() - compactFromMs) / 1000).toFixed(1).padStart(12)}`);
  }
  await world.finish();
  await runUntilSettled(scheduler, manager.stop(), MAX_NEAT_EVENTS);
  const wallS = (performance.now() - startMs) / 1000;
  const head = await log.headPosition();
  await log.close();
  const sizes = logMb(path);
  const hostDays = hosts * days;
  const sorted = [...decisionsMs].sort((a, b) => a - b);
  console.log(`\nran ${days} days in ${wallS.toFixed(0)} s; peak RSS ${rssMb().toFixed(0)} MB; ${head} events; metrics: energy ${metrics.result().energyKwh.toFixed(1)} kWh, ${metrics.result().migrations} migrations`);
  console.log(`log ${sizes.logMb.toFixed(1)} MB (+ WAL ${sizes.walMb.toFixed(1)} MB), archive ${sizes.archiveMb.toFixed(1)} MB, snapshot ${sizes.snapshotMb.toFixed(1)} MB; ${removed} events compacted (samples, refusals, superseded checkpoints, requests that moved nothing)`);
  console.log(`growth per host-day: ${((sizes.logMb + sizes.archiveMb) * 1e6 / hostDays / 1024).toFixed(1)} KB without compaction (log and archive), `
    + `${(sizes.logMb * 1e6 / hostDays / 1024).toFixed(1)} KB in the log with it (its retention window of ${retentionS / DAY_S} day(s) held over ${days} days); `
    + `samples alone ${(sampleBytesBefore / hostDays / 1024).toFixed(1)} KB of JSON`);
  const filledDay = Math.ceil(retentionS / DAY_S) + 1;
  if (days > filledDay) {
    console.log(`live log: ${liveMbByDay[days].toFixed(1)} MB at the end; it grew by ${((liveMbByDay[days] - liveMbByDay[filledDay]) * 1e6 / (hosts * (days - filledDay)) / 1024).toFixed(2)} KB `
      + `per host-day once the retention window was full (day ${filledDay} to ${days}): what compaction keeps (decisions, migrations, power events)`);
  }
  console.log(`decisions: ${sorted.length}, p50 ${percentile(sorted, 0.5).toFixed(2)} ms, p99 ${percentile(sorted, 0.99).toFixed(2)} ms, max ${percentile(sorted, 1).toFixed(2)} ms`);
  if (problems.length > 0) console.log(`snapshot problems: ${problems.join('; ')}`);

  const restartFromMs = performance.now();
  const restart = spawnSync(process.execPath, [join(__dirname, 'monthRestart.js'), path, String(hosts), String(vmCount)], { encoding: 'utf8' });
  const restartMs = performance.now() - restartFromMs;
  if (restart.status !== 0) throw new Error(`the restart failed: ${restart.stderr}`);
  console.log(`restart: a new process on the file was ready in ${(restartMs / 1000).toFixed(2)} s (spawn to ready): ${restart.stdout.trim()}`);
  console.log(`load at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
