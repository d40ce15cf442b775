import fc from 'fast-check';
import {
  cloudsimIqrParamSpecs,
  cloudsimLoessEstimates,
  cloudsimLrParamSpecs,
  cloudsimLrrParamSpecs,
  cloudsimMad,
  cloudsimMadParamSpecs,
  cloudsimRobustLoessEstimates,
  cloudsimThrParamSpecs,
  cloudsimTricubeBisquareWeights,
  cloudsimTricubeWeights,
  countNonZeroBeginning,
  createCloudsimIqrDetector,
  createCloudsimIqrTest,
  createCloudsimLrDetector,
  createCloudsimLrrDetector,
  createCloudsimLrrTest,
  createCloudsimLrTest,
  createCloudsimMadDetector,
  createCloudsimMadTest,
  createCloudsimThrDetector,
  createCloudsimThrTest,
  hostLoadFromUtilization,
  trimZeroTail,
} from '../../src/engine/cloudsim/detectors';
import type { HostLoad } from '../../src/engine/cloudsim/types';
import { interquartileRange } from '../../src/engine/overload/statistics';
import { parseParams } from '../../src/engine/params';
import type { AlgorithmContext, Detector } from '../../src/engine/types';

const SCHEDULING_INTERVAL_S = 300;
/** 1740 MB of RAM over half of 1 Gbit/s, CloudSim's largest VM: ⌈27.84 / 300⌉ = 1 interval. */
const MIGRATION_1740_MB_S = 1740 / 62.5;

/** A host history, newest first, 30 values (a steady climb). */
const CLIMB = [0.82, 0.79, 0.85, 0.77, 0.74, 0.7, 0.72, 0.69, 0.66, 0.61, 0.64, 0.6, 0.58, 0.62, 0.55, 0.57, 0.53, 0.5,
  0.52, 0.48, 0.51, 0.47, 0.45, 0.49, 0.44, 0.46, 0.42, 0.4, 0.43, 0.41];

function withZeros(nonZeroNewestFirst: readonly number[]): number[] {
  return [...nonZeroNewestFirst, ...new Array<number>(30 - nonZeroNewestFirst.length).fill(0)];
}

/** What CloudSim's host hands its tests early in a run: only the values it has, trailing zeros trimmed. */
function early(valuesNewestFirst: readonly number[]): number[] {
  return trimZeroTail(withZeros(valuesNewestFirst));
}

function load(utilization: number, historyNewestFirst: readonly number[], maxVmMigrationTimeS = MIGRATION_1740_MB_S):
HostLoad {
  return { utilization, historyNewestFirst, maxVmMigrationTimeS };
}

function decide(detector: Detector<Record<string, never>>, utilization: readonly number[]): boolean {
  const [result, state] = detector.detect(utilization, detector.initialState());
  expect(state).toEqual({});
  return result;
}

describe('THR', () => {
  it('is over-utilised strictly above the threshold', () => {
    const test = createCloudsimThrTest({ threshold: 0.8 });
    expect(test(load(0.8, CLIMB))).toBe(false);
    expect(test(load(0.8000001, CLIMB))).toBe(true);
  });
});

describe('countNonZeroBeginning', () => {
  it('is the length up to the last non-zero value, and 1 for all zeros as in CloudSim', () => {
    expect(countNonZeroBeginning(CLIMB)).toBe(30);
    expect(countNonZeroBeginning(withZeros(CLIMB.slice(0, 12)))).toBe(12);
    expect(countNonZeroBeginning([0.5, 0, 0.3, 0, 0])).toBe(3);
    expect(countNonZeroBeginning(withZeros([]))).toBe(1);
    expect(countNonZeroBeginning([0.2])).toBe(1);
  });
});

