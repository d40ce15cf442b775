/**
 * Least-squares line and plane fits, each matching the arithmetic of the system
 * whose decisions we reproduce: Neat fits weighted lines with scipy, CloudSim
 * 3.0.3 with commons-math's `SimpleRegression` and `OLSMultipleLinearRegression`.
 * Decisions compare predictions with thresholds, so for CloudSim the port keeps
 * commons-math's operation order, and the results match Java bit for bit.
 */
import { assert } from './assert';

export interface LineEstimates {
  readonly intercept: number;
  readonly slope: number;
}

/**
 * The line minimising Σ wᵢ²(yᵢ − a − b·xᵢ)², in closed form.
 *
 * The weights are squared because Neat hands `scipy.optimize.leastsq` the
 * residuals wᵢ·(yᵢ − a − b·xᵢ), whose squares leastsq sums. scipy iterates to
 * this same minimum and stops within about 3e-7 of it.
 *
 * Degenerate inputs (all weights 0, or all weighted x equal) and non-finite
 * weights give NaN estimates, as 0/0 does: callers compare predictions with
 * thresholds, and a NaN comparison is "no".
 */
export function weightedLeastSquares(
  x: readonly number[],
  y: readonly number[],
  weights: readonly number[],
): LineEstimates {
  assert(x.length === y.length && x.length === weights.length,
    () => `weightedLeastSquares: ${x.length} x, ${y.length} y and ${weights.length} weights`);
  assert(x.length >= 2, () => `weightedLeastSquares needs at least 2 points, got ${x.length}`);
  let totalWeight = 0;
  let weightedX = 0;
  let weightedY = 0;
  for (let i = 0; i < x.length; i++) {
    const w2 = weights[i] * weights[i];
    totalWeight += w2;
    weightedX += w2 * x[i];
    weightedY += w2 * y[i];
  }
  const meanX = weightedX / totalWeight;
  const meanY = weightedY / totalWeight;
  // Centred sums: the textbook Σwx² − (Σwx)²/Σw form loses digits on long histories.
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < x.length; i++) {
    const w2 = weights[i] * weights[i];
    const dx = x[i] - meanX;
    sxx += w2 * dx * dx;
    sxy += w2 * dx * (y[i] - meanY);
  }
  const slope = sxy / sxx;
  return { intercept: meanY - slope * meanX, slope };
}

/**
 * The state of a commons-math `SimpleRegression` with an intercept after a
 * series of `addData` calls. Only the sums that the slope and intercept read
 * are kept; the y variance (`sumYY`) feeds statistics nothing here uses.
 */
export interface SimpleRegression {
  /** A Java `long` in commons-math; always a small integer here. */
  readonly n: number;
  readonly sumX: number;
  readonly sumY: number;
  /** Σ(x − x̄)², updated incrementally (Chan, Golub and LeVeque). */
  readonly sumXX: number;
  /** Σ(x − x̄)(y − ȳ), updated incrementally. */
  readonly sumXY: number;
  readonly xbar: number;
  readonly ybar: number;
}

export const EMPTY_SIMPLE_REGRESSION: SimpleRegression = Object.freeze({
  n: 0, sumX: 0, sumY: 0, sumXX: 0, sumXY: 0, xbar: 0, ybar: 0,
});

/** `SimpleRegression.addData(x, y)`, with its updating formulas evaluated in the same order. */
export function simpleRegressionAdd(regression: SimpleRegression, x: number, y: number): SimpleRegression {
  const { n } = regression;
  if (n === 0) {
    return { n: 1, sumX: regression.sumX + x, sumY: regression.sumY + y, sumXX: regression.sumXX,
      sumXY: regression.sumXY, xbar: x, ybar: y };
  }
  const fact1 = 1.0 + n;
  const fact2 = n / (1.0 + n);
  const dx = x - regression.xbar;
  const dy = y - regression.ybar;
  return {
    n: n + 1,
    sumX: regression.sumX + x,
    sumY: regression.sumY + y,
    sumXX: regression.sumXX + dx * dx * fact2,
    sumXY: regression.sumXY + dx * dy * fact2,
    xbar: regression.xbar + dx / fact1,
    ybar: regression.ybar + dy / fact1,
  };
}

/**
 * A `SimpleRegression` fed the pairs (xᵢ, yᵢ) in order, as CloudSim's
 * `createLinearRegression` does: `simpleRegressionAdd`'s updates, same
 * operations in the same order, on locals rather than one object per point,
 * because CloudSim's LR test runs this for every host a placement considers.
 */
