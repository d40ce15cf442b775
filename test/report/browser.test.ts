/**
 * Each kind of report opened from a file:// URL in headless Chromium: no
 * console error, no request but the page itself, every chart drawn with the
 * series and points its data has (counted here from the inputs, not from the
 * report's own model), and a screenshot to look at.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { SqliteEventLog } from '../../src/log/sqlite';
import type { ProductionAnalysis } from '../../src/report/model';
import { analyseProductionLog, defaultBucketS } from '../../src/report/production';
import { runSimulation } from '../../sim/run';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { launchChromium, requireChromium, screenshot, watchedPage } from '../support/browser';
import { writePlanetLabDay } from '../support/days';
import { PROJECT_ROOT } from '../support/planetlab';
import { copyManagerEvents } from '../support/timeline';

const SAMPLE = join(PROJECT_ROOT, 'traces', 'sample', 'planetlab-like-day.csv');
const HOSTS = 60;
const present = requireChromium();
const maybe = present ? describe : describe.skip;
let directory: string;
let browser: Browser;

function neat(...args: string[]): void {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`neat ${args.join(' ')}: ${result.stderr}`);
}

/** The processing times of a run, read straight from its SQLite file. */
function updateTimes(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT json_extract(body, '$[6].timeS') FROM events WHERE type = 'DataCentreUpdated' ORDER BY position").pluck().all() as number[];
  } finally {
    db.close();
  }
}

interface DrawnChart { readonly id: string; readonly kind: string; readonly series: number; readonly points: number }

/** Opens the report, fails on any error or request beyond the page, saves a screenshot, returns what the page drew. */
async function open(path: string, screenshotName: string): Promise<DrawnChart[]> {
  const { page, errors, requests } = await watchedPage(browser);
  const url = pathToFileURL(path).href;
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as unknown as { neatReport?: unknown }).neatReport !== undefined, null, { timeout: 10_000 });
  const charts = await page.evaluate(() => (globalThis as unknown as { neatReport: { charts: DrawnChart[] } }).neatReport.charts);
  // Every chart is on the page: one uPlot per chart, one canvas per heatmap.
  const plots = await page.locator('.uplot').count();
  const heatmaps = await page.locator('.heatmap canvas').count();
  await screenshot(page, screenshotName);
  await page.close();
  expect(errors).toEqual([]);
  expect(requests).toEqual([url]);
  expect(plots).toBe(charts.filter((c) => c.kind === 'chart').length);
  expect(heatmaps).toBe(charts.filter((c) => c.kind === 'heatmap').length);
  return charts;
}

function byId(charts: readonly DrawnChart[]): Record<string, [number, number]> {
  return Object.fromEntries(charts.map((c) => [c.id, [c.series, c.points]]));
}

/** The manager's events of a mode-neat run (20 VMs, 8 hours, 16 hosts, a second's run that consolidates): a production log. */
async function productionLog(path: string): Promise<void> {
  const run = join(directory, 'neat-run.sqlite');
  await runSimulation({ trace: generateSyntheticTrace({ seed: 'neat-mode', vms: 20, steps: 96, stepS: 300 }), mode: 'neat', policy: 'thr-mmtc-0.8',
    seed: '1', hosts: 16, eventsPath: run });
  const from = SqliteEventLog.openExisting(run);
  const to = new SqliteEventLog(path, { durable: false });
  await copyManagerEvents(from, to);
  await from.close();
  await to.close();
}

/** A manager's log as the production analysis reads it (the module the report draws from), with buckets of `bucketS` or its own. */
async function analysed(path: string, bucketS?: number): Promise<ProductionAnalysis> {
  const log = SqliteEventLog.openExisting(path);
  try {
    return await analyseProductionLog(log, { powerModel: 'neat-testbed-linear', ...(bucketS === undefined ? {} : { bucketS }) });
  } finally {
    await log.close();
  }
}

/** From a log's first event to its last, read with SQLite alone. */
function spanS(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT (max(json_extract(body, '$[9]')) - min(json_extract(body, '$[9]'))) / 1000.0 FROM events").pluck().get() as number;
  } finally {
    db.close();
  }
}

