/**
 * What a report shows, as plain data: the analyses of a log (a simulation
 * run's, a production manager's) and of a sweep, independent of how they are
 * drawn. `neat replay --json` prints the metrics part; `neat report` draws all of it.
 */

/** Where a figure comes from, so that it can be traced to its run. */
export interface Provenance {
  /** The input as the user named it. */
  readonly input: string;
  /** sha256 (hex) of the input file's bytes. */
  readonly inputSha256: string;
  /** The version of the code that made the report. */
  readonly reportVersion: string;
  /** The version of the code that wrote the log (a simulation's `SimulationStarted.codeVersion`), when it says. */
  readonly logVersion: string | null;
  readonly events: number;
}

/**
 * Production's headline metrics, with the simulator's definitions where they
 * apply (docs/metrics.md says what each means on a production log). Times are
 * the events' own (`metadata.timeMs`): wall time in production, virtual time
 * in a `serve --sim` or mode-`neat` run.
 */
export interface ProductionMetrics {
  /** ∫ P(u) dt over each host's active time, P the configured power model, u its last sampled CPU share. */
  readonly energyKwh: number;
  /** Migrations started (`MigrationStarted`), as the simulator counts them. */
  readonly migrations: number;
  readonly migrationsCompleted: number;
  readonly migrationsFailed: number;
  readonly migrationsAbandoned: number;
  /** Time active at a sampled CPU share ≥ 1 (saturated), over time active. */
  readonly slatah: number;
  /** CPU MHz·s lost to migration (10 % of the VM's sampled MHz over each completed migration), over all sampled VM MHz·s. */
  readonly pdm: number;
  readonly slav: number;
  readonly esv: number;
  /** `HostSuspended` events. */
  readonly hostShutdowns: number;
  /** Mean time a suspended host had been up (since it was first seen up or last woken). */
  readonly meanTimeBeforeHostShutdownS: number;
  /** Mean `durationMs` of completed migrations, in seconds. */
  readonly meanMigrationDurationS: number;
  readonly hosts: number;
  readonly vms: number;
  /** From the first to the last event's time. */
  readonly observedS: number;
  /** The power model the energy was estimated with (a key of `POWER_MODELS`). */
  readonly powerModel: string;
}

/** A series sampled on fixed buckets: `values[k]` covers [startS + k·bucketS, startS + (k+1)·bucketS). */
export interface Buckets {
  /** Seconds since the epoch of the events' clock (0 for a simulation). */
  readonly startS: number;
  readonly bucketS: number;
  readonly count: number;
}

export interface ProductionAnalysis {
  readonly metrics: ProductionMetrics;
  readonly buckets: Buckets;
  /** Per bucket, each of length `buckets.count`. */
  readonly series: {
    /** Requests by how they ended, by the bucket of their `RequestCompleted` (or `RequestRejected`, as `rejected`). */
    readonly requests: Readonly<Record<'completed' | 'partial' | 'failed' | 'superseded' | 'rejected' | 'recorded', readonly number[]>>;
    /** `NothingToDo` by reason (the keys are `NOTHING_TO_DO_REASONS` that occur). */
    readonly nothingToDo: Readonly<Record<string, readonly number[]>>;
    readonly migrationsStarted: readonly number[];
    readonly migrationsCompleted: readonly number[];
    readonly migrationsFailed: readonly number[];
    readonly suspends: readonly number[];
    readonly wakes: readonly number[];
    readonly suspendFailures: readonly number[];
    readonly wakeFailures: readonly number[];
    /** Hosts up (not suspended) and suspended at the bucket's end. */
    readonly hostsActive: readonly number[];
    readonly hostsSuspended: readonly number[];
    /** Mean power over the bucket, W, and energy from the start to the bucket's end, kWh. */
    readonly powerW: readonly number[];
    readonly energyKwh: readonly number[];
  };
  /** Completed migrations: when each ended (s) and how long it took (s). */
  readonly migrationDurations: { readonly endS: readonly number[]; readonly durationS: readonly number[] };
  /** Failed or abandoned migrations, most recent last (at most 1,000). */
  readonly migrationFailures: readonly { readonly timeS: number; readonly vmId: string; readonly sourceHost: string; readonly targetHost: string; readonly error: string }[];
  /** Decision latency: from `RequestReceived` to its `PlacementDecided` or `NothingToDo`, per decision. */
  readonly decisionLatency: { readonly timeS: readonly number[]; readonly latencyMs: readonly number[] };
}