export function simpleRegressionOf(x: readonly number[], y: readonly number[]): SimpleRegression {
  assert(x.length === y.length, () => `simpleRegressionOf: ${x.length} x but ${y.length} y`);
  let { n, sumX, sumY, sumXX, sumXY, xbar, ybar } = EMPTY_SIMPLE_REGRESSION;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    const yi = y[i];
    if (n === 0) {
      xbar = xi;
      ybar = yi;
    } else {
      const fact1 = 1.0 + n;
      const fact2 = n / (1.0 + n);
      const dx = xi - xbar;
      const dy = yi - ybar;
      sumXX = sumXX + dx * dx * fact2;
      sumXY = sumXY + dx * dy * fact2;
      xbar = xbar + dx / fact1;
      ybar = ybar + dy / fact1;
    }
    sumX = sumX + xi;
    sumY = sumY + yi;
    n += 1;
  }
  return { n, sumX, sumY, sumXX, sumXY, xbar, ybar };
}

/** Java's `Double.MIN_VALUE`, the smallest subnormal. */
const JAVA_DOUBLE_MIN_VALUE = Number.MIN_VALUE;
/** commons-math `Precision.SAFE_MIN`: the smallest normal double, 2^-1022. */
const SAFE_MIN = 2 ** -1022;

/** `getSlope()`: NaN with fewer than 2 points or (almost) no spread in x. */
export function simpleRegressionSlope(regression: SimpleRegression): number {
  if (regression.n < 2) return NaN;
  if (Math.abs(regression.sumXX) < 10 * JAVA_DOUBLE_MIN_VALUE) return NaN;
  return regression.sumXY / regression.sumXX;
}

function interceptFor(regression: SimpleRegression, slope: number): number {
  return (regression.sumY - slope * regression.sumX) / regression.n;
}

/** `getIntercept()`. */
export function simpleRegressionIntercept(regression: SimpleRegression): number {
  return interceptFor(regression, simpleRegressionSlope(regression));
}

/** `predict(x)`: intercept + slope·x. */
export function simpleRegressionPredict(regression: SimpleRegression, x: number): number {
  const slope = simpleRegressionSlope(regression);
  return interceptFor(regression, slope) + slope * x;
}

export type SimpleRegressionResult =
  | { readonly kind: 'ok'; readonly estimates: LineEstimates }
  /** commons-math throws `NoDataException`, an `IllegalArgumentException`, here. */
  | { readonly kind: 'not-enough-data' };

/**
 * `regress().getParameterEstimates()`: fewer than 3 points is an error; with no
 * usable spread in x the intercept is the mean of y and the slope NaN.
 */
export function simpleRegressionRegress(regression: SimpleRegression): SimpleRegressionResult {
  if (regression.n < 3) return { kind: 'not-enough-data' };
  if (Math.abs(regression.sumXX) > SAFE_MIN) {
    return { kind: 'ok', estimates: {
      intercept: simpleRegressionIntercept(regression),
      slope: simpleRegressionSlope(regression),
    } };
  }
  return { kind: 'ok', estimates: { intercept: regression.sumY / regression.n, slope: NaN } };
}

/**
 * The line of `simpleRegressionRegress(simpleRegressionOf(x, y))` evaluated at
 * `at` (intercept + slope·at, as a caller of the estimates computes it), NaN
 * where that line has no slope; at least 3 points. The same operations in the
 * same order, without the result objects: CloudSim's LR test runs this for most
 * hosts a placement considers, and those objects were ~100 MB of garbage a
 * policy-day.
 */
export function simpleRegressionLineAt(x: readonly number[], y: readonly number[], at: number): number {
  assert(x.length === y.length && x.length >= 3, () => `simpleRegressionLineAt: ${x.length} x and ${y.length} y, needs at least 3`);
  const regression = simpleRegressionOf(x, y);
  // `simpleRegressionRegress`'s test; past it `simpleRegressionSlope`'s smaller bound holds too.
  if (!(Math.abs(regression.sumXX) > SAFE_MIN)) return NaN;
  const slope = regression.sumXY / regression.sumXX;
  return interceptFor(regression, slope) + slope * at;
}

export type RSquaredResult =
  | { readonly kind: 'ok'; readonly rSquared: number }
  /** Fewer observations than regressors + 1, or no regressor or observation at all. */
  | { readonly kind: 'not-enough-data' }
  /** A diagonal element of R is exactly 0: commons-math's `SingularMatrixException`. */
  | { readonly kind: 'singular' };

