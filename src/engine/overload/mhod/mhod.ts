/**
 * MHOD, the Markov host overload detector, Neat's default overload detection
 * algorithm (`neat/locals/overload/mhod/core.py`, final version).
 *
 * Utilisation values are mapped to states by thresholds; the last state, N,
 * means overloaded. On every call the transition probabilities are estimated
 * from the whole history (as Neat does), and when the host is in state N the
 * per-state migration probabilities are optimised to keep the expected
 * fraction of time overloaded (OTF) within a bound. If no migration policy can
 * keep it, a VM must be migrated.
 */
import { assert } from '../../assert';
import { InvalidParameterError, type ParamSpecs, type ParamValues } from '../../params';
import type { AlgorithmContext, Detector, Step } from '../../types';
import { gridPointCount, MAX_GRID_POINTS, optimizeMigrationPolicy } from './bruteforce';
import { estimateTransitions, type Matrix } from './estimation';

export const mhodParamSpecs = {
  state_config: {
    type: 'numberList',
    description: 'utilisation thresholds separating the states, ascending; N thresholds give N + 1 states, the last one overloaded',
    minLength: 1,
    maxLength: 10,
    min: 0,
    minExclusive: true,
    strictlyIncreasing: true,
    default: [0.8],
  },
  otf: {
    type: 'number',
    description: 'the bound on the fraction of time the host may spend overloaded',
    min: 0,
    minExclusive: true,
    max: 1,
    default: 0.1,
  },
  history_size: {
    type: 'number',
    description: 'accepted for compatibility with neat.conf and unused, as in Neat',
    integer: true,
    min: 1,
    default: 500,
  },
  window_sizes: {
    type: 'numberList',
    description: 'sizes of the sliding windows that estimate the transition probabilities, in time steps',
    minLength: 1,
    maxLength: 32,
    integer: true,
    min: 2,
    strictlyIncreasing: true,
    default: [30, 40, 50, 60, 70, 80, 90, 100],
  },
  bruteforce_step: {
    type: 'number',
    description: 'grid step of the brute-force search over migration probabilities in [0, 1]',
    min: 0,
    minExclusive: true,
    max: 1,
    default: 0.5,
  },
  learning_steps: {
    type: 'number',
    description: 'history length, in time steps, below which MHOD never asks for a migration',
    integer: true,
    min: 0,
    default: 10,
  },
} as const satisfies ParamSpecs;

export type MhodParams = ParamValues<typeof mhodParamSpecs>;

export interface MhodState {
  /** Calls made with a non-empty history: Neat's `time_in_states`. */
  readonly timeInStates: number;
  /** Those calls that found the host in the overloaded state N: Neat's `time_in_state_n`. */
  readonly timeInStateN: number;
  /** The state of the last utilisation value seen. */
  readonly previousState: number;
  /** Window size selected per transition (i, j) by the last call; null before the first. */
  readonly selectedWindows: Matrix | null;
  /** Transition probabilities estimated by the last call; null before the first. */
  readonly p: Matrix | null;
  /** Per-state migration probabilities optimised by the last call; null if it did not optimise. */
  readonly policy: readonly number[] | null;
}

/**
 * The state of a utilisation value: u < th[0] → 0, th[k−1] ≤ u < th[k] → k,
 * u ≥ th[last] → N. Neat compares u with the previous state's index instead of
 * its threshold, which misplaces values once there are three or more
 * thresholds (reference §9 item 11); we compare with the threshold.
 */
export function utilizationToState(thresholds: readonly number[], utilization: number): number {
  for (let state = 0; state < thresholds.length; state++) {
    if (utilization < thresholds[state]) return state;
  }
  return thresholds.length;
}

/** The one-hot vector of a state. */
export function stateVector(state: number, stateCount: number): number[] {
  return Array.from({ length: stateCount }, (_, s) => (s === state ? 1 : 0));
}

function assertState(state: MhodState, stateCount: number): void {
  const { timeInStates, timeInStateN, previousState } = state;
  assert(Number.isInteger(timeInStates) && timeInStates >= 0, () => `MHOD time_in_states must be a count, got ${timeInStates}`);
  assert(Number.isInteger(timeInStateN) && timeInStateN >= 0 && timeInStateN <= timeInStates,
    () => `MHOD time_in_state_n must be a count within time_in_states (${timeInStates}), got ${timeInStateN}`);
  assert(Number.isInteger(previousState) && previousState >= 0 && previousState < stateCount,
    () => `MHOD previous state must be in 0..${stateCount - 1}, got ${previousState}`);
}

export function createMhod(context: AlgorithmContext, params: MhodParams): Detector<MhodState> {
  assert(Number.isFinite(context.timeStepS) && context.timeStepS > 0,
    () => `MHOD needs a positive time step, got ${context.timeStepS} s`);
  assert(Number.isFinite(context.migrationTimeS) && context.migrationTimeS >= 0,
    () => `MHOD needs a non-negative migration time, got ${context.migrationTimeS} s`);
  const thresholds = params.state_config;
  const stateCount = thresholds.length + 1;
  const overloadedState = thresholds.length;
  const gridPoints = gridPointCount(stateCount, params.bruteforce_step);
  if (gridPoints > MAX_GRID_POINTS) {
    throw new InvalidParameterError('mhod', 'bruteforce_step',
      `mhod: bruteforce_step ${params.bruteforce_step} with ${thresholds.length} state_config thresholds ` +
      `(${stateCount} states) gives a search grid of ${gridPoints} points, more than ${MAX_GRID_POINTS}; ` +
      'raise bruteforce_step or use fewer state_config thresholds');
  }
  const migrationTimeSteps = context.migrationTimeS / context.timeStepS;

  return {
    name: 'mhod',
    initialState: () => ({
      timeInStates: 0,
      timeInStateN: 0,
      previousState: 0,
      selectedWindows: null,
      p: null,
      policy: null,
    }),
    detect(utilization: readonly number[], state: MhodState): Step<boolean, MhodState> {
      assertState(state, stateCount);
      // Neat fails on an empty history; with nothing observed there is nothing to count either.
      if (utilization.length === 0) return [false, { ...state }];
      const badValue = utilization.findIndex((value) => !Number.isFinite(value));
      assert(badValue < 0, () => `MHOD utilisation must be finite, got ${utilization[badValue]} at index ${badValue}`);
      const states = utilization.map((value) => utilizationToState(thresholds, value));
      const estimate = estimateTransitions(states, stateCount, params.window_sizes);
      const currentState = states[states.length - 1];
      const timeInStates = state.timeInStates + 1;
      const timeInStateN = state.timeInStateN + (currentState === overloadedState ? 1 : 0);

      let policy: number[] | null = null;
      if (utilization.length >= params.learning_steps &&
          currentState === overloadedState &&
          estimate.p[overloadedState][overloadedState] > 0) {
        policy = optimizeMigrationPolicy({
          otf: params.otf,
          migrationTimeSteps,
          transitionMatrix: estimate.p,
          stateVector: stateVector(currentState, stateCount),
          timeInStates,
          timeInStateN,
        }, params.bruteforce_step);
      }
      const next: MhodState = {
        timeInStates,
        timeInStateN,
        previousState: currentState,
        selectedWindows: estimate.selectedWindows,
        p: estimate.p,
        policy,
      };
      return [policy !== null && policy.length === 0, next];
    },
  };
}
