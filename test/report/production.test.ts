import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NO_STREAM } from '../../src/log/port';
import { SqliteEventLog } from '../../src/log/sqlite';
import { analyseProductionLog, AnalysisError, bucketsOver, defaultBucketS, isProductionLog, readFirstPage } from '../../src/report/production';
import type { ProductionAnalysis } from '../../src/report/model';
import { TestEvents } from '../support/events';
import { Timeline, writeGeneratedLog } from '../support/timeline';

let directory: string;
let counter = 0;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-production-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function freshLog(): SqliteEventLog {
  counter += 1;
  return new SqliteEventLog(join(directory, `log-${counter}.sqlite`), { durable: false });
}

/*
 * Two hosts and two VMs, every time chosen so that the arithmetic is short.
 * h1 has 1000 MHz, h2 2000 MHz; v1 starts on h1, v2 on h2. Power model
 * neat-testbed-linear: P(u) = 270 + 180·u W.
 *
 *   1000  inventory; h1 samples v1 500 + hypervisor 100 (u 0.6, 378 W); h2 samples v2 1000 (u 0.5, 360 W)
 *   1050  h1 samples v1 950 + 100 = 1050 MHz: u 1.05, saturated, P(1) = 450 W
 *   1100  r1 received (h1, overload): on the edge, so in bucket 1
 *   1102  r1 decided (latency 2000 ms); m1 starts: v1 h1 → h2
 *   1122  m1 completes in 20 s
 *   1130  h1 samples hypervisor 100 (u 0.1, 288 W); h2 samples v1 950 + v2 1000 (u 0.975, 445.5 W)
 *   1140  h1 suspend requested (still drawing power)
 *   1150  h1 suspended (up since 1000: 150 s); r1 completed
 *   1200  r2 received (h2, underload); 1201 nothing to do (no-capacity, latency 1000 ms), completed nothing-to-do
 *   1210  r3 rejected (412)
 *   1220  h1 wake requested; 1230 woken (its last sample stands: 288 W)
 *   1240  r4 received (h2, overload); 1245 decided (latency 5000 ms); m2 starts: v2 h2 → h1
 *   1250  m2 fails (timeout), is abandoned (gave up); r4 failed
 *   1260  h1 suspend requested; 1265 suspend failed (h1 stays up)
 *   1300  h2 samples the same again: the last event
 */
function handTimeline(): Timeline {
  return new Timeline()
    .at(1000).inventory({ h1: { cpuMhz: 1000, state: 'up' }, h2: { cpuMhz: 2000, state: 'up' } }, { v1: 'h1', v2: 'h2' })
    .sample('h1', { v1: 500 }, 100).sample('h2', { v2: 1000 }, 0)
    .at(1050).sample('h1', { v1: 950 }, 100)
    .at(1100).received('r1', 'h1', 'overload', ['v1'])
    .at(1102).decided('r1', { v1: 'h2' }).migrationStarted('m1', 'v1', 'h1', 'h2')
    .at(1122).migrationCompleted('m1', 'v1', 'h1', 'h2', 20_000)
    .at(1130).sample('h1', {}, 100).sample('h2', { v1: 950, v2: 1000 }, 0)
    .at(1140).add('HostSuspendRequested', { host: 'h1', requestId: 'r1' })
    .at(1150).add('HostSuspended', { host: 'h1', durationMs: 10_000 }).completed('r1', 'completed')
    .at(1200).received('r2', 'h2', 'underload', ['v1', 'v2'])
    .at(1201).add('NothingToDo', { requestId: 'r2', reason: 'no-capacity', detail: 'no host fits' }).completed('r2', 'nothing-to-do')
    .at(1210).add('RequestRejected', { requestId: 'r3', host: 'h2', status: 412, reason: 'stale', protocol: 'neat', remoteAddress: null })
    .at(1220).add('HostWakeRequested', { host: 'h1', requestId: null })
    .at(1230).add('HostWoken', { host: 'h1', durationMs: 10_000 })
    .at(1240).received('r4', 'h2', 'overload', ['v2'])
    .at(1245).decided('r4', { v2: 'h1' }).migrationStarted('m2', 'v2', 'h2', 'h1')
    .at(1250).add('MigrationFailed', { migrationId: 'm2', vmId: 'v2', sourceHost: 'h2', targetHost: 'h1', attempt: 1, error: 'timeout', retryable: true })
    .add('MigrationAbandoned', { migrationId: 'm2', vmId: 'v2', sourceHost: 'h2', targetHost: 'h1', attempts: 1, error: 'gave up' })
    .completed('r4', 'failed')
    .at(1260).add('HostSuspendRequested', { host: 'h1', requestId: null })
    .at(1265).add('HostSuspendFailed', { host: 'h1', error: 'ssh: timeout', stderr: null })
    .at(1300).sample('h2', { v1: 950, v2: 1000 }, 0);
}

