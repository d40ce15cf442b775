/**
 * What-if from production, the whole path as an operator runs it, through the
 * real CLI: `neat serve --sim` (the production manager over HTTP and SQLite,
 * on a simulated cloud), `neat trace export` of its log, then `neat sim
 * --mode neat` on the exported trace, under the same policy and another, and
 * `neat report --compare` of production and the alternative.
 *
 * Under the same policy the replay must make production's decisions: every
 * request, decision, migration, power change and sample, at the same times.
 * Under another it must differ, so that the comparison has something to show.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { readCsvTrace, writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { BIN } from '../support/served';

/** The events that say what the manager and its agents did, as the log holds them. */
const DECISION_TYPES = new Set([
  'RequestReceived', 'PlacementDecided', 'NothingToDo', 'RequestCompleted', 'MigrationStarted', 'MigrationCompleted', 'MigrationFailed',
  'HostSuspendRequested', 'HostSuspended', 'HostWakeRequested', 'HostWoken', 'UtilizationSampled',
]);
/** What only the transport decides (HTTP or in process, from where, at which wall-clock time), and ids drawn from the run's own sequence. */
const TRANSPORT_FIELDS = new Set(['protocol', 'remoteAddress', 'clientTimeS', 'requestId', 'migrationId']);

let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-what-if-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function neat(args: readonly string[]): { stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 110_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`neat ${args.join(' ')} exited with ${String(result.status)}:\n${result.stderr}`);
  return { stdout: result.stdout, stderr: result.stderr };
}

/** [type, virtual time, data without transport fields] of every decision event, in log order. */
function decisions(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT body FROM events ORDER BY position').pluck().all() as string[];
    return rows.flatMap((body) => {
      const [, , , , type, , data, , , timeMs] = JSON.parse(body) as [unknown, unknown, unknown, unknown, string, unknown, Record<string, unknown>, unknown, unknown, number];
      if (!DECISION_TYPES.has(type)) return [];
      const kept = Object.fromEntries(Object.entries(data).filter(([field]) => !TRANSPORT_FIELDS.has(field)));
      return [JSON.stringify([type, timeMs, kept])];
    });
  } finally {
    db.close();
  }
}

const count = (events: readonly string[], type: string): number => events.filter((event) => event.startsWith(`["${type}"`)).length;

test('a serve --sim run, exported and replayed under its own policy, makes the same decisions; under another policy, other ones', () => {
  const tracePath = join(directory, 'six-hours.csv');
  writeCsvTrace(tracePath, generateSyntheticTrace({ seed: 'what-if', vms: 40, steps: 73, stepS: 300 }));
  const production = join(directory, 'production.sqlite');
  neat(['serve', '--sim', tracePath, '--hosts', '20', '--events', production, '--exit', '--speed', '100000', '--listen', '127.0.0.1:0', '--quiet']);

  const exported = join(directory, 'exported.csv');
  const { stdout } = neat(['trace', 'export', production, '--out', exported]);
  expect(stdout).toMatch(/^wrote .*exported\.csv: 40 VMs on 20 hosts, 73 points of 300 s/m);
  const trace = readCsvTrace(exported);
  expect(trace.dataCentre?.hosts.map((host) => host.name)).toEqual(Array.from({ length: 20 }, (_, i) => `host-${i}`));
  // CloudSim's PlanetLab VM types by index: 10 VMs of each of 2500, 2000, 1000 and 500 MIPS.
  expect(trace.dataCentre?.vms.map((vm) => vm.cpuMhz)).toEqual([2500, 2000, 1000, 500].flatMap((mips) => Array<number>(10).fill(mips)));

  const sameConfig = join(directory, 'same.conf');
  writeFileSync(sameConfig, '[DEFAULT]\n');
  const replay = join(directory, 'replay.sqlite');
  neat(['sim', '--mode', 'neat', '--trace', exported, '--config', sameConfig, '--events', replay]);
  const happened = decisions(production);
  expect(count(happened, 'MigrationStarted')).toBeGreaterThan(5);
  expect(count(happened, 'HostSuspended')).toBeGreaterThan(2);
  expect(decisions(replay)).toEqual(happened);

  const otherConfig = join(directory, 'other.conf');
  writeFileSync(otherConfig, '[DEFAULT]\nalgorithm_vm_placement_parameters = {"cpu_threshold": 0.4, "ram_threshold": 0.7, "last_n_vm_cpu": 2}\n');
  const alternative = join(directory, 'alternative.sqlite');
  neat(['sim', '--mode', 'neat', '--trace', exported, '--config', otherConfig, '--events', alternative]);
  const whatIf = decisions(alternative);
  // The same samples until the policies first disagree, then other migrations.
  expect(whatIf.slice(0, 10)).toEqual(happened.slice(0, 10));
  expect(whatIf.filter((event) => event.startsWith('["MigrationStarted"'))).not.toEqual(happened.filter((event) => event.startsWith('["MigrationStarted"')));
  expect(readFileSync(exported, 'utf8')).toContain('#@vm id=vm-00 cpu_mhz=2500 host=host-0');

  const comparison = join(directory, 'compare.html');
  expect(neat(['report', '--compare', production, alternative, '--out', comparison]).stdout).toMatch(/compare\.html/);
  // The metrics table's migrations row: each side's count as its log holds it, then b − a.
  const row = /<tr><td>VM migrations started<\/td>(.*?)<\/tr>/.exec(readFileSync(comparison, 'utf8'));
  const values = [...(row?.[1] ?? '').matchAll(/data-value="(-?[\d.]+)"/g)].map((match) => Number(match[1]));
  const [a, b] = [count(happened, 'MigrationStarted'), count(whatIf, 'MigrationStarted')];
  expect(values.slice(0, 3)).toEqual([a, b, b - a]);
});
