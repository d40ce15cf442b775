/**
 * `npm run bench:log`: append throughput (1 and 100 events per append), read
 * throughput, and the time to rebuild the data-centre projection from
 * 1,000,000 events, per adapter, then a table of them side by side.
 * PostgreSQL runs on a private cluster the benchmark starts, when the
 * `postgresql` package is installed; KurrentDB runs too when
 * KURRENTDB_CONNECTION_STRING is set.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import type { NewEvent } from '../../src/events/envelope';
import { KurrentDbEventLog } from '../../src/log/kurrentdb';
import { MemoryEventLog } from '../../src/log/memory';
import { NO_STREAM } from '../../src/log/port';
import type { EventLog } from '../../src/log/port';
import { PostgresEventLog } from '../../src/log/postgres';
import { SqliteEventLog } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';
import { TestEvents } from '../support/events';
import { postgresBinDir, startPostgres } from '../support/postgres';
import { EventModel } from '../support/sequences';

const REBUILD_EVENTS = 1_000_000;
const PAGE = 10_000;

/** A realistic stream of valid events: mostly samples, with migrations, power changes and requests. */
function* eventSource(seed: string): Generator<NewEvent> {
  const rng = createRng(seed);
  const model = new EventModel();
  const make = new TestEvents(seed);
  for (const event of model.inventory().events) yield make.make(event.type, event.data);
  for (;;) {
    make.timeMs += 1000;
    for (const event of model.next(Math.floor(rng.next() * 1_000_000)).events) yield make.make(event.type, event.data);
  }
}

function take(source: Iterator<NewEvent>, count: number): NewEvent[] {
  return Array.from({ length: count }, () => source.next().value as NewEvent);
}

async function appendRate(log: EventLog, stream: string, batchSize: number, batches: number): Promise<number> {
  const source = eventSource(`${stream}-${batchSize}`);
  const prepared = Array.from({ length: batches }, () => take(source, batchSize));
  let revision = NO_STREAM;
  const start = performance.now();
  for (const batch of prepared) revision = (await log.append(stream, batch, revision)).streamRevision;
  return (batches * batchSize) / ((performance.now() - start) / 1000);
}

async function fill(log: EventLog, total: number): Promise<void> {
  const source = eventSource('rebuild');
  let revision = NO_STREAM;
  for (let written = 0; written < total; written += 1000) {
    revision = (await log.append('rebuild', take(source, Math.min(1000, total - written)), revision)).streamRevision;
  }
}

async function readRate(log: EventLog): Promise<{ eventsPerS: number; head: number }> {
  const head = await log.headPosition();
  const start = performance.now();
  let read = 0;
  for (let from = 1; from <= head; from += PAGE) read += (await log.readAll(from, PAGE)).length;
  return { eventsPerS: read / ((performance.now() - start) / 1000), head };
}

async function rebuildSeconds(log: EventLog): Promise<{ seconds: number; hosts: number; anomalies: number }> {
  const head = await log.headPosition();
  const start = performance.now();
  const state = initialDataCentreState({ historyLength: 100, strict: false });
  for (let from = 1; from <= head; from += PAGE) {
    for (const event of await log.readAll(from, PAGE)) evolveDataCentre(state, event);
  }
  return { seconds: (performance.now() - start) / 1000, hosts: state.hosts.size, anomalies: state.anomalyCount };
}

interface Adapter {
  readonly name: string;
  /** A fresh, empty log; `purpose` keeps the logs of different measurements apart. */
  open(purpose: string): EventLog;
  readonly singleAppends: number;
}

/** One adapter's figures, written by its process for the table at the end. */
interface Figures {
  readonly name: string;
  readonly singleAppendsPerS: number;
  readonly batchedEventsPerS: number;
  readonly fillS: number;
  readonly readEventsPerS: number;
  readonly rebuildS: number;
}

async function benchAdapter(adapter: Adapter): Promise<Figures> {
  console.log(`\n${adapter.name}`);
  const throughput = adapter.open('throughput');
  let single: number;
  let batched: number;
  try {
    single = await appendRate(throughput, 'single', 1, adapter.singleAppends);
    console.log(`  append, 1 event per append:      ${Math.round(single).toLocaleString('en')} appends/s (${adapter.singleAppends} appends)`);
    batched = await appendRate(throughput, 'batched', 100, 2000);
    console.log(`  append, 100 events per append:   ${Math.round(batched).toLocaleString('en')} events/s (2000 appends)`);
  } finally {
    await throughput.close();
  }
  const log = adapter.open('rebuild');
  try {
    const fillStart = performance.now();
    await fill(log, REBUILD_EVENTS);
    const fillS = (performance.now() - fillStart) / 1000;
    console.log(`  wrote ${REBUILD_EVENTS.toLocaleString('en')} events of a simulated data centre in ${fillS.toFixed(1)} s (1000 per append, generating them included)`);
    const read = await readRate(log);
    console.log(`  readAll:                         ${Math.round(read.eventsPerS).toLocaleString('en')} events/s (${read.head.toLocaleString('en')} events, pages of ${PAGE})`);
    const rebuild = await rebuildSeconds(log);
    console.log(`  rebuild data-centre projection:  ${rebuild.seconds.toFixed(2)} s for ${read.head.toLocaleString('en')} events (${rebuild.hosts} hosts, ${rebuild.anomalies} anomalies)`);
    return { name: adapter.name, singleAppendsPerS: single, batchedEventsPerS: batched, fillS, readEventsPerS: read.eventsPerS, rebuildS: rebuild.seconds };
  } finally {
    await log.close();
  }
}

