/**
 * `neat serve --sim` as a user runs it: the real CLI in a child process, the
 * service on a SQLite file, simulated local managers over real HTTP.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { startFixture } from '../api/fixture';
import { logDigest } from '../support/logDigest';
import { BIN, foldStrictly, jsonLines, Served } from '../support/served';

let directory: string;
/** Six hours of 40 VMs: every step crosses HTTP and SQLite, so a full day would cost CI a minute. */
let sixHours: string;
/** Two hours of 40 VMs, for the runs made several times. */
let twoHours: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-serve-'));
  sixHours = join(directory, 'six-hours.csv');
  writeCsvTrace(sixHours, generateSyntheticTrace({ seed: 'serve', vms: 40, steps: 73, stepS: 300 }));
  twoHours = join(directory, 'two-hours.csv');
  writeCsvTrace(twoHours, generateSyntheticTrace({ seed: 'serve', vms: 40, steps: 25, stepS: 300 }));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});


interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function neat(args: readonly string[], env: Readonly<Record<string, string>> = {}): Finished {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 110_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function endOfTrace(stdout: string): Record<string, unknown> {
  const end = jsonLines(stdout).find((line) => line.event === 'end-of-trace');
  expect(end).toBeDefined();
  return end!;
}

/** Every event of a log, as stored: [position, id, stream, revision, type, version, data, correlation, causation, time, source]. */
function storedEvents(path: string): unknown[][] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT body FROM events ORDER BY position').pluck().all().map((body) => JSON.parse(body as string) as unknown[]);
  } finally {
    db.close();
  }
}

/**
 * An event without what only the transport decides: how a request came
 * (HTTP or in process, from which address, at which wall-clock time, and the
 * wording of a refusal) and which writer stamped it.
 */
function withoutTransport(stored: readonly unknown[]): string {
  const [position, id, stream, revision, type, version, data, correlationId, causationId, timeMs] = stored;
  const transportFields = new Set(['protocol', 'remoteAddress', 'clientTimeS', ...(type === 'RequestRejected' ? ['reason'] : [])]);
  const rest = Object.fromEntries(Object.entries(data as Record<string, unknown>).filter(([field]) => !transportFields.has(field)));
  return JSON.stringify([position, id, stream, revision, type, version, rest, correlationId, causationId, timeMs]);
}

async function busyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer();
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => { server.close(() => { resolve(); }); }) };
}

