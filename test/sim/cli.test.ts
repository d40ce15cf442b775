import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { writePlanetLabDay } from '../support/days';
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
  return neatWith({}, ...args);
}

/** The CLI with these variables added to the environment (the test's own carries no NEAT_ variable). */
function neatWith(env: Readonly<Record<string, string>>, ...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], {
    encoding: 'utf8', timeout: 110_000, env: { ...process.env, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
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

  test('mode neat on a data centre too small for the VMs names the remedy, without a stack', () => {
    const result = neat('sim', '--mode', 'neat', '--trace', SAMPLE, '--hosts', '2');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^neat sim: VM \d+ \(\d+ MB\) fits on none of the 2 hosts' RAM left; simulate more hosts \(--hosts\)\n$/);
  });

  test('--hosts with a trace that names its own data centre is a usage error', () => {
    const trace = join(directory, 'with-hosts.csv');
    writeFileSync(trace, '#@host name=c1 cores=2 core_mhz=2000 ram_mb=4096 power=neat-testbed-linear\n#@vm id=v cpu_mhz=1000 host=c1\n'
      + 'time_s,vm_id,cpu_percent,ram_mb\n0,v,10,512\n300,v,20,512\n');
    const result = neat('sim', '--mode', 'neat', '--trace', trace, '--hosts', '4');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('names its own hosts (its #@host lines); drop --hosts');
  });
});

describe('neat sweep', () => {
  const root = (): string => join(directory, 'days');
  beforeAll(() => {
    writePlanetLabDay(root(), '20200101', 'a');
    writePlanetLabDay(root(), '20200102', 'b');
  });

  test('runs days × policies on worker threads: one JSON line per run, then the runs and the summary per policy as tables', () => {
    const result = neat('sweep', '--trace', root(), '--days', 'all', '--policies', 'thr-mmt-0.8,lr-rs-1.2', '--hosts', '20', '--workers', '2');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { day: string; policy: string; energyKwh: number });
    expect(lines.map((l) => `${l.day} ${l.policy}`).sort()).toEqual([
      '20200101 lr-rs-1.2', '20200101 thr-mmt-0.8', '20200102 lr-rs-1.2', '20200102 thr-mmt-0.8']);
    expect(lines.every((l) => l.energyKwh > 0)).toBe(true);
    expect(result.stderr).toMatch(/day\s+policy\s+energy kWh/);
    const energy = (policy: string): number[] => lines.filter((l) => l.policy === policy).map((l) => l.energyKwh);
    const [a, b] = energy('thr-mmt-0.8');
    const meanKwh = (a + b) / 2;
    const sdKwh = Math.abs(a - b) / Math.SQRT2;
    expect(result.stderr).toMatch(/Per policy across days: mean ± sample standard deviation\npolicy\s+days\s+energy kWh\s+migrations/);
    expect(result.stderr).toMatch(new RegExp(`\\nthr-mmt-0\\.8\\s+2\\s+${meanKwh.toFixed(2)} ± ${sdKwh.toFixed(2)}\\s`));
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).not.toContain('\x1b');
    const output = join(directory, 'sweep.jsonl');
    const toFile = neat('sweep', '--trace', root(), '--days', '20200102', '--policies', 'dvfs', '--hosts', '20', '--output', output);
    expect(toFile.code).toBe(0);
    expect(readFileSync(output, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(toFile.stdout).toMatch(/20200102\s+dvfs/);
    expect(toFile.stdout).toMatch(/Per policy across days.*\npolicy .*\ndvfs\s+1\s+[\d.]+\s/);
  });

  test('--mode neat --format csv: per-run CSV on stdout, the summary CSV on stderr; the workers get the configuration and its overrides', () => {
    const args = ['sweep', '--trace', root(), '--days', 'all', '--policies', 'thr-mmtc-0.8,lr-mmt-1.2', '--mode', 'neat', '--hosts', '20',
      '--workers', '2', '--format', 'csv'];
    const result = neat(...args);
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trim().split('\n').map((line) => line.split(','));
    expect(header.slice(0, 10)).toEqual(['day', 'policy', 'mode', 'seed', 'energyKwh', 'migrations', 'slatah', 'pdm', 'slav', 'esv']);
    expect(header[header.length - 1]).toBe('error');
    expect(rows).toHaveLength(4);
    const column = (name: string): number => header.indexOf(name);
    expect(rows.every((row) => row[column('mode')] === 'neat' && row[column('error')] === '')).toBe(true);
    const energies = rows.filter((row) => row[column('policy')] === 'lr-mmt-1.2').map((row) => Number(row[column('energyKwh')]));
    const [summaryHeader, ...summaries] = result.stderr.trim().split('\n').map((line) => line.split(','));
    expect(summaryHeader.slice(0, 5)).toEqual(['policy', 'days', 'failed', 'energyKwhMean', 'energyKwhSd']);
    expect(summaries.map((row) => row[0])).toEqual(['thr-mmtc-0.8', 'lr-mmt-1.2']);
    const lr = summaries[1];
    expect(lr[1]).toBe('2');
    expect(Number(lr[3])).toBeCloseTo((energies[0] + energies[1]) / 2, 9);
    expect(Number(lr[4])).toBeCloseTo(Math.abs(energies[0] - energies[1]) / Math.SQRT2, 9);
    const thr = rows.find((row) => row[column('day')] === '20200101' && row[column('policy')] === 'thr-mmtc-0.8')!;
    expect(Number(thr[column('migrations')])).toBeGreaterThan(0);
    const off = neatWith({ NEAT_AUTOMATION: 'off' }, 'sweep', '--trace', root(), '--days', '20200101', '--policies', 'thr-mmtc-0.8', '--mode', 'neat',
      '--hosts', '20', '--workers', '1', '--format', 'csv');
    expect(off.code).toBe(0);
    expect(off.stdout.trim().split('\n').slice(1).map((line) => line.split(',')[column('migrations')])).toEqual(['0']);
    const bad = neatWith({ NEAT_AUTOMATION: 'sometimes' }, ...args);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^neat sweep: environment variable NEAT_AUTOMATION: /);
  });

  test('an unknown day or policy is a usage error listing what exists; --config is for mode neat', () => {
    expect(neat('sweep', '--trace', root(), '--days', '20991231', '--policies', 'dvfs').stderr).toMatch(/no such day 20991231; available: 20200101, 20200102/);
    const policy = neat('sweep', '--trace', root(), '--days', 'all', '--policies', 'dvfs,nope');
    expect(policy.code).toBe(2);
    expect(policy.stderr).toMatch(/^neat sweep: --policies: unknown policy "nope"/);
    const neatPolicy = neat('sweep', '--trace', root(), '--days', 'all', '--policies', 'dvfs', '--mode', 'neat');
    expect(neatPolicy.code).toBe(2);
    expect(neatPolicy.stderr).toMatch(/^neat sweep: --policies: unknown policy "dvfs"; expected <detector>-<selection>-<parameter>/);
    const config = neat('sweep', '--trace', root(), '--days', 'all', '--policies', 'dvfs', '--config', SAMPLE);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/--config is for --mode neat/);
    expect(neat('sweep', '--trace', root(), '--days', 'all', '--policies', 'dvfs', '--format', 'xml').stderr).toMatch(/--format must be one of jsonl, csv/);
  });
});

