import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The real `neat` executable in a child process, as a user runs it.
const ROOT = join(__dirname, '..', '..');
function neat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 20_000, cwd: ROOT });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('neat command', () => {
  test('--help lists the subcommands', () => {
    const { code, stdout } = neat('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: neat <command>/);
    expect(stdout).toMatch(/algorithms/);
  });

  test('no arguments: the usage on stderr and exit code 2, as for any incomplete command line', () => {
    const { code, stdout, stderr } = neat();
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^neat: event-sourced VM consolidation[^]*Usage: neat <command>/);
  });

  test('an unknown subcommand is a usage error with exit code 2', () => {
    const { code, stderr } = neat('frobnicate');
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown command "frobnicate"; commands: algorithms/);
  });

  test('an unknown flag is a usage error with exit code 2', () => {
    expect(neat('--frobnicate').code).toBe(2);
    const { code, stderr } = neat('algorithms', '--frobnicate');
    expect(code).toBe(2);
    expect(stderr).toMatch(/Unknown option '--frobnicate'/);
    expect(stderr).toMatch(/Usage: neat algorithms/);
  });

  test('an error is prefixed once, with the command it is about', () => {
    const unknown = neat('sim', '--frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^neat sim: Unknown option '--frobnicate'/);
    expect(unknown.stderr).not.toMatch(/neat: neat|neat sim: neat/);
    const replay = neat('replay');
    expect(replay.stderr).toMatch(/^neat replay: expected one event log file; got 0\nUsage: neat replay/);
    const input = neat('sim', '--trace', 'no/such/trace', '--policy', 'dvfs');
    expect(input.code).toBe(1);
    expect(input.stderr).toBe('neat sim: no/such/trace: no such file or directory\n');
  });

  test('a negative number given to an option reaches the option\'s own check, not the parser\'s "ambiguous"', () => {
    const hosts = neat('sim', '--trace', 'traces/sample/planetlab-like-day.csv', '--policy', 'dvfs', '--hosts', '-5');
    expect(hosts.code).toBe(2);
    expect(hosts.stderr).toBe('neat sim: --hosts must be an integer from 1 to 100000; got "-5"\n');
    const workers = neat('sweep', '--trace', 'traces', '--days', 'all', '--policies', 'dvfs', '--workers', '-1');
    expect(workers.stderr).toMatch(/--workers must be an integer from 1 to 64; got "-1"/);
    expect(neat('serve', '--sim', 'traces/sample/planetlab-like-day.csv', '--speed', '-1').stderr)
      .toMatch(/--speed must be an integer from 1 to 1000000; got "-1"/);
    // A seed is any string: a negative one is a seed like another.
    const seed = neat('sim', '--trace', 'traces/sample/planetlab-like-day.csv', '--policy', 'dvfs', '--hosts', '60', '--seed', '-3', '--json');
    expect(seed.code).toBe(0);
    expect(JSON.parse(seed.stdout)).toMatchObject({ seed: '-3' });
    // A flag that takes no value still refuses one.
    expect(neat('algorithms', '--json', '-5').stderr).toMatch(/^neat algorithms: Unknown option '-5'/);
  });

  test('a bad flag value is a usage error naming the flag', () => {
    const { code, stderr } = neat('algorithms', '--kind', 'teleport');
    expect(code).toBe(2);
    expect(stderr).toMatch(/--kind must be one of underload, overload, selection, placement; got "teleport"/);
  });

  test('algorithms --json lists every algorithm with its Neat factory name', () => {
    const { code, stdout } = neat('algorithms', '--json', '--kind', 'overload');
    expect(code).toBe(0);
    const listed = JSON.parse(stdout) as { name: string; neatFactory: string | null }[];
    expect(listed.map((a) => a.name)).toEqual(expect.arrayContaining(['mhod', 'otf', 'loess', 'cloudsim_lr']));
    expect(listed.find((a) => a.name === 'mhod')!.neatFactory).toBe('neat.locals.overload.mhod.core.mhod_factory');
  });

  test('--version prints the package version', () => {
    const { code, stdout } = neat('--version');
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test('a subcommand --help shows its usage', () => {
    const { code, stdout } = neat('algorithms', '--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: neat algorithms/);
  });
});
