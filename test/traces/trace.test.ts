import fc from 'fast-check';
import { AssertionError } from '../../src/engine/assert';
import { utilizationAt } from '../../traces/trace';
import type { TraceVm } from '../../traces/trace';

function vm(values: readonly number[]): TraceVm {
  return { id: 'vm', utilization: Float64Array.from(values), ramMb: null };
}

describe('utilizationAt (CloudSim UtilizationModelPlanetLabInMemory.getUtilization)', () => {
  const trace = vm([0.24, 0.34, 0.29, 0.29]);

  test('a multiple of the step reads the point itself', () => {
    expect(utilizationAt(trace, 0, 300)).toBe(0.24);
    expect(utilizationAt(trace, 300, 300)).toBe(0.34);
    expect(utilizationAt(trace, 900, 300)).toBe(0.29);
  });

  test('between points it interpolates with CloudSim\'s arithmetic order', () => {
    // delta = (u2 − u1) / ((time2 − time1) × step); u1 + delta × (time − time1 × step)
    expect(utilizationAt(trace, 150, 300)).toBe(0.24 + ((0.34 - 0.24) / (1 * 300)) * (150 - 0 * 300));
    expect(utilizationAt(trace, 300.1, 300)).toBe(0.34 + ((0.29 - 0.34) / (1 * 300)) * (300.1 - 1 * 300));
    expect(utilizationAt(trace, 899.9, 300)).toBe(0.29);
  });

  test('a time outside the data is a broken invariant', () => {
    expect(() => utilizationAt(trace, 900.5, 300)).toThrow(AssertionError);
    expect(() => utilizationAt(trace, 1200, 300)).toThrow(/past the trace's last point at 900 s/);
    expect(() => utilizationAt(trace, -1, 300)).toThrow(AssertionError);
    expect(() => utilizationAt(trace, Number.NaN, 300)).toThrow(AssertionError);
    expect(() => utilizationAt(trace, 0, 0)).toThrow(AssertionError);
  });

  test('property: the value lies between the two neighbouring points', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 2, maxLength: 50 }),
      fc.integer({ min: 1, max: 3600 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (percents, stepS, position) => {
        const series = vm(percents.map((p) => p / 100));
        const timeS = position * (percents.length - 1) * stepS;
        const value = utilizationAt(series, timeS, stepS);
        const below = series.utilization[Math.floor(timeS / stepS)];
        const above = series.utilization[Math.ceil(timeS / stepS)];
        const epsilon = 1e-12;
        return value >= Math.min(below, above) - epsilon && value <= Math.max(below, above) + epsilon;
      },
    ));
  });
});
