/**
 * `neat sweep`: the cartesian product of days and policies, run on worker
 * threads, each result reported as soon as it is in, and the results of each
 * policy summarised across days.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { assert } from '../src/engine/assert';
import { mean } from '../src/engine/numeric';
import type { ManagerConfig } from '../src/config';
import type { SimulationMetrics } from './metrics';
import type { SimulationMode, SimulationResult } from './run';

export interface SweepJob {
  readonly day: string;
  readonly dayPath: string;
  readonly mode: SimulationMode;
  readonly policy: string;
  readonly seed: string;
  readonly hosts: number;
}

export type SweepOutcome =
  | { readonly job: SweepJob; readonly result: SimulationResult; readonly error?: undefined }
  | { readonly job: SweepJob; readonly error: string; readonly result?: undefined };

/** What a worker is started with: the same for every run it is sent. */
export interface SweepWorkerData {
  /** Mode `neat`: the global manager's configuration (plain data, so it crosses to the thread as a copy). */
  readonly managerConfig: ManagerConfig | null;
}

/** What a worker sends back: its current run's share done, or the run's outcome. */
export type SweepWorkerMessage =
  | { readonly kind: 'progress'; readonly fraction: number }
  | { readonly kind: 'outcome'; readonly outcome: SweepOutcome };

export interface SweepOptions {
  readonly workers: number;
  readonly managerConfig: ManagerConfig | null;
  readonly onOutcome: (outcome: SweepOutcome) => void;
  /** Runs finished, plus the share done of each run under way: 0 up to the number of jobs. */
  readonly onProgress?: (runsDone: number) => void;
}

export async function runSweep(jobs: readonly SweepJob[], options: SweepOptions): Promise<void> {
  assert(options.workers >= 1, 'a sweep needs at least one worker');
  const queue = [...jobs];
  const poolSize = Math.min(options.workers, queue.length);
  const workerData: SweepWorkerData = { managerConfig: options.managerConfig };
  const pool = Array.from({ length: poolSize }, () => new Worker(join(__dirname, 'sweepWorker.js'), { workerData }));
  const underWay = pool.map(() => 0);
  let finished = 0;
  const reportProgress = (): void => {
    // The sum of fractions may round past the job count by an ulp.
    options.onProgress?.(Math.min(jobs.length, finished + underWay.reduce((a, b) => a + b, 0)));
  };
  try {
    await Promise.all(pool.map((worker, index) => new Promise<void>((resolve, reject) => {
      const next = (): void => {
        const job = queue.shift();
        if (job === undefined) {
          resolve();
          return;
        }
        worker.postMessage(job);
      };
      worker.on('message', (message: SweepWorkerMessage) => {
        if (message.kind === 'progress') {
          underWay[index] = message.fraction;
        } else {
          underWay[index] = 0;
          finished += 1;
          assert(finished <= jobs.length, 'a sweep finished more runs than it was given');
          options.onOutcome(message.outcome);
          next();
        }
        reportProgress();
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        if (code !== 0) reject(new Error(`a sweep worker stopped with exit code ${code}`));
      });
      next();
    })));
  } finally {
    await Promise.all(pool.map((worker) => worker.terminate()));
  }
}

/** The metrics a sweep summarises, per policy across days. */
export const SUMMARISED_METRICS = ['energyKwh', 'migrations', 'slatah', 'pdm', 'slav', 'esv'] as const satisfies readonly (keyof SimulationMetrics)[];
export type SummarisedMetric = (typeof SUMMARISED_METRICS)[number];

export interface MeanAndSd {
  readonly mean: number;
  /** The sample standard deviation (n − 1); null for a single day. */
  readonly sd: number | null;
}

export interface PolicySummary {
  readonly policy: string;
  /** Days whose run succeeded: the runs summarised. */
  readonly days: number;
  /** Days whose run failed, left out of the figures. */
  readonly failed: number;
  /** Null when no run of the policy succeeded. */
  readonly metrics: Readonly<Record<SummarisedMetric, MeanAndSd>> | null;
}

