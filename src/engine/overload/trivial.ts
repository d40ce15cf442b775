/** Neat's simple overload detectors (`neat/locals/overload/trivial.py`). */
import type { ParamSpecs, ParamValues } from '../params';
import { lastN, mean } from '../numeric';
import { NO_STATE } from '../types';
import type { Detector, NoState } from '../types';

export const neverOverloadedParamSpecs = {} as const satisfies ParamSpecs;

export function createNeverOverloaded(): Detector<NoState> {
  return {
    name: 'never_overloaded',
    initialState: () => NO_STATE,
    detect: () => [false, NO_STATE],
  };
}

export const overloadThresholdParamSpecs = {
  threshold: { type: 'number', min: 0, description: 'overloaded when the last utilisation is > this (strict)' },
} as const satisfies ParamSpecs;

export function createOverloadThreshold(params: ParamValues<typeof overloadThresholdParamSpecs>): Detector<NoState> {
  return {
    name: 'threshold',
    initialState: () => NO_STATE,
    detect: (utilization) => [utilization.length > 0 && utilization.at(-1)! > params.threshold, NO_STATE],
  };
}

export const overloadLastNAverageParamSpecs = {
  threshold: { type: 'number', min: 0, description: 'overloaded when the mean is > this (strict)' },
  n: { type: 'number', integer: true, min: 1, description: 'number of last values averaged' },
} as const satisfies ParamSpecs;

export function createOverloadLastNAverage(
  params: ParamValues<typeof overloadLastNAverageParamSpecs>,
): Detector<NoState> {
  return {
    name: 'last_n_average_threshold',
    initialState: () => NO_STATE,
    detect: (utilization) => [
      utilization.length > 0 && mean(lastN(utilization, params.n)) > params.threshold,
      NO_STATE,
    ],
  };
}
