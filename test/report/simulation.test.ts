import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventData } from '../../src/events/catalogue';
import type { NewEvent } from '../../src/events/envelope';
import { NO_STREAM } from '../../src/log/port';
import { SqliteEventLog } from '../../src/log/sqlite';
import { analyseSimulationLog } from '../../src/report/simulation';
import { planetLabConfig } from '../../sim/config';
import type { SimulationConfig } from '../../sim/config';
import { replayRun } from '../../sim/replay';
import { runSimulation } from '../../sim/run';
import { readCsvTrace } from '../../traces/csv';
import { TestEvents } from '../support/events';
import { PROJECT_ROOT } from '../support/planetlab';

const SAMPLE = join(PROJECT_ROOT, 'traces', 'sample', 'planetlab-like-day.csv');
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-report-sim-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

type Update = EventData<'DataCentreUpdated'>;

/** Events at the given clock (s); the log holds them in the order given. */
class HandLog {
  private readonly events = new TestEvents('report-simulation');
  readonly batch: NewEvent[] = [];

  at<T extends Parameters<TestEvents['make']>[0]>(clockS: number, type: T, data: EventData<T>): this {
    this.events.timeMs = clockS * 1000;
    this.batch.push(this.events.make(type, data));
    return this;
  }

  async write(path: string): Promise<void> {
    const log = new SqliteEventLog(path, { durable: false });
    for (let from = 0; from < this.batch.length; from += 5_000) {
      await log.append('run', this.batch.slice(from, from + 5_000), from === 0 ? NO_STREAM : from - 1);
    }
    await log.close();
  }
}

function started(config: SimulationConfig, mode: string): EventData<'SimulationStarted'> {
  return { runId: 'run-1', mode, policy: 'hand', seed: '7', trace: { name: 'hand' }, config, codeVersion: '0.0.9' };
}

function migration(vmId: string): EventData<'MigrationStarted'> {
  return { migrationId: `m-${vmId}`, vmId, sourceHost: 'host-0', targetHost: 'host-1', requestId: null, attempt: 1 };
}

function update(timeS: number, energyWs: number, hosts: [number, number][], vms: [number, number, number][]): Update {
  return {
    timeS, energyWs, hostAllocatedMips: hosts.map(([a]) => a), hostRequestedMips: hosts.map(([, r]) => r),
    vmHost: vms.map(([h]) => h), vmAllocatedMips: vms.map(([, a]) => a), vmRequestedMips: vms.map(([, , r]) => r), vmInMigration: vms.map(() => 0),
  };
}

