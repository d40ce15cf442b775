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
export async function runScheduled(scheduler: Scheduler, untilS: number, maxEvents: number, check: () => void): Promise<void> {
  for (let events = 0; ; events++) {
    await settleMicrotasks();
    check();
    const next = scheduler.nextS;
    if (next === null || next > untilS) return;
    assert(events < maxEvents, () => `more than ${maxEvents} events before ${untilS} s`);
    scheduler.step();
  }
}
