import fc from 'fast-check';
import { maximumCorrelationIndex, maximumMetricIndex } from '../../src/engine/selection/correlation';

// Histories newest first, as CloudSim's PowerVm keeps them. vm1 ≈ 2·vm0, vm2 unrelated: commons-math gives
// R² = 0.9981858287369045, 0.9981750919589987 and 0.20621449390561242.
const VM0 = [0.31, 0.42, 0.25, 0.61, 0.55, 0.38, 0.47, 0.29, 0.66, 0.52, 0.41, 0.35];
const VM1 = [0.62, 0.85, 0.49, 1.2, 1.1, 0.77, 0.93, 0.6, 1.31, 1.05, 0.8, 0.71];
const VM2 = [0.9, 0.2, 0.5, 0.4, 0.8, 0.1, 0.6, 0.3, 0.7, 0.2, 0.5, 0.4];

describe('maximumCorrelationIndex', () => {
  it('picks the VM whose history the others explain best', () => {
    expect(maximumCorrelationIndex([VM0, VM1, VM2])).toBe(0);
    expect(maximumCorrelationIndex([VM2, VM1, VM0])).toBe(2);
  });

  it('cuts every history to the shortest, keeping the newest values', () => {
    const longer = [...VM1, 5, 0, 7, 0.01];
    expect(maximumCorrelationIndex([VM2, longer, VM0])).toBe(maximumCorrelationIndex([VM2, VM1, VM0]));
  });

  it('returns null where CloudSim throws IllegalArgumentException and falls back', () => {
    expect(maximumCorrelationIndex([])).toBeNull();
    expect(maximumCorrelationIndex([VM0])).toBeNull();
    // Fewer history values than VMs (regressors + intercept).
    expect(maximumCorrelationIndex([[0.1, 0.2], [0.3, 0.5], [0.6, 0.1]])).toBeNull();
    expect(maximumCorrelationIndex([VM0, [], VM2])).toBeNull();
    // Singular: an all-zero history, or two proportional ones beside a third.
    expect(maximumCorrelationIndex([[0, 0, 0, 0, 0], [0.1, 0.5, 0.3, 0.2, 0.9], [0.4, 0.2, 0.8, 0.3, 0.3]])).toBeNull();
    expect(maximumCorrelationIndex([[1, 2, 3, 4, 5], [2, 4, 6, 8, 10], [0.3, 0.1, 0.4, 0.1, 0.5]])).toBeNull();
  });

  it('CloudSim\'s index-0 default: with no R² above Double.MIN_VALUE, the first VM is chosen', () => {
    // Uncorrelated histories: both R² are exactly 0.
    expect(maximumCorrelationIndex([[1, 2, 1, 2], [1, 1, 2, 2]])).toBe(0);
    expect(maximumMetricIndex([-Infinity, 0])).toBe(0);
    expect(maximumMetricIndex([0, -1e-16, 0])).toBe(0);
    expect(maximumMetricIndex([])).toBe(0);
  });

  it('CloudSim\'s loop: strict >, so ties go to the lower index and NaN never wins', () => {
    expect(maximumMetricIndex([0.3, 0.7, 0.7])).toBe(1);
    expect(maximumMetricIndex([NaN, 0.5, NaN])).toBe(1);
    expect(maximumMetricIndex([0.2, NaN, 0.1])).toBe(0);
    expect(maximumMetricIndex([0, 0, Number.MIN_VALUE * 2])).toBe(2);
  });

  it('returns an index in range or null, deterministically', () => {
    fc.assert(fc.property(
      fc.array(fc.array(fc.double({ min: 0, max: 2, noNaN: true }), { maxLength: 30 }), { maxLength: 6 }),
      (histories) => {
        const index = maximumCorrelationIndex(histories);
        const again = maximumCorrelationIndex(histories);
        const inRange = index === null || (Number.isInteger(index) && index >= 0 && index < histories.length);
        return inRange && index === again;
      },
    ));
  });
});
