import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runSimulation } from '../../sim/run';
import type { SimulationMetrics } from '../../sim/metrics';
import { SqliteEventLog } from '../../src/log/sqlite';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { PROJECT_ROOT } from '../support/planetlab';
import { copyManagerEvents } from '../support/timeline';

// Twenty VMs over eight hours on sixteen hosts, as in test/sim/neatMode.test.ts: a second's run that consolidates.
const TRACE = generateSyntheticTrace({ seed: 'neat-mode', vms: 20, steps: 96, stepS: 300 });

let directory: string;
let simulationPath: string;
let productionPath: string;
let simulated: SimulationMetrics;

function neat(args: readonly string[], env: Readonly<Record<string, string>> = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Read with SQLite alone, not through our log: what the CLI's figures are checked against. */
function query(path: string, sql: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'neat-replay-production-'));
  simulationPath = join(directory, 'run.sqlite');
  productionPath = join(directory, 'production.sqlite');
  simulated = (await runSimulation({ trace: TRACE, mode: 'neat', policy: 'thr-mmtc-0.8', seed: '1', hosts: 16, eventsPath: simulationPath })).metrics;
  // What the run's global manager wrote, without the simulator's own events: a production log.
  const from = SqliteEventLog.openExisting(simulationPath);
  const to = new SqliteEventLog(productionPath, { durable: false });
  await copyManagerEvents(from, to);
  await from.close();
  await to.close();
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('neat replay on a production log', () => {
  test('--json: kind production, with figures that agree with the log read by SQLite and with the simulator', () => {
    const before = readFileSync(productionPath);
    const files = readdirSync(directory).sort();
    const replay = neat(['replay', productionPath, '--json']);
    expect(replay.stderr).toBe('');
    expect(replay.code).toBe(0);
    // Checked before SQLite reads the file below: a read-only reader of a WAL file leaves -wal and -shm files behind.
    expect(readFileSync(productionPath).equals(before)).toBe(true);
    expect(readdirSync(directory).sort()).toEqual(files);
    const json = JSON.parse(replay.stdout) as Record<string, unknown>;
    const count = (type: string): number => query(productionPath, `SELECT count(*) FROM events WHERE type = '${type}'`);
    expect(json).toMatchObject({
      kind: 'production',
      powerModel: 'neat-testbed-linear',
      events: query(productionPath, 'SELECT count(*) FROM events'),
      migrations: count('MigrationStarted'),
      migrationsCompleted: count('MigrationCompleted'),
      migrationsFailed: count('MigrationFailed'),
      hostShutdowns: count('HostSuspended'),
      hosts: 16,
      vms: 20,
    });
    // The body is [position, id, stream, revision, type, version, data, correlationId, causationId, timeMs, source].
    expect(json.observedS).toBe(query(productionPath, "SELECT (max(json_extract(body, '$[9]')) - min(json_extract(body, '$[9]'))) / 1000.0 FROM events"));
    expect(json.meanMigrationDurationS).toBeCloseTo(
      query(productionPath, "SELECT avg(json_extract(body, '$[6].durationMs')) / 1000.0 FROM events WHERE type = 'MigrationCompleted'"), 9);
    // The simulator counts migrations and suspends by the same events, and times a shutdown from the same switch-on.
    expect(json.migrations).toBe(simulated.migrations);
    expect(json.hostShutdowns).toBe(simulated.hostShutdowns);
    expect(json.meanTimeBeforeHostShutdownS).toBeCloseTo(simulated.meanTimeBeforeHostShutdownS, 9);
    expect(simulated.migrations).toBeGreaterThan(0);
    // Sixteen hosts, each drawing 270 W (idle) to 450 W (full) while up: at most the whole span at full load.
    const observedHours = (json.observedS as number) / 3600;
    expect(json.energyKwh).toBeGreaterThan(0);
    expect(json.energyKwh).toBeLessThan(16 * 0.45 * observedHours);
    for (const key of ['slatah', 'pdm', 'slav', 'esv']) expect([key, typeof json[key]]).toEqual([key, 'number']);
  });

  test('--config names the power model: the G4 (86-117 W) gives less energy than the testbed (270-450 W)', () => {
    const config = join(directory, 'g4.conf');
    writeFileSync(config, '[DEFAULT]\npower_model = hp-proliant-ml110-g4\n');
    const testbed = JSON.parse(neat(['replay', productionPath, '--json']).stdout) as { energyKwh: number };
    const g4 = JSON.parse(neat(['replay', productionPath, '--json', '--config', config]).stdout) as { energyKwh: number; powerModel: string };
    expect(g4.powerModel).toBe('hp-proliant-ml110-g4');
    // Every host-second costs 86..117 W instead of 270..450 W.
    expect(g4.energyKwh).toBeGreaterThan(testbed.energyKwh * (86 / 450));
    expect(g4.energyKwh).toBeLessThan(testbed.energyKwh * (117 / 270));
    const fromEnv = JSON.parse(neat(['replay', productionPath, '--json'], { NEAT_POWER_MODEL: 'hp-proliant-ml110-g4' }).stdout) as { energyKwh: number };
    expect(fromEnv.energyKwh).toBe(g4.energyKwh);
  });

  test('a bad power_model is a configuration error naming the key and the valid models', () => {
    const config = join(directory, 'bad.conf');
    writeFileSync(config, '[DEFAULT]\npower_model = linear\n');
    const replay = neat(['replay', productionPath, '--config', config]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toBe(`neat replay: ${config}:2: power_model must be one of hp-proliant-ml110-g4, hp-proliant-ml110-g5, neat-testbed-linear; got "linear"\n`);
  });

  test('without --json: a table of the metrics; piped, no progress and no summary line', () => {
    const replay = neat(['replay', productionPath]);
    expect(replay.code).toBe(0);
    expect(replay.stderr).toBe('');
    expect(replay.stdout).toMatch(new RegExp(`^Production log ${productionPath.replace(/[.]/g, '\\.')}\n`));
    expect(replay.stdout).toMatch(/^ {2}hosts \/ VMs +16 \/ 20$/m);
    expect(replay.stdout).toMatch(/^ {2}energy \(estimated\) +[\d,.]+ kWh \(power model neat-testbed-linear\)$/m);
    expect(replay.stdout).toMatch(new RegExp(`^ {2}VM migrations +${simulated.migrations} started: ${simulated.migrations} completed, 0 failed attempts, 0 abandoned$`, 'm'));
    expect(replay.stdout).toMatch(/^ {2}decision latency +mean [\d.]+ s, max [\d.]+ s \([\d,]+ decisions\)$/m);
    expect(replay.stdout).not.toContain('\r');
    expect(replay.stdout).not.toContain('\u001b');
  });
});

describe('neat replay tells the kinds apart, and refuses what is neither', () => {
  test('a simulation run\'s log (mode neat: its manager\'s events and the simulator\'s) is replayed as a simulation, kind simulation', () => {
    const replay = neat(['replay', simulationPath, '--json']);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ kind: 'simulation', mode: 'neat', migrations: simulated.migrations, recordedMetricsMatch: true });
  });

  test('a missing file: exit 1 with the message, and no file created', () => {
    const missing = join(directory, 'missing.sqlite');
    const files = readdirSync(directory).sort();
    const replay = neat(['replay', missing]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toBe(`neat replay: ${missing}: no such file, so no event log to read\n`);
    expect(readdirSync(directory).sort()).toEqual(files);
  });

  test('a file that is not a log, and an empty log: exit 1 with the message, the file unchanged', async () => {
    const text = join(directory, 'notes.txt');
    writeFileSync(text, 'not an event log\n'.repeat(100));
    const before = readFileSync(text);
    const notALog = neat(['replay', text]);
    expect(notALog.code).toBe(1);
    expect(notALog.stderr).toBe(`neat replay: ${text} is not an SQLite database, so not a neat event log; nothing was changed\n`);
    expect(readFileSync(text).equals(before)).toBe(true);
    const emptyLog = join(directory, 'empty.sqlite');
    await new SqliteEventLog(emptyLog).close();
    const emptyBefore = readFileSync(emptyLog);
    const empty = neat(['replay', emptyLog]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/^neat replay: sqlite:.*empty\.sqlite has no SimulationStarted event among its first 2000 events, so it is not a simulation run's log, nor any event a global manager writes, so it is no production log either\n$/);
    expect(readFileSync(emptyLog).equals(emptyBefore)).toBe(true);
  });
});
