import fc from 'fast-check';
import { InvalidParameterError, parseParams } from '../../src/engine/params';
import {
  gridPointCount,
  MAX_GRID_POINTS,
  maximiseOnGrid,
  nlpConstraint,
  nlpObjective,
  optimizeMigrationPolicy,
  type GridProblem,
} from '../../src/engine/overload/mhod/bruteforce';
import {
  acceptableVariance,
  estimateTransitions,
  selectBestEstimates,
  selectWindows,
  windowMean,
  windowVariance,
} from '../../src/engine/overload/mhod/estimation';
import { l0TwoStates, l1TwoStates, lFunctions, lGeneral } from '../../src/engine/overload/mhod/lFunctions';
import {
  createMhod,
  mhodParamSpecs,
  stateVector,
  utilizationToState,
  type MhodParams,
  type MhodState,
} from '../../src/engine/overload/mhod/mhod';

const context = { timeStepS: 300, migrationTimeS: 20 };

function params(overrides: Partial<Record<keyof typeof mhodParamSpecs, unknown>> = {}): MhodParams {
  return parseParams('mhod', mhodParamSpecs, overrides);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('MHOD states', () => {
  it('maps utilisation to states as Neat does for two thresholds', () => {
    const expected: [number, number][] = [
      [0.0, 0], [0.1, 0], [0.2, 0], [0.3, 0], [0.4, 1], [0.5, 1], [0.6, 1],
      [0.7, 2], [0.8, 2], [0.9, 2], [1.0, 2], [1.1, 2],
    ];
    for (const [u, state] of expected) expect(utilizationToState([0.4, 0.7], u)).toBe(state);
  });

  it('maps utilisation to states as Neat does for one threshold', () => {
    for (const u of [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) expect(utilizationToState([1.0], u)).toBe(0);
    expect(utilizationToState([1.0], 1.0)).toBe(1);
    expect(utilizationToState([1.0], 1.1)).toBe(1);
  });

  it('maps a history to states (Neat test_utilization_to_states)', () => {
    const data = [0.25, 0.30, 0.62, 0.59, 0.67, 0.73, 0.85, 0.97, 0.73, 0.68, 0.69, 0.52, 0.51, 0.25, 0.38,
      0.46, 0.52, 0.55, 0.58, 0.65, 0.70];
    expect(data.map((u) => utilizationToState([0.4, 0.7], u)))
      .toEqual([0, 0, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 2]);
    expect([0.5, 0.5, 1.0, 1.0, 0.5].map((u) => utilizationToState([1.0], u))).toEqual([0, 0, 1, 1, 0]);
  });

  it('builds one-hot state vectors of the last value', () => {
    const vectorOf = (u: number): number[] => stateVector(utilizationToState([0.4, 0.7], u), 3);
    for (const u of [0.1, 0.2, 0.3]) expect(vectorOf(u)).toEqual([1, 0, 0]);
    for (const u of [0.4, 0.5, 0.6]) expect(vectorOf(u)).toEqual([0, 1, 0]);
    for (const u of [0.7, 0.8, 0.9, 1.0]) expect(vectorOf(u)).toEqual([0, 0, 1]);
  });

  it('fixes Neat bug §9.11: with three thresholds, 0.8 lies in state 2, not 3', () => {
    // Neat's rule, kept here only to show the difference: it compares u with the previous state's index.
    const neatState = (thresholds: readonly number[], u: number): number => {
      let previous = -1;
      for (let state = 0; state < thresholds.length; state++) {
        if (u >= previous && u < thresholds[state]) return state;
        previous = state;
      }
      return previous + 1;
    };
    const thresholds = [0.4, 0.7, 0.9];
    expect(neatState(thresholds, 0.8)).toBe(3);
    expect(utilizationToState(thresholds, 0.8)).toBe(2);
    expect([0.1, 0.4, 0.69, 0.7, 0.89, 0.9, 1.5].map((u) => utilizationToState(thresholds, u)))
      .toEqual([0, 1, 1, 2, 2, 3, 3]);
  });

  it('agrees with Neat for one or two thresholds (where Neat is right)', () => {
    const neatState = (thresholds: readonly number[], u: number): number => {
      let previous = -1;
      for (let state = 0; state < thresholds.length; state++) {
        if (u >= previous && u < thresholds[state]) return state;
        previous = state;
      }
      return previous + 1;
    };
    fc.assert(fc.property(
      fc.double({ min: 0, max: 2, noNaN: true }),
      fc.uniqueArray(fc.double({ min: 0.01, max: 1.5, noNaN: true }), { minLength: 1, maxLength: 2 }),
      (u, raw) => {
        const thresholds = [...raw].sort((a, b) => a - b);
        expect(utilizationToState(thresholds, u)).toBe(neatState(thresholds, u));
      }));
  });
});

describe('MHOD multisize estimation', () => {
  it('divides the mean by the window size (Neat test_mean)', () => {
    expect(windowMean([], 100)).toBe(0.0);
    expect(windowMean([0], 100)).toBe(0.0);
    expect(windowMean([0, 0], 100)).toBe(0.0);
    expect(windowMean([1, 1], 100)).toBe(0.02);
    expect(windowMean([0, 1], 100)).toBe(0.01);
    expect(windowMean([1, 2, 3, 4, 5], 100)).toBe(0.15);
  });

  it('computes Neat\'s windowed variance (test_variance)', () => {
    expect(windowVariance([], 100)).toBe(0.0);
    expect(windowVariance([0], 100)).toBe(0.0);
    expect(windowVariance([0, 0], 100)).toBe(0.0);
    expect(windowVariance([1, 1], 100)).toBeCloseTo(0.0194020202, 7);
    expect(windowVariance([0, 1], 100)).toBeCloseTo(0.0099010101, 7);
    expect(windowVariance([1, 2, 3, 4, 5], 100)).toBeCloseTo(0.511237373, 7);
    expect(windowVariance([0, 0, 0, 1], 100)).toBeCloseTo(0.0099030303, 7);
  });

  it('reproduces the variances of Neat test_update_variances bit for bit', () => {
    const cases: [number[], number, number][] = [
      [[0, 0.5], 2, 0.125], [[1, 0, 0, 0], 4, 0.25], [[1.0, 0.5], 2, 0.125], [[0, 1, 1, 1], 4, 0.25],
      [[0.5, 0.25], 2, 0.03125], [[0.25, 0.25, 0.5, 0.5], 4, 0.020833333333333332],
      [[0.75, 0.75, 0.5, 0.5], 4, 0.020833333333333332], [[0, 0, 1, 1], 4, 0.3333333333333333],
      [[0.25, 0.05, 0.5, 0.25], 4, 0.03395833333333333], [[0.4, 0.55, 0.25, 0.5], 4, 0.0175],
      [[0.35, 0.4, 0.25, 0.25], 4, 0.005625000000000001], [[1, 0], 2, 0.5], [[1, 0, 1, 0], 4, 0.3333333333333333],
    ];
    for (const [values, w, variance] of cases) expect(windowVariance(values, w)).toBe(variance);
  });

  it('computes the acceptable variance p(1 − p)/w (test_acceptable_variance)', () => {
    expect(acceptableVariance(0.2, 5)).toBeCloseTo(0.032, 3);
    expect(acceptableVariance(0.6, 15)).toBeCloseTo(0.016, 3);
    expect(acceptableVariance(0.5, 2)).toBe(0.125);
    expect(acceptableVariance(0, 4)).toBe(0.0);
    expect(acceptableVariance(0.25, 2)).toBe(0.09375);
    expect(acceptableVariance(0.25, 4)).toBe(0.046875);
  });

  it('selects the largest valid prefix window (test_select_window)', () => {
    expect(selectWindows(
      [[[0.2, 0.9], [0.2, 0.6]], [[0.2, 0], [0.2, 0.8]]],
      [[[0.1, 0.5], [0.4, 0.5]], [[0.4, 0.5], [0.1, 0.5]]],
      [2, 4])).toEqual([[2, 2], [4, 2]]);
    expect(selectWindows(
      [[[0, 0.9], [0, 0]], [[0, 0], [0, 0.8]]],
      [[[0.5, 0.5], [0.6, 0.5]], [[0.7, 0.5], [0.4, 0.5]]],
      [2, 4])).toEqual([[2, 4], [4, 2]]);
    expect(selectWindows(
      [[[0, 0.9], [0, 0], [0, 1.0]], [[0, 0], [0, 0.8], [0, 0]], [[0, 0], [0, 0.8], [0.5, 0]]],
      [[[0.5, 0.9], [0.6, 0.9], [0.6, 0.9]], [[0.7, 0.9], [0.4, 0.9], [0.4, 0.9]], [[0.7, 0.9], [0.4, 0.5], [0.4, 0.9]]],
      [2, 4])).toEqual([[4, 4, 2], [4, 4, 4], [4, 2, 2]]);
  });

  it('stops at the first unacceptable window even if a later one is acceptable', () => {
    expect(selectWindows([[[0.1, 0.1, 0.9, 0.1]]], [[[0.5, 0.5, 0.5, 0.5]]], [10, 20, 30, 40])).toEqual([[20]]);
    expect(selectWindows([[[0.9, 0.1, 0.1, 0.1]]], [[[0.5, 0.5, 0.5, 0.5]]], [10, 20, 30, 40])).toEqual([[10]]);
    expect(selectWindows([[[0.5, 0.5, 0.5, 0.5]]], [[[0.5, 0.5, 0.5, 0.5]]], [10, 20, 30, 40])).toEqual([[40]]);
  });

  it('takes the newest estimate of the selected window, 0.0 when empty (test_select_best_estimates)', () => {
    const estimates = [
      [[[0, 0], [1, 0, 0, 0]], [[1, 1], [0, 0, 1, 1]], [[0, 0], [0, 1, 0, 0]]],
      [[[0.5, 0.25], [0.25, 0.05, 0.5, 0.25]], [[0.25, 0.5], [0.4, 0.55, 0.25, 0.6]], [[0.25, 0.25], [0.35, 0.4, 0.25, 0.15]]],
      [[[1, 0], [1, 0, 1, 0]], [[0, 1], [0, 0, 0, 0.2]], [[0, 0], [0, 1, 0, 0]]],
    ];
    expect(selectBestEstimates(estimates, [[2, 4, 2], [2, 2, 4], [4, 2, 2]], [2, 4]))
      .toEqual([[0, 1, 0], [0.25, 0.5, 0.15], [0, 1, 0]]);
    expect(selectBestEstimates(estimates, [[4, 4, 4], [2, 2, 2], [2, 4, 2]], [2, 4]))
      .toEqual([[0, 1, 0], [0.25, 0.5, 0.25], [0, 0.2, 0]]);
    const empty = [[[[], []], [[], []]], [[[], []], [[], []]]];
    expect(selectBestEstimates(empty, [[2, 4], [4, 2]], [2, 4])).toEqual([[0.0, 0.0], [0.0, 0.0]]);
    expect(selectBestEstimates(empty, [[2, 2], [4, 4]], [2, 4])).toEqual([[0.0, 0.0], [0.0, 0.0]]);
  });

  it('bounds each request window by the largest window size (test_update_request_windows)', () => {
    // From state 0 the history goes 1, then back to 0, then 0 and 1: state 0's window keeps the last two.
    const estimate = estimateTransitions([1, 0, 0, 1], 2, [2]);
    expect(estimate.requestWindows).toEqual([[0, 1], [0]]);
    expect(estimateTransitions([1, 0, 0, 1], 2, [2, 4]).requestWindows).toEqual([[1, 0, 1], [0]]);
  });

  it('divides estimates by w even when fewer requests are present, and starts at 1.0 variances', () => {
    const estimate = estimateTransitions([1], 2, [2, 4]);
    expect(estimate.estimateWindows).toEqual([[[[0], [0]], [[0.5], [0.25]]], [[[], []], [[], []]]]);
    expect(estimate.variances).toEqual([[[1, 1], [1, 1]], [[1, 1], [1, 1]]]);
    expect(estimate.acceptableVariances).toEqual([[[0, 0], [0.125, 0.046875]], [[1, 1], [1, 1]]]);
    expect(estimate.selectedWindows).toEqual([[2, 2], [4, 4]]);
    expect(estimate.p).toEqual([[0, 0.5], [0, 0]]);
  });

  it('derives the newest estimates from the request windows (test_update_estimate_windows)', () => {
    // State 0's requests become [1, 0, 0, 0], as in Neat's first case.
    const two = estimateTransitions([1, 0, 0, 0, 0], 2, [2, 4]);
    expect(two.requestWindows[0]).toEqual([1, 0, 0, 0]);
    expect(two.estimateWindows[0][0].map((w) => w[w.length - 1])).toEqual([1.0, 0.75]);
    expect(two.estimateWindows[0][1].map((w) => w[w.length - 1])).toEqual([0.0, 0.25]);
    // State 0's requests become [1, 0, 2, 0], as in Neat's three-state case.
    const three = estimateTransitions([1, 0, 0, 2, 0, 0], 3, [2, 4]);
    expect(three.requestWindows[0]).toEqual([1, 0, 2, 0]);
    expect(three.estimateWindows[0].map((byWindow) => byWindow.map((w) => w[w.length - 1])))
      .toEqual([[0.5, 0.5], [0.0, 0.25], [0.5, 0.25]]);
  });

  it('computes a variance only once a window holds w estimates', () => {
    const estimate = estimateTransitions([1, 0, 0, 0, 0], 2, [2, 4]);
    expect(estimate.estimateWindows[0][0]).toEqual([[1, 1], [0, 0.25, 0.5, 0.75]]);
    expect(estimate.variances[0][0]).toEqual([0, windowVariance([0, 0.25, 0.5, 0.75], 4)]);
    expect(estimateTransitions([1, 0, 0], 2, [2, 4]).variances[0][0]).toEqual([windowVariance([0, 0.5], 2), 1.0]);
  });

  it('keeps Neat\'s per-(i, j) window choice, so a row of p may sum above 1', () => {
    // p[0][0] comes from the 2-step window and p[0][1] from the 4-step one.
    const estimate = estimateTransitions([1, 0, 0, 0, 0], 2, [2, 4]);
    expect(estimate.selectedWindows).toEqual([[2, 4], [2, 2]]);
    expect(estimate.p).toEqual([[1, 0.25], [0.5, 0]]);
  });

  it('gives probabilities in [0, 1] for any state history', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 4 }).chain((stateCount) =>
        fc.tuple(fc.constant(stateCount), fc.array(fc.integer({ min: 0, max: stateCount - 1 }), { maxLength: 150 }))),
      ([stateCount, states]) => {
        const { p } = estimateTransitions(states, stateCount, [3, 5, 8]);
        for (const row of p) for (const value of row) expect(value >= 0 && value <= 1).toBe(true);
      }));
  });
});

