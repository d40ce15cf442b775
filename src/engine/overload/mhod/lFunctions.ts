/**
 * MHOD's L functions. With the host in the states of the initial distribution π,
 * transition matrix P and, per state i, a probability m_i of migrating a VM at
 * each time step, L_j is the expected number of time steps spent in state j
 * before a migration: L = π(I − Q)⁻¹ with Q_ij = (1 − m_i)·P_ij.
 *
 * Neat ships closed forms for two states only. We keep them, in Neat's exact
 * operation order, because at some grid points their denominator rounds to
 * exactly 0.0 and Neat skips the point, where a matrix solve would produce a
 * huge finite value and possibly a different decision. Any other number of
 * states goes through the general solve.
 */
import { assert } from '../../assert';
import type { Matrix } from './estimation';

/** Below this, a pivot of I − Q (entries of magnitude ≤ 1) is rounding noise on an exactly singular matrix. */
const SINGULAR_PIVOT = 1e-12;

function assertTwoStates(initial: readonly number[], p: Matrix, m: readonly number[]): void {
  assert(initial.length === 2 && m.length === 2 && p.length === 2 && p.every((row) => row.length === 2),
    'the closed-form L functions take exactly two states');
}

/** Shared by l0 and l1, written as Neat writes it. */
function twoStateDenominator(p: Matrix, m: readonly number[]): number {
  const [[p00, p01], [p10, p11]] = p;
  const [m0, m1] = m;
  return (p00 * (m1 * (p11 - m0 * p11) - p11 + m0 * (p11 - 1) + 1) -
    m1 * p11 + p11 + (m1 * (m0 * p01 - p01) - m0 * p01 + p01) *
    p10 - 1);
}

/** Neat's `l_2_states.l0`; null where Neat raises ZeroDivisionError. */
export function l0TwoStates(initial: readonly number[], p: Matrix, m: readonly number[]): number | null {
  assertTwoStates(initial, p, m);
  const [p0, p1] = initial;
  const [, [p10, p11]] = p;
  const m1 = m[1];
  const denominator = twoStateDenominator(p, m);
  if (denominator === 0) return null;
  return (p0 * (-1 * m1 * p11 + p11 - 1) + (m1 * p1 - p1) * p10) / denominator;
}

/** Neat's `l_2_states.l1`; null where Neat raises ZeroDivisionError. */
export function l1TwoStates(initial: readonly number[], p: Matrix, m: readonly number[]): number | null {
  assertTwoStates(initial, p, m);
  const [p0, p1] = initial;
  const [[p00, p01]] = p;
  const m0 = m[0];
  const denominator = twoStateDenominator(p, m);
  if (denominator === 0) return null;
  return (-1 * (p00 * (m0 * p1 - p1) + p1 + p0 * (p01 - m0 * p01))) / denominator;
}

/**
 * L = π(I − Q)⁻¹ for any number of states, by solving (I − Q)ᵀ Lᵀ = πᵀ with
 * Gaussian elimination and partial pivoting; null when I − Q is singular
 * (the chain can stay forever in states that never migrate).
 */
export function lGeneral(initial: readonly number[], p: Matrix, m: readonly number[]): number[] | null {
  const n = initial.length;
  assert(n > 0 && m.length === n && p.length === n && p.every((row) => row.length === n),
    'L functions need as many initial and migration probabilities as the matrix has rows and columns');
  // Row r of the augmented system is column r of I − Q followed by π_r; one flat
  // buffer because the brute force solves this once per grid point.
  const width = n + 1;
  const system = new Array<number>(n * width);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) system[r * width + c] = (r === c ? 1 : 0) - (1 - m[c]) * p[c][r];
    system[r * width + n] = initial[r];
  }

  for (let col = 0; col < n; col++) {
    let pivotRow = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(system[r * width + col]) > Math.abs(system[pivotRow * width + col])) pivotRow = r;
    }
    if (Math.abs(system[pivotRow * width + col]) < SINGULAR_PIVOT) return null;
    if (pivotRow !== col) {
      for (let c = col; c < width; c++) {
        const swapped = system[col * width + c];
        system[col * width + c] = system[pivotRow * width + c];
        system[pivotRow * width + c] = swapped;
      }
    }
    const pivot = system[col * width + col];
    for (let r = col + 1; r < n; r++) {
      const factor = system[r * width + col] / pivot;
      if (factor === 0) continue;
      for (let c = col; c < width; c++) system[r * width + c] -= factor * system[col * width + c];
    }
  }

  const solution = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let value = system[r * width + n];
    for (let c = r + 1; c < n; c++) value -= system[r * width + c] * solution[c];
    solution[r] = value / system[r * width + r];
  }
  return solution;
}

/**
 * All L functions at once: Neat's closed forms for two states (so that its
 * decisions are reproduced bit for bit), the general solve otherwise.
 */
export function lFunctions(initial: readonly number[], p: Matrix, m: readonly number[]): number[] | null {
  if (initial.length !== 2) return lGeneral(initial, p, m);
  const l0 = l0TwoStates(initial, p, m);
  const l1 = l1TwoStates(initial, p, m);
  return l0 === null || l1 === null ? null : [l0, l1];
}