/** The JSON report of a run, without what depends on the machine. */
const MACHINE_DEPENDENT = ['wallMs', 'decisionTimeMs'];
function figures(stdout: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(JSON.parse(stdout) as Record<string, unknown>).filter(([key]) => !MACHINE_DEPENDENT.includes(key)));
}

describe('NEAT_<KEY> environment overrides', () => {
  // Twenty VMs over eight hours on sixteen hosts: a run of mode neat in about a second that migrates and suspends.
  let tracePath: string;
  beforeAll(() => {
    tracePath = join(directory, 'neat-mode.csv');
    writeCsvTrace(tracePath, generateSyntheticTrace({ seed: 'neat-mode', vms: 20, steps: 96, stepS: 300 }));
  });
  const neatMode = (env: Readonly<Record<string, string>>, ...args: string[]) =>
    neatWith(env, 'sim', '--trace', tracePath, '--mode', 'neat', '--hosts', '16', '--json', ...args);

  test('neat sim --mode neat without --config: a bad value or an unknown variable is an error naming it, exit 1', () => {
    const bad = neatMode({ NEAT_HOST_CPU_OVERLOAD_THRESHOLD: 'abc' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe('neat sim: environment variable NEAT_HOST_CPU_OVERLOAD_THRESHOLD: host_cpu_overload_threshold must be '
      + 'a number > 0 and <= 1; got "abc"\n');
    const typo = neatMode({ NEAT_HOST_CPU_OVERLOAD_TRESHOLD: '0.9' });
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/NEAT_HOST_CPU_OVERLOAD_TRESHOLD: names no configuration key; did you mean NEAT_HOST_CPU_OVERLOAD_THRESHOLD\?/);
  });

  test('neat sim --mode neat without --config: a good value changes the run', () => {
    const plain = neatMode({});
    expect(plain.code).toBe(0);
    expect(figures(plain.stdout)).toMatchObject({ policy: 'neat.conf', migrations: expect.any(Number) as number });
    expect(figures(plain.stdout).migrations).toBeGreaterThan(0);
    const off = neatMode({ NEAT_AUTOMATION: 'off' });
    expect(off.code).toBe(0);
    expect(figures(off.stdout)).toMatchObject({ migrations: 0, hostShutdowns: 0 });
    const threshold = neatMode({
      NEAT_ALGORITHM_OVERLOAD_DETECTION_FACTORY: 'threshold', NEAT_ALGORITHM_OVERLOAD_DETECTION_PARAMETERS: '{"threshold": 0.5}',
    });
    expect(threshold.code).toBe(0);
    expect(figures(threshold.stdout).migrations).not.toBe(figures(plain.stdout).migrations);
    expect(figures(threshold.stdout).energyKwh).not.toBe(figures(plain.stdout).energyKwh);
  });

  test('with --config, the environment overrides the file', () => {
    const config = join(directory, 'automation-off.conf');
    writeFileSync(config, '[DEFAULT]\nautomation = off\n');
    const fromFile = neatMode({}, '--config', config);
    expect(fromFile.code).toBe(0);
    expect(figures(fromFile.stdout).migrations).toBe(0);
    const overridden = neatMode({ NEAT_AUTOMATION: 'automatic' }, '--config', config);
    expect(overridden.code).toBe(0);
    expect(figures(overridden.stdout).migrations).toBeGreaterThan(0);
  });

  test('mode cloudsim reads no configuration: a NEAT_ variable set changes nothing, and a warning says so', () => {
    const args = ['sim', '--trace', SAMPLE, '--policy', 'thr-mmt-0.8', '--hosts', '60', '--json'];
    const plain = neat(...args);
    const withEnv = neatWith({ NEAT_HOST_CPU_OVERLOAD_THRESHOLD: '0.5' }, ...args);
    expect(plain.stderr).toBe('');
    expect(withEnv.code).toBe(0);
    expect(withEnv.stderr).toBe('neat sim: warning: NEAT_HOST_CPU_OVERLOAD_THRESHOLD is set, but --mode cloudsim reads no configuration '
      + '(its policy names every algorithm); ignored\n');
    expect(figures(withEnv.stdout)).toEqual(figures(plain.stdout));
  });
});
