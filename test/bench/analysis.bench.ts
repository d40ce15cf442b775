/**
 * `npm run bench:analysis`: the analysis of a generated production log of
 * 1,000,000 events (`writeGeneratedLog`: 100 hosts' samples every 300 s, a
 * migration and a refused request per round), read from SQLite: events per
 * second, and the memory it took (RSS and heap, sampled after every page).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteEventLog } from '../../src/log/sqlite';
import { analyseProductionLog } from '../../src/report/production';
import { writeGeneratedLog } from '../support/timeline';

const EVENTS = 1_000_000;
const HOSTS = 100;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

async function main(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'neat-bench-analysis-'));
  const path = join(directory, 'production.sqlite');
  try {
    const writeStart = performance.now();
    const writer = new SqliteEventLog(path, { durable: false });
    const generated = await writeGeneratedLog(writer, { hosts: HOSTS, events: EVENTS });
    await writer.close();
    const writeS = (performance.now() - writeStart) / 1000;
    console.log(`generated ${generated.events.toLocaleString('en')} events (${generated.migrations.toLocaleString('en')} migrations, `
      + `${(generated.lastS / 86_400).toFixed(1)} days) in ${writeS.toFixed(1)} s; file ${mb(statSync(path).size)}`);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    let peakHeap = 0;
    const log = SqliteEventLog.openExisting(path);
    const start = performance.now();
    const analysis = await analyseProductionLog(log, {
      powerModel: 'neat-testbed-linear',
      onProgress: () => {
        const memory = process.memoryUsage();
        peakRss = Math.max(peakRss, memory.rss);
        peakHeap = Math.max(peakHeap, memory.heapUsed);
      },
    });
    const wallS = (performance.now() - start) / 1000;
    await log.close();
    const m = analysis.metrics;
    console.log(`analysed in ${wallS.toFixed(2)} s: ${Math.round(generated.events / wallS).toLocaleString('en')} events/s`);
    console.log(`RSS ${mb(rssBefore)} before, ${mb(peakRss)} at most while analysing; heap ${mb(peakHeap)} at most`);
    console.log(`${analysis.buckets.count} buckets of ${analysis.buckets.bucketS} s; ${m.migrations.toLocaleString('en')} migrations, `
      + `${m.energyKwh.toFixed(1)} kWh, ${analysis.decisionLatency.latencyMs.length.toLocaleString('en')} decisions`);
    if (m.migrations !== generated.migrations) throw new Error(`counted ${m.migrations} migrations; the generator made ${generated.migrations}`);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

void main();
