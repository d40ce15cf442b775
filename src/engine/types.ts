/**
 * The shapes shared by every algorithm of the decision engine.
 *
 * Each algorithm follows Neat's factory interface, typed: a factory receives the
 * time step, the migration time and validated parameters, and returns an object
 * whose call takes the inputs plus the algorithm's own state and returns
 * `[result, newState]`. The caller keeps the state and passes it back next time.
 */

/** A source of uniform random numbers in [0, 1); seeded, so runs can be replayed. */
export interface Rng {
  next(): number;
}

/** What Neat passes to every factory besides the parameters. */
export interface AlgorithmContext {
  /** Neat's `time_step`: the data collector interval, in seconds. */
  readonly timeStepS: number;
  /** Neat's `migration_time`: mean VM RAM / migration bandwidth, in seconds. */
  readonly migrationTimeS: number;
}

/** `[result, state]`, as every Neat algorithm returns it. */
export type Step<R, S> = readonly [result: R, state: S];

/** Underload and overload detectors: utilisation history (oldest first, fractions) in, a decision out. */
export interface Detector<S = unknown> {
  readonly name: string;
  initialState(): S;
  detect(utilization: readonly number[], state: S): Step<boolean, S>;
}

/** VM CPU histories in MHz (oldest first) and VM RAM in MB, keyed by VM id. */
export interface VmSelectionInput {
  readonly vmsCpuMhz: Readonly<Record<string, readonly number[]>>;
  readonly vmsRamMb: Readonly<Record<string, number>>;
}

export interface VmSelector<S = unknown> {
  readonly name: string;
  initialState(): S;
  /** Returns the VMs to migrate off an overloaded host. */
  select(input: VmSelectionInput, state: S, rng: Rng): Step<readonly string[], S>;
}

/** An active host the placement may use: its capacity and what its VMs and hypervisor use now. */
export interface PlacementHost {
  readonly name: string;
  readonly cpuUsageMhz: number;
  readonly cpuTotalMhz: number;
  readonly ramUsageMb: number;
  readonly ramTotalMb: number;
}

/** A host that may be switched on, offered at its full capacity. */
export interface InactivePlacementHost {
  readonly name: string;
  readonly cpuMhz: number;
  readonly ramMb: number;
}

/**
 * Neat's placement inputs (its per-host dicts as one list of hosts; names are
 * unique across both lists). Lists rather than Neat's name-keyed dicts: the
 * global manager builds this for every request, over every host.
 */
export interface PlacementInput {
  readonly hosts: readonly PlacementHost[];
  readonly inactiveHosts: readonly InactivePlacementHost[];
  /** CPU history of each VM to place, in MHz, oldest first. */
  readonly vmsCpuMhz: Readonly<Record<string, readonly number[]>>;
  readonly vmsRamMb: Readonly<Record<string, number>>;
}

export type UnplacedReason = 'no-cpu-data' | 'no-host-fits' | 'all-or-nothing';

export interface PlacementResult {
  /** VM id → host name. Empty when the algorithm could not place everything it had to. */
  readonly mapping: Readonly<Record<string, string>>;
  /** Every VM of the input that is not in `mapping`, with the reason. */
  readonly unplaced: readonly { readonly vm: string; readonly reason: UnplacedReason }[];
}

export interface VmPlacer<S = unknown> {
  readonly name: string;
  initialState(): S;
  place(input: PlacementInput, state: S): Step<PlacementResult, S>;
}

/** The state of a stateless algorithm: Neat returns `{}` for it. */
export type NoState = Record<string, never>;
export const NO_STATE: NoState = Object.freeze({});