maybe('reports in headless Chromium', () => {
  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'neat-report-browser-'));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser.close();
    rmSync(directory, { recursive: true, force: true });
  });

  test('a simulation run: every chart over every processing time, the heatmap a row per host', async () => {
    const log = join(directory, 'lr.sqlite');
    neat('sim', '--trace', SAMPLE, '--policy', 'lr-mmt-1.2', '--hosts', String(HOSTS), '--events', log);
    const out = join(directory, 'simulation.html');
    neat('report', log, '--out', out);
    const times = updateTimes(log);
    const updates = times.length;
    // Counts are drawn per scheduling interval (the trace's 300 s): the intervals that saw an update.
    const intervals = new Set(times.map((t) => Math.floor(t / 300))).size;
    expect(intervals).toBeLessThan(updates);
    expect(byId(await open(out, 'report-simulation'))).toEqual({
      hosts: [3, updates], power: [2, updates], 'vm-cpu': [3, updates], 'host-cpu': [3, updates], migrations: [1, intervals], sla: [1, intervals],
      heatmap: [HOSTS, updates],
    });
  });

  test('a sweep (neat sweep\'s own JSON lines): a point per run, bars per day and policy', async () => {
    const days = ['20200101', '20200102', '20200103'];
    const policies = ['dvfs', 'thr-mmt-0.8', 'lr-mmt-1.2'];
    const root = join(directory, 'days');
    days.forEach((day, i) => { writePlanetLabDay(root, day, `day-${i}`); });
    const input = join(directory, 'sweep.jsonl');
    neat('sweep', '--trace', root, '--days', days.join(','), '--policies', policies.join(','), '--hosts', '12', '--workers', '2', '--output', input);
    const runs = readFileSync(input, 'utf8').split('\n').filter((line) => line.trim() !== '').length;
    expect(runs).toBe(days.length * policies.length);
    const out = join(directory, 'sweep.html');
    neat('report', input, '--out', out);
    expect(byId(await open(out, 'report-sweep'))).toEqual({
      'energy-slav': [policies.length, runs], 'per-day-energyKwh': [policies.length, days.length],
      'per-day-slav': [policies.length, days.length], 'per-day-migrations': [policies.length, days.length],
    });
  });

  test('a manager\'s log: requests, migrations, power events, latency and energy over its buckets', async () => {
    const log = join(directory, 'production.sqlite');
    await productionLog(log);
    const out = join(directory, 'production.html');
    neat('report', log, '--out', out);
    const analysis = await analysed(log);
    const buckets = analysis.buckets.count;
    const reasons = Object.keys(analysis.series.nothingToDo).length;
    expect(reasons).toBeGreaterThan(0);
    expect(byId(await open(out, 'report-production'))).toEqual({
      requests: [6 + reasons, buckets], migrations: [3, buckets], 'migration-durations': [1, 30], hosts: [2, buckets],
      'power-events': [4, buckets], latency: [2, buckets], power: [2, buckets],
    });
  });

  test('production against another policy replayed on its load (neat trace export, neat sim --mode neat): one bucket width for both', async () => {
    const production = join(directory, 'production.sqlite');
    const trace = join(directory, 'exported.csv');
    const whatIf = join(directory, 'what-if.sqlite');
    neat('trace', 'export', production, '--out', trace);
    neat('sim', '--mode', 'neat', '--trace', trace, '--policy', 'lr-mmt-1.2', '--events', whatIf);
    const out = join(directory, 'compare.html');
    neat('report', '--compare', production, whatIf, '--out', out);
    const bucketS = defaultBucketS(Math.max(spanS(production), spanS(whatIf)));
    // Both start their buckets at their first event: the longer run has them all.
    const points = Math.max((await analysed(production, bucketS)).buckets.count, (await analysed(whatIf, bucketS)).buckets.count);
    expect(byId(await open(out, 'report-compare'))).toEqual({
      'compare-hosts-active': [2, points], 'compare-power': [2, points], 'compare-energy': [2, points], 'compare-migrations': [2, points],
      'compare-requests': [2, points],
    });
  });

  test('two simulations compared: each curve over the union of both runs\' times', async () => {
    const a = join(directory, 'a.sqlite');
    const b = join(directory, 'b.sqlite');
    neat('sim', '--trace', SAMPLE, '--policy', 'lr-mmt-1.2', '--hosts', String(HOSTS), '--events', a);
    neat('sim', '--trace', SAMPLE, '--policy', 'thr-mmt-0.8', '--hosts', String(HOSTS), '--events', b);
    const out = join(directory, 'compare.html');
    neat('report', '--compare', a, b, '--out', out);
    const union = new Set([...updateTimes(a), ...updateTimes(b)]).size;
    expect(byId(await open(out, 'report-compare-simulation'))).toEqual({
      'compare-hosts-active': [2, union], 'compare-power': [2, union], 'compare-energy': [2, union], 'compare-migrations': [2, union],
    });
  });
});