describe('neat serve --sim: what it prints and records', () => {
  test('six hours: one line per request naming its host, reason and outcome; the end summary; the log replays to what it recorded', () => {
    const events = join(directory, 'six-hours.sqlite');
    const served = neat(['serve', '--sim', sixHours, '--speed', '20000', '--listen', '127.0.0.1:0', '--events', events, '--exit', '--log-format', 'text']);
    // A loaded machine may not keep 20000× and says so; nothing else goes to stderr.
    expect(served.stderr.split('\n').filter((line) => line !== '' && !line.includes('cannot keep pace'))).toEqual([]);
    expect(served.code).toBe(0);
    expect(served.stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    const requestLine = /^\+\d\d:\d\d:\d\d host-\d+ (underload|overload)( \[[^\]]+\])? \(neat\) → (completed|partial|failed|nothing-to-do|superseded) in [\d.]+ s: .* · request [0-9a-f-]{36}$/m;
    expect(served.stdout).toMatch(requestLine);
    expect(served.stdout).toMatch(/ · vm-\d+→host-\d+/);
    expect(served.stdout).toMatch(/ · suspended host-\d+/);
    // Every line of the run is a request's: samples and the state history are counted, never printed by default.
    const timed = served.stdout.split('\n').filter((line) => line.startsWith('+'));
    expect(timed.length).toBeGreaterThan(10);
    expect(timed.filter((line) => !requestLine.test(line))).toEqual([]);
    expect(served.stdout).toMatch(/End of the trace \(\d+ samples recorded\); exiting \(--exit\)/);
    expect(served.stdout).not.toMatch(/keeps running/);
    const replay = neat(['replay', events, '--json']);
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ mode: 'neat', hosts: 31, vms: 40, recordedMetricsMatch: true });
  });

  test('--verbose prints every event, samples included; --quiet only the start and the end; JSON lines when asked', () => {
    const verbose = neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', join(directory, 'verbose.sqlite'),
      '--exit', '--log-format', 'text', '--verbose']);
    expect(verbose.code).toBe(0);
    expect(verbose.stdout).toMatch(/^\+00:05:00 #\d+ sample {4}host-\d+: \d+ VM\(s\), \d+ MHz$/m);
    expect(verbose.stdout).toMatch(/#\d+ migration started vm-\d+ host-\d+→host-\d+/);
    const quiet = neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', join(directory, 'quiet.sqlite'),
      '--exit', '--log-format', 'text', '--quiet']);
    expect(quiet.code).toBe(0);
    expect(quiet.stdout).not.toMatch(/→/);
    expect(quiet.stdout).toMatch(/listening on/);
    expect(quiet.stdout).toMatch(/End of the trace/);
    const json = neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', join(directory, 'json.sqlite'), '--exit', '--log-format', 'json']);
    expect(json.code).toBe(0);
    const lines = jsonLines(json.stdout);
    expect(lines[0]).toMatchObject({ level: 30, event: 'listening', hosts: 31, vms: 40 });
    const request = lines.find((line) => line.event === 'request' && line.outcome === 'completed');
    expect(request).toMatchObject({
      host: expect.stringMatching(/^host-\d+$/) as string, reason: expect.any(String) as string, requestId: expect.any(String) as string, durationMs: expect.any(Number) as number,
    });
    expect(endOfTrace(json.stdout)).toMatchObject({ metrics: { hosts: 31, vms: 40 } });
    expect(neat(['serve', '--sim', twoHours, '--quiet', '--verbose']).stderr).toMatch(/--quiet and --verbose exclude each other/);
    expect(neat(['serve', '--sim', twoHours, '--log-format', 'xml']).stderr).toMatch(/--log-format must be one of text, json/);
  });

  test('the same figures at three speeds, and the same events, decisions and times as neat sim --mode neat', () => {
    const batchLog = join(directory, 'batch.sqlite');
    const batch = neat(['sim', '--trace', twoHours, '--mode', 'neat', '--hosts', '31', '--seed', '4', '--events', batchLog, '--json']);
    expect(batch.code).toBe(0);
    // The report's figures; the rest (wall time, decision times, names) is not the run's.
    const report = JSON.parse(batch.stdout) as Record<string, unknown>;
    const notFigures = new Set(['kind', 'wallMs', 'decisionTimeMs', 'localStepTimeMs', 'events', 'seed', 'policy', 'mode', 'trace']);
    const figures = Object.fromEntries(Object.entries(report).filter(([key]) => !notFigures.has(key)));
    expect(figures.migrations).toBeGreaterThan(0);
    const batchEvents = storedEvents(batchLog).map(withoutTransport);
    for (const speed of ['2000', '100000', '1000000']) {
      const log = join(directory, `speed-${speed}.sqlite`);
      const served = neat(['serve', '--sim', twoHours, '--hosts', '31', '--seed', '4', '--speed', speed, '--listen', '127.0.0.1:0', '--events', log, '--exit', '--log-format', 'json', '--quiet']);
      expect(served.code).toBe(0);
      expect(endOfTrace(served.stdout).metrics).toEqual(figures);
      expect(storedEvents(log).map(withoutTransport)).toEqual(batchEvents);
    }
  });

  test('a service that cannot keep pace says by how much: in /metrics while it runs, and in the end summary', async () => {
    const fixture = await startFixture({ speed: 1000 });
    try {
      const metrics = await (await fetch(`${fixture.url}/metrics`)).text();
      expect(metrics).toMatch(/^neat_sim_time_seconds [\d.]+$/m);
      expect(metrics).toMatch(/^neat_sim_speed 1000$/m);
      expect(metrics).toMatch(/^neat_sim_lag_seconds [\d.e+-]+$/m);
    } finally {
      await fixture.close();
    }
    const served = neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', join(directory, 'lag.sqlite'), '--exit', '--log-format', 'json', '--quiet']);
    const end = endOfTrace(served.stdout);
    // Two hours at a million times real time would take 7 ms: the clock waited for the service.
    expect(end.maxLagS).toBeGreaterThan(0);
    expect(end.wallMs).toBeGreaterThan(end.plannedWallMs as number);
  });

  test('the configured queue limit and NEAT_ overrides are honoured', () => {
    const config = join(directory, 'small-queue.conf');
    writeFileSync(config, '[DEFAULT]\nrequest_queue_limit = 1\n');
    const limited = join(directory, 'limited.sqlite');
    expect(neat(['serve', '--sim', twoHours, '--config', config, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', limited, '--exit', '--quiet']).code).toBe(0);
    const refusals = storedEvents(limited).filter((event) => event[4] === 'RequestRejected').map((event) => (event[6] as { status: number }).status);
    expect(refusals.length).toBeGreaterThan(0);
    expect(new Set(refusals)).toEqual(new Set([503]));
    const manual = join(directory, 'manual.sqlite');
    expect(neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', manual, '--exit', '--quiet'], { NEAT_AUTOMATION: 'manual' }).code).toBe(0);
    const types = storedEvents(manual).map((event) => event[4]);
    expect(types).toContain('PlacementDecided');
    expect(types).not.toContain('MigrationStarted');
    expect(storedEvents(manual).filter((event) => event[4] === 'PlacementDecided').every((event) => (event[6] as { automation: string }).automation === 'manual')).toBe(true);
    const bad = neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', join(directory, 'bad.sqlite'), '--exit'], { NEAT_AUTOMATION: 'sometimes' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/NEAT_AUTOMATION/);
    expect(existsSync(join(directory, 'bad.sqlite'))).toBe(false);
  });
});

describe('neat serve: start-up failures are one line and leave no file behind', () => {
  test('a port in use, with a new log and with an existing one', async () => {
    const taken = await busyPort();
    try {
      const events = join(directory, 'port-in-use.sqlite');
      const served = neat(['serve', '--sim', twoHours, '--listen', `127.0.0.1:${taken.port}`, '--events', events]);
      expect(served.code).toBe(1);
      expect(served.stderr).toBe(`neat serve: cannot listen on 127.0.0.1:${taken.port}: the address is already in use\n`);
      expect(existsSync(events)).toBe(false);
      const existing = join(directory, 'six-hours.sqlite');
      const before = logDigest(existing);
      expect(neat(['serve', '--sim', sixHours, '--listen', `127.0.0.1:${taken.port}`, '--events', existing]).code).toBe(1);
      expect(logDigest(existing)).toEqual(before);
    } finally {
      await taken.close();
    }
  });

  test('a PostgreSQL log that cannot be reached, and a bad --advertise, are one line each', async () => {
    const closed = await busyPort();
    await closed.close();
    const url = `postgresql://neat@127.0.0.1:${closed.port}/postgres`;
    const unreachable = neat(['serve', '--sim', twoHours, '--listen', '127.0.0.1:0', '--events', url]);
    expect({ code: unreachable.code, stderr: unreachable.stderr })
      .toEqual({ code: 1, stderr: `neat serve: the event log ${url} (schema neat) cannot be used: connect ECONNREFUSED 127.0.0.1:${closed.port}\n` });
    const advertise = neat(['serve', '--sim', twoHours, '--listen', '127.0.0.1:0', '--events', url, '--advertise', 'ftp://x']);
    expect({ code: advertise.code, stderr: advertise.stderr }).toEqual({ code: 2, stderr: 'neat serve: --advertise must be http(s)://<host>:<port>; got "ftp://x"\n' });
  });

  test('a cloud that cannot be reached names where it was looked for', async () => {
    const closed = await busyPort();
    await closed.close();
    const events = join(directory, 'production.sqlite');
    const config = join(directory, 'unreachable.conf');
    writeFileSync(config, `[DEFAULT]\nos_admin_user = admin\nos_admin_password = secret\nos_auth_url = http://127.0.0.1:${closed.port}/v3\n`
      + `compute_hosts = compute1\nevent_log = sqlite:${events}\nglobal_manager_host = 127.0.0.1\nglobal_manager_port = ${closed.port}\nnova_max_attempts = 1\n`);
    const served = neat(['serve', '--config', config]);
    expect(served.code).toBe(1);
    expect(served.stderr.trim().split('\n')).toHaveLength(1);
    expect(served.stderr).toMatch(new RegExp(`^neat serve: the cloud could not be read.*127\\.0\\.0\\.1:${closed.port}`));
    expect(existsSync(events)).toBe(false);
  });
});

describe('neat serve --sim: stop and resume', () => {
  test('killed in the middle of a plan, it resumes from its log: plans settled against the rebuilt cloud, every request completed, a valid history', async () => {
    const events = join(directory, 'resumed.sqlite');
    const first = new Served(['serve', '--sim', sixHours, '--speed', '60', '--listen', '127.0.0.1:0', '--events', events, '--log-format', 'json', '--verbose']);
    // A migration takes its 10 s initial wait and ~14 s of simulated time: at 60× that is 0.4 s to strike in.
    await first.line((line) => line.event === 'MigrationStarted', 60_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = storedEvents(events);
    const second = neat(['serve', '--sim', sixHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', events, '--exit', '--log-format', 'json', '--quiet']);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const listening = jsonLines(second.stdout)[0];
    expect(listening).toMatchObject({ event: 'listening', resumedAtS: expect.any(Number) as number });
    expect((listening.resumed as number) + (listening.requeued as number)).toBeGreaterThan(0);
    // What was recorded before the kill is kept as it was.
    expect(storedEvents(events).slice(0, killedAt.length)).toEqual(killedAt);
    const { received, completed } = await foldStrictly(events);
    expect(completed).toBe(received);
    const replay = neat(['replay', events, '--json']);
    expect(JSON.parse(replay.stdout)).toMatchObject({ recordedMetricsMatch: true, simulatedS: 6 * 3600 });
  });

  test('a log of another run, or of a run that ended, is refused in one line and left as it was', async () => {
    const ended = join(directory, 'six-hours.sqlite');
    const before = logDigest(ended);
    const again = neat(['serve', '--sim', sixHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', ended, '--exit']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^neat serve: sqlite:.*six-hours\.sqlite holds a run that ended \(position \d+\); pass --events <new file>\n$/);
    expect(logDigest(ended)).toEqual(before);
    const stopped = join(directory, 'stopped.sqlite');
    const running = new Served(['serve', '--sim', twoHours, '--speed', '600', '--listen', '127.0.0.1:0', '--events', stopped, '--log-format', 'json']);
    await running.line((line) => line.event === 'request', 30_000);
    running.child.kill('SIGINT');
    expect(await running.exited).toEqual({ code: 0, signal: null });
    const kept = logDigest(stopped);
    const otherSeed = neat(['serve', '--sim', twoHours, '--seed', '2', '--listen', '127.0.0.1:0', '--events', stopped, '--exit']);
    expect(otherSeed.code).toBe(1);
    expect(otherSeed.stderr).toMatch(/^neat serve: sqlite:.*stopped\.sqlite holds another run: its seed is "1", not "2"\n$/);
    const otherHosts = neat(['serve', '--sim', twoHours, '--hosts', '20', '--listen', '127.0.0.1:0', '--events', stopped, '--exit']);
    expect(otherHosts.stderr).toMatch(/holds another run: its configuration .* differs/);
    const otherTrace = neat(['serve', '--sim', sixHours, '--listen', '127.0.0.1:0', '--events', stopped, '--exit']);
    expect(otherTrace.stderr).toMatch(/holds another run: it replays trace two-hours \(sha256 [0-9a-f]{12}…\), not six-hours/);
    expect(logDigest(stopped)).toEqual(kept);
    // The same run resumes, and ends.
    expect(neat(['serve', '--sim', twoHours, '--speed', '1000000', '--listen', '127.0.0.1:0', '--events', stopped, '--exit']).code).toBe(0);
  });

  test('a second signal exits at once, and a stop that hangs ends after its deadline', async () => {
    const start = (): Promise<{ child: ChildProcess; output: () => string; exited: Promise<{ code: number | null; ms: number }> }> => new Promise((resolve) => {
      const child = spawn(process.execPath, [join(__dirname, 'signalProcess.js')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const startedMs = Date.now();
      const exited = new Promise<{ code: number | null; ms: number }>((done) => { child.on('exit', (code) => { done({ code, ms: Date.now() - startedMs }); }); });
      child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('READY')) resolve({ child, output: () => output, exited });
      });
    });
    const twice = await start();
    twice.child.kill('SIGTERM');
    await new Promise((resolve) => { setTimeout(resolve, 200); });
    twice.child.kill('SIGTERM');
    const second = await twice.exited;
    expect(second.code).toBe(128 + 15);
    expect(twice.output()).toMatch(/SIGTERM: stopping \(a second signal exits at once\)/);
    expect(twice.output()).toMatch(/SIGTERM again: exiting at once/);
    const hung = await start();
    hung.child.kill('SIGINT');
    const deadline = await hung.exited;
    expect(deadline.code).toBe(1);
    expect(hung.output()).toMatch(/could not stop within 5 s; exiting/);
  });
});
