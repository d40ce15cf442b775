/**
 * CloudSim 3.0.3's host overload tests (`isHostOverUtilized` of the
 * `PowerVmAllocationPolicyMigration*` classes), as `reference/cloudsim.md`
 * section 2 describes them: THR, IQR, MAD, LR and LRR. They decide on a
 * `HostLoad`; `hostLoadFromUtilization` and the `create*` factories also run
 * them in Neat's detector interface on a host's measured utilisation.
 *
 * The statistics reproduce commons-math's arithmetic (median as its 50th
 * percentile, `SimpleRegression` for the lines), so that decisions near a
 * threshold fall the same way as in CloudSim.
 */
import { assert, AssertionError } from '../assert';
import { lastN, percentileCommonsMath } from '../numeric';
import { interquartileRange } from '../overload/statistics';
import type { ParamSpecs, ParamValues } from '../params';
import type { LineEstimates, SimpleRegression } from '../regression';
import {
  simpleRegressionLineAt,
  simpleRegressionOf,
  simpleRegressionPredict,
  simpleRegressionRegress,
} from '../regression';
import { NO_STATE } from '../types';
import type { AlgorithmContext, Detector, NoState } from '../types';
import type { HostLoad, HostOverloadTest } from './types';
import { CLOUDSIM_HISTORY_LENGTH } from './types';

/** The THR policy IQR, MAD, LR and LRR fall back to in CloudSim's PlanetLab experiments. */
export const CLOUDSIM_FALLBACK_THRESHOLD = 0.7;
/** IQR and MAD need this many values up to the last non-zero one ("12 has been suggested as a safe value"). */
export const CLOUDSIM_MIN_NON_ZERO_HISTORY = 12;
/** LR and LRR fit the 10 newest values ("to make the regression responsive enough"). */
export const CLOUDSIM_REGRESSION_WINDOW = 10;

function historyOf(load: HostLoad): readonly number[] {
  const history = load.historyNewestFirst;
  // Every test of a planning passes here: the message (and its closure) is made only on failure.
  if (!(history.length <= CLOUDSIM_HISTORY_LENGTH)) {
    throw new AssertionError(`a CloudSim host history has at most ${CLOUDSIM_HISTORY_LENGTH} values, got ${history.length}`);
  }
  return history;
}

/**
 * `MathUtil.trimZeroTail`: CloudSim's host history drops the zeros after its
 * last non-zero value, so early in a run (or for a host whose oldest values are
 * 0) the tests see a shorter history; that is what makes LR fall back to THR 0.7
 * in the first hour and IQR/MAD work on fewer than 30 values.
 */
export function trimZeroTail(historyNewestFirst: readonly number[]): number[] {
  return historyNewestFirst.slice(0, nonZeroLength(historyNewestFirst));
}

/** The length `trimZeroTail` keeps: up to the last non-zero value. */
export function nonZeroLength(historyNewestFirst: readonly number[]): number {
  let kept = historyNewestFirst.length;
  while (kept > 0 && historyNewestFirst[kept - 1] === 0) kept--;
  return kept;
}

/**
 * `MathUtil.countNonZeroBeginning`: the length of the history up to its last
 * non-zero value; like CloudSim, 1 rather than 0 for an all-zero history
 * (the scan steps past index 0 before it stops). The gate at 12 cannot tell
 * the two apart.
 */
export function countNonZeroBeginning(historyNewestFirst: readonly number[]): number {
  let i = historyNewestFirst.length - 1;
  while (i >= 0) {
    const value = historyNewestFirst[i];
    i--;
    if (value !== 0) break;
  }
  return i + 2;
}

/** `MathUtil.mad`: median(|x − median(x)|), medians as commons-math's 50th percentile. */
export function cloudsimMad(data: readonly number[]): number {
  const median = percentileCommonsMath(data, 50);
  return percentileCommonsMath(data.map((x) => Math.abs(median - x)), 50);
}

/**
 * `MathUtil.getTricubeWeigts(n)`: CloudSim inverts Neat's tricube weights
 * (1/k, or `Double.MAX_VALUE` where k <= 0), so they are never <= 0.
 */
