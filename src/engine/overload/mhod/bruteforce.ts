/**
 * MHOD's optimisation problem (Neat's `mhod/nlp.py`) and its brute-force grid
 * solver (`mhod/bruteforce.py`), generalised from two states to any number.
 *
 * The variables are the per-state migration probabilities m. The objective is
 * the expected time until a migration, ΣL; the constraint keeps the expected
 * OTF after the decision, (T_m + t_N + L_N)/(T_m + t_total + ΣL), within the
 * configured bound.
 */
import { assert } from '../../assert';
import { frange, sum } from '../../numeric';
import type { Matrix } from './estimation';
import { lFunctions } from './lFunctions';

/** A grid this large already costs about a quarter of a second per MHOD call with three states; larger ones are refused. */
export const MAX_GRID_POINTS = 1_000_000;

/**
 * The number of points `maximiseOnGrid` visits: |frange(0, limit, step)| to the
 * power of the variable count. Exact whenever it matters, that is up to
 * MAX_GRID_POINTS; beyond, an estimate that is still above it.
 */
export function gridPointCount(variableCount: number, stepSize: number, limit = 1.0): number {
  const stepsPerVariable = limit / stepSize;
  // A huge step count is refused anyway; don't materialise the grid axis to count it.
  if (stepsPerVariable > 2 * MAX_GRID_POINTS) return (Math.floor(stepsPerVariable) + 1) ** variableCount;
  return frange(0, limit, stepSize).length ** variableCount;
}

export interface GridProblem {
  /** null where Neat's evaluation divides by exactly zero: the point is skipped. */
  objective(point: readonly number[]): number | null;
  /** null where Neat's evaluation divides by exactly zero: the point is skipped. */
  constraint(point: readonly number[]): number | null;
  /** A point is feasible when `constraint(point) <= bound`. */
  readonly bound: number;
}

/**
 * Neat's `solve2` for any number of variables: every variable runs over
 * `frange(0, limit, step)` (inclusive), the first variable outermost; a point
 * replaces the best so far only if its objective is strictly greater (the best
 * starts at 0) and it is feasible. The constraint is evaluated only for points
 * that improve the objective, as Neat's `and` short-circuits. Returns [] when
 * no point qualifies.
 */
export function maximiseOnGrid(problem: GridProblem, variableCount: number, stepSize: number, limit = 1.0): number[] {
  assert(Number.isInteger(variableCount) && variableCount >= 1, () => `variable count must be a positive integer, got ${variableCount}`);
  const pointCount = gridPointCount(variableCount, stepSize, limit);
  assert(pointCount <= MAX_GRID_POINTS, () => `grid of ${pointCount} points exceeds ${MAX_GRID_POINTS}`);
  const values = frange(0, limit, stepSize);

  const indexes = new Array<number>(variableCount).fill(0);
  const point = new Array<number>(variableCount).fill(values[0]);
  let best = 0;
  let solution: number[] = [];
  for (;;) {
    const objective = problem.objective(point);
    if (objective !== null && objective > best) {
      const constraint = problem.constraint(point);
      if (constraint !== null && constraint <= problem.bound) {
        best = objective;
        solution = [...point];
      }
    }
    let variable = variableCount - 1;
    while (variable >= 0 && indexes[variable] === values.length - 1) {
      indexes[variable] = 0;
      point[variable] = values[0];
      variable--;
    }
    if (variable < 0) return solution;
    indexes[variable] += 1;
    point[variable] = values[indexes[variable]];
  }
}

/** Neat's objective: the expected number of time steps until a migration, ΣL. */
export function nlpObjective(ls: readonly number[]): number {
  return sum(ls);
}

/**
 * Neat's constraint value: the expected OTF if the policy is followed,
 * (T_m + t_N + L_N)/(T_m + t_total + ΣL); null on division by exactly zero.
 */
export function nlpConstraint(
  ls: readonly number[],
  migrationTimeSteps: number,
  timeInStates: number,
  timeInStateN: number,
): number | null {
  const denominator = migrationTimeSteps + timeInStates + sum(ls);
  if (denominator === 0) return null;
  return (migrationTimeSteps + timeInStateN + ls[ls.length - 1]) / denominator;
}

export interface MigrationProblem {
  /** The bound on the fraction of time spent in the overloaded state. */
  readonly otf: number;
  /** VM migration time divided by the time step. */
  readonly migrationTimeSteps: number;
  readonly transitionMatrix: Matrix;
  /** One-hot vector of the current state. */
  readonly stateVector: readonly number[];
  /** Calls so far, this one included. */
  readonly timeInStates: number;
  /** Calls so far in the overloaded state, this one included. */
  readonly timeInStateN: number;
}

/**
 * Neat's `bruteforce.optimize`: the per-state migration probabilities that
 * maximise the expected time until migration within the OTF bound, or [] when
 * none does (MHOD then migrates).
 */
export function optimizeMigrationPolicy(problem: MigrationProblem, stepSize: number, limit = 1.0): number[] {
  const { transitionMatrix, stateVector } = problem;
  return maximiseOnGrid({
    objective: (m) => {
      const ls = lFunctions(stateVector, transitionMatrix, m);
      return ls === null ? null : nlpObjective(ls);
    },
    constraint: (m) => {
      const ls = lFunctions(stateVector, transitionMatrix, m);
      return ls === null
        ? null
        : nlpConstraint(ls, problem.migrationTimeSteps, problem.timeInStates, problem.timeInStateN);
    },
    bound: problem.otf,
  }, stateVector.length, stepSize, limit);
}
