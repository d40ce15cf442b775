/**
 * Neat's statistics-based overload detectors (`neat/locals/overload/statistics.py`):
 * local regression (Loess, LR), robust local regression (LRR), and thresholds
 * adapted by the median absolute deviation (MAD) or the interquartile range (IQR).
 * All four are stateless.
 */
import { assert } from '../assert';
import { medianNumpy, roundHalfAwayFromZero } from '../numeric';
import type { ParamSpecs, ParamValues } from '../params';
import { weightedLeastSquares } from '../regression';
import type { LineEstimates } from '../regression';
import { NO_STATE } from '../types';
import type { AlgorithmContext, Detector, NoState } from '../types';

/**
 * Neat's `tricube_weights(n)`: (1 − ((n−1−i)/(n−1))³)³ for i = 2..n−1, the
 * first value repeated twice in front, so the newest points weigh most.
 */
export function tricubeWeights(n: number): number[] {
  // Neat indexes weights[0] of an empty list for n <= 2; the parameter specs keep n >= 3.
  assert(Number.isInteger(n) && n >= 3, () => `tricube weights need an integer n >= 3, got ${n}`);
  const top = n - 1;
  const weights: number[] = [];
  for (let i = 2; i < n; i++) weights.push((1 - ((top - i) / top) ** 3) ** 3);
  const all = [weights[0], weights[0], ...weights];
  assert(all.every((w) => Number.isFinite(w) && w > 0), 'tricube weights must be finite and positive');
  return all;
}

/**
 * Neat's `tricube_bisquare_weights(residuals)`: tricube weight × (1 − (rᵢ/s6)²)²
 * with s6 = 6·median|r|, the first value again repeated twice in front. Like
 * Neat, residuals beyond s6 are not cut to weight 0.
 *
 * Returns null when s6 is 0 (at least half the residuals are exactly 0), where
 * Neat divides by it (known bug 13); see `loessRobustEstimates`.
 */
export function tricubeBisquareWeights(residuals: readonly number[]): number[] | null {
  const s6 = 6 * medianNumpy(residuals.map(Math.abs));
  if (s6 === 0) return null;
  const tricube = tricubeWeights(residuals.length);
  const weights: number[] = [];
  for (let i = 2; i < residuals.length; i++) weights.push(tricube[i] * (1 - (residuals[i] / s6) ** 2) ** 2);
  return [weights[0], weights[0], ...weights];
}

