import { lFunctions } from '../../src/engine/overload/mhod/lFunctions';
import { nlpConstraint } from '../../src/engine/overload/mhod/bruteforce';
import { estimateTransitions, type MultisizeEstimate } from '../../src/engine/overload/mhod/estimation';
import {
  createMhod,
  mhodParamSpecs,
  stateVector,
  utilizationToState,
  type MhodState,
} from '../../src/engine/overload/mhod/mhod';
import { parseParams } from '../../src/engine/params';
import {
  afterCall1,
  afterCall33,
  afterCall44,
  realDataContext,
  realDataParams,
  steps,
  utilization,
} from './fixtures/mhodRealData';

const params = parseParams('mhod', mhodParamSpecs, realDataParams);

/**
 * Neat compares floats on 7 digits; the fixture values carry full precision, so
 * we hold every value to a relative 1e-7, which is at least as strict.
 */
function expectSignificant(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'number') {
    expect(typeof actual).toBe('number');
    const value = actual as number;
    if (Math.abs(value - expected) > 1e-7 * Math.abs(expected)) {
      throw new Error(`${path}: expected ${expected} to 7 significant digits, got ${value}`);
    }
    return;
  }
  expect(Array.isArray(actual)).toBe(true);
  const list = actual as readonly unknown[];
  const expectedList = expected as readonly unknown[];
  expect(list).toHaveLength(expectedList.length);
  expectedList.forEach((item, i) => {
    expectSignificant(list[i], item, `${path}[${i}]`);
  });
}

function internalsAfter(call: number): MultisizeEstimate {
  const states = utilization.slice(0, call).map((u) => utilizationToState(params.state_config, u));
  return estimateTransitions(states, params.state_config.length + 1, params.window_sizes);
}

/** Feeds the growing history call by call, as Neat's test does. */
function replay(context: { timeStepS: number; migrationTimeS: number }): [boolean, MhodState][] {
  const detector = createMhod(context, params);
  let state = detector.initialState();
  return steps.map((_, k) => {
    const [decision, next] = detector.detect(utilization.slice(0, k + 1), state);
    state = next;
    return [decision, next];
  });
}

describe('MHOD on Neat\'s real-data regression (test_core_real_data.py)', () => {
  const results = replay(realDataContext);

  it('returns false on calls 1–43 and true on call 44', () => {
    expect(results.map(([decision]) => decision)).toEqual([...new Array<boolean>(43).fill(false), true]);
  });

  it.each(steps.map((expected, k) => [k + 1, expected] as const))(
    'matches Neat\'s state after call %i', (call, expected) => {
      const [decision, state] = results[call - 1];
      expect(decision).toBe(expected.decision);
      expect(state.previousState).toBe(expected.previousState);
      expect(state.selectedWindows).toEqual(expected.selectedWindows);
      expectSignificant(state.p, expected.p, 'p');
      expect(state.timeInStates).toBe(call);
      if (expected.timeInStateN !== undefined) expect(state.timeInStateN).toBe(expected.timeInStateN);
      if (expected.policy !== undefined) expectSignificant(state.policy, expected.policy, 'policy');
    });

  it('matches calls 43 and 44 as the reference states them (7 decimal places)', () => {
    const expectP = (p: MhodState['p'], expected: number[][]): void => {
      expected.forEach((row, i) => {
        row.forEach((value, j) => {
          expect(p?.[i][j]).toBeCloseTo(value, 7);
        });
      });
    };
    const [decision43, state43] = results[42];
    expect(decision43).toBe(false);
    expectP(state43.p, [[0.8, 0.2], [0.1666667, 0.0333333]]);
    expect([state43.timeInStates, state43.timeInStateN]).toEqual([43, 7]);
    expect(state43.policy).toEqual([0.0, 0.0]);
    const [decision44, state44] = results[43];
    expect(decision44).toBe(true);
    expectP(state44.p, [[0.8, 0.2], [0.1666667, 0.0666667]]);
    expect([state44.timeInStates, state44.timeInStateN]).toEqual([44, 8]);
    expect(state44.policy).toEqual([]);
  });

  it('matches Neat\'s internal structures after call 1', () => {
    const estimate = internalsAfter(1);
    expect(estimate.requestWindows).toEqual(afterCall1.requestWindows);
    expectSignificant(estimate.estimateWindows, afterCall1.estimateWindows, 'estimateWindows');
    expectSignificant(estimate.variances, afterCall1.variances, 'variances');
    expectSignificant(estimate.acceptableVariances, afterCall1.acceptableVariances, 'acceptableVariances');
  });

  it('matches Neat\'s first non-trivial variances (call 33)', () => {
    const estimate = internalsAfter(33);
    expectSignificant(estimate.variances, afterCall33.variances, 'variances');
    expectSignificant(estimate.acceptableVariances, afterCall33.acceptableVariances, 'acceptableVariances');
  });

  it('matches Neat\'s internal structures after call 44', () => {
    const estimate = internalsAfter(44);
    expect(estimate.requestWindows).toEqual(afterCall44.requestWindows);
    expectSignificant(estimate.variances, afterCall44.variances, 'variances');
    expectSignificant(estimate.acceptableVariances, afterCall44.acceptableVariances, 'acceptableVariances');
    const windows = params.window_sizes;
    expectSignificant(estimate.estimateWindows[1].map((byWindow) => byWindow[windows.indexOf(30)]),
      afterCall44.estimatesFromState1.window30, 'estimates from state 1, window 30');
    expectSignificant(estimate.estimateWindows[1].map((byWindow) => byWindow[windows.indexOf(100)]),
      afterCall44.estimatesFromState1.window100, 'estimates from state 1, window 100');
  });

  it('finds every grid point of call 44 just above the OTF bound (constraint ≈ 0.201)', () => {
    const p = results[43][1].p ?? [];
    for (const m0 of [0, 0.5, 1]) {
      for (const m1 of [0, 0.5, 1]) {
        const ls = lFunctions(stateVector(1, 2), p, [m0, m1]);
        if (ls === null) continue;
        const constraint = nlpConstraint(ls, 20 / 300, 44, 8) ?? NaN;
        expect(constraint).toBeGreaterThan(0.2);
        expect(constraint).toBeLessThan(0.202);
      }
    }
  });

  it('normalises the migration time by the time step', () => {
    const policyAt43 = (context: { timeStepS: number; migrationTimeS: number }): [boolean, readonly number[] | null] => {
      const [decision, state] = replay(context)[42];
      return [decision, state.policy];
    };
    expect(policyAt43({ timeStepS: 3000, migrationTimeS: 200 })).toEqual([false, [0, 0]]);
    // A migration lasting 200 steps would itself push the expected OTF above the bound.
    expect(policyAt43({ timeStepS: 300, migrationTimeS: 60_000 })).toEqual([true, []]);
  });
});
