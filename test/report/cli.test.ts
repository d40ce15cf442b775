import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_APPLICATION_ID, SqliteEventLog } from '../../src/log/sqlite';
import { fileSha256 } from '../../src/report/input';
import { runSimulation } from '../../sim/run';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { copyManagerEvents } from '../support/timeline';
import { PROJECT_ROOT } from '../support/planetlab';

const SAMPLE = join(PROJECT_ROOT, 'traces', 'sample', 'planetlab-like-day.csv');
let directory: string;
let runLog: string;

function neat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 60_000, cwd: directory });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-report-cli-'));
  runLog = join(directory, 'run.sqlite');
  const sim = neat('sim', '--trace', SAMPLE, '--policy', 'thr-mmt-0.8', '--hosts', '60', '--events', runLog);
  expect(sim.code).toBe(0);
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

/** An input error: exit 1, one line naming the problem, no stack. */
function expectInputError(result: ReturnType<typeof neat>, message: RegExp): void {
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^neat report: /);
  expect(result.stderr).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

describe('neat report on the command line', () => {
  test('writes the report and says what it wrote, in one line; report.html by default', () => {
    const out = join(directory, 'sim.html');
    const before = readFileSync(runLog);
    const result = neat('report', runLog, '--out', out);
    // The log is read, never written: the same bytes, and no -wal or -shm file left beside it.
    expect(readFileSync(runLog).equals(before)).toBe(true);
    expect(readdirSync(directory).filter((name) => name.startsWith('run.sqlite-'))).toEqual([]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^wrote .*sim\.html \(\d+\.\d MB, simulation report, 7 charts\) in \d+\.\d s\n$/);
    expect(result.stderr).toBe('');
    const html = readFileSync(out, 'utf8');
    expect(html).toContain(fileSha256(runLog));
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(neat('report', runLog).code).toBe(0);
    expect(readdirSync(directory)).toContain('report.html');
  });

  test('the metrics table holds neat replay\'s values, to the last digit', () => {
    const out = join(directory, 'metrics.html');
    expect(neat('report', runLog, '--out', out).code).toBe(0);
    const html = readFileSync(out, 'utf8');
    const replay = neat('replay', runLog, '--json');
    expect(replay.code).toBe(0);
    const metrics = JSON.parse(replay.stdout) as Record<string, number>;
    const labels: Record<string, string> = {
      energy: 'energyKwh', 'VM migrations': 'migrations', SLATAH: 'slatah', PDM: 'pdm', 'SLAV (SLATAH × PDM)': 'slav', 'ESV (energy × SLAV)': 'esv',
      'overall SLA violation': 'overallSlaViolation', 'host shutdowns': 'hostShutdowns', 'mean migration duration': 'meanMigrationDurationS',
    };
    for (const [label, key] of Object.entries(labels)) {
      const cell = new RegExp(`<tr><td>${label.replace(/[()×]/g, '.')}</td><td class="number" data-value="([^"]+)">`).exec(html);
      expect([label, cell === null ? null : Number(cell[1])]).toEqual([label, metrics[key]]);
    }
  });

  test('the input digest is sha256 of the file\'s bytes', () => {
    expect(fileSha256(runLog)).toBe(createHash('sha256').update(readFileSync(runLog)).digest('hex'));
  });

  test('bad input: exit 1 naming the problem, and --out left as it was', () => {
    const out = join(directory, 'kept.html');
    writeFileSync(out, 'the previous report');
    const text = join(directory, 'notes.txt');
    writeFileSync(text, 'not a log\n');
    const empty = join(directory, 'empty.jsonl');
    writeFileSync(empty, '');
    const malformed = join(directory, 'malformed.jsonl');
    writeFileSync(malformed, `${JSON.stringify({ day: 'd', policy: 'p', energyKwh: 1, migrations: 1, slatah: 0, pdm: 0, slav: 0, esv: 0 })}\n{"day": "d2",\n`);
    const emptyLog = join(directory, 'empty.sqlite');
    // A log with its schema and no event.
    void new SqliteEventLog(emptyLog).close();
    expectInputError(neat('report', join(directory, 'missing.sqlite'), '--out', out), /missing\.sqlite: no such file/);
    expectInputError(neat('report', text, '--out', out), /notes\.txt: neither an event log .* nor a sweep's JSON lines/);
    expectInputError(neat('report', empty, '--out', out), /empty\.jsonl: the file is empty/);
    expectInputError(neat('report', malformed, '--out', out), /malformed\.jsonl:2: not JSON/);
    expectInputError(neat('report', emptyLog, '--out', out), /empty\.sqlite: the event log is empty/);
    expectInputError(neat('report', '--compare', runLog, malformed, '--out', out), /malformed\.jsonl: --compare takes two event logs/);
    expectInputError(neat('report', malformed, '--out', malformed), /--out .*malformed\.jsonl is an input: the report would replace it/);
    expect(readFileSync(out, 'utf8')).toBe('the previous report');
    expect(readdirSync(directory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  test('a log of another schema version: exit 1 naming both versions, the file unchanged', () => {
    const future = join(directory, 'future.sqlite');
    const db = new Database(future);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (99);');
    db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
    db.close();
    const before = readFileSync(future);
    expectInputError(neat('report', future, '--out', join(directory, 'future.html')), /future\.sqlite is a neat event log of schema version 99; this build reads version 1/);
    expect(readFileSync(future).equals(before)).toBe(true);
  });

  test('a manager\'s log: its report, with the power model of --config; compared with a cloudsim run, an error saying why', async () => {
    const neatRun = join(directory, 'neat-run.sqlite');
    await runSimulation({ trace: generateSyntheticTrace({ seed: 'cli', vms: 8, steps: 24, stepS: 300 }), mode: 'neat', policy: 'thr-mmtc-0.8',
      seed: '1', hosts: 6, eventsPath: neatRun });
    const production = join(directory, 'production.sqlite');
    const from = SqliteEventLog.openExisting(neatRun);
    const to = new SqliteEventLog(production, { durable: false });
    await copyManagerEvents(from, to);
    await from.close();
    await to.close();
    const conf = join(directory, 'g5.conf');
    writeFileSync(conf, '[DEFAULT]\npower_model = hp-proliant-ml110-g5\n');
    const out = join(directory, 'production.html');
    const result = neat('report', production, '--config', conf, '--out', out);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/production report, 7 charts/);
    expect(readFileSync(out, 'utf8')).toContain('Metrics (power model hp-proliant-ml110-g5)');
    expectInputError(neat('report', '--compare', production, runLog, '--out', out),
      /run\.sqlite is a simulation in mode cloudsim, which has no manager's events to compare with a manager's log/);
    const ignored = neat('report', runLog, '--config', conf, '--out', out);
    expect(ignored.code).toBe(0);
    expect(ignored.stderr).toMatch(/--config ignored: a simulation report reads no configuration/);
  });

  test('--out into a missing directory: exit 1, nothing written', () => {
    const result = neat('report', runLog, '--out', join(directory, 'nowhere', 'r.html'));
    expectInputError(result, /--out .*r\.html: no such directory .*nowhere/);
    expect(readdirSync(directory)).not.toContain('nowhere');
  });

  test('bad flags: a usage error, exit 2', () => {
    for (const args of [['report'], ['report', runLog, runLog], ['report', '--compare', runLog], ['report', runLog, '--bogus'], ['report', runLog, '--out']]) {
      const result = neat(...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^neat report: /);
      expect(result.stderr).toMatch(/Usage: neat report/);
    }
  });
});
