/**
 * The scheduler paced by the wall clock, `speed` times faster: what
 * `neat serve --sim` runs on, so that a service with real sockets drives a
 * simulated data centre whose day passes in minutes.
 *
 * Pacing may slow the virtual clock, never skip work: the clock moves (to the
 * next event, or with the wall clock between events) only once the run's
 * activities are quiet, so a request or sample still on its way is handled at
 * the virtual time it was sent, whatever the speed. A run therefore makes the
 * same decisions at the same virtual times as the batch run of the same
 * trace, configuration and seed. When the service cannot keep pace, the
 * clock falls behind the wall clock; `lagS` says by how much.
 */
import type { Clock, Timer } from '../src/clock';
import { assert } from '../src/engine/assert';
import type { Scheduler } from './scheduler';
import { quiesce, VirtualTimer } from './virtualTime';
import type { Activity } from './virtualTime';

export interface PacingOptions {
  /** Virtual seconds per wall-clock second. */
  readonly speed: number;
  /** Wall-clock epoch time (ms) of virtual time 0 in the events' times; 0 stamps them with the simulation's own time. */
  readonly epochMs: number;
  /** How often the virtual clock catches up when no event is due. */
  readonly tickMs: number;
  /** Events run without a pause at most, so that a burst cannot starve the sockets. */
  readonly maxEventsPerTick: number;
  /** What the clock waits for before it moves. */
  readonly activities: readonly Activity[];
}

export class PacedScheduler {
  readonly clock: Clock;
  readonly timer: Timer;
  /** How far (virtual seconds) the last event ran after the wall clock said it was due. */
  lagS = 0;
  maxLagS = 0;
  private running = false;
  private wallStartMs = 0;
  private virtualStartS = 0;
  private loop: Promise<void> | null = null;
  /** No event after this time runs until `release`; `reached` resolves once all before it have. */
  private hold: { readonly atS: number; readonly reached: () => void } | null = null;

  constructor(private readonly scheduler: Scheduler, private readonly options: PacingOptions) {
    assert(options.speed > 0 && options.tickMs > 0 && options.maxEventsPerTick > 0, 'pacing needs a positive speed, tick and burst');
    this.clock = { nowMs: () => options.epochMs + scheduler.timeS * 1000 };
    this.timer = new VirtualTimer(scheduler);
  }

  start(): void {
    assert(!this.running, 'the pacing runs once');
    this.running = true;
    this.rebase();
    this.loop = this.run();
  }

  /** Runs no more events; resolves once the event in progress has settled. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Resolves once every event up to `atS` has run and settled; later ones wait for `release`. */
  holdAfter(atS: number): Promise<void> {
    assert(this.hold === null, 'one hold at a time');
    return new Promise((resolve) => { this.hold = { atS, reached: resolve }; });
  }

  /** Lets the events after the hold run, paced from now on (the time held is not made up). */
  release(): void {
    this.hold = null;
    this.rebase();
  }

  private rebase(): void {
    this.wallStartMs = Date.now();
    this.virtualStartS = this.scheduler.timeS;
  }

  private targetS(): number {
    return this.virtualStartS + ((Date.now() - this.wallStartMs) / 1000) * this.options.speed;
  }

  private async run(): Promise<void> {
    let burst = 0;
    for (;;) {
      await quiesce(this.options.activities);
      if (!this.running) return;
      const next = this.scheduler.nextS;
      const hold = this.hold;
      if (hold !== null && (next === null || next > hold.atS)) hold.reached();
      const targetS = this.targetS();
      const limitS = Math.min(targetS, hold?.atS ?? Infinity);
      if (next !== null && next <= limitS && burst < this.options.maxEventsPerTick) {
        this.lagS = Math.max(0, targetS - next);
        this.maxLagS = Math.max(this.maxLagS, this.lagS);
        this.scheduler.step();
        burst += 1;
        continue;
      }
      burst = 0;
      if (next === null || next > limitS) {
        this.lagS = 0;
        if (limitS > this.scheduler.timeS) this.scheduler.advanceTo(limitS);
      }
      const untilNextMs = next === null ? Infinity : ((next - this.scheduler.timeS) / this.options.speed) * 1000;
      await new Promise((resolve) => { setTimeout(resolve, Math.max(0, Math.min(this.options.tickMs, untilNextMs))); });
    }
  }
}
