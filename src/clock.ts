/** Where time comes from: the wall clock in production, the simulator's virtual clock in a run. */
export interface Clock {
  /** Milliseconds since the epoch (or since the start of a simulated run). */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/**
 * Waiting, as the orchestration does between polls: wall-clock timers in
 * production, the scheduler's virtual time in a simulation.
 */
export interface Timer {
  sleep(durationMs: number): Promise<void>;
}

export const systemTimer: Timer = {
  sleep: (durationMs) => new Promise((resolve) => { setTimeout(resolve, durationMs); }),
};
