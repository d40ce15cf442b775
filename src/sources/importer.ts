/**
 * Polls a sample source every `data_collector_interval` and records what it
 * returns as `UtilizationSampled` events. A poll that fails is tried again a
 * bounded number of times; when every try failed, the source is unavailable
 * until a poll succeeds, and decisions record `NothingToDo`
 * `source-unavailable` instead of deciding on histories that stopped.
 */
import { family } from '../api/metrics';
import { assert } from '../engine/assert';
import type { EventData } from '../events/catalogue';
import type { SampleSource } from './port';
import { SourceError } from './port';

export interface ImporterLog {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface ImporterOptions {
  readonly source: SampleSource;
  readonly intervalMs: number;
  /** Tries per poll, the first included. */
  readonly maxAttempts: number;
  /** The wait before the second try, doubled for each further one. */
  readonly retryBackoffMs: number;
  readonly record: (sample: EventData<'UtilizationSampled'>) => Promise<void>;
  readonly vmHost: (vmId: string) => string | null;
  readonly nowMs: () => number;
  readonly log: ImporterLog;
}

/** Problems kept per poll for the log line: a source with thousands of missing series names the first ones. */
const PROBLEMS_NAMED = 20;

export class SampleImporter {
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;
  private failure: { readonly sinceMs: number; readonly message: string } | null = null;
  private readonly counts = { polls: 0, failedPolls: 0, samples: 0, problems: 0 };
  private sleeping: { timer: NodeJS.Timeout; resolve: () => void } | null = null;

  constructor(private readonly options: ImporterOptions) {
    assert(options.intervalMs > 0 && options.maxAttempts >= 1 && options.retryBackoffMs >= 0, 'an importer polls at a positive interval, at least once');
  }

  /** Polls now, then every interval; a poll still under way makes the next one wait for it. */
  start(): void {
    this.polling = this.pollOnce();
    this.timer = setInterval(() => {
      this.polling = this.polling.then(() => this.pollOnce());
    }, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.sleeping !== null) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.resolve();
    }
    await this.polling;
  }

  /** Why the histories cannot be trusted now (the source failed its last poll), or null. */
  problem(): string | null {
    if (this.failure === null) return null;
    return `${this.options.source.description} has been unavailable since ${new Date(this.failure.sinceMs).toISOString()}: ${this.failure.message}`;
  }

  metrics(): string {
    const { counts } = this;
    return [
      family('neat_source_up', 'gauge', 'Whether the last poll of the sample source succeeded.', [{ labels: {}, value: this.failure === null ? 1 : 0 }]),
      family('neat_source_polls_total', 'counter', 'Polls of the sample source, by result (a failed poll is one whose every try failed).', [
        { labels: { result: 'ok' }, value: counts.polls - counts.failedPolls },
        { labels: { result: 'failed' }, value: counts.failedPolls },
      ]),
      family('neat_source_samples_total', 'counter', 'Samples recorded from the source (one per host and poll).', [{ labels: {}, value: counts.samples }]),
      family('neat_source_problems_total', 'counter', 'VMs or hosts the source could not give a value for, per poll.', [{ labels: {}, value: counts.problems }]),
    ].join('\n') + '\n';
  }

  private async pollOnce(): Promise<void> {
    const { source, maxAttempts, log } = this.options;
    this.counts.polls += 1;
    let lastError: SourceError | null = null;
    for (let attempt = 1; attempt <= maxAttempts && !this.stopped; attempt++) {
      if (attempt > 1) await this.sleep(this.options.retryBackoffMs * 2 ** (attempt - 2));
      try {
        const reading = await source.poll(this.options.vmHost);
        for (const sample of reading.samples) await this.options.record(sample);
        this.counts.samples += reading.samples.length;
        this.counts.problems += reading.problems.length;
        if (reading.problems.length > 0) {
          const named = reading.problems.slice(0, PROBLEMS_NAMED).map((p) => `${p.subject}: ${p.problem}`).join('; ');
          log.warn(`${source.description}: no value for ${reading.problems.length} VM(s) or host(s): ${named}`, { event: 'source-problems', count: reading.problems.length });
        }
        this.failure = null;
        return;
      } catch (error) {
        if (!(error instanceof SourceError)) throw error;
        lastError = error;
        log.warn(`${source.description}: poll try ${attempt} of ${maxAttempts} failed (${error.kind}): ${error.message}`, { event: 'source-poll-failed', kind: error.kind });
      }
    }
    // Stopped before any try ended: nothing was learnt of the source.
    if (lastError === null) return;
    this.counts.failedPolls += 1;
    this.failure = { sinceMs: this.failure?.sinceMs ?? this.options.nowMs(), message: lastError.message };
    log.error(`${source.description} is unavailable: decisions record NothingToDo (source-unavailable) until a poll succeeds`, { event: 'source-unavailable' });
  }

  private sleep(durationMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleeping = { timer: setTimeout(() => { this.sleeping = null; resolve(); }, durationMs), resolve };
    });
  }
}
