/**
 * `npm run bench:report`: the report of a full PlanetLab policy-day's log
 * (LR-MMT-1.2 on 20110303, 800 hosts, 1052 VMs): the time `neat report`
 * takes and its peak RSS, the size of the HTML, and how long Chromium takes
 * to draw it (first chart, all charts) from a file:// URL. Then the same for
 * a generated production log of 1,000,000 events (`writeGeneratedLog`: 100
 * hosts' samples every 300 s, a migration and a refused request per round).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { SqliteEventLog } from '../../src/log/sqlite';
import { launchChromium, watchedPage } from '../support/browser';
import { PLANETLAB_ROOT, PROJECT_ROOT } from '../support/planetlab';
import { writeGeneratedLog } from '../support/timeline';

const DAY = '20110303';
const POLICY = 'lr-mmt-1.2';
const LOADS = 5;
const PRODUCTION_EVENTS = 1_000_000;
const PRODUCTION_HOSTS = 100;

/** The CLI in a child process of its own, so that its peak RSS is the command's. */
function neat(args: readonly string[]): { readonly wallMs: number; readonly stdout: string; readonly maxRssMb: number } {
  const cli = join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
  const script = `require(${JSON.stringify(cli)}).main(${JSON.stringify(args)}).then((code) => {
    process.stderr.write('\\nmaxRssKb=' + process.resourceUsage().maxRSS + '\\n'); process.exit(code); });`;
  const startMs = performance.now();
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const wallMs = performance.now() - startMs;
  if (child.status !== 0) throw new Error(`neat ${args.join(' ')} failed: ${child.stderr}`);
  const rss = /maxRssKb=(\d+)/.exec(child.stderr);
  return { wallMs, stdout: child.stdout.trim(), maxRssMb: rss === null ? NaN : Number(rss[1]) / 1024 };
}

interface Timings { readonly firstChartMs: number; readonly allChartsMs: number }

async function drawTimes(html: string): Promise<Timings[]> {
  const browser = await launchChromium();
  try {
    const times: Timings[] = [];
    for (let load = 0; load < LOADS; load++) {
      const { page, errors } = await watchedPage(browser);
      await page.goto(pathToFileURL(html).href);
      await page.waitForFunction(() => (globalThis as unknown as { neatReport?: unknown }).neatReport !== undefined, null, { timeout: 60_000 });
      times.push(await page.evaluate(() => (globalThis as unknown as { neatReport: { timings: Timings } }).neatReport.timings));
      await page.close();
      if (errors.length > 0) throw new Error(`the page reported errors: ${errors.join('; ')}`);
    }
    return times;
  } finally {
    await browser.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function reportOf(log: string, html: string): Promise<void> {
  const report = neat(['report', log, '--out', html]);
  console.log(`neat report: ${(report.wallMs / 1000).toFixed(2)} s wall (process included), peak RSS ${report.maxRssMb.toFixed(0)} MB; ${report.stdout}`);
  console.log(`HTML: ${(statSync(html).size / 1e6).toFixed(2)} MB`);
  const times = await drawTimes(html);
  console.log(`Chromium, median of ${LOADS} loads from file://: first chart ${median(times.map((t) => t.firstChartMs)).toFixed(0)} ms, `
    + `all charts ${median(times.map((t) => t.allChartsMs)).toFixed(0)} ms after navigation start`);
}

async function main(): Promise<void> {
  const day = join(PLANETLAB_ROOT, DAY);
  if (!existsSync(day)) throw new Error(`${day} is missing: the shared PlanetLab traces are expected beside the project`);
  if (!existsSync('/usr/bin/chromium')) throw new Error('/usr/bin/chromium is missing (apt-get install chromium)');
  const directory = mkdtempSync(join(tmpdir(), 'neat-report-bench-'));
  try {
    const log = join(directory, 'day.sqlite');
    const sim = neat(['sim', '--trace', day, '--policy', POLICY, '--events', log]);
    console.log(`log: ${POLICY} on ${DAY}, ${(statSync(log).size / 1e6).toFixed(1)} MB, written in ${(sim.wallMs / 1000).toFixed(1)} s`);
    await reportOf(log, join(directory, 'day.html'));
    const production = join(directory, 'production.sqlite');
    const writer = new SqliteEventLog(production, { durable: false });
    const generated = await writeGeneratedLog(writer, { hosts: PRODUCTION_HOSTS, events: PRODUCTION_EVENTS });
    await writer.close();
    console.log(`\nlog: a generated production log of ${generated.events.toLocaleString('en')} events, ${PRODUCTION_HOSTS} hosts, `
      + `${(statSync(production).size / 1e6).toFixed(1)} MB`);
    await reportOf(production, join(directory, 'production.html'));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
