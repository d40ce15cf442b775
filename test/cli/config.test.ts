import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ignoredConfigWarning, loadCommandConfig } from '../../src/cli/config';
import { loadConfig } from '../../src/config';

const HOME = '/home/operator';
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-cli-config-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('the configuration of a command', () => {
  test('without --config: the defaults, with NEAT_<KEY> overrides applied all the same', () => {
    expect(loadCommandConfig({ configPath: undefined, env: { HOME } })).toEqual(loadConfig({ files: [], env: { HOME } }));
    const config = loadCommandConfig({ configPath: undefined, env: { HOME, NEAT_AUTOMATION: 'manual', NEAT_HOST_CPU_OVERLOAD_THRESHOLD: '0.9' } });
    expect(config.automation).toBe('manual');
    expect(config.hostCpuOverloadThreshold).toBe(0.9);
  });

  test('with --config: the file, and the environment over it', () => {
    const path = join(directory, 'neat.conf');
    writeFileSync(path, '[DEFAULT]\nautomation = off\nmigration_concurrency = 2\n');
    const config = loadCommandConfig({ configPath: path, env: { HOME, NEAT_AUTOMATION: 'manual' } });
    expect(config.automation).toBe('manual');
    expect(config.migrationConcurrency).toBe(2);
  });

  test('a bad value names the variable', () => {
    expect(() => loadCommandConfig({ configPath: undefined, env: { HOME, NEAT_HOST_CPU_OVERLOAD_THRESHOLD: 'abc' } }))
      .toThrow(/^environment variable NEAT_HOST_CPU_OVERLOAD_THRESHOLD: host_cpu_overload_threshold must be a number > 0 and <= 1; got "abc"$/);
  });

  test('a NEAT_ variable that names no key is an error naming it, with the likely key when there is one', () => {
    expect(() => loadCommandConfig({ configPath: undefined, env: { HOME, NEAT_HOST_CPU_OVERLOAD_TRESHOLD: '0.9' } }))
      .toThrow('environment variable NEAT_HOST_CPU_OVERLOAD_TRESHOLD: names no configuration key; did you mean NEAT_HOST_CPU_OVERLOAD_THRESHOLD?');
    expect(() => loadCommandConfig({ configPath: undefined, env: { HOME, NEAT_automation: 'off' } }))
      .toThrow(/NEAT_automation: names no configuration key; did you mean NEAT_AUTOMATION\?/);
    expect(() => loadCommandConfig({ configPath: undefined, env: { HOME, NEAT_FROBNICATE: '1' } }))
      .toThrow(/NEAT_FROBNICATE: names no configuration key; NEAT_<KEY> takes a key of \[DEFAULT\] in upper case/);
    // Other variables are not ours to judge.
    expect(loadCommandConfig({ configPath: undefined, env: { HOME, NEATO: '1', PATH: '/bin' } }).automation).toBe('automatic');
  });

  test('without HOME, ~ expands to the home directory, as in the defaults', () => {
    expect(loadCommandConfig({ configPath: undefined, env: {} }).sshKeyFile).toBe(join(homedir(), '.ssh', 'id_ed25519'));
  });

  test('a command that reads no configuration warns of the NEAT_ variables set, and of nothing else', () => {
    expect(ignoredConfigWarning({ HOME, PATH: '/bin' }, 'it reads none')).toBeNull();
    expect(ignoredConfigWarning({ NEAT_AUTOMATION: 'off', HOME }, 'it reads none')).toBe('warning: NEAT_AUTOMATION is set, but it reads none; ignored');
    expect(ignoredConfigWarning({ NEAT_WOL_PORT: '9', NEAT_AUTOMATION: 'off' }, 'it reads none'))
      .toBe('warning: NEAT_AUTOMATION, NEAT_WOL_PORT are set, but it reads none; ignored');
  });
});
