import fc from 'fast-check';
import { InvalidParameterError, parseParams } from '../../src/engine/params';
import {
  createIqrThreshold,
  createLoess,
  createLoessRobust,
  createMadThreshold,
  interquartileRange,
  iqrThresholdParamSpecs,
  loessEstimates,
  loessParamSpecs,
  loessRobustEstimates,
  madThresholdParamSpecs,
  medianAbsoluteDeviation,
  tricubeBisquareWeights,
  tricubeWeights,
  utilizationThresholdOverloaded,
} from '../../src/engine/overload/statistics';
import type { AlgorithmContext, Detector } from '../../src/engine/types';

/** Neat's factory tests use time_step 300 and migration_time 20. */
const NEAT_CONTEXT: AlgorithmContext = { timeStepS: 300, migrationTimeS: 20 };
/** Neat's direct loess() tests pass a normalised migration time of 0.5 steps. */
const HALF_STEP_CONTEXT: AlgorithmContext = { timeStepS: 300, migrationTimeS: 150 };

const NEAT_DATA = [2, 4, 7, -20, 22, -1, 0, -1, 7, 15, 8, 4, -4, 11, 11, 12, 3, 12, 18, 1];
const ENDS_HIGH = [1.05, 1.09, 1.07, 1.12, 1.02, 1.18, 1.15, 1.04, 1.10, 1.16, 1.08];
const ENDS_LOW = [0.55, 0.60, 0.62, 0.59, 0.67, 0.73, 0.85, 0.97, 0.73, 0.68, 0.69, 0.52, 0.51, 0.55, 0.48, 0.46,
  0.52, 0.55, 0.58, 0.65, 0.70];

function decide(detector: Detector<Record<string, never>>, utilization: readonly number[]): boolean {
  const [result, state] = detector.detect(utilization, detector.initialState());
  expect(state).toEqual({});
  return result;
}

/** Neat's tests compare to 2 places; its three-digit values are truncated, so allow 1e-3. */
function expectEach(values: readonly number[], expected: readonly number[]): void {
  expect(values).toHaveLength(expected.length);
  values.forEach((value, i) => { expect(Math.abs(value - expected[i])).toBeLessThan(1e-3); });
}

describe('tricube weights', () => {
  it('match Neat\'s test values', () => {
    expectEach(tricubeWeights(5), [0.669, 0.669, 0.669, 0.954, 1.0]);
    expectEach(tricubeWeights(10), [0.148, 0.148, 0.148, 0.348, 0.568, 0.759, 0.892, 0.967, 0.996, 1.0]);
  });

  it('are all ones for n = 3, so a 3-point Loess is plain least squares', () => {
    expect(tricubeWeights(3)).toEqual([1, 1, 1]);
  });

  it('need n >= 3 (Neat fails with an index error below)', () => {
    expect(() => tricubeWeights(2)).toThrow('n >= 3');
  });

  it('tricube-bisquare weights match Neat\'s test values', () => {
    expectEach(tricubeBisquareWeights([1, 1, 2, 2, 4, 6, 9])!, [0.329, 0.329, 0.329, 0.633, 0.705, 0.554, 0.191]);
  });

  it('tricube-bisquare weights are null where Neat would divide by s6 = 0', () => {
    expect(tricubeBisquareWeights([0, 0, 0, 0.1, 0.2])).toBeNull();
  });
});

describe('Loess estimates (Neat\'s 20-point data)', () => {
  it('LR: a = 2.2639, b = 0.3724, within 1e-6 of scipy\'s leastsq', () => {
    const { intercept, slope } = loessEstimates(NEAT_DATA);
    expect(intercept).toBeCloseTo(2.2639, 3);
    expect(slope).toBeCloseTo(0.3724, 3);
    expect(Math.abs(intercept - 2.2639723900815545)).toBeLessThan(1e-6);
    expect(Math.abs(slope - 0.37241229694877187)).toBeLessThan(1e-6);
  });

  it('LRR: a = 2.4547, b = 0.3901, within 1e-6 of scipy\'s leastsq', () => {
    const { intercept, slope } = loessRobustEstimates(NEAT_DATA);
    expect(intercept).toBeCloseTo(2.4547, 3);
    expect(slope).toBeCloseTo(0.3901, 3);
    expect(Math.abs(intercept - 2.4547231744780476)).toBeLessThan(1e-6);
    expect(Math.abs(slope - 0.3901297135668273)).toBeLessThan(1e-6);
  });

  it('fix of Neat bug 13: LRR returns the first fit when s6 = 6·median|r| is 0, where Neat divides by zero', () => {
    // A straight line: every residual of the first fit is exactly 0.
    const line = [0.25, 0.5, 0.75, 1, 1.25];
    const first = loessEstimates(line);
    expect(first).toEqual({ intercept: 0, slope: 0.25 });
    expect(tricubeBisquareWeights(line.map((y, i) => y - (first.intercept + first.slope * (i + 1))))).toBeNull();
    expect(loessRobustEstimates(line)).toEqual(first);
    // Constant data as well, and the detector decides instead of crashing.
    const flat = [0.5, 0.5, 0.5, 0.5, 0.5];
    expect(loessRobustEstimates(flat)).toEqual({ intercept: 0.5, slope: 0 });
    const detector = createLoessRobust(NEAT_CONTEXT, { threshold: 0.5, param: 1.2, length: 5 });
    expect(decide(detector, flat)).toBe(true);
  });
});

