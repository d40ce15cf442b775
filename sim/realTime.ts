/**
 * The scheduler paced by the wall clock, `speed` times faster: what
 * `neat serve --sim` runs on, so that a service with real sockets drives a
 * simulated data centre whose day passes in minutes. Events run when their
 * virtual time comes; between them, the virtual clock follows the wall clock.
 * Unlike a batch simulation this is not deterministic (real I/O interleaves).
 */
import type { Clock, Timer } from '../src/clock';
import { assert } from '../src/engine/assert';
import type { Scheduler } from './scheduler';
import { settleMicrotasks, VirtualTimer } from './virtualTime';

export interface PacingOptions {
  /** Virtual seconds per wall-clock second. */
  readonly speed: number;
  /** Wall-clock epoch time (ms) of virtual time 0, so that event times read as real dates. */
  readonly epochMs: number;
  /** How often the virtual clock catches up when no event is due. */
  readonly tickMs: number;
  /** Events run per tick at most, so that a burst cannot starve the sockets. */
  readonly maxEventsPerTick: number;
}

export class PacedScheduler {
  readonly clock: Clock;
  readonly timer: Timer;
  private running = false;
  private wallStartMs = 0;
  private virtualStartS = 0;
  private loop: Promise<void> | null = null;

  constructor(private readonly scheduler: Scheduler, private readonly options: PacingOptions) {
    assert(options.speed > 0 && options.tickMs > 0 && options.maxEventsPerTick > 0, 'pacing needs a positive speed, tick and burst');
    this.clock = { nowMs: () => options.epochMs + scheduler.timeS * 1000 };
    this.timer = new VirtualTimer(scheduler);
  }

  start(): void {
    assert(!this.running, 'the pacing runs once');
    this.running = true;
    this.wallStartMs = Date.now();
    this.virtualStartS = this.scheduler.timeS;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private targetS(): number {
    return this.virtualStartS + ((Date.now() - this.wallStartMs) / 1000) * this.options.speed;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const targetS = this.targetS();
      let ran = 0;
      for (let next = this.scheduler.nextS; next !== null && next <= targetS && ran < this.options.maxEventsPerTick; next = this.scheduler.nextS) {
        this.scheduler.step();
        ran += 1;
        await settleMicrotasks();
      }
      const next = this.scheduler.nextS;
      if (ran < this.options.maxEventsPerTick && (next === null || next > targetS)) this.scheduler.advanceTo(Math.max(this.scheduler.timeS, targetS));
      await new Promise((resolve) => { setTimeout(resolve, this.options.tickMs); });
    }
  }
}