function meanAndSd(values: readonly number[]): MeanAndSd {
  const average = mean(values);
  if (values.length < 2) return { mean: average, sd: null };
  const squares = values.reduce((total, value) => total + (value - average) ** 2, 0);
  return { mean: average, sd: Math.sqrt(squares / (values.length - 1)) };
}

/** What a summary reads of a run: its policy, and its metrics unless it failed (a sweep's outcome, or a line of its JSONL). */
export interface SummarisedRun {
  readonly job: { readonly policy: string };
  readonly result?: { readonly metrics: Readonly<Record<SummarisedMetric, number>> };
  /** Why it failed, when it did. */
  readonly error?: string;
}

/** Per policy, in the order given, the mean ± sample standard deviation of each metric across the days it ran. */
export function summariseSweep(policies: readonly string[], outcomes: readonly SummarisedRun[]): PolicySummary[] {
  return policies.map((policy) => {
    const own = outcomes.filter((o) => o.job.policy === policy);
    const results = own.flatMap((o) => (o.result === undefined ? [] : [o.result.metrics]));
    const metrics = results.length === 0 ? null
      : Object.fromEntries(SUMMARISED_METRICS.map((name) => [name, meanAndSd(results.map((m) => m[name]))])) as Record<SummarisedMetric, MeanAndSd>;
    return { policy, days: results.length, failed: own.length - results.length, metrics };
  });
}

/**
 * The grid in its canonical order, days sorted then policies in the order
 * given: every machine that is given the same days and policies numbers the
 * same job k alike, which is what lets shard i/n mean one set of runs.
 */
export function canonicalGrid<T>(days: readonly string[], policies: readonly string[], job: (day: string, policy: string) => T): T[] {
  return [...new Set(days)].sort().flatMap((day) => [...new Set(policies)].map((policy) => job(day, policy)));
}

/** Shard `index` of `count` (1-based, as Slurm numbers array tasks). */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** `i/n` with 1 ≤ i ≤ n, or why not (the caller words the error for its option). */
export function parseShard(text: string): Shard | string {
  const match = /^(\d{1,6})\/(\d{1,6})$/.exec(text.trim());
  if (match === null) return `expected <i>/<n>, e.g. 1/4; got "${text}"`;
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1) return `the number of shards must be at least 1; got "${text}"`;
  if (index < 1 || index > count) return `the shard must be from 1 to ${count}; got "${text}"`;
  return { index, count };
}

/**
 * The shard that runs job k of the grid: k mod n, round-robin rather than in
 * blocks, so that a day's policies (which differ most in run time) spread over
 * the shards and the shards finish at about the same time.
 */
export function shardOfJob(position: number, count: number): number {
  return (position % count) + 1;
}

export function shardJobs<T>(grid: readonly T[], shard: Shard): T[] {
  return grid.filter((_, position) => shardOfJob(position, shard.count) === shard.index);
}

/** What makes two sweeps the same sweep: the runs of one can stand in for the runs of the other. */
export interface SweepIdentity {
  readonly days: readonly { readonly day: string; readonly traceDigest: string }[];
  readonly policies: readonly string[];
  readonly mode: SimulationMode;
  readonly seed: string;
  readonly hosts: number;
  /** Mode `neat`: the manager's configuration as loaded (overrides applied); null in mode `cloudsim`. */
  readonly managerConfig: ManagerConfig | null;
  readonly codeVersion: string;
}

/** A canonical JSON text: object keys sorted at every depth, so the digest does not hang on the order a configuration was built in. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return value === undefined ? 'null' : JSON.stringify(value);
}

/** sha256 (hex) over the sweep's identity, days in their canonical order. */
export function sweepDigest(identity: SweepIdentity): string {
  const days = [...identity.days].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  return createHash('sha256').update(canonicalJson({ ...identity, days, format: 'neat-sweep-1' })).digest('hex');
}
