/**
 * Asynchronous code (the global manager, its ports) on the scheduler's
 * virtual time. A `sleep` is a scheduler event that resolves a promise; the
 * driver runs one event at a time and, between events, lets every promise
 * chain that can move on do so before virtual time advances. Nothing here
 * waits for real I/O, so the order of everything is fixed by the scheduler's
 * (time, sequence) order: a run is as deterministic as a synchronous one.
 */
import type { Timer } from '../src/clock';
import { assert } from '../src/engine/assert';
import type { Scheduler } from './scheduler';

export class VirtualTimer implements Timer {
  constructor(private readonly scheduler: Scheduler) {}

  sleep(durationMs: number): Promise<void> {
    assert(durationMs >= 0, 'a sleep cannot be negative');
    return new Promise((resolve) => { this.scheduler.after(durationMs / 1000, resolve); });
  }
}

/** Lets every promise continuation that is ready run (they are microtasks; an immediate runs after all of them). */
export function settleMicrotasks(): Promise<void> {
  return new Promise((resolve) => { setImmediate(resolve); });
}

/** Something a simulation's clock waits for: the global manager's appends, the local managers' messages. */
export interface Activity {
  readonly idle: boolean;
  /** Resolves once what is under way now has settled (more may have started by then). */
  settled(): Promise<void>;
}

/** Waits for busy activities a quiescence takes at most: each wait ends when something under way settles. */
const MAX_QUIESCE_TURNS = 1_000_000;

/**
 * Resolves once every promise chain that can move has moved and every
 * activity is idle: what is left waits for the virtual clock. Time may then
 * move on, and everything that happened at this time happened in every run.
 */
export async function quiesce(activities: readonly Activity[]): Promise<void> {
  for (let turn = 0; ; turn++) {
    await settleMicrotasks();
    // Run for every scheduler event: the usual answer, all idle, allocates nothing.
    if (activities.every((activity) => activity.idle)) return;
    assert(turn < MAX_QUIESCE_TURNS, () => `still busy after ${MAX_QUIESCE_TURNS} waits`);
    await Promise.all(activities.filter((activity) => !activity.idle).map((activity) => activity.settled()));
  }
}

/**
 * Runs scheduler events until `work` settles, then returns its result. Fails
 * when the work waits for something no event will ever bring (a deadlock), or
 * after `maxEvents`.
 */
export async function runUntilSettled<T>(scheduler: Scheduler, work: Promise<T>, maxEvents: number): Promise<T> {
  const progress = { settled: false };
  const observed = work.finally(() => { progress.settled = true; });
  observed.catch(() => undefined);
  for (let events = 0; ; events++) {
    await settleMicrotasks();
    if (progress.settled) return observed;
    assert(events < maxEvents, () => `the work did not finish within ${maxEvents} scheduler events`);
    assert(scheduler.step(), () => `the work waits at ${scheduler.timeS} s, but no event is scheduled: a deadlock`);
  }
}

/**
 * Runs every event up to `untilS`, letting the async work each one starts
 * settle before time moves; `check` is called between events (to stop on a
 * failure of that work).
 */
export async function runScheduled(scheduler: Scheduler, untilS: number, maxEvents: number, activities: readonly Activity[], check: () => void): Promise<void> {
  for (let events = 0; ; events++) {
    await quiesce(activities);
    check();
    const next = scheduler.nextS;
    if (next === null || next > untilS) return;
    assert(events < maxEvents, () => `more than ${maxEvents} events before ${untilS} s`);
    scheduler.step();
  }
}
