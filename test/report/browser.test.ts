/**
 * Each kind of report opened from a file:// URL in headless Chromium: no
 * console error, no request but the page itself, every chart drawn with the
 * series and points its data has (counted here from the inputs, not from the
 * report's own model), and a screenshot to look at.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import type { Browser } from 'playwright-core';
import { renderHtml } from '../../src/report/html';
import type { ProductionAnalysis } from '../../src/report/model';
import { productionDocument } from '../../src/report/productionReport';
import { launchChromium, requireChromium, screenshot, watchedPage } from '../support/browser';
import { PROJECT_ROOT } from '../support/planetlab';

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

/** A manager's day in 5-minute buckets, made up: requests, migrations, power, decisions. */
function productionAnalysis(): ProductionAnalysis {
  const count = 288;
  const wave = (scale: number, phase = 0): number[] => Array.from({ length: count }, (_, k) => Math.round(scale * (1 + Math.sin((k + phase) / 20))));
  const hostsActive = wave(20).map((h) => 10 + h);
  const powerW = hostsActive.map((h) => 90 + h * 60);
  let energyKwh = 0;
  const decisions = 400;
  return {
    metrics: {
      energyKwh: 512.3, migrations: 140, migrationsCompleted: 131, migrationsFailed: 6, migrationsAbandoned: 3, slatah: 0.02, pdm: 0.0004,
      slav: 0.000008, esv: 0.004, hostShutdowns: 40, meanTimeBeforeHostShutdownS: 5400, meanMigrationDurationS: 14.2, hosts: 50, vms: 300,
      observedS: 86_400, powerModel: 'hp-proliant-ml110-g5',
    },
    buckets: { startS: 1_767_225_600, bucketS: 300, count },
    series: {
      requests: { completed: wave(3), partial: wave(1, 5), failed: wave(0.5, 9), superseded: wave(1, 13), rejected: wave(0.4, 2), recorded: wave(0) },
      nothingToDo: { 'no-capacity': wave(2, 30), 'no-data': wave(1, 40) },
      migrationsStarted: wave(2), migrationsCompleted: wave(2, 1), migrationsFailed: wave(0.3, 7),
      suspends: wave(1, 3), wakes: wave(1, 11), suspendFailures: wave(0.2), wakeFailures: wave(0.2, 50),
      hostsActive, hostsSuspended: hostsActive.map((h) => 50 - h), powerW, energyKwh: powerW.map((w) => (energyKwh += (w * 300) / 3_600_000)),
    },
    migrationDurations: { endS: Array.from({ length: 131 }, (_, i) => 1_767_225_600 + i * 600), durationS: Array.from({ length: 131 }, (_, i) => 8 + ((i * 7) % 13)) },
    migrationFailures: Array.from({ length: 9 }, (_, i) => ({
      timeS: 1_767_225_600 + i * 9000, vmId: `vm-${i}`, sourceHost: `compute-${i}`, targetHost: `compute-${i + 1}`, error: i % 3 === 0 ? 'abandoned after 3 attempts: timeout' : 'nova: migration error',
    })),
    decisionLatency: {
      timeS: Array.from({ length: decisions }, (_, i) => 1_767_225_600 + i * 216), latencyMs: Array.from({ length: decisions }, (_, i) => 2 + ((i * 37) % 50) / 10),
    },
  };
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

  test('a sweep: a point per run, bars per day and policy', async () => {
    const days = ['20110303', '20110306', '20110309', '20110322'];
    const policies = ['thr-mmt-0.8', 'lr-mmt-1.2', 'mad-mmt-2.5'];
    const lines = days.flatMap((day, d) => policies.map((policy, p) => JSON.stringify({
      day, policy, energyKwh: 120 + 15 * p - 4 * d, migrations: 9000 - 1500 * p + 100 * d, slatah: 0.05, pdm: 0.0001 * (p + 1),
      slav: 0.000005 * (p + 1) + 0.000001 * d, esv: 0.0006 * (p + 1), mode: 'cloudsim', seed: '1',
    })));
    const input = join(directory, 'sweep.jsonl');
    writeFileSync(input, lines.join('\n') + '\n');
    const out = join(directory, 'sweep.html');
    neat('report', input, '--out', out);
    const runs = days.length * policies.length;
    expect(byId(await open(out, 'report-sweep'))).toEqual({
      'energy-slav': [policies.length, runs], 'per-day-energyKwh': [policies.length, days.length],
      'per-day-slav': [policies.length, days.length], 'per-day-migrations': [policies.length, days.length],
    });
  });

  test('a manager\'s log: requests, migrations, power events, latency and energy over its buckets', async () => {
    const analysis = productionAnalysis();
    const provenance = { input: 'events.sqlite', inputSha256: '0'.repeat(64), reportVersion: '0.1.0', logVersion: null, events: 12_345 };
    const out = join(directory, 'production.html');
    writeFileSync(out, renderHtml(productionDocument(analysis, provenance)).html);
    const buckets = analysis.buckets.count;
    expect(byId(await open(out, 'report-production'))).toEqual({
      requests: [6 + 2, buckets], migrations: [3, buckets], 'migration-durations': [1, 30], hosts: [2, buckets],
      'power-events': [4, buckets], latency: [2, buckets], power: [2, buckets],
    });
  });

  test('two runs compared: each curve over the union of both runs\' times', async () => {
    const a = join(directory, 'a.sqlite');
    const b = join(directory, 'b.sqlite');
    neat('sim', '--trace', SAMPLE, '--policy', 'lr-mmt-1.2', '--hosts', String(HOSTS), '--events', a);
    neat('sim', '--trace', SAMPLE, '--policy', 'thr-mmt-0.8', '--hosts', String(HOSTS), '--events', b);
    const out = join(directory, 'compare.html');
    neat('report', '--compare', a, b, '--out', out);
    const union = new Set([...updateTimes(a), ...updateTimes(b)]).size;
    expect(byId(await open(out, 'report-compare'))).toEqual({
      'compare-hosts-active': [2, union], 'compare-power': [2, union], 'compare-energy': [2, union], 'compare-migrations': [2, union],
    });
  });
});
