/**
 * `neat trace export` from the command line, on a production log (no
 * simulator's events, so each host's power model comes from the
 * configuration), and its bad input: each a clear error, the log untouched.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventLog } from '../../src/log/sqlite';
import { PROJECT_ROOT } from '../support/planetlab';
import { Timeline } from '../support/timeline';

let directory: string;
let logPath: string;

function neat(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args],
    { encoding: 'utf8', timeout: 60_000, env: process.env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'neat-trace-export-'));
  logPath = join(directory, 'production.sqlite');
  // Two hosts of 4000 MHz; VM a on h1 sampled at 1000 then 2000 MHz of its 2000 (one vCPU at nova_vcpu_mhz 2000).
  const timeline = new Timeline('export-cli')
    .at(0).inventory({ h1: { cpuMhz: 4000, state: 'up' }, h2: { cpuMhz: 4000, state: 'up' } }, { a: 'h1' })
    .at(300).sample('h1', { a: 1000 }, 0)
    .at(600).sample('h1', { a: 2000 }, 0);
  const log = new SqliteEventLog(logPath);
  await timeline.writeTo(log);
  await log.close();
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

test('hosts take the configured power model; the samples become shares of the VM\'s capacity', () => {
  const config = join(directory, 'neat.conf');
  writeFileSync(config, '[DEFAULT]\npower_model = hp-proliant-ml110-g5\nnova_vcpu_mhz = 2000\n');
  const out = join(directory, 'exported.csv');
  const run = neat(['trace', 'export', logPath, '--out', out, '--config', config]);
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  expect(run.stdout).toMatch(/^wrote .*exported\.csv: 1 VMs on 2 hosts, 3 points of 300 s/);
  const lines = readFileSync(out, 'utf8').split('\n');
  const hostLines = lines.filter((line) => line.startsWith('#@host'));
  expect(hostLines).toHaveLength(2);
  for (const line of hostLines) expect(line).toMatch(/ power=hp-proliant-ml110-g5\b/);
  // The grid starts at the inventory (0 s), backfilled with the first sample: 1000 of 2000 MHz is 50 %, 2000 of 2000 is 100 %; its RAM, 1024 MB.
  expect(lines.filter((line) => /^\d/.test(line))).toEqual(['0,a,50,1024', '300,a,50,1024', '600,a,100,1024']);
});

test('bad input: a missing log, a file that is not a log, a bad --step, no --out; the log is left as it was', () => {
  const before = readFileSync(logPath);
  const missing = neat(['trace', 'export', join(directory, 'absent.sqlite'), '--out', join(directory, 'x.csv')]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/absent\.sqlite/);
  expect(existsSync(join(directory, 'absent.sqlite'))).toBe(false);
  const text = join(directory, 'notes.txt');
  writeFileSync(text, 'not a log\n');
  const notLog = neat(['trace', 'export', text, '--out', join(directory, 'x.csv')]);
  expect(notLog.code).toBe(1);
  expect(notLog.stderr).toMatch(/notes\.txt is not an SQLite database/);
  expect(readFileSync(text, 'utf8')).toBe('not a log\n');
  const step = neat(['trace', 'export', logPath, '--out', join(directory, 'x.csv'), '--step', '-5']);
  expect(step.code).toBe(2);
  expect(step.stderr).toMatch(/--step must be a positive number of seconds/);
  const noOut = neat(['trace', 'export', logPath]);
  expect(noOut.code).toBe(2);
  expect(noOut.stderr).toMatch(/--out/);
  expect(existsSync(join(directory, 'x.csv'))).toBe(false);
  expect(readFileSync(logPath).equals(before)).toBe(true);
});