describe('MHOD L functions', () => {
  const p = [[0.4, 0.6], [0.9, 0.1]];

  it('reproduces Neat test_l_2_states', () => {
    expect(l0TwoStates([1, 0], p, [0.2, 0.8])).toBeCloseTo(1.690, 3);
    expect(l0TwoStates([1, 0], p, [0.62, 0.38])).toBeCloseTo(1.404, 3);
    expect(l1TwoStates([1, 0], p, [0.2, 0.8])).toBeCloseTo(0.828, 3);
    expect(l1TwoStates([1, 0], p, [0.62, 0.38])).toBeCloseTo(0.341, 3);
  });

  it('gives the same values through the general form', () => {
    const [l0, l1] = lGeneral([1, 0], p, [0.2, 0.8]) ?? [];
    expect(l0).toBeCloseTo(1.690, 3);
    expect(l1).toBeCloseTo(0.828, 3);
  });

  it('returns null where the closed-form denominator is exactly zero, as Neat skips the point', () => {
    const stochastic = [[0.5, 0.5], [0.5, 0.5]];
    expect(l0TwoStates([1, 0], stochastic, [0, 0])).toBeNull();
    expect(l1TwoStates([0, 1], stochastic, [0, 0])).toBeNull();
    expect(lFunctions([1, 0], stochastic, [0, 0])).toBeNull();
    expect(lGeneral([1, 0], stochastic, [0, 0])).toBeNull();
  });

  it('equals the closed forms wherever their denominator is not near zero (π(I − Q)⁻¹ proof)', () => {
    // Nine decimal digits: subnormal probabilities would only test the loss of precision of subnormals.
    const probability = fc.integer({ min: 0, max: 1_000_000_000 }).map((k) => k / 1_000_000_000);
    const row = fc.tuple(probability, probability).map(([first, share]) => [first, share * (1 - first)]);
    fc.assert(fc.property(row, row, fc.boolean(), probability, probability, (row0, row1, startHigh, m0, m1) => {
      const matrix = [row0, row1];
      const m = [m0, m1];
      const initial = startHigh ? [0, 1] : [1, 0];
      const [[p00, p01], [p10, p11]] = matrix;
      // det(I − Q), the closed forms' denominator up to sign.
      const determinant = (1 - (1 - m0) * p00) * (1 - (1 - m1) * p11) - (1 - m0) * p01 * (1 - m1) * p10;
      fc.pre(Math.abs(determinant) > 1e-3);
      const closed = [l0TwoStates(initial, matrix, m), l1TwoStates(initial, matrix, m)];
      const general = lGeneral(initial, matrix, m);
      expect(general).not.toBeNull();
      // Relative to the largest L (at least 1, the first step): Neat's closed forms cancel (p01 − m0·p01
      // when m0 ≈ 1), so a tiny component carries their rounding error, not a difference in formulation.
      const scale = Math.max(...closed.map((value) => Math.abs(value ?? NaN)));
      closed.forEach((value, j) => {
        expect(value).not.toBeNull();
        expect(Math.abs((value ?? NaN) - (general?.[j] ?? NaN)) / scale).toBeLessThan(1e-9);
      });
    }), { numRuns: 2000 });
  });

  it('sums to 1/c for a stochastic matrix and a constant migration probability c', () => {
    const matrix = [[0.5, 0.3, 0.2], [0.1, 0.6, 0.3], [0.25, 0.25, 0.5]];
    for (const c of [0.1, 0.25, 0.5, 1]) {
      const ls = lGeneral([0, 0, 1], matrix, [c, c, c]) ?? [];
      expect(nlpObjective(ls)).toBeCloseTo(1 / c, 12);
    }
    expect(lGeneral([0, 0, 1], matrix, [0, 0, 0])).toBeNull();
  });

  it('solves L(I − Q) = π for three states', () => {
    const matrix = [[0.7, 0.2, 0.1], [0.3, 0.3, 0.3], [0.0, 0.4, 0.5]];
    const m = [0.1, 0.5, 0.9];
    const ls = lGeneral([0, 1, 0], matrix, m) ?? [];
    const back = [0, 1, 2].map((j) => ls[j] - [0, 1, 2].reduce((acc, i) => acc + ls[i] * (1 - m[i]) * matrix[i][j], 0));
    expect(back[0]).toBeCloseTo(0, 12);
    expect(back[1]).toBeCloseTo(1, 12);
    expect(back[2]).toBeCloseTo(0, 12);
  });
});