async function analyseHand(): Promise<ProductionAnalysis> {
  const log = freshLog();
  await handTimeline().writeTo(log);
  try {
    return await analyseProductionLog(log, { powerModel: 'neat-testbed-linear', bucketS: 100 });
  } finally {
    await log.close();
  }
}

describe('analyseProductionLog on a hand-built timeline: every figure computed by hand', () => {
  let analysis: ProductionAnalysis;

  beforeAll(async () => {
    analysis = await analyseHand();
  });

  test('energy: ∫ P(u) dt over each host while it draws power', () => {
    // h1: 50 s × 378 + 80 s × 450 (saturated, P capped at u = 1) + 20 s × 288, asleep 1150-1230, then 70 s × 288
    //     = 18900 + 36000 + 5760 + 20160 = 80820 Ws, over 50 + 80 + 20 + 70 = 220 s powered.
    // h2: 130 s × 360 + 170 s × 445.5 = 46800 + 75735 = 122535 Ws, 300 s powered.
    // 203355 Ws / 3.6e6 = 0.0564875 kWh.
    expect(analysis.metrics.energyKwh).toBeCloseTo(203_355 / 3_600_000, 12);
    expect(analysis.metrics.powerModel).toBe('neat-testbed-linear');
  });

  test('SLATAH, PDM, SLAV and ESV', () => {
    // SLATAH: h1 saturated 1050-1130 = 80 s, of 220 + 300 = 520 s powered.
    const slatah = 80 / 520;
    // PDM: v1 ran 500 MHz for 50 s then 950 MHz for 250 s = 25000 + 237500; v2 1000 MHz for 300 s = 300000;
    // 562500 MHz·s in all. m1 lost 10 % of v1's 950 MHz for 20 s = 1900 MHz·s.
    const pdm = 1900 / 562_500;
    expect(analysis.metrics.slatah).toBeCloseTo(slatah, 12);
    expect(analysis.metrics.pdm).toBeCloseTo(pdm, 12);
    expect(analysis.metrics.slav).toBeCloseTo(slatah * pdm, 14);
    expect(analysis.metrics.esv).toBeCloseTo((203_355 / 3_600_000) * slatah * pdm, 14);
  });

  test('migrations, shutdowns and the counts of the data centre', () => {
    expect(analysis.metrics).toMatchObject({
      migrations: 2, migrationsCompleted: 1, migrationsFailed: 1, migrationsAbandoned: 1,
      // One suspend, 150 s after h1 was first seen up; m1 took 20 s.
      hostShutdowns: 1, meanTimeBeforeHostShutdownS: 150, meanMigrationDurationS: 20,
      hosts: 2, vms: 2, observedS: 300,
    });
    expect(analysis.migrationDurations).toEqual({ endS: [1122], durationS: [20] });
    expect(analysis.migrationFailures).toEqual([
      { timeS: 1250, vmId: 'v2', sourceHost: 'h2', targetHost: 'h1', error: 'timeout' },
      { timeS: 1250, vmId: 'v2', sourceHost: 'h2', targetHost: 'h1', error: 'gave up' },
    ]);
  });

  test('decision latency: from each request to its decision', () => {
    expect(analysis.decisionLatency).toEqual({ timeS: [1102, 1201, 1245], latencyMs: [2000, 1000, 5000] });
  });

  test('buckets of 100 s aligned on 1000; the last holds only the last instant, 1300', () => {
    expect(analysis.buckets).toEqual({ startS: 1000, bucketS: 100, count: 4 });
  });

  test('counted series: each event in the bucket of its time, an event on an edge in the later bucket', () => {
    const { series } = analysis;
    expect(series.requests).toEqual({
      completed: [0, 1, 0, 0], partial: [0, 0, 0, 0], failed: [0, 0, 1, 0], superseded: [0, 0, 0, 0],
      rejected: [0, 0, 1, 0], recorded: [0, 0, 0, 0],
    });
    expect(series.nothingToDo).toEqual({ 'no-capacity': [0, 0, 1, 0] });
    expect(series.migrationsStarted).toEqual([0, 1, 1, 0]);
    expect(series.migrationsCompleted).toEqual([0, 1, 0, 0]);
    expect(series.migrationsFailed).toEqual([0, 0, 1, 0]);
    expect(series.suspends).toEqual([0, 1, 0, 0]);
    expect(series.wakes).toEqual([0, 0, 1, 0]);
    expect(series.suspendFailures).toEqual([0, 0, 1, 0]);
    expect(series.wakeFailures).toEqual([0, 0, 0, 0]);
  });

  test('hosts at each bucket end: h1 asleep at 1200, up again (its suspend failed) at 1300', () => {
    expect(analysis.series.hostsActive).toEqual([2, 1, 2, 2]);
    expect(analysis.series.hostsSuspended).toEqual([0, 1, 0, 0]);
  });

  test('mean power per bucket and energy to its end', () => {
    // [1000, 1100): h1 50 × 378 + 50 × 450 = 41400, h2 100 × 360 = 36000: 77400 Ws, 774 W.
    // [1100, 1200): h1 30 × 450 + 20 × 288 = 19260, h2 30 × 360 + 70 × 445.5 = 41985: 61245 Ws, 612.45 W.
    // [1200, 1300): h1 70 × 288 = 20160, h2 100 × 445.5 = 44550: 64710 Ws, 647.1 W.
    // [1300, 1400): no time observed; the power drawn at 1300, 288 + 445.5 = 733.5 W.
    const powerW = [774, 612.45, 647.1, 733.5];
    const energyKwh = [77_400, 138_645, 203_355, 203_355].map((ws) => ws / 3_600_000);
    analysis.series.powerW.forEach((value, k) => { expect(value).toBeCloseTo(powerW[k], 9); });
    analysis.series.energyKwh.forEach((value, k) => { expect(value).toBeCloseTo(energyKwh[k], 12); });
  });

  test('another power model gives another energy, from the same utilisation', async () => {
    const log = freshLog();
    await handTimeline().writeTo(log);
    const g5 = await analyseProductionLog(log, { powerModel: 'hp-proliant-ml110-g5', bucketS: 100 });
    await log.close();
    // SPECpower G5: 0.6 → 121 W, 1 → 135 W, 0.1 → 97 W, 0.5 → 116 W, 0.975 → 133 + 0.2/10 × 75 = 134.5 W.
    // h1: 50 × 121 + 80 × 135 + 20 × 97 + 70 × 97 = 6050 + 10800 + 1940 + 6790 = 25580; h2: 130 × 116 + 170 × 134.5 = 15080 + 22865 = 37945.
    expect(g5.metrics.energyKwh).toBeCloseTo((25_580 + 37_945) / 3_600_000, 9);
    expect(g5.metrics.slatah).toBeCloseTo(80 / 520, 12);
  });
});