export function cloudsimTricubeWeights(n: number): number[] {
  assert(Number.isInteger(n) && n >= 3, () => `CloudSim's tricube weights need an integer n >= 3, got ${n}`);
  const top = n - 1;
  const weights = new Array<number>(n).fill(0);
  for (let i = 2; i < n; i++) {
    const k = Math.pow(1 - Math.pow((top - i) / top, 3), 3);
    weights[i] = k > 0 ? 1 / k : Number.MAX_VALUE;
  }
  weights[0] = weights[1] = weights[2];
  return weights;
}

/**
 * `MathUtil.getTricubeBisquareWeigts(residuals)`: as above, times 1/k for the
 * bisquare k = (1 − (rᵢ/s6)²)², s6 = 6·median|r|. A weight is 0 only where k
 * overflows to infinity: in practice where s6 is 0 (at least 6 of 10
 * residuals exactly 0) and the residual is not.
 */
export function cloudsimTricubeBisquareWeights(residuals: readonly number[]): number[] {
  const n = residuals.length;
  const tricube = cloudsimTricubeWeights(n);
  const s6 = percentileCommonsMath(residuals.map(Math.abs), 50) * 6;
  const weights = new Array<number>(n).fill(0);
  for (let i = 2; i < n; i++) {
    const k = Math.pow(1 - Math.pow(residuals[i] / s6, 2), 2);
    weights[i] = k > 0 ? (1 / k) * tricube[i] : Number.MAX_VALUE;
  }
  weights[0] = weights[1] = weights[2];
  return weights;
}

/**
 * `MathUtil.createWeigthedLinearRegression`: the weights are applied (as
 * √w·x and √w·y) only when at least 40 % of them are <= 0. CloudSim's weights
 * are positive in all but a contrived case, so this is almost always plain
 * least squares, which is why LR and LRR agree in CloudSim 3.0.3.
 */
function weightedRegression(x: readonly number[], y: readonly number[], weights: readonly number[]): SimpleRegression {
  let nonPositive = 0;
  for (const w of weights) if (w <= 0) nonPositive += 1;
  if (nonPositive < 0.4 * weights.length) return simpleRegressionOf(x, y);
  return simpleRegressionOf(x.map((xi, i) => Math.sqrt(weights[i]) * xi), y.map((yi, i) => Math.sqrt(weights[i]) * yi));
}

/** `regress().getParameterEstimates()` where CloudSim can never get fewer than 3 points. */
function estimatesOf(regression: SimpleRegression): LineEstimates {
  const result = simpleRegressionRegress(regression);
  assert(result.kind === 'ok', () => `CloudSim regresses over ${CLOUDSIM_REGRESSION_WINDOW} points, got ${regression.n}`);
  return result.estimates;
}