describe('MHOD brute force', () => {
  const problem = (objective: (x: number, y: number) => number | null,
    constraint: (x: number, y: number) => number | null, bound: number): GridProblem => ({
    objective: ([x, y]) => objective(x, y),
    constraint: ([x, y]) => constraint(x, y),
    bound,
  });
  const sumXY = (x: number, y: number): number => x + y;
  const rounded = (solution: number[]): number[] => solution.map((value) => Math.round(value * 10) / 10);

  it('reproduces Neat test_solve2', () => {
    expect(rounded(maximiseOnGrid(problem(sumXY, sumXY, 10), 2, 0.1))).toEqual([1.0, 1.0]);
    expect(rounded(maximiseOnGrid(problem(sumXY, sumXY, 0.5), 2, 0.1))).toEqual([0.0, 0.5]);
    expect(rounded(maximiseOnGrid(problem((x, y) => 2 * x + y, sumXY, 0.5), 2, 0.1))).toEqual([0.5, 0.0]);
    const difference = (x: number, y: number): number => x - y;
    expect(rounded(maximiseOnGrid(problem(difference, difference, 10), 2, 0.1))).toEqual([1.0, 0.0]);
    const quotient = (x: number, y: number): number | null => (y === 0 ? null : x / y);
    expect(rounded(maximiseOnGrid(problem(quotient, quotient, 10), 2, 0.1))).toEqual([1.0, 0.1]);
  });

  it('returns [] when no point beats 0 within the constraint', () => {
    expect(maximiseOnGrid(problem(sumXY, () => 1, 0.5), 2, 0.5)).toEqual([]);
    expect(maximiseOnGrid(problem(() => 0, () => 0, 1), 2, 0.5)).toEqual([]);
    expect(maximiseOnGrid(problem(() => null, () => 0, 1), 2, 0.5)).toEqual([]);
  });

  it('visits the grid inclusively, first variable outermost, and evaluates the constraint only on improvement', () => {
    const visited: number[][] = [];
    let constraintCalls = 0;
    const solution = maximiseOnGrid({
      objective: (point) => {
        visited.push([...point]);
        return 1;
      },
      constraint: () => {
        constraintCalls++;
        return 0;
      },
      bound: 1,
    }, 2, 0.5);
    expect(visited).toEqual([[0, 0], [0, 0.5], [0, 1], [0.5, 0], [0.5, 0.5], [0.5, 1], [1, 0], [1, 0.5], [1, 1]]);
    expect(constraintCalls).toBe(1);
    expect(solution).toEqual([0, 0]);
  });

  it('skips a point whose constraint divides by zero', () => {
    expect(maximiseOnGrid(problem(sumXY, (x) => (x === 1 ? null : 0), 1), 2, 0.5)).toEqual([0.5, 1]);
  });

  it('generalises to three variables with the same strict-improvement rule', () => {
    const total = (point: readonly number[]): number => point.reduce((a, b) => a + b, 0);
    expect(maximiseOnGrid({ objective: total, constraint: total, bound: 10 }, 3, 0.5)).toEqual([1, 1, 1]);
    expect(maximiseOnGrid({ objective: total, constraint: total, bound: 1 }, 3, 0.5)).toEqual([0, 0, 1]);
  });

  it('counts grid points and refuses grids above the limit', () => {
    expect(gridPointCount(2, 0.5)).toBe(9);
    expect(gridPointCount(2, 0.1)).toBe(121);
    expect(gridPointCount(3, 0.1)).toBe(1331);
    expect(gridPointCount(2, 1e-9)).toBeGreaterThan(MAX_GRID_POINTS);
    expect(() => maximiseOnGrid(problem(sumXY, sumXY, 1), 2, 0.0001)).toThrow(/exceeds/);
  });

  it('builds Neat\'s objective and constraint (test_nlp)', () => {
    expect(nlpObjective([2, 3])).toBe(5);
    expect(nlpConstraint([2, 3], 20, 0, 0)).toBe(23 / 25);
    expect(nlpConstraint([2, 3], 0.5, 10, 4)).toBe((0.5 + 4 + 3) / (0.5 + 10 + 5));
    expect(nlpConstraint([0, 0], 0, 0, 0)).toBeNull();
  });

  it('optimises the migration policy for a two-state problem', () => {
    const base = { migrationTimeSteps: 20 / 300, stateVector: [0, 1], timeInStates: 43, timeInStateN: 7 };
    const transitionMatrix = [[0.8, 0.2], [0.1666666666666667, 0.03333333333333333]];
    expect(optimizeMigrationPolicy({ ...base, otf: 0.2, transitionMatrix }, 0.5)).toEqual([0, 0]);
    expect(optimizeMigrationPolicy({ ...base, otf: 0.1, transitionMatrix }, 0.5)).toEqual([]);
  });
});

