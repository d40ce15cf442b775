import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalGrid, parseShard, shardJobs, shardOfJob, sweepDigest } from '../../sim/sweep';
import type { SweepIdentity } from '../../sim/sweep';
import { main } from '../../src/cli';
import type { Output } from '../../src/cli/command';
import { mergeShards, SweepMergeError } from '../../src/cli/sweepMerge';
import type { ShardHeader, ShardText } from '../../src/cli/sweepMerge';
import { writePlanetLabDay } from '../support/days';

describe('the shards of a sweep', () => {
  test('every job of the grid is in exactly one shard, and shards differ in size by at most one', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 50 }), (jobs, count) => {
      const grid = Array.from({ length: jobs }, (_, k) => k);
      const shards = Array.from({ length: count }, (_, i) => shardJobs(grid, { index: i + 1, count }));
      expect(shards.flat().sort((a, b) => a - b)).toEqual(grid);
      const sizes = shards.map((shard) => shard.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      shards.forEach((shard, i) => { shard.forEach((k) => { expect(shardOfJob(k, count)).toBe(i + 1); }); });
    }));
  });

  test('the grid is the same whatever order the days were given in', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.stringMatching(/^\d{8}$/), { minLength: 1, maxLength: 8 }), (days) => {
      const key = (day: string, policy: string): string => `${day}/${policy}`;
      expect(canonicalGrid([...days].reverse(), ['b', 'a'], key)).toEqual(canonicalGrid(days, ['b', 'a'], key));
      expect(canonicalGrid(days, ['b', 'a'], key).slice(0, 2)).toEqual([key([...days].sort()[0], 'b'), key([...days].sort()[0], 'a')]);
    }));
  });

  test('i/n is taken with 1 ≤ i ≤ n; anything else says what was wrong', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard('3/2')).toMatch(/from 1 to 2; got "3\/2"/);
    expect(parseShard('0/2')).toMatch(/from 1 to 2/);
    expect(parseShard('1/0')).toMatch(/at least 1/);
    expect(parseShard('1-2')).toMatch(/expected <i>\/<n>/);
  });
});

const IDENTITY: SweepIdentity = {
  days: [{ day: 'd1', traceDigest: 'a'.repeat(64) }, { day: 'd2', traceDigest: 'b'.repeat(64) }],
  policies: ['p', 'q'], mode: 'cloudsim', seed: '1', hosts: 20, managerConfig: null, codeVersion: '0.1.0',
};

describe('the digest of a sweep', () => {
  test('changes with a trace, the seed, the code version; not with the order the days are listed in', () => {
    const base = sweepDigest(IDENTITY);
    expect(sweepDigest({ ...IDENTITY, days: [...IDENTITY.days].reverse() })).toBe(base);
    expect(sweepDigest({ ...IDENTITY, days: [IDENTITY.days[0], { day: 'd2', traceDigest: 'c'.repeat(64) }] })).not.toBe(base);
    expect(sweepDigest({ ...IDENTITY, seed: '2' })).not.toBe(base);
    expect(sweepDigest({ ...IDENTITY, codeVersion: '0.2.0' })).not.toBe(base);
    expect(sweepDigest({ ...IDENTITY, policies: ['q', 'p'] })).not.toBe(base);
  });
});

/** A shard file as `neat sweep --shard` writes it, with made-up figures. */
function shardText(index: number, count: number, identity: SweepIdentity = IDENTITY, skip: readonly string[] = []): string {
  const grid = canonicalGrid(identity.days.map((d) => d.day), identity.policies, (day, policy) => ({ day, policy }));
  const jobs = shardJobs(grid, { index, count });
  const header: ShardHeader = { kind: 'sweep-shard', sweep: sweepDigest(identity), shard: `${index}/${count}`, index, count, jobs: jobs.length,
    gridJobs: grid.length, identity };
  const runs = jobs.filter(({ day, policy }) => !skip.includes(`${day} × ${policy}`)).map(({ day, policy }) => JSON.stringify({ day, policy,
    energyKwh: day.length + policy.length, migrations: 1, slatah: 0, pdm: 0, slav: 0, esv: 0, wallMs: 5 }));
  return [JSON.stringify(header), ...runs].map((line) => line + '\n').join('');
}

function mergeError(files: readonly ShardText[]): string {
  try {
    mergeShards(files);
  } catch (error) {
    if (error instanceof SweepMergeError) return error.message;
    throw error;
  }
  throw new Error('the merge succeeded');
}

