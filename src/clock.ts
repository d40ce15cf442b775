/** Where time comes from: the wall clock in production, the simulator's virtual clock in a run. */
export interface Clock {
  /** Milliseconds since the epoch (or since the start of a simulated run). */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };
