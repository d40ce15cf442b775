import { HP_PROLIANT_ML110_G4, HP_PROLIANT_ML110_G5, linearPowerModel, specPowerModel } from '../../src/engine/power';
import fc from 'fast-check';

// The SPECpower tables of reference/cloudsim.md §2.
describe('power models', () => {
  test('the G4 and G5 tables at every decile', () => {
    const g4 = [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117];
    const g5 = [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135];
    for (let i = 0; i <= 10; i++) {
      expect(HP_PROLIANT_ML110_G4.powerW(i / 10)).toBeCloseTo(g4[i], 10);
      expect(HP_PROLIANT_ML110_G5.powerW(i / 10)).toBeCloseTo(g5[i], 10);
    }
  });

  test('interpolates linearly between deciles', () => {
    expect(HP_PROLIANT_ML110_G4.powerW(0.25)).toBeCloseTo(94.3, 10);
    expect(HP_PROLIANT_ML110_G5.powerW(0.95)).toBeCloseTo(134, 10);
    expect(HP_PROLIANT_ML110_G5.powerW(0.01)).toBeCloseTo(94.03, 10);
  });

  test('rejects a utilisation outside [0, 1], as CloudSim does', () => {
    expect(() => HP_PROLIANT_ML110_G4.powerW(1.01)).toThrow(/utilisation must be in \[0, 1\]/);
    expect(() => HP_PROLIANT_ML110_G4.powerW(-0.1)).toThrow(/utilisation/);
  });

  test('is monotonic and stays within the table for every utilisation', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (a, b) => {
      const [low, high] = a <= b ? [a, b] : [b, a];
      for (const model of [HP_PROLIANT_ML110_G4, HP_PROLIANT_ML110_G5]) {
        expect(model.powerW(low)).toBeLessThanOrEqual(model.powerW(high) + 1e-9);
        expect(model.powerW(low)).toBeGreaterThanOrEqual(model.powerW(0) - 1e-9);
        expect(model.powerW(high)).toBeLessThanOrEqual(model.maxPowerW + 1e-9);
      }
    }));
  });

  test("agrees to the bit with CloudSim's getPower, shortcut included, at any utilisation", () => {
    const table = [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117];
    const cloudsimW = (u: number): number => {
      if (u % 0.1 === 0) return table[Math.trunc(u * 10)];
      const lowerW = table[Math.floor(u * 10)];
      const upperW = table[Math.ceil(u * 10)];
      return lowerW + ((upperW - lowerW) / 10) * (u - Math.floor(u * 10) / 10) * 100;
    };
    const deciles = fc.integer({ min: 0, max: 100 }).map((n) => n / 100);
    fc.assert(fc.property(fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), deciles, fc.constantFrom(0.1, 0.2, 0.4, 0.8, 0.3, 0.7)), (u) => {
      expect(Object.is(HP_PROLIANT_ML110_G4.powerW(u), cloudsimW(u))).toBe(true);
    }), { numRuns: 2000 });
  });

  test('linear model between idle and max', () => {
    const m = linearPowerModel('test', 270, 450);
    expect(m.powerW(0)).toBe(270);
    expect(m.powerW(0.8)).toBeCloseTo(414, 10);
    expect(m.powerW(1)).toBe(450);
  });

  test('a table must have 11 non-decreasing points', () => {
    expect(() => specPowerModel('short', [1, 2, 3])).toThrow(/11 points/);
    expect(() => specPowerModel('down', [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4])).toThrow(/non-decreasing/);
  });
});
