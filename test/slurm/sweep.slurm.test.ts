/**
 * A sweep through a real Slurm: the one-node cluster of test/slurm/harness on
 * 127.0.0.1, a job array submitted by `neat sweep slurm`, its shards merged,
 * and the result compared with the same sweep run by `neat sweep` in one
 * process. No part of Slurm is imitated: without it, a loud skip (on CI, a failure).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli';
import type { Output } from '../../src/cli/command';
import { planetLabDay, PLANETLAB_ROOT, PROJECT_ROOT } from '../support/planetlab';
import { prerequisite } from '../support/prerequisite';

const HARNESS = join(PROJECT_ROOT, 'test', 'slurm', 'harness');
const SLURM_TOOLS = ['/usr/sbin/munged', '/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/bin/sbatch', '/usr/bin/squeue', '/usr/bin/sinfo'];
const DAYS = ['20110306', '20110303'];
const POLICIES = ['thr-mmt-0.8', 'dvfs'];
const SHARDS = 4;
/** The array's tasks each read a PlanetLab day and simulate it: seconds each on 2 cores; the bound leaves room for a loaded machine. */
const ARRAY_BOUND_MS = 180_000;

const present = prerequisite(`Slurm (${SLURM_TOOLS.join(', ')})`, SLURM_TOOLS.every((tool) => existsSync(tool)),
  'apt-get install slurm-wlm munge; .ci/run installs them')
  && DAYS.every((day) => planetLabDay(day) !== null);
const slurmTest = present ? test : test.skip;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => { resolve(typeof address === 'object' && address !== null ? address.port : 0); });
    });
  });
}

function collect(): Output & { readonly outText: string[]; readonly errText: string[] } {
  const outText: string[] = [];
  const errText: string[] = [];
  return { outText, errText, out: (text) => { outText.push(text); }, err: (text) => { errText.push(text); } };
}

/** A run's figures: its line without the machine's measurements (wall time, decision times), which differ between any two runs. */
function figures(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8').trimEnd().split('\n').map((line) => {
    const record = JSON.parse(line) as Record<string, unknown>;
    delete record.wallMs;
    delete record.decisionTimeMs;
    return record;
  });
}

let directory: string;
let conf: string | undefined;
/**
 * The environment of sbatch and squeue: this cluster's configuration and no
 * other. Passed to each child, since jest gives a test a copy of process.env
 * that child processes do not see.
 */
const slurmEnv = (): NodeJS.ProcessEnv => ({ ...process.env, SLURM_CONF: conf });

beforeAll(async () => {
  if (!present) return;
  directory = mkdtempSync(join(tmpdir(), 'neat-slurm-'));
  const [ctld, slurmd] = [await freePort(), await freePort()];
  const started = execFileSync(join(HARNESS, 'start.sh'), [join(directory, 'cluster')], {
    encoding: 'utf8', env: { ...process.env, SLURMCTLD_PORT: String(ctld), SLURMD_PORT: String(slurmd) },
  });
  conf = /^SLURM_CONF=(.+)$/m.exec(started)?.[1];
  if (conf === undefined) throw new Error(`start.sh printed no SLURM_CONF: ${started}`);
});

afterAll(() => {
  if (!present) return;
  execFileSync(join(HARNESS, 'stop.sh'), [join(directory, 'cluster')], { stdio: 'ignore' });
  rmSync(directory, { recursive: true, force: true });
});

async function arrayDone(jobId: string, shardFiles: readonly string[]): Promise<void> {
  const deadline = Date.now() + ARRAY_BOUND_MS;
  for (;;) {
    const queued = execFileSync('squeue', ['-h', '-j', jobId, '-o', '%i %t'], { encoding: 'utf8', env: slurmEnv() }).trim();
    if (queued === '' && shardFiles.every((file) => existsSync(file))) return;
    if (Date.now() > deadline) throw new Error(`job array ${jobId} not done after ${ARRAY_BOUND_MS} ms; squeue: ${queued || '(empty)'}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

slurmTest('a job array of 4 shards, merged, gives the figures of the same sweep run in one process', async () => {
  const output = join(directory, 'out');
  const grid = ['--trace', PLANETLAB_ROOT, '--days', DAYS.join(','), '--policies', POLICIES.join(',')];
  const startedMs = Date.now();
  // The command as a user runs it, in its own process, so that sbatch sees this cluster's SLURM_CONF.
  const submit = spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), 'sweep', 'slurm', ...grid, '--shards', String(SHARDS),
    '--output-dir', output, '--time-limit', '10:00'], { encoding: 'utf8', env: slurmEnv() });
  expect({ status: submit.status, stderr: submit.stderr }).toEqual({ status: 0, stderr: expect.stringContaining('when it is done') as unknown });
  const jobId = submit.stdout.trim();
  expect(jobId).toMatch(/^\d+$/);
  const shardFiles = Array.from({ length: SHARDS }, (_, i) => join(output, `shard-${i + 1}.jsonl`));
  await arrayDone(jobId, shardFiles);
  const slurmMs = Date.now() - startedMs;

  const merged = join(output, 'merged.jsonl');
  const merge = collect();
  expect(await main(['sweep', 'merge', ...shardFiles, '--output', merged], merge)).toBe(0);
  expect(merge.outText.join('\n')).toContain(`${DAYS.length * POLICIES.length} runs from ${SHARDS} shard files`);

  const local = join(directory, 'local.jsonl');
  const localStartedMs = Date.now();
  expect(await main(['sweep', ...grid, '--output', local], collect())).toBe(0);
  const localMs = Date.now() - localStartedMs;
  console.log(`sweep of ${DAYS.length * POLICIES.length} runs: Slurm array of ${SHARDS} (submit to last shard) ${slurmMs} ms; `
    + `neat sweep in one process ${localMs} ms`);
  // The merged file is in the grid's order; neat sweep writes its runs as they finish.
  const key = (r: Record<string, unknown>): string => `${String(r.day)} ${String(r.policy)}`;
  const canonical = ['20110303 thr-mmt-0.8', '20110303 dvfs', '20110306 thr-mmt-0.8', '20110306 dvfs'];
  expect(figures(merged).map(key)).toEqual(canonical);
  expect(figures(merged)).toEqual(figures(local).sort((a, b) => canonical.indexOf(key(a)) - canonical.indexOf(key(b))));

  // A task that never ran: the merge names the runs it owed, and writes nothing.
  unlinkSync(shardFiles[2]);
  rmSync(merged);
  const broken = collect();
  expect(await main(['sweep', 'merge', ...shardFiles.filter((file) => existsSync(file)), '--output', merged], broken)).toBe(1);
  expect(broken.errText.join('\n')).toContain('missing 1 run of shard 3/4, no file given (did its task run?): 20110306 × thr-mmt-0.8');
  expect(existsSync(merged)).toBe(false);
});
