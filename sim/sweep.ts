/**
 * `neat sweep`: the cartesian product of days and policies, run on worker
 * threads, each result reported as soon as it is in.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { assert } from '../src/engine/assert';
import type { SimulationResult } from './run';

export interface SweepJob {
  readonly day: string;
  readonly dayPath: string;
  readonly policy: string;
  readonly seed: string;
  readonly hosts: number;
}

export type SweepOutcome =
  | { readonly job: SweepJob; readonly result: SimulationResult; readonly error?: undefined }
  | { readonly job: SweepJob; readonly error: string; readonly result?: undefined };

export async function runSweep(jobs: readonly SweepJob[], workers: number, onOutcome: (outcome: SweepOutcome) => void): Promise<void> {
  assert(workers >= 1, 'a sweep needs at least one worker');
  const queue = [...jobs];
  const poolSize = Math.min(workers, queue.length);
  const pool = Array.from({ length: poolSize }, () => new Worker(join(__dirname, 'sweepWorker.js')));
  try {
    await Promise.all(pool.map((worker) => new Promise<void>((resolve, reject) => {
      const next = (): void => {
        const job = queue.shift();
        if (job === undefined) {
          resolve();
          return;
        }
        worker.postMessage(job);
      };
      worker.on('message', (outcome: SweepOutcome) => {
        onOutcome(outcome);
        next();
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