describe('IQR', () => {
  const test = createCloudsimIqrTest({ safety: 1.5 });

  it('compares utilisation with 1 − s·IQR of the 30 values (sorted indices 7 and 22)', () => {
    // commons-math/CloudSim give IQR 0.21999999999999997 for this history.
    expect(interquartileRange(CLIMB)).toBe(0.21999999999999997);
    const sorted = [...CLIMB].sort((a, b) => a - b);
    expect(interquartileRange(CLIMB)).toBe(sorted[22] - sorted[7]);
    const threshold = 1 - 1.5 * 0.21999999999999997;
    expect(test(load(threshold, CLIMB))).toBe(false);
    expect(test(load(threshold + 1e-9, CLIMB))).toBe(true);
  });

  it('falls back to THR 0.7 until the history reaches 12 values, then uses the values it has', () => {
    const eleven = early(CLIMB.slice(0, 11));
    const twelve = early(CLIMB.slice(0, 12));
    expect(eleven).toHaveLength(11);
    expect(test(load(0.5, eleven))).toBe(false);
    expect(test(load(0.71, eleven))).toBe(true);
    // 12 values: sorted indices round(0.25 × 13) − 1 = 2 and round(0.75 × 13) − 1 = 9.
    const sorted = [...twelve].sort((a, b) => a - b);
    expect(interquartileRange(twelve)).toBe(sorted[9] - sorted[2]);
    const threshold = 1 - 1.5 * (sorted[9] - sorted[2]);
    expect(test(load(threshold, twelve))).toBe(false);
    expect(test(load(threshold + 1e-9, twelve))).toBe(true);
  });

  it('counts interior zeros in: only the trailing ones are trimmed', () => {
    const gappy = [...CLIMB.slice(0, 6), 0, 0, 0, 0, 0, 0, ...CLIMB.slice(12, 20)];
    expect(trimZeroTail(gappy)).toEqual(gappy);
    expect(countNonZeroBeginning(gappy)).toBe(20);
    // Six zeros among 20 values pull sorted[4] to 0: IQR = sorted[15] − 0, threshold far below 0.7.
    const sorted = [...gappy].sort((a, b) => a - b);
    expect(interquartileRange(gappy)).toBe(sorted[15] - sorted[4]);
    expect(test(load(0.5, gappy))).toBe(true);
  });

  it('takes at most 30 history values', () => {
    expect(() => test(load(0.5, [...CLIMB, 0.5]))).toThrow('at most 30 values');
  });
});

describe('MAD', () => {
  const test = createCloudsimMadTest({ safety: 2.5 });

  it('uses commons-math\'s median (its 50th percentile)', () => {
    // commons-math/CloudSim give median 0.56 and MAD 0.1 for this history.
    expect(cloudsimMad(CLIMB)).toBe(0.1);
    expect(test(load(0.75, CLIMB))).toBe(false);
    expect(test(load(0.7500001, CLIMB))).toBe(true);
  });

  it('falls back to THR 0.7 below 12 values, and counts interior zeros in', () => {
    expect(test(load(0.75, early(CLIMB.slice(0, 11))))).toBe(true);
    expect(test(load(0.65, early(CLIMB.slice(0, 11))))).toBe(false);
    // 12 of 20 values are 0: median 0 and MAD 0, so the threshold is 1.
    const mostlyIdle = [...new Array<number>(12).fill(0), ...CLIMB.slice(0, 8)];
    expect(cloudsimMad(mostlyIdle)).toBe(0);
    expect(test(load(1, mostlyIdle))).toBe(false);
    expect(test(load(1.01, mostlyIdle))).toBe(true);
  });
});

