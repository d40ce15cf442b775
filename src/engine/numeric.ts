/**
 * Small numeric helpers that reproduce the exact arithmetic of the systems we
 * re-implement (Python 2 / numpy for Neat, Java / commons-math for CloudSim),
 * because results near a threshold depend on the last bit.
 */
import { assert } from './assert';

/** Python's `sum(xs)`: left to right, starting from 0. */
export function sum(values: readonly number[]): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

/** `sum(xs) / len(xs)`, as Neat writes its averages. */
export function mean(values: readonly number[]): number {
  assert(values.length > 0, 'mean of an empty list');
  return sum(values) / values.length;
}

/** Python's `xs[-n:]`: the last n values, or all of them when there are fewer. */
export function lastN<T>(values: readonly T[], n: number): readonly T[] {
  assert(Number.isInteger(n) && n > 0, () => `lastN needs a positive integer, got ${n}`);
  return values.length <= n ? values : values.slice(values.length - n);
}

function sortedCopy(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** numpy's median: the middle value, or the mean of the middle pair. */
export function medianNumpy(values: readonly number[]): number {
  assert(values.length > 0, 'median of an empty list');
  const sorted = sortedCopy(values);
  const middle = sorted.length >> 1;
  if (sorted.length % 2 === 1) return sorted[middle];
  return (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * commons-math's default percentile estimate (CloudSim's `MathUtil.median` is
 * the 50th): position p(n+1)/100, linear between neighbours, clamped at the ends.
 */
export function percentileCommonsMath(values: readonly number[], percent: number): number {
  assert(values.length > 0, 'percentile of an empty list');
  assert(percent > 0 && percent <= 100, () => `percentile out of range: ${percent}`);
  const sorted = sortedCopy(values);
  const n = sorted.length;
  if (n === 1) return sorted[0];
  const position = (percent * (n + 1)) / 100;
  const floorPosition = Math.floor(position);
  const fraction = position - floorPosition;
  if (position < 1) return sorted[0];
  if (position >= n) return sorted[n - 1];
  const lower = sorted[floorPosition - 1];
  const upper = sorted[floorPosition];
  return lower + fraction * (upper - lower);
}

/** Python 2's `round`, and Java's `Math.round` for non-negative values: halves go away from zero. */
export function roundHalfAwayFromZero(value: number): number {
  return Math.sign(value) * Math.floor(Math.abs(value) + 0.5);
}

/** Python 2 integer division `a / b` on ints: the floor of the quotient. */
export function floorDivide(dividend: number, divisor: number): number {
  assert(Number.isInteger(dividend) && Number.isInteger(divisor), 'floorDivide takes integers');
  assert(divisor !== 0, 'floorDivide by zero');
  return Math.floor(dividend / divisor);
}

/** Neat's `frange(start, end, step)`: inclusive of `end`, accumulating `step` as Python does. */
export function frange(start: number, end: number, step: number): number[] {
  assert(step > 0, () => `frange needs a positive step, got ${step}`);
  const count = Math.floor((end - start) / step) + 2;
  const values: number[] = [];
  let value = start;
  for (let i = 0; i < count && value <= end; i++) {
    values.push(value);
    value += step;
  }
  return values;
}

/** A mean kept as a running sum, so that memory does not grow with the run. */
export class RunningMean {
  private sum = 0;
  count = 0;

  add(value: number): void {
    this.sum += value;
    this.count += 1;
  }

  value(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }
}