function printTable(rows: readonly Figures[]): void {
  const header = ['adapter', '1 event/append (appends/s)', '100 events/append (events/s)', `write ${REBUILD_EVENTS / 1e6}M (s)`, 'readAll (events/s)', `rebuild ${REBUILD_EVENTS / 1e6}M (s)`];
  const cells = rows.map((r) => [r.name, Math.round(r.singleAppendsPerS).toLocaleString('en'), Math.round(r.batchedEventsPerS).toLocaleString('en'),
    r.fillS.toFixed(1), Math.round(r.readEventsPerS).toLocaleString('en'), r.rebuildS.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  console.log('\nside by side');
  for (const line of [header, ...cells]) console.log(`  ${line.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')}`);
}

function adapters(directory: string): Adapter[] {
  const list: Adapter[] = [
    { name: 'memory', open: () => new MemoryEventLog(), singleAppends: 100_000 },
    { name: 'sqlite', open: (purpose) => new SqliteEventLog(join(directory, `${purpose}.sqlite`)), singleAppends: 2000 },
  ];
  if (postgresUrl !== null) {
    const url = postgresUrl;
    // A schema per measurement, in the cluster this process started (see runOne).
    list.push({ name: 'postgresql', open: (purpose) => new PostgresEventLog(url, { schema: purpose }), singleAppends: 2000 });
  }
  const connection = process.env.KURRENTDB_CONNECTION_STRING;
  if (connection !== undefined && connection !== '') {
    const run = randomUUID();
    list.push({
      name: 'kurrentdb',
      open: (purpose) => new KurrentDbEventLog(connection, { streamPrefix: `bench-${run}-${purpose}-` }),
      singleAppends: 2000,
    });
  }
  return list;
}

/** Set in the PostgreSQL adapter's own process, to the cluster it started. */
let postgresUrl: string | null = null;

/** The PostgreSQL row is there when the package is: its cluster is started by the process that measures it. */
function postgresAvailable(): boolean {
  return postgresBinDir() !== null;
}

async function runOne(name: string, resultFile: string): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'neat-bench-log-'));
  const server = name === 'postgresql' ? await startPostgres() : null;
  postgresUrl = server?.url ?? null;
  try {
    const adapter = adapters(directory).find((a) => a.name === name);
    if (adapter === undefined) throw new Error(`unknown adapter ${name}`);
    writeFileSync(resultFile, JSON.stringify(await benchAdapter(adapter)));
    const rebuildFile = join(directory, 'rebuild.sqlite');
    if (existsSync(rebuildFile)) console.log(`  file of the rebuild: ${(statSync(rebuildFile).size / 1e6).toFixed(0)} MB (WAL, synchronous=FULL)`);
    if (server !== null) console.log('  (a private cluster on 127.0.0.1, fsync and synchronous_commit on, as shipped)');
  } finally {
    server?.remove();
    rmSync(directory, { recursive: true, force: true });
  }
}

/**
 * Each adapter runs in a process of its own, so that one's heap and garbage do
 * not slow the next. `npm run bench:log -- sqlite` runs only the adapters named.
 */
function main(): void {
  const args = process.argv.slice(2);
  if (args.length === 3 && args[0] === '--adapter') {
    runOne(args[1], args[2]).catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
    return;
  }
  console.log(`node ${process.version}, ${process.arch}`);
  const only = process.argv.slice(2);
  const names = adapters(tmpdir()).map((a) => a.name);
  if (postgresAvailable()) names.splice(names.indexOf('sqlite') + 1, 0, 'postgresql');
  else console.log('postgresql: skipped (apt-get install postgresql to include it)');
  if (!names.includes('kurrentdb')) console.log('kurrentdb: skipped (set KURRENTDB_CONNECTION_STRING to include it)');
  const results = mkdtempSync(join(tmpdir(), 'neat-bench-results-'));
  const figures: Figures[] = [];
  try {
    for (const adapter of names) {
      if (only.length > 0 && !only.includes(adapter)) continue;
      const resultFile = join(results, `${adapter}.json`);
      const result = spawnSync(process.execPath, [__filename, '--adapter', adapter, resultFile], { stdio: 'inherit' });
      if (result.status !== 0) process.exitCode = 1;
      if (existsSync(resultFile)) figures.push(JSON.parse(readFileSync(resultFile, 'utf8')) as Figures);
    }
  } finally {
    rmSync(results, { recursive: true, force: true });
  }
  if (figures.length > 0) printTable(figures);
}

main();