describe('LR and LRR', () => {
  const lr = createCloudsimLrTest({ safety: 1.2 }, SCHEDULING_INTERVAL_S);
  const lrr = createCloudsimLrrTest({ safety: 1.2 }, SCHEDULING_INTERVAL_S);

  it('fit the 10 newest values, oldest first, as Java does bit for bit', () => {
    const window = CLIMB.slice(0, 10).reverse();
    // commons-math's SimpleRegression via CloudSim's MathUtil prints these for the window.
    const expected = { intercept: 0.6086666666666667, slope: 0.02296969696969698 };
    expect(cloudsimLoessEstimates(window)).toEqual(expected);
    expect(cloudsimRobustLoessEstimates(window)).toEqual(expected);
  });

  it('predict at x = 10 + ⌈max migration time / interval⌉ and compare s × prediction with 1', () => {
    // 0.60866… + 0.02297… × 11 = 0.8613…: × 1.2 = 1.034 (over), × 1.1 = 0.947 (not).
    expect(lr(load(0.1, CLIMB))).toBe(true);
    expect(createCloudsimLrTest({ safety: 1.1 }, SCHEDULING_INTERVAL_S)(load(0.1, CLIMB))).toBe(false);
    // A migration of 301 s takes 2 intervals: at x = 12, 1.15 × 0.8843 = 1.017 (over); without one, at x = 10,
    // 1.15 × 0.8384 = 0.964 (not).
    expect(createCloudsimLrTest({ safety: 1.15 }, SCHEDULING_INTERVAL_S)(load(0.1, CLIMB, 301))).toBe(true);
    expect(createCloudsimLrTest({ safety: 1.15 }, SCHEDULING_INTERVAL_S)(load(0.1, CLIMB, 0))).toBe(false);
  });

  it('fall back to THR 0.7 while the trimmed history is shorter than 10 values', () => {
    const firstHour = early([0.9, 0.9, 0.9]);
    expect(firstHour).toHaveLength(3);
    expect(lr(load(0.5, firstHour))).toBe(false);
    expect(lr(load(0.71, firstHour))).toBe(true);
    expect(lrr(load(0.71, firstHour))).toBe(true);
  });

  it('regress over interior zeros once 10 values are there', () => {
    // Three values of 0.9 after seven zeros: a steep line predicting 0.91 at x = 11, so 1.2 × 0.91 >= 1,
    // although the current utilisation (0.5) is below THR 0.7.
    const gappy = [0.9, 0.9, 0.9, 0, 0, 0, 0, 0, 0, 0, 0.1];
    expect(lr(load(0.5, gappy))).toBe(true);
    expect(lrr(load(0.5, gappy))).toBe(true);
  });

  it('CloudSim\'s tricube weights are inverted and positive, so they are never applied', () => {
    const weights = cloudsimTricubeWeights(10);
    expect(weights[9]).toBe(1);
    expect(weights[0]).toBe(weights[2]);
    expect(weights.every((w) => w >= 1)).toBe(true);
  });

  it('LRR agrees with LR on random histories (CloudSim 3.0.3\'s quirk, from the 40 % rule)', () => {
    fc.assert(fc.property(
      fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 30, maxLength: 30 }),
      fc.double({ min: 0, max: 2, noNaN: true }),
      (history, utilization) => {
        const window = history.slice(0, 10).reverse();
        const a = cloudsimLoessEstimates(window);
        const b = cloudsimRobustLoessEstimates(window);
        return Object.is(a.intercept, b.intercept) && Object.is(a.slope, b.slope)
          && lr(load(utilization, history)) === lrr(load(utilization, history));
      },
    ));
  });

  it('the one way LRR parts from LR in 3.0.3: >= 6 exact residuals make >= 40 % of the robust weights 0', () => {
    // Flat at 1 with a symmetric ±0.25 dip at the newest end: the first fit is exactly y = 1 at six points,
    // so s6 = 0, the four other residuals get weight 1/∞ = 0, the weights are applied, √MAX_VALUE·x
    // overflows and the estimates are NaN; 3.0.3 tests `estimates[0] == Double.NaN`, never true, and keeps
    // them. Java prints a = 1.0, b = -5.382899513334092E-18 for LR and NaN, NaN for LRR here.
    const oldestFirst = [1, 1, 1, 1, 1, 1, 1.25, 0.75, 0.75, 1.25];
    const bisquare = cloudsimTricubeBisquareWeights(oldestFirst.map((y) => y - 1));
    expect(bisquare.filter((w) => w <= 0)).toHaveLength(4);
    expect(cloudsimLoessEstimates(oldestFirst)).toEqual({ intercept: 1, slope: -5.382899513334092e-18 });
    const robust = cloudsimRobustLoessEstimates(oldestFirst);
    expect(robust.intercept).toBeNaN();
    expect(robust.slope).toBeNaN();
    const history = [...oldestFirst].reverse().concat(new Array<number>(20).fill(1));
    expect(lr(load(0.5, history))).toBe(true);
    expect(lrr(load(0.5, history))).toBe(false);
  });
});

