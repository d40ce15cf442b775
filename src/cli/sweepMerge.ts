/**
 * `neat sweep merge`: the shards of one sweep (`neat sweep --shard i/n`) joined
 * into the JSON lines `neat sweep` writes and `neat report` reads, once they
 * are shown to be complete and of one sweep. Any doubt (a shard missing or cut
 * off, a run twice, shards of different sweeps) stops it before it writes
 * anything: a merged file stands for the whole grid.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { canonicalGrid, shardOfJob, SUMMARISED_METRICS, summariseSweep, sweepDigest } from '../../sim/sweep';
import type { SummarisedMetric, SweepIdentity } from '../../sim/sweep';
import { EXIT_FAILURE, EXIT_OK, stringOption, UsageError } from './command';
import type { Output, ParsedValues } from './command';
import { refuseOptions, runsTable, summaryTable } from './sweep';
import type { TableRun } from './sweep';

export const SHARD_KIND = 'sweep-shard';

/** The first line of a shard's file. */
export interface ShardHeader {
  readonly kind: typeof SHARD_KIND;
  /** sha256 of `identity`: equal digests, the same sweep. */
  readonly sweep: string;
  readonly shard: string;
  readonly index: number;
  readonly count: number;
  /** Runs in this shard. */
  readonly jobs: number;
  /** Runs in the whole grid. */
  readonly gridJobs: number;
  readonly identity: SweepIdentity;
}

/** Shards that do not make one whole sweep: every problem found, one a line. */
export class SweepMergeError extends Error {
  override name = 'SweepMergeError';
}

export interface ShardText {
  /** How the file is named in messages. */
  readonly path: string;
  readonly text: string;
}

export interface MergedRun extends TableRun {
  /** The shard's line as written: the merged file holds the very bytes each shard wrote. */
  readonly line: string;
}

export interface MergedSweep {
  readonly identity: SweepIdentity;
  readonly sweep: string;
  /** In the grid's canonical order. */
  readonly runs: readonly MergedRun[];
}

const short = (digest: string): string => digest.slice(0, 12);

function parseHeader(file: ShardText, firstLine: string): ShardHeader | string {
  let value: unknown;
  try {
    value = JSON.parse(firstLine);
  } catch {
    return `${file.path}:1: not JSON, so not the header of a shard`;
  }
  const header = value as Partial<ShardHeader> | null;
  if (typeof header !== 'object' || header === null || header.kind !== SHARD_KIND) {
    return `${file.path}:1: no "${SHARD_KIND}" header: not a shard of neat sweep --shard (a whole sweep's file needs no merge)`;
  }
  const { sweep, index, count, identity } = header;
  if (typeof sweep !== 'string' || typeof index !== 'number' || typeof count !== 'number' || typeof identity !== 'object'
    || !Number.isInteger(index) || !Number.isInteger(count) || index < 1 || index > count) {
    return `${file.path}:1: a malformed "${SHARD_KIND}" header`;
  }
  // Recomputed, so that a header edited by hand (or written by another version of the digest) cannot pass for the sweep it names.
  if (sweepDigest(identity) !== sweep) return `${file.path}:1: the header's sweep digest ${short(sweep)} does not match the grid it describes`;
  return header as ShardHeader;
}

interface RunLine {
  readonly day: string;
  readonly policy: string;
  readonly run: MergedRun;
}

function parseRun(text: string, where: string): RunLine | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `${where}: not JSON`;
  }
  const line = value as Record<string, unknown> | null;
  if (typeof line !== 'object' || line === null || typeof line.day !== 'string' || typeof line.policy !== 'string') {
    return `${where}: not a run (a run's line names its day and policy)`;
  }
  const { day, policy } = line;
  if (typeof line.error === 'string') return { day, policy, run: { job: { day, policy }, error: line.error, line: text } };
  const metrics: Partial<Record<SummarisedMetric, number>> = {};
  for (const name of SUMMARISED_METRICS) {
    const metric = line[name];
    if (typeof metric !== 'number') return `${where}: "${name}" must be a number`;
    metrics[name] = metric;
  }
  const wallMs = typeof line.wallMs === 'number' ? line.wallMs : 0;
  return { day, policy, run: { job: { day, policy }, result: { metrics: metrics as Record<SummarisedMetric, number>, wallMs }, line: text } };
}

/** At most this many runs named in a message; past it, a count. */
const MAX_NAMED = 8;

function nameRuns(keys: readonly string[]): string {
  const named = keys.slice(0, MAX_NAMED).join(', ');
  return keys.length > MAX_NAMED ? `${named} and ${keys.length - MAX_NAMED} more` : named;
}

