import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { PROJECT_ROOT } from '../support/planetlab';

const SAMPLE = join(PROJECT_ROOT, 'traces', 'sample', 'planetlab-like-day.csv');
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-sim-cli-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function neat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 110_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A day in PlanetLab's format (one file of 288 integer percents per VM), made from a synthetic trace. */
function planetLabDay(root: string, day: string, seed: string): void {
  const trace = generateSyntheticTrace({ seed, vms: 12, steps: 288, stepS: 300 });
  mkdirSync(join(root, day), { recursive: true });
  for (const vm of trace.vms) {
    writeFileSync(join(root, day, vm.id), Array.from(vm.utilization, (u) => String(Math.round(u * 100))).join('\n') + '\n');
  }
}

describe('neat sim on the command line', () => {
  test('prints a readable summary on the shipped sample, and JSON with the documented keys', () => {
    const table = neat('sim', '--trace', SAMPLE, '--policy', 'lr-mmt-1.2', '--hosts', '60');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/Simulation: lr-mmt-1.2 on planetlab-like-day \(cloudsim mode, seed 1\)/);
    expect(table.stdout).toMatch(/energy\s+[\d.,]+ kWh/);
    const json = neat('sim', '--trace', SAMPLE, '--format', 'csv', '--mode', 'cloudsim', '--policy', 'thr-mmt-0.8', '--seed', '5', '--hosts', '60', '--json');
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    for (const key of ['energyKwh', 'migrations', 'slatah', 'pdm', 'slav', 'esv', 'overallSlaViolation', 'hostShutdowns',
      'meanTimeBeforeHostShutdownS', 'meanMigrationDurationS', 'hosts', 'vms', 'simulatedS', 'wallMs', 'seed']) {
      expect(report).toHaveProperty(key);
    }
    expect(report).toMatchObject({ hosts: 60, vms: 60, seed: '5' });
    expect(report.slatah).toBeLessThan(1);
  });

  test('a malformed trace is an error naming the file and line, exit 1, no stack', () => {
    const bad = join(directory, 'bad.csv');
    writeFileSync(bad, 'time_s,vm_id,cpu_percent\n0,a,10\n300,a,ten\n');
    const result = neat('sim', '--trace', bad, '--policy', 'thr-mmt-0.8');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bad\.csv:3: /);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const missing = neat('sim', '--trace', join(directory, 'nothing'), '--policy', 'thr-mmt-0.8');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no such file or directory/);
  });

  test('usage errors: missing --policy, unknown policy, bad --hosts, unknown --mode, an existing --events file', () => {
    expect(neat('sim', '--trace', SAMPLE).stderr).toMatch(/--policy is required/);
    const unknown = neat('sim', '--trace', SAMPLE, '--policy', 'thr-xyz-0.8');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown VM selection "xyz".*selections: mmt, mu, rs, mc/);
    expect(neat('sim', '--trace', SAMPLE, '--policy', 'dvfs', '--hosts', '0').stderr).toMatch(/--hosts must be an integer from 1/);
    expect(neat('sim', '--trace', SAMPLE, '--policy', 'dvfs', '--mode', 'other').stderr).toMatch(/--mode must be one of cloudsim/);
    const events = join(directory, 'existing.sqlite');
    writeFileSync(events, 'keep me');
    const clobber = neat('sim', '--trace', SAMPLE, '--policy', 'dvfs', '--hosts', '60', '--events', events);
    expect(clobber.code).toBe(1);
    expect(clobber.stderr).toMatch(/already exists/);
    expect(readFileSync(events, 'utf8')).toBe('keep me');
  });

  test('a data centre too small for the VMs at t = 0 is an error, as CloudSim stops there', () => {
    const result = neat('sim', '--trace', SAMPLE, '--policy', 'dvfs', '--hosts', '2');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/fits on no host at t = 0/);
  });
});

describe('neat sweep', () => {
  test('runs days × policies on worker threads: one JSON line per run, then a summary table', () => {
    const root = join(directory, 'days');
    planetLabDay(root, '20200101', 'a');
    planetLabDay(root, '20200102', 'b');
    const result = neat('sweep', '--trace', root, '--days', 'all', '--policies', 'thr-mmt-0.8,lr-rs-1.2', '--hosts', '20', '--workers', '2');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { day: string; policy: string; energyKwh: number });
    expect(lines.map((l) => `${l.day} ${l.policy}`).sort()).toEqual([
      '20200101 lr-rs-1.2', '20200101 thr-mmt-0.8', '20200102 lr-rs-1.2', '20200102 thr-mmt-0.8']);
    expect(lines.every((l) => l.energyKwh > 0)).toBe(true);
    expect(result.stderr).toMatch(/day\s+policy\s+energy kWh/);
    const output = join(directory, 'sweep.jsonl');
    const toFile = neat('sweep', '--trace', root, '--days', '20200102', '--policies', 'dvfs', '--hosts', '20', '--output', output);
    expect(toFile.code).toBe(0);
    expect(readFileSync(output, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(toFile.stdout).toMatch(/20200102\s+dvfs/);
  });

  test('an unknown day or policy is a usage error listing what exists', () => {
    const root = join(directory, 'days');
    expect(neat('sweep', '--trace', root, '--days', '20991231', '--policies', 'dvfs').stderr).toMatch(/no such day 20991231; available: 20200101, 20200102/);
    expect(neat('sweep', '--trace', root, '--days', 'all', '--policies', 'dvfs,nope').code).toBe(2);
  });
});