/**
 * R² = 1 − SSR/SST of the least-squares fit of y on the regressors plus an
 * intercept, computed as commons-math's `OLSMultipleLinearRegression`
 * (`newSampleData(y, x)` then `calculateRSquared()`) does: Householder QR of
 * the design matrix with singularity threshold 0, the residuals y − Xβ, and
 * SST from commons-math's running `SecondMoment`.
 *
 * `observations[j]` holds the regressors of observation j, as commons-math's `x[j]`.
 * Both failure kinds are `IllegalArgumentException`s in Java, on which CloudSim
 * falls back to another policy; they are told apart here for the caller's logs.
 */
export function olsRSquared(y: readonly number[], observations: readonly (readonly number[])[]): RSquaredResult {
  assert(observations.length === y.length, () => `olsRSquared: ${observations.length} observations but ${y.length} y`);
  const rows = y.length;
  const regressors = observations[0]?.length ?? 0;
  assert(observations.every((row) => row.length === regressors), 'olsRSquared: observations of different lengths');
  if (regressors === 0 || rows < regressors + 1) return { kind: 'not-enough-data' };

  // commons-math decomposes the transpose: qrt[column][row], column 0 the intercept's ones.
  const qrt: number[][] = [new Array<number>(rows).fill(1)];
  for (let column = 0; column < regressors; column++) qrt.push(observations.map((row) => row[column]));
  const rDiag = householderQr(qrt);
  if (rDiag.some((diagonal) => diagonal === 0)) return { kind: 'singular' };

  const beta = solveLeastSquares(qrt, rDiag, y);
  let residualSumOfSquares = 0;
  for (let row = 0; row < rows; row++) {
    // Xβ as Array2DRowRealMatrix.operate sums it: from 0, left to right, the intercept's 1 first.
    const designRow = [1, ...observations[row]];
    let fitted = 0;
    for (let column = 0; column < designRow.length; column++) fitted += designRow[column] * beta[column];
    const residual = y[row] - fitted;
    residualSumOfSquares += residual * residual;
  }
  return { kind: 'ok', rSquared: 1 - residualSumOfSquares / secondMoment(y) };
}

/**
 * commons-math `QRDecomposition` in place on the transposed matrix: returns the
 * diagonal of R and leaves R above it and the Householder vectors in `qrt`.
 */
function householderQr(qrt: number[][]): number[] {
  const columns = qrt.length;
  const rows = qrt[0].length;
  const steps = Math.min(columns, rows);
  const rDiag: number[] = [];
  for (let minor = 0; minor < steps; minor++) {
    const qrtMinor = qrt[minor];
    let xNormSqr = 0;
    for (let row = minor; row < rows; row++) {
      const c = qrtMinor[row];
      xNormSqr += c * c;
    }
    const a = qrtMinor[minor] > 0 ? -Math.sqrt(xNormSqr) : Math.sqrt(xNormSqr);
    rDiag.push(a);
    if (a !== 0) {
      qrtMinor[minor] -= a;
      for (let column = minor + 1; column < columns; column++) {
        const qrtColumn = qrt[column];
        let alpha = 0;
        for (let row = minor; row < rows; row++) alpha -= qrtColumn[row] * qrtMinor[row];
        alpha /= a * qrtMinor[minor];
        for (let row = minor; row < rows; row++) qrtColumn[row] -= alpha * qrtMinor[row];
      }
    }
  }
  return rDiag;
}

/** The QR solver's `solve(b)`: apply Qᵀ to b, then back-substitute through R. */
function solveLeastSquares(qrt: readonly (readonly number[])[], rDiag: readonly number[], b: readonly number[]): number[] {
  const columns = qrt.length;
  const rows = qrt[0].length;
  const y = [...b];
  for (let minor = 0; minor < Math.min(rows, columns); minor++) {
    const qrtMinor = qrt[minor];
    let dotProduct = 0;
    for (let row = minor; row < rows; row++) dotProduct += y[row] * qrtMinor[row];
    dotProduct /= rDiag[minor] * qrtMinor[minor];
    for (let row = minor; row < rows; row++) y[row] += dotProduct * qrtMinor[row];
  }
  const x = new Array<number>(columns).fill(0);
  for (let row = rDiag.length - 1; row >= 0; row--) {
    y[row] /= rDiag[row];
    const yRow = y[row];
    const qrtRow = qrt[row];
    x[row] = yRow;
    for (let i = 0; i < row; i++) y[i] -= yRow * qrtRow[i];
  }
  return x;
}

/** commons-math `SecondMoment`: Σ(y − ȳ)² with the mean updated one value at a time. */
function secondMoment(values: readonly number[]): number {
  let n = 0;
  let m1 = 0;
  let m2 = 0;
  for (const value of values) {
    n++;
    const dev = value - m1;
    const nDev = dev / n;
    m1 += nDev;
    m2 += (n - 1) * dev * nDev;
  }
  return m2;
}