function positions(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** x = 1..10 and the tricube weights of CloudSim's regression window, computed once: LR runs them for every host test. */
const WINDOW_POSITIONS: readonly number[] = positions(CLOUDSIM_REGRESSION_WINDOW);
const WINDOW_TRICUBE_WEIGHTS: readonly number[] = cloudsimTricubeWeights(CLOUDSIM_REGRESSION_WINDOW);

function positionsOf(n: number): readonly number[] {
  return n === CLOUDSIM_REGRESSION_WINDOW ? WINDOW_POSITIONS : positions(n);
}

function tricubeWeightsOf(n: number): readonly number[] {
  return n === CLOUDSIM_REGRESSION_WINDOW ? WINDOW_TRICUBE_WEIGHTS : cloudsimTricubeWeights(n);
}

/** `MathUtil.getLoessParameterEstimates(y)`, x = 1..n. */
export function cloudsimLoessEstimates(y: readonly number[]): LineEstimates {
  return estimatesOf(weightedRegression(positionsOf(y.length), y, tricubeWeightsOf(y.length)));
}

/**
 * `cloudsimLoessEstimates` of a full regression window, evaluated at `at`. The
 * window's tricube weights are all positive, so CloudSim fits it by plain least
 * squares, and its x have spread, so the line always has a slope.
 */
function windowLoessAt(oldestFirst: readonly number[], at: number): number {
  return simpleRegressionLineAt(WINDOW_POSITIONS, oldestFirst, at);
}
assert(WINDOW_TRICUBE_WEIGHTS.every((weight) => weight > 0), 'CloudSim applies no weights to its regression window');

function robustLoessAt(oldestFirst: readonly number[], at: number): number {
  const { intercept, slope } = cloudsimRobustLoessEstimates(oldestFirst);
  return intercept + slope * at;
}

/**
 * `MathUtil.getRobustLoessParameterEstimates(y)`: a first fit, residuals, a
 * refit with tricube-bisquare weights. CloudSim 3.0.3 guards the refit with
 * `estimates[0] == Double.NaN`, which is never true, so NaN estimates of the
 * refit are returned as they are.
 */
export function cloudsimRobustLoessEstimates(y: readonly number[]): LineEstimates {
  const x = positionsOf(y.length);
  const first = weightedRegression(x, y, tricubeWeightsOf(y.length));
  const residuals = y.map((yi, i) => yi - simpleRegressionPredict(first, x[i]));
  return estimatesOf(weightedRegression(x, y, cloudsimTricubeBisquareWeights(residuals)));
}

const thresholdFallback: HostOverloadTest = (load) => load.utilization > CLOUDSIM_FALLBACK_THRESHOLD;

export const cloudsimThrParamSpecs = {
  threshold: {
    type: 'number', min: 0, default: 0.8,
    description: 'overloaded when utilisation is > this (strict); CloudSim\'s experiments use 0.8',
  },
} as const satisfies ParamSpecs;

/** THR (`PowerVmAllocationPolicyMigrationStaticThreshold`): a fixed upper threshold. */
export function createCloudsimThrTest(params: ParamValues<typeof cloudsimThrParamSpecs>): HostOverloadTest {
  return (load) => load.utilization > params.threshold;
}

export const cloudsimIqrParamSpecs = {
  safety: {
    type: 'number', min: 0, default: 1.5,
    description: 'safety parameter s in the threshold 1 − s·IQR; CloudSim\'s experiments use 1.5',
  },
} as const satisfies ParamSpecs;

/**
 * IQR (`PowerVmAllocationPolicyMigrationInterQuartileRange`): utilisation above
 * 1 − s·IQR of the history (sorted indices 7 and 22 for 30 values), or THR 0.7
 * until the history reaches 12 values.
 */
export function createCloudsimIqrTest(params: ParamValues<typeof cloudsimIqrParamSpecs>): HostOverloadTest {
  return (load) => {
    const history = historyOf(load);
    if (countNonZeroBeginning(history) < CLOUDSIM_MIN_NON_ZERO_HISTORY) return thresholdFallback(load);
    return load.utilization > 1 - params.safety * interquartileRange(history);
  };
}

export const cloudsimMadParamSpecs = {
  safety: {
    type: 'number', min: 0, default: 2.5,
    description: 'safety parameter s in the threshold 1 − s·MAD; CloudSim\'s experiments use 2.5',
  },
} as const satisfies ParamSpecs;

/**
 * MAD (`PowerVmAllocationPolicyMigrationMedianAbsoluteDeviation`): utilisation
 * above 1 − s·MAD of the history, interior zeros included, or THR 0.7 until the
 * history reaches 12 values.
 */
export function createCloudsimMadTest(params: ParamValues<typeof cloudsimMadParamSpecs>): HostOverloadTest {
  return (load) => {
    const history = historyOf(load);
    if (countNonZeroBeginning(history) < CLOUDSIM_MIN_NON_ZERO_HISTORY) return thresholdFallback(load);
    return load.utilization > 1 - params.safety * cloudsimMad(history);
  };
}

export const cloudsimLrParamSpecs = {
  safety: {
    type: 'number', min: 0, default: 1.2,
    description: 'safety parameter multiplying the predicted utilisation; CloudSim\'s experiments use 1.2',
  },
} as const satisfies ParamSpecs;

export const cloudsimLrrParamSpecs = cloudsimLrParamSpecs;

/** `lineAt(oldestFirst, x)`: the line an estimator fits through the window, evaluated at x. */
function regressionTest(
  lineAt: (oldestFirst: readonly number[], at: number) => number,
  safety: number,
  schedulingIntervalS: number,
): HostOverloadTest {
  assert(schedulingIntervalS > 0, () => `the scheduling interval must be positive, got ${schedulingIntervalS}`);
  // Refilled by each test (estimators keep nothing of their input): placement runs this test
  // on most hosts it considers, and a sliced, reversed copy each time was two arrays of garbage.
  const oldestFirst = new Array<number>(CLOUDSIM_REGRESSION_WINDOW).fill(0);
  return (load) => {
    const history = historyOf(load);
    if (history.length < CLOUDSIM_REGRESSION_WINDOW) return thresholdFallback(load);
    for (let i = 0; i < CLOUDSIM_REGRESSION_WINDOW; i++) oldestFirst[i] = history[CLOUDSIM_REGRESSION_WINDOW - 1 - i];
    const migrationIntervals = Math.ceil(load.maxVmMigrationTimeS / schedulingIntervalS);
    let predictedUtilization = lineAt(oldestFirst, CLOUDSIM_REGRESSION_WINDOW + migrationIntervals);
    predictedUtilization *= safety;
    return predictedUtilization >= 1;
  };
}

/**
 * LR (`PowerVmAllocationPolicyMigrationLocalRegression`): the line through the
 * 10 newest history values, oldest first at x = 1..10, predicted at
 * x = 10 + ⌈max VM migration time / scheduling interval⌉ and multiplied by s;
 * overloaded when that is >= 1; THR 0.7 while the history is shorter than 10.
 */
export function createCloudsimLrTest(
  params: ParamValues<typeof cloudsimLrParamSpecs>,
  schedulingIntervalS: number,
): HostOverloadTest {
  return regressionTest(windowLoessAt, params.safety, schedulingIntervalS);
}

/**
 * LRR (`PowerVmAllocationPolicyMigrationLocalRegressionRobust`): as LR with the
 * robust two-pass fit. Because CloudSim applies weights only when 40 % of them
 * are <= 0, it decides as LR does on all but contrived histories.
 */
export function createCloudsimLrrTest(
  params: ParamValues<typeof cloudsimLrrParamSpecs>,
  schedulingIntervalS: number,
): HostOverloadTest {
  return regressionTest(robustLoessAt, params.safety, schedulingIntervalS);
}

/**
 * A host's own measured utilisation seen as a CloudSim `HostLoad`: the last
 * value is the current utilisation, and the history is the last 30 values,
 * newest first, with trailing zeros trimmed as CloudSim trims them.
 */
export function hostLoadFromUtilization(utilization: readonly number[], maxVmMigrationTimeS: number): HostLoad {
  assert(utilization.length > 0, 'a host load needs at least one utilisation value');
  const historyNewestFirst = trimZeroTail([...lastN(utilization, CLOUDSIM_HISTORY_LENGTH)].reverse());
  return { utilization: utilization.at(-1)!, historyNewestFirst, maxVmMigrationTimeS };
}

function detectorOf(name: string, test: HostOverloadTest, context: AlgorithmContext): Detector<NoState> {
  return {
    name,
    initialState: () => NO_STATE,
    detect: (utilization) => {
      // CloudSim always has a current utilisation; a host with no measurement yet is not overloaded.
      if (utilization.length === 0) return [false, NO_STATE];
      return [test(hostLoadFromUtilization(utilization, context.migrationTimeS)), NO_STATE];
    },
  };
}

export function createCloudsimThrDetector(
  context: AlgorithmContext,
  params: ParamValues<typeof cloudsimThrParamSpecs>,
): Detector<NoState> {
  return detectorOf('cloudsim_thr', createCloudsimThrTest(params), context);
}

export function createCloudsimIqrDetector(
  context: AlgorithmContext,
  params: ParamValues<typeof cloudsimIqrParamSpecs>,
): Detector<NoState> {
  return detectorOf('cloudsim_iqr', createCloudsimIqrTest(params), context);
}

export function createCloudsimMadDetector(
  context: AlgorithmContext,
  params: ParamValues<typeof cloudsimMadParamSpecs>,
): Detector<NoState> {
  return detectorOf('cloudsim_mad', createCloudsimMadTest(params), context);
}

/** LR over Neat's inputs: Neat's migration time, and its time step as the scheduling interval. */
export function createCloudsimLrDetector(
  context: AlgorithmContext,
  params: ParamValues<typeof cloudsimLrParamSpecs>,
): Detector<NoState> {
  return detectorOf('cloudsim_lr', createCloudsimLrTest(params, context.timeStepS), context);
}

export function createCloudsimLrrDetector(
  context: AlgorithmContext,
  params: ParamValues<typeof cloudsimLrrParamSpecs>,
): Detector<NoState> {
  return detectorOf('cloudsim_lrr', createCloudsimLrrTest(params, context.timeStepS), context);
}
