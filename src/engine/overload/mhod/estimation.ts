/**
 * Multisize sliding-window estimation of MHOD's transition matrix, as Neat's
 * `mhod/multisize_estimation.py` computes it when `mhod()` replays a history.
 *
 * For every origin state i Neat keeps the states that followed i (the request
 * window). For every target j and window size w it derives an estimate of
 * P(i → j) each time i is left, and keeps the last w of those estimates. A
 * window is trusted while the sample variance of its estimates stays within
 * p(1 − p)/w; the largest trusted window, scanning from the first, supplies the
 * estimate. Floating-point operations follow Neat's order so that decisions
 * near a threshold come out the same.
 */
import { assert } from '../../assert';

export type Matrix = readonly (readonly number[])[];

/** Indexed `[from state][to state][window index]`, the window index following `windowSizes`. */
export type PerWindow<T> = readonly (readonly (readonly T[])[])[];

export interface MultisizeEstimate {
  readonly windowSizes: readonly number[];
  /** Per origin state: the states that followed it, oldest first, at most max(windowSizes) of them. */
  readonly requestWindows: readonly (readonly number[])[];
  /** Estimates of P(i → j) per window size, oldest first, at most `windowSizes[k]` of them. */
  readonly estimateWindows: PerWindow<readonly number[]>;
  /** 1.0 until a window holds `windowSizes[k]` estimates, as Neat initialises it. */
  readonly variances: PerWindow<number>;
  /** p(1 − p)/w from the newest estimate; 1.0 for origin states never left. */
  readonly acceptableVariances: PerWindow<number>;
  /** The window size chosen for each (i, j). */
  readonly selectedWindows: Matrix;
  /** `p[i][j]`: the estimated probability of moving from state i to state j in one time step. */
  readonly p: Matrix;
}

function rangeMean(values: readonly number[], start: number, end: number, windowSize: number): number {
  let total = 0;
  for (let i = start; i < end; i++) total += values[i];
  return total / windowSize;
}

function rangeVariance(values: readonly number[], start: number, end: number, windowSize: number): number {
  const mu = rangeMean(values, start, end, windowSize);
  let squares = 0;
  for (let i = start; i < end; i++) {
    const deviation = values[i] - mu;
    squares += deviation * deviation;
  }
  return squares / (windowSize - 1);
}

/** Neat's `mean`: Σx/w summed oldest first, dividing by the window size even when fewer values are present. */
export function windowMean(values: readonly number[], windowSize: number): number {
  return rangeMean(values, 0, values.length, windowSize);
}

/** Neat's `variance`: Σ(x − μ)²/(w − 1) with μ = Σx/w, summed oldest first. */
export function windowVariance(values: readonly number[], windowSize: number): number {
  return rangeVariance(values, 0, values.length, windowSize);
}

/** The variance a window of size w may show before its estimate p is distrusted. */
export function acceptableVariance(probability: number, windowSize: number): number {
  return (probability * (1 - probability)) / windowSize;
}

/**
 * Neat's `select_window`: per (i, j), the last window of the longest prefix of
 * `windowSizes` whose variances are all acceptable; `windowSizes[0]` when even
 * the first is not.
 */
export function selectWindows(
  variances: PerWindow<number>,
  acceptableVariances: PerWindow<number>,
  windowSizes: readonly number[],
): number[][] {
  return variances.map((row, i) =>
    row.map((byWindow, j) => {
      let selected = windowSizes[0];
      for (let k = 0; k < windowSizes.length; k++) {
        if (byWindow[k] > acceptableVariances[i][j][k]) break;
        selected = windowSizes[k];
      }
      return selected;
    }),
  );
}

/** Neat's `select_best_estimates`: the newest estimate of the selected window, 0.0 if it is empty. */
export function selectBestEstimates(
  estimateWindows: PerWindow<readonly number[]>,
  selectedWindows: Matrix,
  windowSizes: readonly number[],
): number[][] {
  return estimateWindows.map((row, i) =>
    row.map((byWindow, j) => {
      const k = windowSizes.indexOf(selectedWindows[i][j]);
      assert(k >= 0, 'a selected window must be one of the window sizes');
      const estimates = byWindow[k];
      return estimates.length === 0 ? 0.0 : estimates[estimates.length - 1];
    }),
  );
}