describe('parameters', () => {
  it('default to the values of CloudSim\'s PlanetLab experiments', () => {
    expect(parseParams('cloudsim_thr', cloudsimThrParamSpecs, {})).toEqual({ threshold: 0.8 });
    expect(parseParams('cloudsim_iqr', cloudsimIqrParamSpecs, {})).toEqual({ safety: 1.5 });
    expect(parseParams('cloudsim_mad', cloudsimMadParamSpecs, {})).toEqual({ safety: 2.5 });
    expect(parseParams('cloudsim_lr', cloudsimLrParamSpecs, {})).toEqual({ safety: 1.2 });
    expect(parseParams('cloudsim_lrr', cloudsimLrrParamSpecs, {})).toEqual({ safety: 1.2 });
  });

  it('reject a negative safety parameter, as CloudSim does', () => {
    expect(() => parseParams('cloudsim_iqr', cloudsimIqrParamSpecs, { safety: -1 })).toThrow('safety');
  });
});

describe('the Detector adapters', () => {
  const context: AlgorithmContext = { timeStepS: 300, migrationTimeS: 20 };

  it('hostLoadFromUtilization: last value now, last 30 values newest first, trailing zeros trimmed', () => {
    expect(hostLoadFromUtilization([0.1, 0.2, 0.3], 20)).toEqual({
      utilization: 0.3, historyNewestFirst: [0.3, 0.2, 0.1], maxVmMigrationTimeS: 20,
    });
    expect(hostLoadFromUtilization([0, 0, 0.1, 0, 0.2], 20).historyNewestFirst).toEqual([0.2, 0, 0.1]);
    const long = Array.from({ length: 40 }, (_, i) => i / 40);
    const built = hostLoadFromUtilization(long, 20);
    expect(built.historyNewestFirst).toEqual(long.slice(10).reverse());
    expect(built.utilization).toBe(39 / 40);
  });

  it('are named as the registry knows them and decide as the host tests do', () => {
    const detectors = [
      [createCloudsimThrDetector(context, { threshold: 0.8 }), 'cloudsim_thr', createCloudsimThrTest({ threshold: 0.8 })],
      [createCloudsimIqrDetector(context, { safety: 1.5 }), 'cloudsim_iqr', createCloudsimIqrTest({ safety: 1.5 })],
      [createCloudsimMadDetector(context, { safety: 2.5 }), 'cloudsim_mad', createCloudsimMadTest({ safety: 2.5 })],
      [createCloudsimLrDetector(context, { safety: 1.2 }), 'cloudsim_lr', createCloudsimLrTest({ safety: 1.2 }, 300)],
      [createCloudsimLrrDetector(context, { safety: 1.2 }), 'cloudsim_lrr', createCloudsimLrrTest({ safety: 1.2 }, 300)],
    ] as const;
    const utilization = [...CLIMB].reverse();
    for (const [detector, name, test] of detectors) {
      expect(detector.name).toBe(name);
      expect(decide(detector, [])).toBe(false);
      expect(decide(detector, utilization)).toBe(test(hostLoadFromUtilization(utilization, 20)));
    }
    expect(decide(detectors[3][0], utilization)).toBe(true);
  });

  it('never throw on finite histories and are deterministic', () => {
    const detectorArb = fc.double({ min: 0, max: 3, noNaN: true }).chain((value) => fc.constantFrom(
      createCloudsimThrDetector(context, { threshold: value }),
      createCloudsimIqrDetector(context, { safety: value }),
      createCloudsimMadDetector(context, { safety: value }),
      createCloudsimLrDetector(context, { safety: value }),
      createCloudsimLrrDetector({ timeStepS: 60, migrationTimeS: 400 }, { safety: value }),
    ));
    fc.assert(fc.property(detectorArb, fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 120 }),
      (detector, utilization) => {
        const first = decide(detector, utilization);
        return typeof first === 'boolean' && decide(detector, utilization) === first;
      }));
    fc.assert(fc.property(detectorArb, fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 120 }),
      (detector, utilization) => typeof decide(detector, utilization) === 'boolean'));
  });
});