describe('loess and loess_robust detectors (Neat\'s decisions: threshold 1.0, param 1.2, length 3)', () => {
  const params = { threshold: 1.0, param: 1.2, length: 3 };
  describe.each([
    ['loess', createLoess],
    ['loess_robust', createLoessRobust],
  ] as const)('%s', (name, create) => {
    it.each([
      ['m = 20/300 (factory test)', NEAT_CONTEXT],
      ['m = 0.5 (direct test)', HALF_STEP_CONTEXT],
    ])('%s', (_label, context) => {
      const detector = create(context, params);
      expect(detector.name).toBe(name);
      expect(decide(detector, [])).toBe(false);
      expect(decide(detector, ENDS_HIGH)).toBe(true);
      expect(decide(detector, ENDS_LOW)).toBe(false);
    });
  });

  it('decide "no" while the history is shorter than length', () => {
    const detector = createLoess(NEAT_CONTEXT, { threshold: 0.1, param: 1, length: 5 });
    expect(decide(detector, [0.9, 0.9, 0.9, 0.9])).toBe(false);
    expect(decide(detector, [0.9, 0.9, 0.9, 0.9, 0.9])).toBe(true);
  });

  it('take threshold, param and length as required parameters, length an integer >= 3', () => {
    expect(parseParams('loess', loessParamSpecs, { threshold: 0.8, param: 1, length: 30 }))
      .toEqual({ threshold: 0.8, param: 1, length: 30 });
    expect(() => parseParams('loess', loessParamSpecs, { threshold: 0.8, param: 1, length: 2 }))
      .toThrow(InvalidParameterError);
    expect(() => parseParams('loess', loessParamSpecs, { threshold: 0.8, param: 1, length: 3.5 }))
      .toThrow(InvalidParameterError);
    expect(() => parseParams('loess', loessParamSpecs, { threshold: 0.8, param: 1 })).toThrow('missing parameter "length"');
    expect(() => parseParams('loess', loessParamSpecs, {})).toThrow(InvalidParameterError);
  });
});

describe('MAD and IQR', () => {
  it('MAD([1,1,2,2,4,6,9]) = 1, with numpy\'s median', () => {
    expect(medianAbsoluteDeviation([1, 1, 2, 2, 4, 6, 9])).toBe(1);
    expect(medianAbsoluteDeviation([1, 2, 3, 4])).toBe(1);
  });

  it('IQR matches Neat\'s test values', () => {
    expect(interquartileRange([105, 109, 107, 112, 102, 118, 115, 104, 110, 116, 108])).toBe(10);
    expect(interquartileRange([2, 4, 7, -20, 22, -1, 0, -1, 7, 15, 8, 4, -4, 11, 11, 12, 3, 12, 18, 1])).toBe(12);
  });

  it('IQR rounds quartile positions half away from zero, as Python 2 does', () => {
    // n + 1 = 6: 0.25·6 = 1.5 rounds to 2 (index 1), 0.75·6 = 4.5 rounds to 5 (index 4).
    expect(interquartileRange([10, 20, 30, 40, 50])).toBe(30);
  });
});