/** x = 1..n, as Neat numbers the points of the window. */
function positions(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Neat's `loess_parameter_estimates`: the tricube-weighted line through (1..n, data). */
export function loessEstimates(data: readonly number[]): LineEstimates {
  return weightedLeastSquares(positions(data.length), data, tricubeWeights(data.length));
}

/**
 * Neat's `loess_robust_parameter_estimates`: fit as Loess, then refit with
 * tricube-bisquare weights computed from the first fit's residuals.
 *
 * Deliberate fix of Neat's bug 13: when s6 = 6·median|r| is 0, Neat divides by
 * zero. (With numpy scalars that gives NaN weights rather than an exception,
 * and scipy's leastsq then returns its starting point [1, 1], so a flat history
 * at any level reads as overloaded.) The first fit already passes exactly
 * through at least half the points, so there is nothing to down-weight: we
 * return the first fit.
 */
export function loessRobustEstimates(data: readonly number[]): LineEstimates {
  const x = positions(data.length);
  const first = weightedLeastSquares(x, data, tricubeWeights(data.length));
  const residuals = data.map((y, i) => y - (first.intercept + first.slope * x[i]));
  const robustWeights = tricubeBisquareWeights(residuals);
  if (robustWeights === null) return first;
  return weightedLeastSquares(x, data, robustWeights);
}

export const loessParamSpecs = {
  threshold: { type: 'number', min: 0, description: 'overloaded when param × predicted utilisation is >= this' },
  param: { type: 'number', min: 0, description: 'safety parameter multiplying the prediction' },
  length: {
    type: 'number', integer: true, min: 3,
    description: 'number of last values fitted; no decision (false) on a shorter history',
  },
} as const satisfies ParamSpecs;

/** Loess and robust Loess take the same parameters. */
export const loessRobustParamSpecs = loessParamSpecs;

export type LoessParams = ParamValues<typeof loessParamSpecs>;

function loessDetector(
  name: string,
  estimator: (data: readonly number[]) => LineEstimates,
  context: AlgorithmContext,
  params: LoessParams,
): Detector<NoState> {
  const migrationSteps = context.migrationTimeS / context.timeStepS;
  return {
    name,
    initialState: () => NO_STATE,
    detect: (utilization) => {
      if (utilization.length < params.length) return [false, NO_STATE];
      const { intercept, slope } = estimator(utilization.slice(utilization.length - params.length));
      const prediction = intercept + slope * (params.length + migrationSteps);
      return [params.param * prediction >= params.threshold, NO_STATE];
    },
  };
}

/** Loess (LR): the tricube-weighted trend of the last `length` values, extrapolated over one migration time. */
export function createLoess(context: AlgorithmContext, params: LoessParams): Detector<NoState> {
  return loessDetector('loess', loessEstimates, context, params);
}

/** Robust Loess (LRR): as Loess, with outliers of the first fit down-weighted. */
export function createLoessRobust(context: AlgorithmContext, params: LoessParams): Detector<NoState> {
  return loessDetector('loess_robust', loessRobustEstimates, context, params);
}

/** Neat's `mad`: median(|x − median(x)|), with numpy's median. */
export function medianAbsoluteDeviation(data: readonly number[]): number {
  const center = medianNumpy(data);
  return medianNumpy(data.map((x) => Math.abs(center - x)));
}

/**
 * Neat's (and CloudSim's) `iqr`: sorted[q3] − sorted[q1] with qₚ = round(p·(n+1)) − 1,
 * halves rounded away from zero as Python 2 and Java do. Needs at least 2 values:
 * for 1 value q3 is past the end (Neat raises IndexError there).
 */
export function interquartileRange(data: readonly number[]): number {
  assert(data.length >= 2, () => `IQR needs at least 2 values, got ${data.length}`);
  const sorted = [...data].sort((a, b) => a - b);
  const n = data.length + 1;
  const q1 = roundHalfAwayFromZero(0.25 * n) - 1;
  const q3 = roundHalfAwayFromZero(0.75 * n) - 1;
  return sorted[q3] - sorted[q1];
}

/**
 * Neat's `utilization_threshold_abstract`: no decision (false) on fewer than
 * `limit` values, otherwise overloaded when the last value reaches the
 * threshold computed from the whole history.
 */
export function utilizationThresholdOverloaded(
  thresholdOf: (utilization: readonly number[]) => number,
  limit: number,
  utilization: readonly number[],
): boolean {
  if (utilization.length < limit) return false;
  return thresholdOf(utilization) <= utilization.at(-1)!;
}

export const madThresholdParamSpecs = {
  threshold: {
    type: 'number', min: 0,
    description: 'safety parameter s in 1 − s·MAD (Neat names it "threshold")',
  },
  limit: { type: 'number', integer: true, min: 1, description: 'minimum history length before deciding' },
} as const satisfies ParamSpecs;

export const iqrThresholdParamSpecs = {
  threshold: {
    type: 'number', min: 0,
    description: 'safety parameter s in 1 − s·IQR (Neat names it "threshold")',
  },
  limit: { type: 'number', integer: true, min: 1, description: 'minimum history length before deciding' },
} as const satisfies ParamSpecs;

/** MAD threshold: overloaded when the last value is >= 1 − s·MAD(history). */
export function createMadThreshold(
  _context: AlgorithmContext,
  params: ParamValues<typeof madThresholdParamSpecs>,
): Detector<NoState> {
  const safety = params.threshold;
  return {
    name: 'mad_threshold',
    initialState: () => NO_STATE,
    detect: (utilization) => [
      utilizationThresholdOverloaded((u) => 1 - safety * medianAbsoluteDeviation(u), params.limit, utilization),
      NO_STATE,
    ],
  };
}

/** IQR threshold: overloaded when the last value is >= 1 − s·IQR(history). */
export function createIqrThreshold(
  _context: AlgorithmContext,
  params: ParamValues<typeof iqrThresholdParamSpecs>,
): Detector<NoState> {
  const safety = params.threshold;
  return {
    name: 'iqr_threshold',
    initialState: () => NO_STATE,
    detect: (utilization) => {
      // With limit 1 and a single value Neat raises IndexError inside iqr(); we decide "no".
      if (utilization.length < 2) return [false, NO_STATE];
      return [
        utilizationThresholdOverloaded((u) => 1 - safety * interquartileRange(u), params.limit, utilization),
        NO_STATE,
      ];
    },
  };
}