function filled<T>(length: number, make: () => T): T[] {
  return Array.from({ length }, make);
}

function assertWindowSizes(windowSizes: readonly number[]): void {
  const valid = windowSizes.length > 0 && windowSizes.every((size, k) =>
    Number.isInteger(size) && size >= 2 && (k === 0 || size > windowSizes[k - 1]));
  assert(valid, () => `window sizes must be strictly increasing integers >= 2, got [${windowSizes.join(', ')}]`);
}

/** The last `size` values: the content of a bounded window that saw all of them. */
function lastOf(values: readonly number[], size: number): number[] {
  return values.slice(Math.max(0, values.length - size));
}

/**
 * Replays a state history from scratch, as Neat's `mhod()` does on every call:
 * the first transition is taken to come from state 0.
 */
export function estimateTransitions(
  states: readonly number[],
  stateCount: number,
  windowSizes: readonly number[],
): MultisizeEstimate {
  assert(Number.isInteger(stateCount) && stateCount >= 1, () => `state count must be a positive integer, got ${stateCount}`);
  assertWindowSizes(windowSizes);
  // Checked once per call rather than per step: building assertion messages per step dominated the run time.
  const badState = states.findIndex((state) => !Number.isInteger(state) || state < 0 || state >= stateCount);
  assert(badState < 0, () => `state ${states[badState]} at index ${badState} is outside 0..${stateCount - 1}`);
  const windowCount = windowSizes.length;
  const maxWindow = windowSizes[windowCount - 1];

  // Neat's bounded deques are kept here as append-only histories, read through their
  // last w entries: the same values without the cost of dropping the oldest each step.
  const requests = filled(stateCount, (): number[] => []);
  const estimates = filled(stateCount, () => filled(stateCount, () => filled(windowCount, (): number[] => [])));
  const variances = filled(stateCount, () => filled(stateCount, () => filled(windowCount, () => 1.0)));
  const acceptableVariances = filled(stateCount, () => filled(stateCount, () => filled(windowCount, () => 1.0)));
  const counts = filled(stateCount, () => 0);
  let largestRowTotal = 0;

  const recordEstimates = (origin: number, k: number): void => {
    const windowSize = windowSizes[k];
    let rowTotal = 0;
    for (let target = 0; target < stateCount; target++) {
      const estimate = counts[target] / windowSize;
      rowTotal += estimate;
      const history = estimates[origin][target][k];
      history.push(estimate);
      variances[origin][target][k] = history.length < windowSize
        ? 1.0
        : rangeVariance(history, history.length - windowSize, history.length, windowSize);
      acceptableVariances[origin][target][k] = acceptableVariance(estimate, windowSize);
    }
    largestRowTotal = Math.max(largestRowTotal, rowTotal);
  };

  let previous = 0;
  for (const current of states) {
    const followers = requests[previous];
    followers.push(current);

    // One backward pass serves every window: the counts over the last w requests
    // are complete when w requests have been passed, or when the requests run out.
    counts.fill(0);
    let k = 0;
    for (let seen = 1; seen <= followers.length && k < windowCount; seen++) {
      counts[followers[followers.length - seen]] += 1;
      if (seen === windowSizes[k]) recordEstimates(previous, k++);
    }
    while (k < windowCount) recordEstimates(previous, k++);

    previous = current;
  }

  // Estimates made over one window for one origin share its requests, so together they cannot exceed 1.
  // Rows of p can: Neat selects a window per (i, j), not per origin.
  assert(largestRowTotal <= 1 + 1e-9, () => `estimates over one window sum to ${largestRowTotal}, above 1`);
  const requestWindows = requests.map((followers) => lastOf(followers, maxWindow));
  const estimateWindows = estimates.map((row) =>
    row.map((byWindow) => byWindow.map((history, k) => lastOf(history, windowSizes[k]))));
  const selectedWindows = selectWindows(variances, acceptableVariances, windowSizes);
  const p = selectBestEstimates(estimateWindows, selectedWindows, windowSizes);
  assert(p.every((row) => row.every((probability) => probability >= 0 && probability <= 1)),
    'transition probabilities must lie in [0, 1]');
  return { windowSizes, requestWindows, estimateWindows, variances, acceptableVariances, selectedWindows, p };
}