describe('the kind of a log, and logs that are not a manager\'s', () => {
  test('a manager\'s first page is production; with a SimulationStarted, or without manager events, it is not', async () => {
    const log = freshLog();
    await handTimeline().writeTo(log);
    expect(isProductionLog(await readFirstPage(log))).toBe(true);
    await log.close();
    const make = new TestEvents('kinds');
    const started = make.make('SimulationStarted', { runId: 'run', mode: 'neat', policy: 'p', seed: '1', trace: {}, config: {}, codeVersion: 'v' });
    const sample = make.sample('h', {});
    expect(isProductionLog([])).toBe(false);
    expect(isProductionLog([{ ...sample, stream: 's', revision: 0, position: 1 }])).toBe(true);
    expect(isProductionLog([{ ...started, stream: 's', revision: 0, position: 1 }, { ...sample, stream: 's', revision: 1, position: 2 }])).toBe(false);
  });

  test('an empty log, and a log of simulator events only, are AnalysisErrors naming the log and its problem', async () => {
    const empty = freshLog();
    await expect(analyseProductionLog(empty, { powerModel: 'neat-testbed-linear' })).rejects.toThrow(AnalysisError);
    await expect(analyseProductionLog(empty, { powerModel: 'neat-testbed-linear' })).rejects.toThrow(/^sqlite:.*log-\d+\.sqlite is empty: there is nothing to analyse$/);
    await empty.close();
    const simulated = freshLog();
    const make = new TestEvents('cloudsim');
    await simulated.append('run', [
      make.make('SimulationStarted', { runId: 'run', mode: 'cloudsim', policy: 'thr-mmt-0.8', seed: '1', trace: {}, config: {}, codeVersion: 'v' }),
      make.make('DataCentreUpdated', {
        timeS: 300, energyWs: 1, hostAllocatedMips: [], hostRequestedMips: [], vmHost: [], vmAllocatedMips: [], vmRequestedMips: [], vmInMigration: [],
      }),
    ], NO_STREAM);
    await expect(analyseProductionLog(simulated, { powerModel: 'neat-testbed-linear' })).rejects.toThrow(
      /^sqlite:.*log-\d+\.sqlite holds no event a global manager writes .* among its first 2, only SimulationStarted, DataCentreUpdated: not a production log/);
    await simulated.close();
  });

  test('an unknown power model, or a bucket too narrow for the span, is an AnalysisError saying what is valid', async () => {
    const log = freshLog();
    await handTimeline().writeTo(log);
    await expect(analyseProductionLog(log, { powerModel: 'linear' })).rejects.toThrow(
      'unknown power model "linear"; valid: hp-proliant-ml110-g4, hp-proliant-ml110-g5, neat-testbed-linear');
    // 300 s in 0.001 s buckets: 300,001 buckets.
    await expect(analyseProductionLog(log, { powerModel: 'neat-testbed-linear', bucketS: 0.001 })).rejects.toThrow(/make 300001 buckets; at most 100000/);
    await log.close();
  });
});

