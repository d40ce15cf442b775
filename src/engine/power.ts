/**
 * Host power models: power in watts as a function of CPU utilisation (0..1).
 */
import { assert, AssertionError } from './assert';

export interface PowerModel {
  readonly name: string;
  /** Power at full load, in watts. */
  readonly maxPowerW: number;
  powerW(utilization: number): number;
}

// Called in placement's inner loop: the message is built only on failure.
function assertUtilization(utilization: number, model: string): void {
  if (!(utilization >= 0 && utilization <= 1)) {
    throw new AssertionError(`${model}: utilisation must be in [0, 1], got ${utilization}`);
  }
}

/**
 * A SPECpower table: watts at 0 %, 10 %, …, 100 % load, linear in between.
 * The arithmetic follows CloudSim's `PowerModelSpecPower.getPower` step by step
 * (its `u % 0.1 == 0` shortcut included), so that energy sums agree to the bit.
 */
export function specPowerModel(name: string, wattsAtDeciles: readonly number[]): PowerModel {
  assert(wattsAtDeciles.length === 11, () => `${name}: a SPECpower table has 11 points`);
  assert(wattsAtDeciles.every((w, i) => Number.isFinite(w) && w >= 0 && (i === 0 || w >= wattsAtDeciles[i - 1])),
    () => `${name}: SPECpower watts must be finite, non-negative and non-decreasing`);
  const table = Object.freeze([...wattsAtDeciles]);
  return {
    name,
    maxPowerW: table[10],
    powerW(utilization: number): number {
      assertUtilization(utilization, name);
      // CloudSim's `u % 0.1 == 0` holds only for 0, 0.1, 0.2, 0.4 and 0.8 (the multiples of
      // the double 0.1 that are doubles); those scale to whole deciles, which this test
      // catches without the costly modulo and with the same result.
      const scaled = utilization * 10;
      const lowerDecile = Math.floor(scaled);
      if (lowerDecile === scaled) return table[lowerDecile];
      const upperDecile = lowerDecile + 1;
      const lowerW = table[lowerDecile];
      const upperW = table[upperDecile];
      const deltaW = (upperW - lowerW) / 10;
      return lowerW + deltaW * (utilization - lowerDecile / 10) * 100;
    },
  };
}

/** Linear between idle and full load (CloudSim's `PowerModelLinear`, Neat's experiments' model). */
export function linearPowerModel(name: string, idlePowerW: number, maxPowerW: number): PowerModel {
  assert(idlePowerW >= 0 && maxPowerW >= idlePowerW, () => `${name}: need 0 <= idle <= max watts`);
  return {
    name,
    maxPowerW,
    powerW(utilization: number): number {
      assertUtilization(utilization, name);
      return idlePowerW + (maxPowerW - idlePowerW) * utilization;
    },
  };
}

/** HP ProLiant ML110 G4 (Xeon 3040), CloudSim's `PowerModelSpecPowerHpProLiantMl110G4Xeon3040`. */
export const HP_PROLIANT_ML110_G4 = specPowerModel('hp-proliant-ml110-g4',
  [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117]);

/** HP ProLiant ML110 G5 (Xeon 3075), CloudSim's `PowerModelSpecPowerHpProLiantMl110G5Xeon3075`. */
export const HP_PROLIANT_ML110_G5 = specPowerModel('hp-proliant-ml110-g5',
  [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135]);

/** The testbed model of Neat's CCPE 2014 experiments: idle 270 W, full 450 W. */
export const NEAT_TESTBED_LINEAR = linearPowerModel('neat-testbed-linear', 270, 450);

/** Power models by name, as simulation configurations and logs refer to them. */
export const POWER_MODELS: Readonly<Record<string, PowerModel>> = Object.freeze({
  [HP_PROLIANT_ML110_G4.name]: HP_PROLIANT_ML110_G4,
  [HP_PROLIANT_ML110_G5.name]: HP_PROLIANT_ML110_G5,
  [NEAT_TESTBED_LINEAR.name]: NEAT_TESTBED_LINEAR,
});