/** The shards' runs in the grid's order, or a SweepMergeError naming each problem. */
export function mergeShards(files: readonly ShardText[]): MergedSweep {
  if (files.length === 0) throw new SweepMergeError('no shard given');
  const problems: string[] = [];
  const headers: { file: ShardText; header: ShardHeader; lines: string[] }[] = [];
  for (const file of files) {
    if (file.text === '') {
      problems.push(`${file.path}: empty: its shard never started writing (crashed before its header?)`);
      continue;
    }
    const lines = file.text.split('\n');
    // Every line a shard writes ends with a newline: text after the last one is a line cut off mid-write.
    const tail = lines.pop();
    if (tail !== undefined && tail !== '') {
      problems.push(`${file.path}:${lines.length + 1}: the last line is incomplete: the shard was cut off mid-write (killed?); run it again`);
    }
    if (lines.length === 0) continue;
    const header = parseHeader(file, lines[0]);
    if (typeof header === 'string') problems.push(header);
    else headers.push({ file, header, lines: lines.slice(1) });
  }
  const digests = new Map<string, string[]>();
  headers.forEach(({ file, header }) => { digests.set(header.sweep, [...(digests.get(header.sweep) ?? []), file.path]); });
  if (digests.size > 1) {
    const groups = [...digests].map(([digest, paths]) => {
      const { identity } = headers.find((h) => h.header.sweep === digest)!.header;
      return `  sweep ${short(digest)} (${identity.days.length} days, ${identity.policies.join(',')}, ${identity.mode}, seed ${identity.seed}, `
        + `${identity.hosts} hosts, version ${identity.codeVersion}): ${paths.join(', ')}`;
    });
    problems.push(`shards of different sweeps:\n${groups.join('\n')}`);
  }
  const counts = new Set(headers.map(({ header }) => header.count));
  if (digests.size <= 1 && counts.size > 1) {
    problems.push(`shards of different splits: ${headers.map(({ file, header }) => `${file.path} is ${header.shard}`).join(', ')}`);
  }
  if (problems.length > 0 || headers.length === 0) throw new SweepMergeError(problems.join('\n'));

  const { identity, sweep, count } = headers[0].header;
  const grid = canonicalGrid(identity.days.map((d) => d.day), identity.policies, (day, policy) => `${day} × ${policy}`);
  const position = new Map(grid.map((key, k) => [key, k]));
  const byShard = new Map<number, string[]>();
  headers.forEach(({ file, header }) => { byShard.set(header.index, [...(byShard.get(header.index) ?? []), file.path]); });
  byShard.forEach((paths, index) => { if (paths.length > 1) problems.push(`shard ${index}/${count} given twice: ${paths.join(', ')}`); });
  const seen = new Map<string, { where: string; run: MergedRun }>();
  for (const { file, header, lines } of headers) {
    lines.forEach((text, offset) => {
      if (text.trim() === '') return;
      const where = `${file.path}:${offset + 2}`;
      const parsed = parseRun(text, where);
      if (typeof parsed === 'string') {
        problems.push(parsed);
        return;
      }
      const key = `${parsed.day} × ${parsed.policy}`;
      const k = position.get(key);
      if (k === undefined) {
        problems.push(`${where}: ${key} is not in the sweep's grid`);
        return;
      }
      const owner = shardOfJob(k, count);
      if (owner !== header.index) problems.push(`${where}: ${key} belongs to shard ${owner}/${count}, not ${header.shard}`);
      const earlier = seen.get(key);
      if (earlier !== undefined) problems.push(`${key} twice: ${earlier.where} and ${where}`);
      else seen.set(key, { where, run: parsed.run });
    });
  }
  const missing = new Map<number, string[]>();
  grid.forEach((key, k) => {
    if (seen.has(key)) return;
    const owner = shardOfJob(k, count);
    missing.set(owner, [...(missing.get(owner) ?? []), key]);
  });
  [...missing].sort(([a], [b]) => a - b).forEach(([index, keys]) => {
    const paths = byShard.get(index);
    const why = paths === undefined ? 'no file given (did its task run?)' : `${paths.join(', ')} stops short (crashed or killed?)`;
    problems.push(`missing ${keys.length} run${keys.length === 1 ? '' : 's'} of shard ${index}/${count}, ${why}: ${nameRuns(keys)}`);
  });
  if (problems.length > 0) throw new SweepMergeError(problems.join('\n'));
  return { identity, sweep, runs: grid.map((key) => seen.get(key)!.run) };
}

export async function runMerge(values: ParsedValues, paths: readonly string[], io: Output, usage: string): Promise<number> {
  refuseOptions(values, ['output'], 'neat sweep merge', usage);
  if (paths.length === 0) throw new UsageError(`no shard file given\nUsage: ${usage}`);
  const output = stringOption(values, 'output');
  const unreadable = paths.filter((path) => !existsSync(path) || !statSync(path).isFile());
  let merged: MergedSweep;
  try {
    if (unreadable.length > 0) throw new SweepMergeError(unreadable.map((path) => `${path}: no such file`).join('\n'));
    merged = mergeShards(paths.map((path) => ({ path, text: readFileSync(path, 'utf8') })));
  } catch (error) {
    if (!(error instanceof SweepMergeError)) throw error;
    io.err(`neat sweep merge: nothing written:\n${error.message}`);
    return EXIT_FAILURE;
  }
  const text = merged.runs.map((run) => run.line + '\n').join('');
  const tables = `${runsTable(merged.runs)}\n\n${summaryTable(summariseSweep(merged.identity.policies, merged.runs))}`;
  const failed = merged.runs.filter((run) => run.error !== undefined).length;
  const note = `sweep ${short(merged.sweep)}: ${merged.runs.length} runs from ${paths.length} shard file${paths.length === 1 ? '' : 's'}`
    + (failed > 0 ? `, ${failed} failed` : '');
  if (output === undefined) {
    io.out(text);
    io.err(`${tables}\n${note}`);
  } else {
    // Beside it then renamed: a reader (or an interrupted merge) never sees half a merged file.
    const temporary = `${output}.tmp`;
    mkdirSync(dirname(output), { recursive: true });
    writeFileSync(temporary, text);
    renameSync(temporary, output);
    io.out(`${tables}\n${note}, merged into ${output}`);
  }
  // As `neat sweep` does: a failed run is in the file and the table, and the exit code says so.
  return failed > 0 ? EXIT_FAILURE : EXIT_OK;
}
