import fc from 'fast-check';
import {
  EMPTY_SIMPLE_REGRESSION,
  olsRSquared,
  simpleRegressionAdd,
  simpleRegressionIntercept,
  simpleRegressionLineAt,
  simpleRegressionOf,
  simpleRegressionPredict,
  simpleRegressionRegress,
  simpleRegressionSlope,
  weightedLeastSquares,
} from '../../src/engine/regression';
import { tricubeWeights } from '../../src/engine/overload/statistics';

/** Neat's 20-point test data (tests/locals/overload/test_statistics.py). */
const NEAT_DATA = [2, 4, 7, -20, 22, -1, 0, -1, 7, 15, 8, 4, -4, 11, 11, 12, 3, 12, 18, 1];
const ONE_TO = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

function closeRelative(a: number, b: number, tolerance: number): boolean {
  return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
}

describe('weightedLeastSquares', () => {
  it('minimises the squared-weight sum, as Neat\'s leastsq call does (20-point data)', () => {
    const { intercept, slope } = weightedLeastSquares(ONE_TO(20), NEAT_DATA, tricubeWeights(20));
    // Neat's test asserts 2.2639 and 0.3724 to 3 places; scipy's leastsq stops at 2.2639723900815545, 0.37241229694877187.
    expect(intercept).toBeCloseTo(2.2639, 3);
    expect(slope).toBeCloseTo(0.3724, 3);
    expect(Math.abs(intercept - 2.2639723900815545)).toBeLessThan(1e-6);
    expect(Math.abs(slope - 0.37241229694877187)).toBeLessThan(1e-6);
  });

  it('would give a different line with unsquared weights (so the squaring matters)', () => {
    const rootWeights = tricubeWeights(20).map(Math.sqrt);
    const { intercept, slope } = weightedLeastSquares(ONE_TO(20), NEAT_DATA, rootWeights);
    expect(intercept).toBeCloseTo(1.374, 2);
    expect(slope).toBeCloseTo(0.427, 2);
  });

  it('recovers an exact line whatever the weights', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const y = x.map((xi) => 3 + 2 * xi);
    const { intercept, slope } = weightedLeastSquares(x, y, [0.1, 5, 0.3, 1, 2, 0.7]);
    expect(intercept).toBeCloseTo(3, 12);
    expect(slope).toBeCloseTo(2, 12);
  });

  it('gives NaN, not an exception, when the weights leave nothing to fit', () => {
    const result = weightedLeastSquares([1, 2, 3], [1, 2, 3], [0, 0, 0]);
    expect(result.intercept).toBeNaN();
    expect(result.slope).toBeNaN();
    expect(weightedLeastSquares([1, 2, 3], [1, 2, 3], [1, 0, 0]).slope).toBeNaN();
  });

  it('rejects mismatched lengths and fewer than 2 points', () => {
    expect(() => weightedLeastSquares([1, 2], [1], [1, 1])).toThrow('weightedLeastSquares');
    expect(() => weightedLeastSquares([1], [1], [1])).toThrow('at least 2 points');
  });
});