describe('the analysis of a simulation log', () => {
  // Host 0: 2 × 1860 MIPS, host 1: 2 × 2660; VM 0: 2500 MIPS, VM 1: 2000 (CloudSim's types, VMs assigned by index).
  const config = planetLabConfig(2, [null, null], 2);

  test('a hand-built mode-neat log: hosts by state, power, energy, spreads, migrations, SLA time and heatmap, by hand', async () => {
    const path = join(directory, 'hand.sqlite');
    // As mode neat writes them: an update is written at the next processing, after the power changes before it.
    await new HandLog()
      .at(0, 'SimulationStarted', started(config, 'neat'))
      .at(300, 'DataCentreUpdated', update(0, 0, [[1860, 1860], [0, 0]], [[0, 1250, 1250], [0, 610, 610]]))
      .at(100, 'HostSuspended', { host: 'host-1', durationMs: 0 })
      .at(200, 'MigrationStarted', migration('vm-1'))
      .at(600, 'DataCentreUpdated', update(300, 30_000, [[1000, 1500], [0, 0]], [[0, 500, 750], [0, 500, 750]]))
      .at(450, 'HostWoken', { host: 'host-1', durationMs: 0 })
      .at(500, 'MigrationStarted', migration('vm-1'))
      .at(900, 'DataCentreUpdated', update(600, 60_000, [[930, 930], [1330, 1330]], [[0, 930, 930], [1, 1330, 1330]]))
      .at(950, 'MigrationStarted', migration('vm-0'))
      .write(path);
    const log = new SqliteEventLog(path);
    const analysis = await analyseSimulationLog(log, { input: 'hand.sqlite', inputSha256: 'digest' });
    const replay = await replayRun(log);
    await log.close();

    expect(analysis.timeS).toEqual([0, 300, 600]);
    // Host 1 is idle at 0, suspended at 100 (so asleep at 300), woken at 450.
    expect(analysis.series.hostsActive).toEqual([1, 1, 2]);
    expect(analysis.series.hostsIdle).toEqual([1, 0, 0]);
    expect(analysis.series.hostsAsleep).toEqual([0, 1, 0]);
    expect(analysis.series.powerW).toEqual([null, 100, 200]);
    expect(analysis.series.energyKwh).toEqual([0, 30_000 / 3_600_000, 90_000 / 3_600_000]);
    // Started at 200 (in (0, 300]) and 500; the one at 950, after the last update, counts in the last interval.
    expect(analysis.series.migrationsStarted).toEqual([0, 1, 2]);
    // Host 0 got 1000 of 1500 MIPS from 300 to 600.
    expect(analysis.series.slaViolationHostS).toEqual([0, 0, 300]);
    // commons-math's percentiles of two values: p10 the lower, p90 the upper, the median their mean.
    expect(analysis.series.vmUtilization.p10).toEqual([610 / 2000, 500 / 2500, 930 / 2500]);
    expect(analysis.series.vmUtilization.p50[0]).toBeCloseTo((0.305 + 0.5) / 2, 12);
    expect(analysis.series.vmUtilization.p50[2]).toBeCloseTo((0.372 + 0.665) / 2, 12);
    expect(analysis.series.vmUtilization.p90).toEqual([1250 / 2500, 500 / 2000, 1330 / 2000]);
    expect(analysis.series.hostUtilization.p50).toEqual([0.5, 1000 / 3720, 0.25]);
    // Cells: 0 asleep, 1 + whole percent otherwise.
    expect(analysis.heatmap.timeS).toEqual([0, 300, 600]);
    expect(analysis.heatmap.columns.map((column) => [...column])).toEqual([[51, 1], [28, 0], [26, 26]]);
    expect(analysis.heatmap.hosts).toEqual(['host-0', 'host-1']);

    // The metrics are neat replay's; SLATAH by hand: host 0 active 0..600, violating 300..600.
    expect(analysis.metrics).toEqual(replay.metrics);
    expect(analysis.metrics.slatah).toBe(0.5);
    expect(analysis.metrics.migrations).toBe(3);
    expect(analysis.recorded).toBeNull();
    expect(analysis.provenance).toEqual({ input: 'hand.sqlite', inputSha256: 'digest', reportVersion: expect.any(String) as string, logVersion: '0.0.9', events: 9 });
    expect(analysis.run).toMatchObject({ mode: 'neat', policy: 'hand', seed: '7' });
  });

  test('mode cloudsim: a host without VMs is off (CloudSim switches it off); no host is idle', async () => {
    const path = join(directory, 'cloudsim.sqlite');
    await new HandLog()
      .at(0, 'SimulationStarted', started(config, 'cloudsim'))
      .at(300, 'DataCentreUpdated', update(300, 0, [[1860, 1860], [0, 0]], [[0, 1250, 1250], [0, 610, 610]]))
      .write(path);
    const log = new SqliteEventLog(path);
    const analysis = await analyseSimulationLog(log, { input: 'cloudsim.sqlite', inputSha256: '' });
    await log.close();
    expect([analysis.series.hostsActive, analysis.series.hostsIdle, analysis.series.hostsAsleep]).toEqual([[1], [0], [1]]);
    expect([...analysis.heatmap.columns[0]]).toEqual([51, 0]);
  });

  test('a long run: the heatmap keeps at most 4,000 columns, each the highest of the updates it covers', async () => {
    const one = planetLabConfig(1, [null], 1);
    const hand = new HandLog().at(0, 'SimulationStarted', started(one, 'cloudsim'));
    const updates = 9_000;
    const spikeAt = 6_001;
    for (let k = 0; k < updates; k++) {
      // 10 % everywhere but one update at 100 %.
      const allocated = k === spikeAt ? 3720 : 372;
      hand.at(k + 1, 'DataCentreUpdated', update(k + 1, 0, [[allocated, allocated]], [[0, allocated, allocated]]));
    }
    const path = join(directory, 'long.sqlite');
    await hand.write(path);
    const log = new SqliteEventLog(path);
    const analysis = await analyseSimulationLog(log, { input: 'long.sqlite', inputSha256: '' });
    await log.close();
    const { timeS, columns } = analysis.heatmap;
    expect(analysis.timeS).toHaveLength(updates);
    expect(columns.length).toBeLessThanOrEqual(4_000);
    expect(columns.length).toBeGreaterThan(1_000);
    expect(timeS[0]).toBe(1);
    expect(timeS.every((t, i) => i === 0 || t > timeS[i - 1])).toBe(true);
    const spiked = columns.flatMap((column, c) => (column[0] === 101 ? [c] : []));
    expect(spiked).toHaveLength(1);
    // The spike's column starts at or before its time, the next one after it.
    const c = spiked[0];
    expect(timeS[c]).toBeLessThanOrEqual(spikeAt + 1);
    expect(timeS[c + 1]).toBeGreaterThan(spikeAt + 1);
    expect(columns.filter((column) => column[0] === 11)).toHaveLength(columns.length - 1);
  });

  test('a real run: the metrics equal neat replay\'s, and the series add up to them', async () => {
    const path = join(directory, 'sample.sqlite');
    await runSimulation({ trace: readCsvTrace(SAMPLE), mode: 'cloudsim', policy: 'lr-mmt-1.2', seed: '1', hosts: 60, eventsPath: path });
    const log = new SqliteEventLog(path);
    const fractions: number[] = [];
    const analysis = await analyseSimulationLog(log, { input: path, inputSha256: 'x', onProgress: (f) => { fractions.push(f); } });
    const replay = await replayRun(log);
    await log.close();
    expect(analysis.metrics).toEqual(replay.metrics);
    expect(analysis.recorded).toEqual(replay.metrics);
    expect(analysis.series.migrationsStarted.reduce((a, b) => a + b, 0)).toBe(replay.metrics.migrations);
    expect(analysis.series.energyKwh.at(-1)).toBeCloseTo(replay.metrics.energyKwh, 9);
    expect(analysis.series.hostsActive.every((active, k) => active + analysis.series.hostsAsleep[k] === 60)).toBe(true);
    expect(fractions.at(-1)).toBe(1);
  });
});
