/**
 * A deterministic discrete-event scheduler on a virtual clock. Events run in
 * (time, sequence) order: two events at the same time run in the order they
 * were scheduled. No wall clock, no timers. It is the simulation's `Clock`.
 */
import type { Clock } from '../src/clock';
import { assert } from '../src/engine/assert';

interface Entry {
  readonly timeS: number;
  readonly sequence: number;
  readonly action: () => void;
}

function before(a: Entry, b: Entry): boolean {
  return a.timeS < b.timeS || (a.timeS === b.timeS && a.sequence < b.sequence);
}

export class Scheduler implements Clock {
  private readonly heap: Entry[] = [];
  private sequence = 0;
  private currentS = 0;

  /** Virtual time in seconds. */
  get timeS(): number {
    return this.currentS;
  }

  nowMs(): number {
    return this.currentS * 1000;
  }

  get pending(): number {
    return this.heap.length;
  }

  at(timeS: number, action: () => void): void {
    assert(Number.isFinite(timeS), 'an event needs a finite time');
    if (timeS < this.currentS) assert(false, () => `cannot schedule at ${timeS} s, the clock is at ${this.currentS} s`);
    this.push({ timeS, sequence: this.sequence++, action });
  }

  after(delayS: number, action: () => void): void {
    assert(delayS >= 0, 'a delay cannot be negative');
    this.at(this.currentS + delayS, action);
  }

  /**
   * Runs events with time <= `untilS` (or < it, when `inclusive` is false) in
   * order; events scheduled meanwhile are run too if they fall in range. Stops
   * after `maxEvents` (returns how many ran).
   */
  run(untilS: number, maxEvents: number, inclusive = true): number {
    let ran = 0;
    while (ran < maxEvents && this.heap.length > 0 && (inclusive ? this.heap[0].timeS <= untilS : this.heap[0].timeS < untilS)) {
      const entry = this.pop();
      this.currentS = entry.timeS;
      entry.action();
      ran += 1;
    }
    return ran;
  }

  /** Runs the next event, if there is one; returns whether it did. */
  step(): boolean {
    if (this.heap.length === 0) return false;
    const entry = this.pop();
    this.currentS = entry.timeS;
    entry.action();
    return true;
  }

  /** Moves the clock forward to `timeS` with nothing happening: every event due before it must have run. */
  advanceTo(timeS: number): void {
    assert(timeS >= this.currentS, () => `the clock cannot go back from ${this.currentS} s to ${timeS} s`);
    assert(this.heap.length === 0 || this.heap[0].timeS >= timeS, () => `an event at ${this.heap[0].timeS} s is due before ${timeS} s`);
    this.currentS = timeS;
  }

  /** The time of the next event, or null when none is scheduled. */
  get nextS(): number | null {
    return this.heap.length === 0 ? null : this.heap[0].timeS;
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }

  private pop(): Entry {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && before(heap[left], heap[smallest])) smallest = left;
        if (right < heap.length && before(heap[right], heap[smallest])) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest], heap[i]];
        i = smallest;
      }
    }
    return top;
  }
}
