/**
 * A long command on a real terminal (a pseudo-terminal from util-linux's
 * `script`) shows its progress line, clears it, and then prints its result;
 * the same command piped writes no progress at all.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { prerequisite } from '../support/prerequisite';
import { PROJECT_ROOT } from '../support/planetlab';

const SCRIPT = '/usr/bin/script';
const CLEAR_LINE = '\r\x1b[2K';

let directory: string;
let args: string[];

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-progress-'));
  const trace = join(directory, 'day.csv');
  // Mode neat over 200 VMs for a day: about 4 s on CI's 2 cores, well past the second the progress line waits before it shows.
  writeCsvTrace(trace, generateSyntheticTrace({ seed: 'progress', vms: 200, steps: 288, stepS: 300, name: 'day' }));
  args = ['sim', '--trace', trace, '--mode', 'neat', '--hosts', '200'];
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

const maybe = prerequisite('util-linux script (a pseudo-terminal for the command)', existsSync(SCRIPT), 'apt-get install bsdutils') ? test : test.skip;

maybe('neat sim on a terminal: a progress line with the share done and the time left, cleared before the result', () => {
  const command = [process.execPath, join(PROJECT_ROOT, 'bin', 'neat.js'), ...args].map((arg) => `'${arg}'`).join(' ');
  const run = spawnSync(SCRIPT, ['--quiet', '--return', '--command', command, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(0);
  const lines = run.stdout.split(CLEAR_LINE);
  const progress = lines.slice(1, -1);
  expect(progress.length).toBeGreaterThan(0);
  for (const line of progress) expect(line).toMatch(/^neat\.conf day \[[#-]{30}\] +\d{1,3}% \d+:\d\d( ETA \d+:\d\d)?$/);
  const shares = progress.map((line) => Number(/(\d{1,3})%/.exec(line)?.[1]));
  expect(shares).toEqual([...shares].sort((a, b) => a - b));
  // After the last clear: the result, and nothing of the progress line.
  expect(lines.at(-1)).toMatch(/^Simulation: .* on day \(neat mode, seed 1\)\r?\n/);
});

test('neat sim piped: no progress line, no control characters, just the result', () => {
  const run = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status).toBe(0);
  expect(run.stderr).toBe('');
  expect(run.stdout).not.toContain('\r');
  expect(run.stdout).not.toContain('\x1b');
  expect(run.stdout).toMatch(/^Simulation: .* on day \(neat mode, seed 1\)\n/);
});
