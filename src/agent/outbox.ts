/**
 * Samples on their way to the global manager. Collection hands a sample over
 * and goes on; one sender sends them in order. While the manager cannot be
 * reached (a transport failure, 5xx, 429), the sender waits with a doubling
 * backoff and the samples wait here, at most `limit` of them: past that the
 * oldest is dropped and counted, since the newest values are the ones a
 * decision reads. A 4xx answer is the manager refusing that sample, so it is
 * dropped (and logged with the manager's message), never retried; 401 and
 * 403 mean the agent's token is wrong, which no retry mends: the outbox stops
 * and reports it.
 */
import { assert } from '../engine/assert';
import type { EventData } from '../events/catalogue';
import type { HttpAnswer } from '../drivers/http';

type Sample = EventData<'UtilizationSampled'>;

export interface OutboxOptions {
  /** Samples kept at most (`agent_buffer_limit`). */
  readonly limit: number;
  readonly send: (sample: Sample) => Promise<HttpAnswer>;
  /** The first wait after a failure; each further one doubles, up to `backoffMaxMs`. */
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** A sample the manager refused (4xx but 401/403), with its answer. */
  readonly onRefused: (sample: Sample, answer: HttpAnswer) => void;
  /** The manager could not be reached; the sample stays and is tried again after `retryInMs`. */
  readonly onUnreachable: (problem: string, retryInMs: number) => void;
  /** 401 or 403: the outbox has stopped. */
  readonly onUnauthorised: (answer: HttpAnswer) => void;
}

export interface OutboxCounts {
  readonly sent: number;
  readonly refused: number;
  /** Dropped because the buffer was full. */
  readonly dropped: number;
  /** Failed tries (each followed by a wait). */
  readonly failures: number;
}

function retryable(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

export class SampleOutbox {
  private readonly queue: Sample[] = [];
  private counts = { sent: 0, refused: 0, dropped: 0, failures: 0 };
  private stopped = false;
  private sending: Promise<void> | null = null;
  /** The head of the queue while it is on its way: never the one dropped, or it could be both sent and dropped. */
  private inFlight: Sample | null = null;
  private wait: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private drainedWaiters: (() => void)[] = [];

  constructor(private readonly options: OutboxOptions) {
    assert(Number.isInteger(options.limit) && options.limit > 0, 'an outbox holds at least one sample');
    assert(options.backoffInitialMs > 0 && options.backoffMaxMs >= options.backoffInitialMs, 'a backoff grows from a positive wait');
  }

  get depth(): number {
    return this.queue.length;
  }

  get totals(): OutboxCounts {
    return { ...this.counts };
  }

  /** Queues a sample (dropping the oldest past the limit) and makes sure the sender runs. */
  push(sample: Sample): void {
    if (this.stopped) return;
    this.queue.push(sample);
    if (this.queue.length > this.options.limit) {
      this.queue.splice(this.queue[0] === this.inFlight ? 1 : 0, 1);
      this.counts.dropped += 1;
    }
    this.sending ??= this.sendAll().finally(() => {
      this.sending = null;
      this.notifyDrained();
    });
  }

  /** Resolves once the queue is empty (or the outbox stopped). */
  drained(): Promise<void> {
    if (this.queue.length === 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => { this.drainedWaiters.push(resolve); });
  }

  /** Stops sending; what is queued stays unsent (the agent's state file does not keep it). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.wait !== null) {
      clearTimeout(this.wait.timer);
      this.wait.resolve();
    }
    await this.sending;
    this.notifyDrained();
  }

  private notifyDrained(): void {
    if (this.queue.length > 0 && !this.stopped) return;
    for (const resolve of this.drainedWaiters.splice(0)) resolve();
  }

  private sleep(durationMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.wait = { timer: setTimeout(() => { this.wait = null; resolve(); }, durationMs), resolve };
    });
  }

  /** Sends the queue in order; returns when it is empty or the outbox stopped. */
  private async sendAll(): Promise<void> {
    let backoffMs = this.options.backoffInitialMs;
    while (!this.stopped && this.queue.length > 0) {
      const sample = this.queue[0];
      let problem: string;
      try {
        this.inFlight = sample;
        const answer = await this.options.send(sample).finally(() => { this.inFlight = null; });
        if (answer.status === 401 || answer.status === 403) {
          this.stopped = true;
          this.options.onUnauthorised(answer);
          return;
        }
        if (!retryable(answer.status)) {
          assert(this.queue[0] === sample, 'the sample on its way stays at the head');
          this.queue.shift();
          if (answer.status >= 200 && answer.status < 300) this.counts.sent += 1;
          else {
            this.counts.refused += 1;
            this.options.onRefused(sample, answer);
          }
          backoffMs = this.options.backoffInitialMs;
          continue;
        }
        problem = `${answer.status} ${answer.text.trim().slice(0, 200)}`;
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      if (this.stopped) return;
      this.counts.failures += 1;
      this.options.onUnreachable(problem, backoffMs);
      await this.sleep(backoffMs);
      backoffMs = Math.min(this.options.backoffMaxMs, backoffMs * 2);
    }
  }
}
