import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The real `neat` executable in a child process, as a user runs it.
const ROOT = join(__dirname, '..', '..');
function neat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('neat command', () => {
  test('--help lists the subcommands', () => {
    const { code, stdout } = neat('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: neat <command>/);
    expect(stdout).toMatch(/algorithms/);
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
