/**
 * Seeded traces that look like PlanetLab's: mostly low, often exactly 0, with
 * rare bursts. The project ships these instead of copying PlanetLab data.
 */
import { createHash } from 'node:crypto';
import { assert } from '../src/engine/assert';
import type { Rng } from '../src/engine/types';
import { createRng } from '../src/rng';
import { formatCsvTrace, MAX_CSV_ROWS } from './csv';
import type { Trace, TraceVm } from './trace';

export interface SyntheticTraceOptions {
  readonly seed: string | number;
  readonly vms: number;
  readonly steps: number;
  readonly stepS: number;
  readonly name?: string;
}

/** CloudSim's VM types' RAM (reference/cloudsim.md §2), so that RAM in CSV is exercised with realistic sizes. */
const RAM_CHOICES_MB = [613, 870, 1740] as const;
/** PlanetLab's per-VM means are skewed: most VMs idle along, a few are busy. */
const BASE_MEAN_PERCENT = 11.5;
const BASE_MAX_PERCENT = 70;
/** Half-life of a deviation from the base of about 4 steps. */
const REVERSION = 0.15;
/** PlanetLab has 16.2 % zeros, in runs; each VM idles for a fraction drawn from 0..2 × this. */
const IDLE_FRACTION_MEAN = 0.15;
const IDLE_LEAVE_PROBABILITY = 0.25;
const BURST_START_PROBABILITY = 0.008;
const BURST_MAX_STEPS = 6;
const BURST_MIN_PERCENT = 60;
const BURST_MAX_PERCENT = 99;

function uniformInt(rng: Rng, count: number): number {
  return Math.min(count - 1, Math.floor(rng.next() * count));
}

/** Box–Muller; `1 − u` keeps the logarithm finite because u is in [0, 1). */
function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}

function clampPercent(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}

/** One VM's integer percentages: a mean-reverting walk, idle runs of exactly 0 and bursts. */
function vmPercents(rng: Rng, steps: number): Float64Array {
  const base = Math.min(BASE_MAX_PERCENT, -BASE_MEAN_PERCENT * Math.log(1 - rng.next()));
  const sigma = 0.25 * base + 0.5;
  const idleFraction = 2 * IDLE_FRACTION_MEAN * rng.next();
  // The stationary idle share of a two-state chain is enter / (enter + leave).
  const idleEnter = (idleFraction * IDLE_LEAVE_PROBABILITY) / (1 - idleFraction);
  const percents = new Float64Array(steps);
  let level = base;
  let idle = rng.next() < idleFraction;
  let burstSteps = 0;
  let burstPercent = 0;
  for (let k = 0; k < steps; k++) {
    level = Math.min(BASE_MAX_PERCENT, Math.max(0, level + REVERSION * (base - level) + sigma * gaussian(rng)));
    idle = rng.next() < (idle ? 1 - IDLE_LEAVE_PROBABILITY : idleEnter);
    if (burstSteps === 0 && rng.next() < BURST_START_PROBABILITY) {
      burstSteps = 1 + uniformInt(rng, BURST_MAX_STEPS);
      burstPercent = BURST_MIN_PERCENT + uniformInt(rng, BURST_MAX_PERCENT - BURST_MIN_PERCENT + 1);
    }
    if (burstSteps > 0) {
      burstSteps--;
      percents[k] = clampPercent(burstPercent + 3 * gaussian(rng), BURST_MIN_PERCENT, BURST_MAX_PERCENT);
    } else {
      // A working VM shows at least 1 %, so zeros come only from idle runs and their share stays controlled.
      percents[k] = idle ? 0 : clampPercent(level, 1, BURST_MAX_PERCENT);
    }
  }
  return percents;
}

/**
 * A PlanetLab-like trace (format 'csv'), the same for the same options. Its
 * digest is that of the CSV `writeCsvTrace` writes for it, so a run on the
 * generated trace and a run on its file record the same digest.
 */
export function generateSyntheticTrace(options: SyntheticTraceOptions): Trace {
  const { seed, vms: vmCount, steps, stepS } = options;
  assert(Number.isInteger(vmCount) && vmCount >= 1, () => `vms must be a positive integer, got ${vmCount}`);
  assert(Number.isInteger(steps) && steps >= 2, () => `steps must be an integer of at least 2, got ${steps}`);
  assert(vmCount * steps <= MAX_CSV_ROWS, () => `vms × steps must be at most ${MAX_CSV_ROWS}, got ${vmCount * steps}`);
  assert(Number.isFinite(stepS) && stepS > 0, () => `stepS must be a positive number, got ${stepS}`);
  const rng = createRng(seed);
  const width = String(vmCount - 1).length;
  const vms: TraceVm[] = Array.from({ length: vmCount }, (_, i) => {
    const ramMb = RAM_CHOICES_MB[uniformInt(rng, RAM_CHOICES_MB.length)];
    const utilization = vmPercents(rng, steps).map((percent) => percent / 100);
    return { id: `vm-${String(i).padStart(width, '0')}`, utilization, ramMb };
  });
  const trace = { name: options.name ?? `synthetic-${seed}`, format: 'csv' as const, stepS, vms };
  const digest = createHash('sha256').update(formatCsvTrace({ ...trace, digest: '' })).digest('hex');
  return { ...trace, digest };
}
