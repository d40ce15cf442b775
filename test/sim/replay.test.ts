import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NO_STREAM } from '../../src/log/port';
import { SqliteEventLog } from '../../src/log/sqlite';
import { MemoryEventLog } from '../../src/log/memory';
import { replayRun } from '../../sim/replay';
import { runSimulation } from '../../sim/run';
import { readCsvTrace } from '../../traces/csv';
import { TestEvents } from '../support/events';
import { planetLabDay, PROJECT_ROOT } from '../support/planetlab';

const SAMPLE = join(PROJECT_ROOT, 'traces', 'sample', 'planetlab-like-day.csv');
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-replay-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function neat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 110_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const METRIC_KEYS = ['energyKwh', 'migrations', 'slatah', 'pdm', 'slav', 'esv', 'overallSlaViolation', 'averageSlaViolation', 'hostShutdowns',
  'meanTimeBeforeHostShutdownS', 'meanMigrationDurationS', 'hosts', 'vms', 'simulatedS'];

describe('neat replay recomputes the metrics from the log alone', () => {
  test('in process: every metric equals the run, and the recorded SimulationEnded', async () => {
    const path = join(directory, 'run.sqlite');
    const run = await runSimulation({ trace: readCsvTrace(SAMPLE), mode: 'cloudsim', policy: 'mad-mmt-2.5', seed: '3', hosts: 80, eventsPath: path });
    const log = new SqliteEventLog(path);
    const replay = await replayRun(log);
    await log.close();
    expect(replay.metrics).toEqual(run.metrics);
    expect(replay.recorded).toEqual(run.metrics);
    expect(replay.events).toBe(run.events);
    expect(replay).toMatchObject({ seed: '3', policy: 'mad-mmt-2.5', mode: 'cloudsim', trace: 'planetlab-like-day' });
  });

  test('neat sim --json and neat replay --json print the same numbers on a PlanetLab day', () => {
    const day = planetLabDay('20110303');
    if (day === null) return;
    const path = join(directory, 'day.sqlite');
    const sim = neat('sim', '--trace', day, '--mode', 'cloudsim', '--policy', 'lr-mmt-1.2', '--events', path, '--json');
    expect(sim.code).toBe(0);
    const replay = neat('replay', path, '--json');
    expect(replay.code).toBe(0);
    const simJson = JSON.parse(sim.stdout) as Record<string, unknown>;
    const replayJson = JSON.parse(replay.stdout) as Record<string, unknown>;
    for (const key of METRIC_KEYS) expect([key, replayJson[key]]).toEqual([key, simJson[key]]);
    expect(replayJson.recordedMetricsMatch).toBe(true);
    expect(simJson).toMatchObject({ seed: '1', hosts: 800, vms: 1052 });
    expect(typeof simJson.energyKwh).toBe('number');
  });

  test('a log that is not a simulation run is refused with a clear message', async () => {
    const log = new MemoryEventLog();
    await expect(replayRun(log)).rejects.toThrow(/has no SimulationStarted event among its first 2000 events/);
    await log.append('s', [new TestEvents().sample('h', {})], NO_STREAM);
    await expect(replayRun(log)).rejects.toThrow(/not a simulation run's log/);
  });

  test('neat replay of a missing file or a non-log file fails without a stack trace', () => {
    expect(neat('replay', join(directory, 'missing.sqlite')).stderr).toMatch(/no such file/);
    const missing = neat('replay');
    expect(missing.code).toBe(2);
    const notALog = neat('replay', SAMPLE);
    expect(notALog.code).toBe(1);
    expect(notALog.stderr).toMatch(/is not an SQLite database, so not a neat event log; nothing was changed/);
    expect(notALog.stderr).not.toMatch(/\n\s+at /);
  });
});