describe('mad_threshold and iqr_threshold', () => {
  it('the threshold rule with the statistic fixed at 0.125 (Neat mocks mad/iqr so)', () => {
    const threshold = (): number => 1 - 1.6 * 0.125;
    expect(utilizationThresholdOverloaded(() => 1 - 0.125, 3, [])).toBe(false);
    expect(utilizationThresholdOverloaded(() => 1 - 0.125, 3, [0, 0, 0])).toBe(false);
    expect(utilizationThresholdOverloaded(threshold, 3, [0, 0, 0.5])).toBe(false);
    expect(utilizationThresholdOverloaded(threshold, 3, [0, 0, 0.6])).toBe(false);
    expect(utilizationThresholdOverloaded(threshold, 3, [0, 0, 0.8])).toBe(true);
    expect(utilizationThresholdOverloaded(threshold, 3, [0, 0, 0.9])).toBe(true);
    expect(utilizationThresholdOverloaded(threshold, 3, [0, 0, 1.0])).toBe(true);
  });

  it('the threshold rule as Neat\'s test_utilization_threshold_abstract has it', () => {
    const f = (): number => 0.8;
    expect(utilizationThresholdOverloaded(f, 3, [])).toBe(false);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0])).toBe(false);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 1.0])).toBe(true);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0, 0])).toBe(false);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0, 0.5])).toBe(false);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0, 0.7])).toBe(false);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0, 0.8])).toBe(true);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0, 0.9])).toBe(true);
    expect(utilizationThresholdOverloaded(f, 3, [0, 0, 0, 1.0])).toBe(true);
  });

  it('Neat\'s decisions (s = 1.6, limit 3) on data whose MAD is exactly 0.125', () => {
    const detector = createMadThreshold(NEAT_CONTEXT, { threshold: 1.6, limit: 3 });
    expect(detector.name).toBe('mad_threshold');
    const below = [0.6 - 0.125, 1.1, 0.6];
    const at = [0.8 - 0.125, 1.3, 0.8];
    expect(medianAbsoluteDeviation(below)).toBe(0.125);
    expect(medianAbsoluteDeviation(at)).toBe(0.125);
    expect(decide(detector, [])).toBe(false);
    expect(decide(detector, below)).toBe(false);
    expect(decide(detector, at)).toBe(true);
  });

  it('Neat\'s decisions (s = 1.6, limit 3) on data whose IQR is exactly 0.125', () => {
    const detector = createIqrThreshold(NEAT_CONTEXT, { threshold: 1.6, limit: 3 });
    expect(detector.name).toBe('iqr_threshold');
    const below = [0.6 - 0.125, 0.5, 0.6];
    const at = [0.8 - 0.125, 0.7, 0.8];
    expect(interquartileRange(below)).toBe(0.125);
    expect(interquartileRange(at)).toBe(0.125);
    expect(decide(detector, [])).toBe(false);
    expect(decide(detector, below)).toBe(false);
    expect(decide(detector, at)).toBe(true);
  });

  it('decide "no" below limit, and IQR on a single value, where Neat raises IndexError', () => {
    expect(decide(createMadThreshold(NEAT_CONTEXT, { threshold: 1, limit: 4 }), [0, 0, 2])).toBe(false);
    expect(decide(createMadThreshold(NEAT_CONTEXT, { threshold: 1, limit: 1 }), [2])).toBe(true);
    expect(decide(createIqrThreshold(NEAT_CONTEXT, { threshold: 1, limit: 1 }), [2])).toBe(false);
    expect(decide(createIqrThreshold(NEAT_CONTEXT, { threshold: 1, limit: 1 }), [2, 2])).toBe(true);
  });

  it('take "threshold" (the safety parameter) and "limit" (an integer >= 1), both required', () => {
    for (const specs of [madThresholdParamSpecs, iqrThresholdParamSpecs]) {
      expect(parseParams('x', specs, { threshold: 1.6, limit: 3 })).toEqual({ threshold: 1.6, limit: 3 });
      expect(() => parseParams('x', specs, { threshold: 1.6, limit: 0 })).toThrow(InvalidParameterError);
      expect(() => parseParams('x', specs, { limit: 3 })).toThrow('missing parameter "threshold"');
    }
  });
});

describe('properties of the four detectors', () => {
  const detectorArb = fc.oneof(
    fc.record({ threshold: fc.double({ min: 0, max: 2, noNaN: true }), param: fc.double({ min: 0, max: 3, noNaN: true }),
      length: fc.integer({ min: 3, max: 40 }) }).chain((p) =>
      fc.constantFrom(createLoess(NEAT_CONTEXT, p), createLoessRobust(HALF_STEP_CONTEXT, p))),
    fc.record({ threshold: fc.double({ min: 0, max: 3, noNaN: true }), limit: fc.integer({ min: 1, max: 40 }) })
      .chain((p) => fc.constantFrom(createMadThreshold(NEAT_CONTEXT, p), createIqrThreshold(NEAT_CONTEXT, p))),
  );

  it('never throw on finite histories in [0, 2] and are deterministic', () => {
    fc.assert(fc.property(detectorArb, fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 120 }),
      (detector, utilization) => {
        const first = decide(detector, utilization);
        return typeof first === 'boolean' && decide(detector, utilization) === first;
      }));
  });

  it('never throw on any finite history, however large or negative its values', () => {
    fc.assert(fc.property(detectorArb,
      fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 120 }),
      (detector, utilization) => typeof decide(detector, utilization) === 'boolean'));
  });
});
