/**
 * `neat sweep slurm`: a sweep as a Slurm job array. Task i of n runs
 * `neat sweep --shard i/n` into `<output-dir>/shard-i.jsonl`; `neat sweep
 * merge` joins them when the array is done. Slurm does the scheduling: this
 * only writes the batch script and hands it to `sbatch`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT_FAILURE, EXIT_OK, integerOption, requiredOption, stringOption, UsageError } from './command';
import type { Output, ParsedValues } from './command';
import { gridJobs, refuseOptions, sweepGrid } from './sweep';
import type { SweepGrid } from './sweep';

export const SLURM_USAGE = 'neat sweep slurm --trace <dir> --days <list|all> --policies <list> --shards <n> --output-dir <dir> '
  + '[--mode cloudsim|neat] [--config <neat.conf>] [--seed <n>] [--hosts <n>] [--workers <cpus per task>] [--partition <p>] '
  + '[--account <a>] [--time-limit <slurm time>] [--dry-run]';

const SLURM_OPTIONS = ['trace', 'days', 'policies', 'mode', 'config', 'seed', 'hosts', 'workers', 'shards', 'output-dir', 'partition', 'account',
  'time-limit', 'dry-run'] as const;

/** A word for a POSIX shell, quoted unless it is plainly safe. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A value for an `#SBATCH` line, which Slurm reads itself (no shell): no spaces or line breaks to split it. */
function sbatchValue(option: string, value: string): string {
  if (!/^[\w@%+=:,./-]+$/.test(value)) throw new UsageError(`--${option}: "${value}" is not a Slurm ${option} (letters, digits and -_.:,/ only)`);
  return value;
}

export interface SlurmScript {
  readonly grid: SweepGrid;
  readonly shards: number;
  readonly outputDir: string;
  readonly cpusPerTask: number;
  readonly partition?: string;
  readonly account?: string;
  readonly timeLimit?: string;
  /** How a node runs `neat`: the same node binary and CLI as here (a shared file system, as a cluster has). */
  readonly node: string;
  readonly cli: string;
}

export function slurmScript(s: SlurmScript): string {
  const { grid } = s;
  const command = [s.node, s.cli, 'sweep', '--trace', resolve(grid.root), '--days', grid.days.join(','), '--policies', grid.policies.join(','),
    '--mode', grid.mode, '--seed', grid.seed, '--hosts', String(grid.hosts), '--workers', String(s.cpusPerTask)].map(shellWord);
  const config = grid.mode === 'neat' && grid.configPath !== undefined ? ['--config', shellWord(resolve(grid.configPath))] : [];
  const dir = resolve(s.outputDir);
  return [
    '#!/bin/bash',
    `# neat sweep as a Slurm job array: task i of ${s.shards} runs shard i/${s.shards} of the grid`,
    `# (${grid.days.length} days x ${grid.policies.length} policies). When every task is done:`,
    `#   neat sweep merge ${shellWord(dir)}/shard-*.jsonl --output ${shellWord(dir)}/merged.jsonl`,
    '#SBATCH --job-name=neat-sweep',
    `#SBATCH --array=1-${s.shards}`,
    `#SBATCH --cpus-per-task=${s.cpusPerTask}`,
    `#SBATCH --output=${sbatchValue('output-dir', dir)}/slurm-%A_%a.out`,
    ...(s.partition === undefined ? [] : [`#SBATCH --partition=${sbatchValue('partition', s.partition)}`]),
    ...(s.account === undefined ? [] : [`#SBATCH --account=${sbatchValue('account', s.account)}`]),
    ...(s.timeLimit === undefined ? [] : [`#SBATCH --time=${sbatchValue('time-limit', s.timeLimit)}`]),
    'set -euo pipefail',
    `exec ${[...command, ...config].join(' ')} \\`,
    `  --shard "$SLURM_ARRAY_TASK_ID/${s.shards}" --output ${shellWord(dir)}/"shard-$SLURM_ARRAY_TASK_ID.jsonl"`,
    '',
  ].join('\n');
}

export async function runSlurm(values: ParsedValues, io: Output): Promise<number> {
  refuseOptions(values, SLURM_OPTIONS, 'neat sweep slurm', SLURM_USAGE);
  const grid = sweepGrid(values, io, SLURM_USAGE);
  const shards = integerOption(values, 'shards', { min: 1, max: 100_000 });
  if (shards === undefined) throw new UsageError(`--shards is required\nUsage: ${SLURM_USAGE}`);
  const jobs = gridJobs(grid).length;
  if (shards > jobs) io.err(`neat sweep slurm: ${shards} shards for ${jobs} runs: ${shards - jobs} of its tasks will have nothing to run`);
  const outputDir = requiredOption(values, 'output-dir', SLURM_USAGE);
  const script = slurmScript({
    grid, shards, outputDir, cpusPerTask: integerOption(values, 'workers', { min: 1, max: 64 }) ?? 1,
    partition: stringOption(values, 'partition'), account: stringOption(values, 'account'), timeLimit: stringOption(values, 'time-limit'),
    node: process.execPath, cli: resolve(__dirname, '..', '..', '..', 'bin', 'neat.js'),
  });
  if (values['dry-run'] === true) {
    io.out(script);
    return EXIT_OK;
  }
  mkdirSync(outputDir, { recursive: true });
  const scriptPath = join(resolve(outputDir), 'sweep.sbatch');
  writeFileSync(scriptPath, script, { mode: 0o755 });
  let submitted: string;
  try {
    submitted = execFileSync('sbatch', ['--parsable', scriptPath], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() ?? (error as Error).message;
    io.err(`neat sweep slurm: sbatch ${scriptPath} failed: ${detail === '' ? (error as Error).message : detail}`);
    return EXIT_FAILURE;
  }
  // --parsable prints `<job id>` or `<job id>;<cluster>`.
  const jobId = submitted.split(';')[0];
  io.out(jobId);
  io.err(`neat sweep slurm: job array ${jobId} (${shards} tasks, ${jobs} runs) from ${scriptPath}; when it is done:\n`
    + `  neat sweep merge ${join(resolve(outputDir), 'shard-*.jsonl')} --output ${join(resolve(outputDir), 'merged.jsonl')}`);
  return EXIT_OK;
}
