import { createOtf } from '../../src/engine/overload/otf';
import type { OtfState } from '../../src/engine/overload/otf';
import fc from 'fast-check';

// Neat's tests/locals/overload/test_otf.py, as reference/neat.md §5.2 gives them.
describe('OTF (Neat §5.2)', () => {
  const params = { otf: 0.5, threshold: 1.0, limit: 4 };

  test('the sequence 0.9, 1.3, 1.1, 1.2 with m = 1 decides F, F, F, T and counts (0,1) (1,2) (2,3) (3,4)', () => {
    const d = createOtf({ timeStepS: 300, migrationTimeS: 300 }, params);
    let state = d.initialState();
    const history: number[] = [];
    const seen: [boolean, number, number][] = [];
    for (const u of [0.9, 1.3, 1.1, 1.2]) {
      history.push(u);
      const [decision, next] = d.detect(history, state);
      state = next;
      seen.push([decision, state.overloadSteps, state.totalSteps]);
    }
    expect(seen).toEqual([[false, 0, 1], [false, 1, 2], [false, 2, 3], [true, 3, 4]]);
  });

  test('with m = 100 and a last value of 0.3 it says no and counts (3,5)', () => {
    const d = createOtf({ timeStepS: 1, migrationTimeS: 100 }, params);
    const [decision, state] = d.detect([0.9, 1.3, 1.1, 1.2, 0.3], { overloadSteps: 3, totalSteps: 4 });
    expect(decision).toBe(false);
    expect(state).toEqual({ overloadSteps: 3, totalSteps: 5 });
  });

  test('through the factory with m = 0 the same sequence ends in true', () => {
    const d = createOtf({ timeStepS: 300, migrationTimeS: 0 }, params);
    let state = d.initialState();
    let decision = false;
    const history: number[] = [];
    for (const u of [0.9, 1.3, 1.1, 1.2]) {
      history.push(u);
      [decision, state] = d.detect(history, state);
    }
    expect(decision).toBe(true);
  });

  test('an empty history decides no and leaves the counters alone (Neat would crash)', () => {
    const d = createOtf({ timeStepS: 300, migrationTimeS: 20 }, params);
    const state: OtfState = { overloadSteps: 2, totalSteps: 7 };
    expect(d.detect([], state)).toEqual([false, state]);
  });

  test('never mutates the state it is given and is deterministic', () => {
    fc.assert(fc.property(fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 50 }), (history) => {
      const d = createOtf({ timeStepS: 300, migrationTimeS: 20 }, { otf: 0.2, threshold: 0.8, limit: 10 });
      const state = Object.freeze(d.initialState());
      expect(d.detect(history, state)).toEqual(d.detect(history, state));
    }));
  });
});