describe('MHOD detector', () => {
  it('defaults to Neat\'s parameters', () => {
    expect(params()).toEqual({
      state_config: [0.8], otf: 0.1, history_size: 500, window_sizes: [30, 40, 50, 60, 70, 80, 90, 100],
      bruteforce_step: 0.5, learning_steps: 10,
    });
    for (const spec of Object.values(mhodParamSpecs)) expect(spec.description.length).toBeGreaterThan(0);
  });

  it('rejects invalid window sizes and thresholds', () => {
    expect(() => params({ window_sizes: [1, 2] })).toThrow(InvalidParameterError);
    expect(() => params({ window_sizes: [30, 30] })).toThrow(/window_sizes/);
    expect(() => params({ window_sizes: [30.5] })).toThrow(/window_sizes/);
    expect(() => params({ state_config: [0.7, 0.4] })).toThrow(/state_config/);
    expect(() => params({ bruteforce_step: 0 })).toThrow(/bruteforce_step/);
  });

  it('refuses a search grid above a million points, naming bruteforce_step and state_config', () => {
    const tooFine = params({ state_config: [0.3, 0.6, 0.9], bruteforce_step: 0.01 });
    expect(() => createMhod(context, tooFine)).toThrow(InvalidParameterError);
    expect(() => createMhod(context, tooFine)).toThrow(/bruteforce_step.*state_config/);
    expect(() => createMhod(context, params({ state_config: [0.3, 0.6], bruteforce_step: 0.02 }))).not.toThrow();
  });

  it('is named mhod and starts with zero counters', () => {
    const detector = createMhod(context, params());
    expect(detector.name).toBe('mhod');
    expect(detector.initialState()).toEqual({
      timeInStates: 0, timeInStateN: 0, previousState: 0, selectedWindows: null, p: null, policy: null,
    });
  });

  // Neat's test_core mocks p; here the same situations arise from real histories.
  const coreParams = params({ state_config: [1.0], otf: 0.1, window_sizes: [30, 40], bruteforce_step: 0.5, learning_steps: 0 });

  it('does not migrate in state N when p[N][N] is 0 (test_core, p = [[0, 0], [0, 0]] with state 1)', () => {
    const detector = createMhod(context, coreParams);
    const [decision, state] = detector.detect([1.0], detector.initialState());
    expect(state.p?.[1][1]).toBe(0);
    expect(decision).toBe(false);
    expect(state.policy).toBeNull();
    expect(state.previousState).toBe(1);
  });

  it('migrates when always overloaded (test_core, p = [[0, 1], [0, 1]] with state 1)', () => {
    const detector = createMhod(context, coreParams);
    const [decision, state] = detector.detect(new Array<number>(20).fill(1.0), detector.initialState());
    expect(state.p).toEqual([[0, 1 / 30], [0, 19 / 30]]);
    expect(state.policy).toEqual([]);
    expect(decision).toBe(true);
  });

  it('does not migrate outside state N even when p[N][N] > 0 (test_core, p = [[0, 1], [0, 1]] with state 0)', () => {
    const detector = createMhod(context, coreParams);
    const [decision, state] = detector.detect([...new Array<number>(20).fill(1.0), 0.5], detector.initialState());
    expect(state.p?.[1][1]).toBeGreaterThan(0);
    expect(state.previousState).toBe(0);
    expect(decision).toBe(false);
    expect(state.policy).toBeNull();
  });

  it('waits for learning_steps values before deciding', () => {
    const detector = createMhod(context, params({ ...coreParams, learning_steps: 21 }));
    const history = new Array<number>(20).fill(1.0);
    expect(detector.detect(history, detector.initialState())[0]).toBe(false);
    expect(detector.detect([...history, 1.0], detector.initialState())[0]).toBe(true);
  });

  it('returns false for an empty history without counting the call', () => {
    const detector = createMhod(context, params());
    const state = deepFreeze({ ...detector.initialState(), timeInStates: 3, timeInStateN: 1 });
    const [decision, next] = detector.detect([], state);
    expect(decision).toBe(false);
    expect(next).toEqual(state);
    expect(next).not.toBe(state);
  });

  it('counts calls, not history length, and never mutates the input state', () => {
    const detector = createMhod(context, coreParams);
    const first = deepFreeze(detector.detect([0.5, 1.2], detector.initialState())[1]);
    const [, second] = detector.detect([0.5, 1.2], first);
    expect(first.timeInStates).toBe(1);
    expect(second.timeInStates).toBe(2);
    expect(second.timeInStateN).toBe(2);
    expect(second).not.toBe(first);
  });

  it('asserts the state it is given is consistent', () => {
    const detector = createMhod(context, params());
    const broken: MhodState = { ...detector.initialState(), timeInStates: 1, timeInStateN: 2 };
    expect(() => detector.detect([0.5], broken)).toThrow(/time_in_state_n/);
  });

  it('works end to end with three states (general L functions)', () => {
    const detector = createMhod(context, params({ state_config: [0.4, 0.7], learning_steps: 0, window_sizes: [5, 10] }));
    const [always, overloaded] = detector.detect(new Array<number>(12).fill(0.9), detector.initialState());
    expect(overloaded.p?.[2][2]).toBe(1);
    expect(overloaded.policy).toEqual([]);
    expect(always).toBe(true);

    // Mostly calm so far: 2 of 39 earlier calls overloaded, so a policy within the OTF bound exists.
    const calm = [0.2, 0.3, 0.5, 0.2, 0.3, 0.9, 0.2, 0.3, 0.5, 0.2, 0.9, 0.9];
    const history = { ...detector.initialState(), timeInStates: 39, timeInStateN: 2 };
    const [decision, next] = detector.detect(calm, history);
    expect(next.p?.[2][2]).toBeGreaterThan(0);
    expect(next.policy?.length).toBe(3);
    expect(decision).toBe(false);
  });

  const finiteHistory = fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 120 });
  const configurations: [string, MhodParams][] = [
    ['defaults, learning from the first value', params({ learning_steps: 0 })],
    ['three states', params({ state_config: [0.4, 0.9], learning_steps: 0, window_sizes: [3, 7, 12] })],
    ['small windows', params({ window_sizes: [2, 3], learning_steps: 0, bruteforce_step: 0.25 })],
  ];

  it.each(configurations)('never throws and always returns a boolean for any finite history (%s)', (_, config) => {
    const detector = createMhod(context, config);
    fc.assert(fc.property(finiteHistory, fc.nat({ max: 50 }), (history, calls) => {
      const state = { ...detector.initialState(), timeInStates: calls + 1, timeInStateN: calls };
      const [decision, next] = detector.detect(history, state);
      expect(typeof decision).toBe('boolean');
      expect(JSON.parse(JSON.stringify(next))).toEqual(next);
    }), { numRuns: 150 });
  });

  it('is deterministic: the same history and state give the same result', () => {
    const detector = createMhod(context, params({ learning_steps: 0, window_sizes: [3, 5, 8] }));
    fc.assert(fc.property(finiteHistory, (history) => {
      const state = detector.initialState();
      expect(detector.detect(history, state)).toEqual(detector.detect([...history], state));
    }), { numRuns: 100 });
  });
});
