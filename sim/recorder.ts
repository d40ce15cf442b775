/**
 * Where a simulation run's events go: each is stamped (virtual time, seeded
 * id), checked against the catalogue, folded into the metrics projection, and
 * appended to the run's log when there is one. A replay folds the same events
 * into the same projection, so both report the same numbers.
 */
import type { EventData, EventType } from '../src/events/catalogue';
import { newEvent, validateNewEvent } from '../src/events/envelope';
import type { Causes, EventContext, NewEvent } from '../src/events/envelope';
import { NO_STREAM } from '../src/log/port';
import type { AppendResult, EventLog } from '../src/log/port';
import type { MetricsProjection } from './metrics';

/** The events the simulator's CloudSim world checks as it builds them. */
export type CheckedEventType = 'DataCentreUpdated' | 'MigrationStarted' | 'MigrationCompleted';

/** Events are appended in batches of this many. */
const BATCH_EVENTS = 500;

/** Routes an event to the metrics: one function for the run and its replay. */
export function foldIntoMetrics(metrics: MetricsProjection, event: NewEvent): void {
  switch (event.type) {
    case 'SimulationStarted':
      metrics.started(event.metadata.timeMs / 1000);
      return;
    case 'DataCentreUpdated':
      metrics.updated(event.data, event.metadata.timeMs / 1000);
      return;
    case 'MigrationStarted':
      metrics.migrationStarted();
      return;
    case 'HostSuspended':
      metrics.hostPower(event.data.host, event.metadata.timeMs / 1000, 'suspended');
      return;
    case 'HostWoken':
      metrics.hostPower(event.data.host, event.metadata.timeMs / 1000, 'woken');
      return;
    default:
      return;
  }
}

export class RunRecorder {
  private batch: NewEvent[] = [];
  private revision = NO_STREAM;
  private readonly appends: Promise<AppendResult>[] = [];
  private recorded = 0;
  private readonly causes: Causes;

  constructor(
    private readonly stream: string,
    private readonly context: EventContext,
    runId: string,
    private readonly metrics: MetricsProjection,
    private readonly log: EventLog | null,
  ) {
    this.causes = { correlationId: runId, causationId: null };
  }

  get eventCount(): number {
    return this.recorded;
  }

  /** Whether an event's data outlives its recording (it waits in a batch for the log); without a log it is folded and dropped. */
  get keepsEvents(): boolean {
    return this.log !== null;
  }

  record<T extends EventType>(type: T, data: EventData<T>): void {
    const event = newEvent(this.context, type, data, this.causes);
    validateNewEvent(event);
    this.add(event);
  }

  /**
   * Records an event whose writer asserted, while building it, all that the
   * catalogue's schema checks of its data (see `CloudsimWorld`); the envelope is
   * `newEvent`'s own. The generic check would walk (and box) the thousands of
   * numbers of each `DataCentreUpdated` again, and took ~2 µs for each of the
   * ~55,000 migration events of a policy-day.
   */
  recordChecked<T extends CheckedEventType>(type: T, data: EventData<T>): void {
    this.add(newEvent(this.context, type, data, this.causes));
  }

  private add(event: NewEvent): void {
    foldIntoMetrics(this.metrics, event);
    this.recorded += 1;
    if (this.log === null) return;
    this.batch.push(event);
    if (this.batch.length >= BATCH_EVENTS) this.flush();
  }

  /**
   * The embedded adapters write when `append` is called, so a run's batches go
   * to disk as it goes; the promises are collected to surface any failure.
   */
  private flush(): void {
    if (this.log === null || this.batch.length === 0) return;
    const expected = this.revision;
    this.revision += this.batch.length;
    this.appends.push(this.log.append(this.stream, this.batch, expected));
    this.batch = [];
  }

  async finish(): Promise<void> {
    this.flush();
    await Promise.all(this.appends);
  }
}