describe('bucket widths', () => {
  test('the default: the narrowest nice width giving at most 500 buckets', () => {
    // 0 s and 300 s: 1 s. 8 h (28800 s / 500 = 57.6): 60 s. A day (172.8): 300 s. 30 days (5184): 7200 s.
    // A year (63072): 86400 s. Ten years (630720): 10 days.
    expect([0, 300, 28_800, 86_400, 30 * 86_400, 365 * 86_400, 3650 * 86_400].map(defaultBucketS))
      .toEqual([1, 1, 60, 300, 7200, 86_400, 864_000]);
  });

  test('buckets start on a multiple of their width and hold the last event', () => {
    // 1234.5 → 1200; (1790 − 1200) / 60 = 9.8: buckets 0..9.
    expect(bucketsOver(1234.5, 1790, 60)).toEqual({ startS: 1200, bucketS: 60, count: 10 });
    // A last event on an edge opens the next bucket.
    expect(bucketsOver(1200, 1800, 60)).toEqual({ startS: 1200, bucketS: 60, count: 11 });
  });
});

describe('a large log', () => {
  test('200,000 events are analysed in one bounded pass, with the counts the generator made', async () => {
    const log = freshLog();
    const generated = await writeGeneratedLog(log, { hosts: 20, events: 200_000 });
    const fractions: number[] = [];
    const startMs = performance.now();
    const analysis = await analyseProductionLog(log, { powerModel: 'neat-testbed-linear', onProgress: (fraction) => { fractions.push(fraction); } });
    const wallMs = performance.now() - startMs;
    await log.close();
    expect(generated.events).toBeGreaterThanOrEqual(200_000);
    expect(analysis.metrics).toMatchObject({ migrations: generated.migrations, migrationsCompleted: generated.migrations, hosts: 20, vms: 80,
      observedS: generated.lastS, meanMigrationDurationS: 10, hostShutdowns: 0 });
    expect(analysis.decisionLatency.latencyMs.length).toBe(generated.decisions);
    // Every host up all the time, each between idle (270 W) and full (450 W).
    const hostHours = (20 * generated.lastS) / 3600;
    expect(analysis.metrics.energyKwh).toBeGreaterThan(0.27 * hostHours);
    expect(analysis.metrics.energyKwh).toBeLessThan(0.45 * hostHours);
    expect(analysis.buckets.count).toBeGreaterThanOrEqual(200);
    expect(analysis.buckets.count).toBeLessThanOrEqual(501);
    expect(analysis.series.hostsActive.every((hosts) => hosts === 20)).toBe(true);
    expect(fractions.at(-1)).toBe(1);
    expect(fractions.length).toBe(Math.ceil(generated.events / 2000));
    expect(wallMs).toBeLessThan(30_000);
  });
});
