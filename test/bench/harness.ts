/** A small benchmark harness: warm up, time many runs, print median and tail. */
import { performance } from 'node:perf_hooks';

export interface Timing {
  readonly name: string;
  readonly runs: number;
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly minMs: number;
}

export interface MeasureOptions {
  readonly warmupRuns: number;
  readonly runs: number;
}

/** The `q` quantile of values sorted ascending (the nearest rank at or below). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

export function measure(name: string, options: MeasureOptions, run: () => unknown): Timing {
  let sink = 0;
  for (let i = 0; i < options.warmupRuns; i++) sink += run() === undefined ? 0 : 1;
  const samplesMs: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const start = performance.now();
    sink += run() === undefined ? 0 : 1;
    samplesMs.push(performance.now() - start);
  }
  samplesMs.sort((a, b) => a - b);
  const at = (q: number): number => quantile(samplesMs, q);
  // Reading the sink keeps the work from being optimised away.
  if (sink < 0) throw new Error('unreachable');
  return { name, runs: options.runs, medianMs: at(0.5), p99Ms: at(0.99), minMs: samplesMs[0] };
}

export function formatMs(ms: number): string {
  if (ms < 0.01) return `${(ms * 1000).toFixed(2)} µs`;
  if (ms < 1) return `${(ms * 1000).toFixed(1)} µs`;
  return `${ms.toFixed(2)} ms`;
}

export function printTimings(title: string, timings: readonly Timing[]): void {
  const width = Math.max(...timings.map((t) => t.name.length));
  console.log(`\n${title}`);
  console.log(`${'case'.padEnd(width)}  ${'median'.padStart(10)}  ${'p99'.padStart(10)}  ${'min'.padStart(10)}  runs`);
  for (const t of timings) {
    console.log(`${t.name.padEnd(width)}  ${formatMs(t.medianMs).padStart(10)}  ${formatMs(t.p99Ms).padStart(10)}  ${formatMs(t.minMs).padStart(10)}  ${t.runs}`);
  }
}
