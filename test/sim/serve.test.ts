import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { PROJECT_ROOT } from '../support/planetlab';

let directory: string;
/** Six hours of 40 VMs: every step PUTs over HTTP and fsyncs, so a full day would cost CI most of a minute. */
let trace: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-serve-'));
  trace = join(directory, 'six-hours.csv');
  writeCsvTrace(trace, generateSyntheticTrace({ seed: 'serve', vms: 40, steps: 73, stepS: 300 }));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function neat(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 110_000, maxBuffer: 64 * 1024 * 1024 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('neat serve --sim: the service, a simulated data centre, and simulated local managers over real HTTP', () => {
  test('six hours of a synthetic trace: requests over PUT /, decisions, migrations and suspensions are printed and logged; the log replays', () => {
    const events = join(directory, 'serve.sqlite');
    const served = neat('serve', '--sim', trace, '--speed', '20000', '--listen', '127.0.0.1:0', '--events', events, '--exit');
    expect(served.stderr).toBe('');
    expect(served.code).toBe(0);
    expect(served.stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    expect(served.stdout).toMatch(/request {3}underload from host-\d+ via neat/);
    expect(served.stdout).toMatch(/decided {3}vm-\d+→host-\d+/);
    expect(served.stdout).toMatch(/migration completed vm-\d+ host-\d+→host-\d+/);
    expect(served.stdout).toMatch(/HostSuspended \{"host":"host-\d+"/);
    expect(served.stdout).toMatch(/End of the trace/);
    const replay = neat('replay', events, '--json');
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ mode: 'neat', hosts: 31, vms: 40 });
  });

  test('usage errors: no --sim and no --config, an existing event log, a bad --listen', () => {
    expect(neat('serve').code).toBe(2);
    const existing = join(directory, 'serve.sqlite');
    expect(neat('serve', '--sim', trace, '--events', existing).stderr).toMatch(/exists; a simulated service starts a new event log/);
    expect(neat('serve', '--sim', trace, '--listen', 'nope').stderr).toMatch(/--listen must be <host>:<port>/);
  });
});
