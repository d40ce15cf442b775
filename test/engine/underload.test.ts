import { createAlwaysUnderloaded, createUnderloadLastNAverage, createUnderloadThreshold } from '../../src/engine/underload';
import { createNeverOverloaded, createOverloadLastNAverage, createOverloadThreshold } from '../../src/engine/overload/trivial';
import fc from 'fast-check';

// Values from reference/neat.md §5.1 and §5.2 (Neat's tests/locals/{underload,overload}/test_trivial.py).
describe('underload detectors (Neat §5.1)', () => {
  test('always_underloaded says yes, even with no data', () => {
    const d = createAlwaysUnderloaded();
    expect(d.detect([], d.initialState())[0]).toBe(true);
    expect(d.detect([1.5], d.initialState())[0]).toBe(true);
  });

  test('threshold compares the last value with <=', () => {
    const d = createUnderloadThreshold({ threshold: 0.5 });
    const s = d.initialState();
    expect(d.detect([0, 0.4], s)[0]).toBe(true);
    expect(d.detect([0, 0.5], s)[0]).toBe(true);
    expect(d.detect([0, 0.6], s)[0]).toBe(false);
    expect(d.detect([], s)[0]).toBe(false);
  });

  test('last_n_average_threshold averages the last n (fewer when the history is short)', () => {
    const d2 = createUnderloadLastNAverage({ threshold: 0.5, n: 2 });
    const s = d2.initialState();
    expect(d2.detect([0, 0.6], s)[0]).toBe(true);
    expect(d2.detect([0, 1.0], s)[0]).toBe(true);
    expect(d2.detect([0.2, 1.0], s)[0]).toBe(false);
    expect(d2.detect([0, 0.6, 0.6], s)[0]).toBe(false);
    expect(d2.detect([0.7], s)[0]).toBe(false);
    expect(d2.detect([], s)[0]).toBe(false);
    const d3 = createUnderloadLastNAverage({ threshold: 0.5, n: 3 });
    expect(d3.detect([0, 0.6, 0.6], d3.initialState())[0]).toBe(true);
  });
});

describe('trivial overload detectors (Neat §5.2)', () => {
  test('never_overloaded', () => {
    const d = createNeverOverloaded();
    expect(d.detect([5, 5, 5], d.initialState())[0]).toBe(false);
  });

  test('threshold is strict, unlike underload', () => {
    const d = createOverloadThreshold({ threshold: 0.5 });
    const s = d.initialState();
    expect(d.detect([0.9, 0.6], s)[0]).toBe(true);
    expect(d.detect([0.9, 0.5], s)[0]).toBe(false);
    expect(d.detect([], s)[0]).toBe(false);
  });

  test('last_n_average_threshold', () => {
    const d = createOverloadLastNAverage({ threshold: 0.5, n: 2 });
    const s = d.initialState();
    expect(d.detect([0.1, 1.2, 0.4], s)[0]).toBe(true);
    expect(d.detect([0.9, 0.4, 0.5], s)[0]).toBe(false);
    expect(d.detect([], s)[0]).toBe(false);
  });

  test('underload and overload thresholds never both fire for the same threshold and last value', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { minLength: 1 }),
      (threshold, history) => {
        const under = createUnderloadThreshold({ threshold });
        const over = createOverloadThreshold({ threshold });
        return !(under.detect(history, {})[0] && over.detect(history, {})[0]);
      }));
  });
});
