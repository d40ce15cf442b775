/** Neat's overload-time-fraction detector (`neat/locals/overload/otf.py`). */
import type { ParamSpecs, ParamValues } from '../params';
import type { AlgorithmContext, Detector } from '../types';
import { assert } from '../assert';

export interface OtfState {
  /** Calls whose last utilisation was at or above the threshold. */
  readonly overloadSteps: number;
  readonly totalSteps: number;
}

export const otfParamSpecs = {
  otf: { type: 'number', min: 0, max: 1, description: 'allowed fraction of time overloaded' },
  threshold: { type: 'number', min: 0, description: 'utilisation at or above which a step counts as overloaded' },
  limit: { type: 'number', integer: true, min: 0, description: 'minimum history length before deciding' },
} as const satisfies ParamSpecs;

export function createOtf(context: AlgorithmContext, params: ParamValues<typeof otfParamSpecs>): Detector<OtfState> {
  const migrationSteps = context.migrationTimeS / context.timeStepS;
  return {
    name: 'otf',
    initialState: () => ({ overloadSteps: 0, totalSteps: 0 }),
    detect: (utilization, state) => {
      // Neat indexes u[-1] and crashes on an empty history; we decide "no" and count nothing.
      if (utilization.length === 0) return [false, state];
      const overloadedNow = utilization.at(-1)! >= params.threshold;
      const next: OtfState = {
        overloadSteps: state.overloadSteps + (overloadedNow ? 1 : 0),
        totalSteps: state.totalSteps + 1,
      };
      assert(next.overloadSteps <= next.totalSteps, 'OTF counts more overloaded steps than steps');
      if (!overloadedNow || utilization.length < params.limit) return [false, next];
      const fraction = (migrationSteps + next.overloadSteps) / (migrationSteps + next.totalSteps);
      return [fraction >= params.otf, next];
    },
  };
}