describe('merging shards', () => {
  test('in the grid order, whatever order the files come in', () => {
    const merged = mergeShards([{ path: 'b', text: shardText(2, 2) }, { path: 'a', text: shardText(1, 2) }]);
    expect(merged.runs.map((run) => `${run.job.day} ${run.job.policy}`)).toEqual(['d1 p', 'd1 q', 'd2 p', 'd2 q']);
    expect(merged.sweep).toBe(sweepDigest(IDENTITY));
  });

  test('a shard not given: its runs are named, and the shard that should have had them', () => {
    expect(mergeError([{ path: 's1', text: shardText(1, 3) }, { path: 's3', text: shardText(3, 3) }]))
      .toBe('missing 1 run of shard 2/3, no file given (did its task run?): d1 × q');
  });

  test('a shard that crashed between lines: the file and the runs it lacks', () => {
    expect(mergeError([{ path: 's1', text: shardText(1, 2, IDENTITY, ['d2 × p']) }, { path: 's2', text: shardText(2, 2) }]))
      .toBe('missing 1 run of shard 1/2, s1 stops short (crashed or killed?): d2 × p');
  });

  test('a shard killed mid-write: its incomplete last line is named', () => {
    const text = shardText(2, 2);
    expect(mergeError([{ path: 's1', text: shardText(1, 2) }, { path: 's2', text: text.slice(0, -20) }]))
      .toMatch(/^s2:3: the last line is incomplete/);
  });

  test('shards of different sweeps: each digest and its files', () => {
    const other = { ...IDENTITY, seed: '7' };
    const message = mergeError([{ path: 's1', text: shardText(1, 2) }, { path: 's2', text: shardText(2, 2, other) }]);
    expect(message).toMatch(/^shards of different sweeps:/);
    expect(message).toContain(`sweep ${sweepDigest(IDENTITY).slice(0, 12)} (2 days, p,q, cloudsim, seed 1, 20 hosts, version 0.1.0): s1`);
    expect(message).toContain(`seed 7, 20 hosts, version 0.1.0): s2`);
  });

  test('a shard twice, shards of different splits, a header edited by hand, a file that is no shard', () => {
    expect(mergeError([{ path: 's1', text: shardText(1, 2) }, { path: 's2', text: shardText(2, 2) }, { path: 'again', text: shardText(2, 2) }]))
      .toContain('shard 2/2 given twice: s2, again\nd1 × q twice: s2:2 and again:2');
    expect(mergeError([{ path: 'half', text: shardText(1, 2) }, { path: 'third', text: shardText(2, 3) }]))
      .toBe('shards of different splits: half is 1/2, third is 2/3');
    expect(mergeError([{ path: 'edited', text: shardText(1, 1).replace('"seed":"1"', '"seed":"2"') }]))
      .toMatch(/^edited:1: the header's sweep digest \w{12} does not match/);
    expect(mergeError([{ path: 'runs.jsonl', text: '{"day":"d1","policy":"p"}\n' }])).toMatch(/^runs.jsonl:1: no "sweep-shard" header/);
    expect(mergeError([{ path: 'empty', text: '' }])).toMatch(/^empty: empty/);
  });
});

describe('neat sweep --shard, then neat sweep merge', () => {
  let directory: string;
  const io = (): Output & { outText: string[]; errText: string[] } => {
    const outText: string[] = [];
    const errText: string[] = [];
    return { outText, errText, out: (text) => { outText.push(text); }, err: (text) => { errText.push(text); } };
  };

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'neat-shard-'));
    writePlanetLabDay(directory, '20200102', 'b');
    writePlanetLabDay(directory, '20200101', 'a');
  });

  afterAll(() => { rmSync(directory, { recursive: true, force: true }); });

  const grid = (): string[] => ['--trace', directory, '--days', '20200102,20200101', '--policies', 'thr-mmt-0.8,dvfs', '--hosts', '20', '--workers', '1'];
  /** A run's line without the machine's measurements (wall time, decision times), which differ between any two runs. */
  const figures = (line: string): unknown => {
    const record = JSON.parse(line) as Record<string, unknown>;
    delete record.wallMs;
    delete record.decisionTimeMs;
    return record;
  };

  test('the merged shards are the sweep run whole, line for line but for wall and decision times; nothing written on error', async () => {
    const shards = [1, 2, 3].map((i) => join(directory, `shard-${i}.jsonl`));
    for (const [i, path] of shards.entries()) {
      expect(await main(['sweep', ...grid(), '--shard', `${i + 1}/3`, '--output', path], io())).toBe(0);
    }
    const whole = join(directory, 'whole.jsonl');
    expect(await main(['sweep', ...grid(), '--output', whole], io())).toBe(0);
    const merged = join(directory, 'merged.jsonl');
    const mergeIo = io();
    expect(await main(['sweep', 'merge', ...shards, '--output', merged], mergeIo)).toBe(0);
    expect(mergeIo.outText.join('\n')).toMatch(/Per policy across days[\s\S]*4 runs from 3 shard files, merged into/);
    const lines = (path: string): string[] => readFileSync(path, 'utf8').trimEnd().split('\n');
    const byKey = (path: string): unknown[] => lines(path).map(figures).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    expect(byKey(merged)).toEqual(byKey(whole));
    expect(lines(merged).map((line) => (JSON.parse(line) as { day: string; policy: string })).map(({ day, policy }) => `${day} ${policy}`))
      .toEqual(['20200101 thr-mmt-0.8', '20200101 dvfs', '20200102 thr-mmt-0.8', '20200102 dvfs']);

    writeFileSync(shards[1], readFileSync(shards[1], 'utf8').split('\n')[0] + '\n');
    const failed = join(directory, 'failed.jsonl');
    const errorIo = io();
    expect(await main(['sweep', 'merge', ...shards, '--output', failed], errorIo)).toBe(1);
    expect(errorIo.errText.join('\n')).toContain(`missing 1 run of shard 2/3, ${shards[1]} stops short (crashed or killed?): 20200101 × dvfs`);
    expect(existsSync(failed)).toBe(false);
  });

  test('--shard 3/2, --shard with CSV, and options of another sweep command are usage errors', async () => {
    const usage = io();
    expect(await main(['sweep', ...grid(), '--shard', '3/2'], usage)).toBe(2);
    expect(usage.errText.join('\n')).toBe('neat sweep: --shard: the shard must be from 1 to 2; got "3/2"');
    expect(await main(['sweep', ...grid(), '--shard', '1/2', '--format', 'csv'], io())).toBe(2);
    expect(await main(['sweep', 'merge', 'x.jsonl', '--shards', '2'], io())).toBe(2);
    expect(await main(['sweep', 'frobnicate'], io())).toBe(2);
  });
});
