/**
 * Where the global manager's utilisation histories come from when agents do
 * not post them (`samples_source`): Neat's database (`neat-db`) or Prometheus
 * (`prometheus`). A source is polled every `data_collector_interval`; what it
 * returns is recorded as `UtilizationSampled` events, exactly as agents'
 * samples are, so that every value a decision reads is in the log (and a
 * replay or a what-if export sees it) whatever the source.
 */
import type { EventData } from '../events/catalogue';
import type { RecordedEvent } from '../events/envelope';

export interface SourceReading {
  /** One per host that has new values, VMs grouped under the host that runs them. */
  readonly samples: readonly EventData<'UtilizationSampled'>[];
  /** What could not be read for one VM or host (a series missing, NaN, stale, a counter reset): named, never thrown. */
  readonly problems: readonly { readonly subject: string; readonly problem: string }[];
}

export type SourceErrorKind =
  /** Not reachable: refused, reset, DNS, down. */
  | 'unreachable'
  /** Credentials refused. */
  | 'unauthorised'
  /** Reachable, but not what we read: Neat's tables missing, an unexpected answer. */
  | 'malformed'
  | 'timeout';

/** The whole poll failed; the importer retries within bounds, and decisions say the source is unavailable meanwhile. */
export class SourceError extends Error {
  override name = 'SourceError';
  constructor(readonly kind: SourceErrorKind, message: string) {
    super(message);
  }
}

export interface SampleSource {
  /** `neat-db` or `prometheus`, and where: for messages and `/metrics`. */
  readonly description: string;
  /**
   * The values that are new since the previous poll. `vmHost` says where the
   * cloud has each VM now (the manager's projection), for sources whose rows
   * do not name the host (Neat's `vm_resource_usage`).
   */
  poll(vmHost: (vmId: string) => string | null): Promise<SourceReading>;
  /** Each recorded event, for sources that also write (Neat's `host_states` on suspend and wake). */
  recorded?(event: RecordedEvent): Promise<void>;
  close(): Promise<void>;
}