describe('SimpleRegression port (commons-math)', () => {
  // Expected values printed by commons-math 3.6.1's SimpleRegression under OpenJDK 17.
  const fixtures = [
    {
      x: ONE_TO(10),
      y: [0.23, 0.41, 0.39, 0.52, 0.61, 0.58, 0.77, 0.72, 0.9, 0.88],
      slope: 0.07060606060606059, intercept: 0.21266666666666684, predict11: 0.9893333333333334,
    },
    {
      x: [9.695717096328735, 5.181223154067993, 8.000179529190063, 9, 2],
      y: [1.4743971943855285, 0.38967056274414064, -0.284100341796875, 0.917449240386486, 0.4801685333251953],
      slope: 0.07649308420041961, intercept: 0.07724396265536848, predict11: 0.9186678888599842,
    },
    {
      x: [2, 15, 7.02593207359314, 4],
      y: [0.6420316815376281, 1.549769115447998, 0.327042293548584, -0.10936098098754882],
      slope: 0.09702947642448671, intercept: -0.07746485146557747, predict11: 0.9898593892037765,
    },
    {
      x: ONE_TO(10),
      y: [0.61, 0.66, 0.69, 0.72, 0.7, 0.74, 0.77, 0.85, 0.79, 0.82],
      slope: 0.02296969696969698, intercept: 0.6086666666666667, predict11: 0.8613333333333335,
    },
  ];

  it.each(fixtures)('matches Java bit for bit (case %#)', ({ x, y, slope, intercept, predict11 }) => {
    const regression = simpleRegressionOf(x, y);
    expect(simpleRegressionSlope(regression)).toBe(slope);
    expect(simpleRegressionIntercept(regression)).toBe(intercept);
    expect(simpleRegressionPredict(regression, 11)).toBe(predict11);
    expect(simpleRegressionRegress(regression)).toEqual({ kind: 'ok', estimates: { intercept, slope } });
  });

  it('updates its sums one point at a time, starting from the first point', () => {
    const one = simpleRegressionAdd(EMPTY_SIMPLE_REGRESSION, 2, 5);
    expect(one).toEqual({ n: 1, sumX: 2, sumY: 5, sumXX: 0, sumXY: 0, xbar: 2, ybar: 5 });
    const two = simpleRegressionAdd(one, 4, 9);
    expect(two).toEqual({ n: 2, sumX: 6, sumY: 14, sumXX: 2, sumXY: 4, xbar: 3, ybar: 7 });
    expect(simpleRegressionSlope(two)).toBe(2);
    expect(simpleRegressionIntercept(two)).toBe(1);
  });

  it('is simpleRegressionAdd over the points, bit for bit', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.double({ noNaN: true, min: -1e6, max: 1e6 })), { maxLength: 40 }),
      (points) => {
        const folded = points.reduce((regression, [x, y]) => simpleRegressionAdd(regression, x, y), EMPTY_SIMPLE_REGRESSION);
        expect(simpleRegressionOf(points.map(([x]) => x), points.map(([, y]) => y))).toEqual(folded);
      },
    ));
  });

  it('has NaN slope with fewer than 2 points or no spread in x', () => {
    expect(simpleRegressionSlope(EMPTY_SIMPLE_REGRESSION)).toBeNaN();
    expect(simpleRegressionSlope(simpleRegressionOf([1], [1]))).toBeNaN();
    expect(simpleRegressionSlope(simpleRegressionOf([3, 3, 3], [1, 2, 4]))).toBeNaN();
    expect(simpleRegressionIntercept(simpleRegressionOf([3, 3, 3], [1, 2, 4]))).toBeNaN();
  });

  it('regress(): not enough data below 3 points; mean of y and NaN slope without spread in x', () => {
    expect(simpleRegressionRegress(simpleRegressionOf([1, 2], [1, 2]))).toEqual({ kind: 'not-enough-data' });
    const flat = simpleRegressionRegress(simpleRegressionOf([3, 3, 3], [1, 2, 6]));
    expect(flat.kind).toBe('ok');
    if (flat.kind === 'ok') {
      expect(flat.estimates.intercept).toBe(3);
      expect(flat.estimates.slope).toBeNaN();
    }
  });

  it('simpleRegressionLineAt is the regressed line evaluated at a point, bit for bit', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 3, maxLength: 30 }),
      fc.double({ min: 0, max: 100, noNaN: true }),
      (y, at) => {
        const x = ONE_TO(y.length);
        const result = simpleRegressionRegress(simpleRegressionOf(x, y));
        if (result.kind !== 'ok') return false;
        return Object.is(simpleRegressionLineAt(x, y, at), result.estimates.intercept + result.estimates.slope * at);
      },
    ));
    // No spread in x: no slope, so no line.
    expect(simpleRegressionLineAt([3, 3, 3], [1, 2, 6], 4)).toBeNaN();
    expect(() => simpleRegressionLineAt([1, 2], [1, 2], 3)).toThrow('needs at least 3');
  });

  it('agrees with weightedLeastSquares with unit weights to 1e-9 relative', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 2, maxLength: 60 }),
      (y) => {
        const x = ONE_TO(y.length);
        const ported = simpleRegressionOf(x, y);
        const closed = weightedLeastSquares(x, y, y.map(() => 1));
        return closeRelative(simpleRegressionSlope(ported), closed.slope, 1e-9)
          && closeRelative(simpleRegressionIntercept(ported), closed.intercept, 1e-9);
      },
    ));
  });
});

