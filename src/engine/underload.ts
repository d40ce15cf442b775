/** Neat's underload detectors (`neat/locals/underload/trivial.py`). */
import type { ParamSpecs, ParamValues } from './params';
import { lastN, mean } from './numeric';
import { NO_STATE } from './types';
import type { Detector, NoState } from './types';

export const alwaysUnderloadedParamSpecs = {} as const satisfies ParamSpecs;

export function createAlwaysUnderloaded(): Detector<NoState> {
  return {
    name: 'always_underloaded',
    initialState: () => NO_STATE,
    detect: () => [true, NO_STATE],
  };
}

export const underloadThresholdParamSpecs = {
  threshold: { type: 'number', min: 0, max: 1, description: 'underloaded when the last utilisation is <= this' },
} as const satisfies ParamSpecs;

export function createUnderloadThreshold(params: ParamValues<typeof underloadThresholdParamSpecs>): Detector<NoState> {
  return {
    name: 'threshold',
    initialState: () => NO_STATE,
    detect: (utilization) => [utilization.length > 0 && utilization.at(-1)! <= params.threshold, NO_STATE],
  };
}

export const underloadLastNAverageParamSpecs = {
  threshold: { type: 'number', min: 0, max: 1, default: 0.5, description: 'underloaded when the mean is <= this' },
  n: { type: 'number', integer: true, min: 1, default: 2, description: 'number of last values averaged' },
} as const satisfies ParamSpecs;

export function createUnderloadLastNAverage(
  params: ParamValues<typeof underloadLastNAverageParamSpecs>,
): Detector<NoState> {
  return {
    name: 'last_n_average_threshold',
    initialState: () => NO_STATE,
    detect: (utilization) => [
      utilization.length > 0 && mean(lastN(utilization, params.n)) <= params.threshold,
      NO_STATE,
    ],
  };
}