describe('olsRSquared (commons-math OLSMultipleLinearRegression)', () => {
  const vm0 = [0.31, 0.42, 0.25, 0.61, 0.55, 0.38, 0.47, 0.29, 0.66, 0.52, 0.41, 0.35];
  const vm1 = [0.62, 0.85, 0.49, 1.2, 1.1, 0.77, 0.93, 0.6, 1.31, 1.05, 0.8, 0.71];
  const vm2 = [0.9, 0.2, 0.5, 0.4, 0.8, 0.1, 0.6, 0.3, 0.7, 0.2, 0.5, 0.4];
  const rows = (...columns: number[][]): number[][] => columns[0].map((_, j) => columns.map((column) => column[j]));

  it('matches Java\'s calculateRSquared bit for bit', () => {
    // Printed by commons-math 3.6.1 for each VM regressed on the other two, as CloudSim's MC does.
    expect(olsRSquared(vm0, rows(vm1, vm2))).toEqual({ kind: 'ok', rSquared: 0.9981858287369045 });
    expect(olsRSquared(vm1, rows(vm0, vm2))).toEqual({ kind: 'ok', rSquared: 0.9981750919589987 });
    expect(olsRSquared(vm2, rows(vm0, vm1))).toEqual({ kind: 'ok', rSquared: 0.20621449390561242 });
  });

  it('is 1 for a perfect fit and equals r² of the simple regression for one regressor', () => {
    const x = [1, 2, 3, 4, 5];
    const fit = olsRSquared(x.map((v) => 2 * v + 1), rows(x));
    expect(fit.kind).toBe('ok');
    if (fit.kind === 'ok') expect(fit.rSquared).toBeCloseTo(1, 12);
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true })),
        { minLength: 3, maxLength: 30 }),
      (pairs) => {
        const xs = pairs.map(([a]) => a);
        const ys = pairs.map(([, b]) => b);
        const result = olsRSquared(ys, rows(xs));
        if (result.kind !== 'ok') return true;
        const mx = xs.reduce((s, v) => s + v, 0) / xs.length;
        const my = ys.reduce((s, v) => s + v, 0) / ys.length;
        let sxy = 0;
        let sxx = 0;
        let syy = 0;
        xs.forEach((v, i) => {
          sxy += (v - mx) * (ys[i] - my);
          sxx += (v - mx) ** 2;
          syy += (ys[i] - my) ** 2;
        });
        // Only well-conditioned samples are comparable: R² of nearly constant data is rounding noise.
        if (sxx < 1e-6 || syy < 1e-6) return true;
        return Math.abs(result.rSquared - (sxy * sxy) / (sxx * syy)) < 1e-9;
      },
    ));
  });

  it('reports not enough data: fewer observations than regressors + 1, or no regressor', () => {
    expect(olsRSquared([0.1, 0.3], rows([0.3, 0.5], [0.6, 0.1]))).toEqual({ kind: 'not-enough-data' });
    expect(olsRSquared([], [])).toEqual({ kind: 'not-enough-data' });
    expect(olsRSquared([1, 2, 3], [[], [], []])).toEqual({ kind: 'not-enough-data' });
    expect(olsRSquared([1, 2], rows([3, 4]))).toEqual({ kind: 'ok', rSquared: 1 });
  });

  it('reports a singular design: an all-zero or constant regressor, collinear regressors', () => {
    expect(olsRSquared([0.1, 0.5, 0.3, 0.2, 0.9], rows([0, 0, 0, 0, 0], [0.4, 0.2, 0.8, 0.3, 0.3])))
      .toEqual({ kind: 'singular' });
    expect(olsRSquared([0.1, 0.4, 0.2, 0.3], rows([0.5, 0.5, 0.5, 0.5], [0.3, 0.3, 0.1, 0.9])))
      .toEqual({ kind: 'singular' });
    expect(olsRSquared([0.3, 0.1, 0.4, 0.1, 0.5], rows([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])))
      .toEqual({ kind: 'singular' });
  });

  it('gives NaN rather than throwing for a constant dependent variable', () => {
    const result = olsRSquared([0, 0, 0, 0, 0], rows([0.1, 0.5, 0.3, 0.2, 0.9], [0.4, 0.2, 0.8, 0.3, 0.3]));
    expect(result.kind).toBe('ok');
    if (result.kind === 'ok') expect(result.rSquared).toBeNaN();
  });
});
