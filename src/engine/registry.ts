/**
 * Algorithms by name: a name (or Neat's dotted factory name, so that an
 * existing `neat.conf` works unchanged) plus JSON parameters give a ready
 * algorithm. Unknown names and invalid parameters are rejected with a message
 * that names the problem and lists what is valid.
 */
import type { ParamSpecs } from './params';
import { describeParams, parseParams } from './params';
import type { AlgorithmContext, Detector, VmPlacer, VmSelector } from './types';
import * as underload from './underload';
import * as trivial from './overload/trivial';
import * as statistics from './overload/statistics';
import * as otf from './overload/otf';
import * as mhod from './overload/mhod/mhod';
import * as cloudsimDetectors from './cloudsim/detectors';
import * as selection from './selection/neat';
import * as bfd from './placement/bfd';

export type AlgorithmKind = 'underload' | 'overload' | 'selection' | 'placement';

interface InstanceOf {
  readonly underload: Detector;
  readonly overload: Detector;
  readonly selection: VmSelector;
  readonly placement: VmPlacer;
}

interface Entry<K extends AlgorithmKind> {
  readonly name: string;
  readonly summary: string;
  /** Neat's fully qualified factory name, where Neat has this algorithm. */
  readonly neatFactory: string | null;
  readonly specs: ParamSpecs;
  readonly create: (context: AlgorithmContext, params: never) => InstanceOf[K];
}

function entry<K extends AlgorithmKind, S extends ParamSpecs>(
  name: string,
  summary: string,
  neatFactory: string | null,
  specs: S,
  create: (context: AlgorithmContext, params: ReturnType<typeof parseParams<S>>) => InstanceOf[K],
): Entry<K> {
  return { name, summary, neatFactory, specs, create: create };
}

const NEAT_UNDERLOAD = 'neat.locals.underload.trivial';
const NEAT_OVERLOAD = 'neat.locals.overload';
const NEAT_SELECTION = 'neat.locals.vm_selection.algorithms';

const REGISTRY: { readonly [K in AlgorithmKind]: readonly Entry<K>[] } = {
  underload: [
    entry('always_underloaded', 'always underloaded', `${NEAT_UNDERLOAD}.always_underloaded_factory`,
      underload.alwaysUnderloadedParamSpecs, () => underload.createAlwaysUnderloaded()),
    entry('threshold', 'last utilisation <= threshold', `${NEAT_UNDERLOAD}.threshold_factory`,
      underload.underloadThresholdParamSpecs, (_c, p) => underload.createUnderloadThreshold(p)),
    entry('last_n_average_threshold', 'mean of the last n <= threshold (Neat default)',
      `${NEAT_UNDERLOAD}.last_n_average_threshold_factory`,
      underload.underloadLastNAverageParamSpecs, (_c, p) => underload.createUnderloadLastNAverage(p)),
  ],
  overload: [
    entry('never_overloaded', 'never overloaded', `${NEAT_OVERLOAD}.trivial.never_overloaded_factory`,
      trivial.neverOverloadedParamSpecs, () => trivial.createNeverOverloaded()),
    entry('threshold', 'last utilisation > threshold', `${NEAT_OVERLOAD}.trivial.threshold_factory`,
      trivial.overloadThresholdParamSpecs, (_c, p) => trivial.createOverloadThreshold(p)),
    entry('last_n_average_threshold', 'mean of the last n > threshold',
      `${NEAT_OVERLOAD}.trivial.last_n_average_threshold_factory`,
      trivial.overloadLastNAverageParamSpecs, (_c, p) => trivial.createOverloadLastNAverage(p)),
    entry('loess', 'local regression (LR), Neat semantics', `${NEAT_OVERLOAD}.statistics.loess_factory`,
      statistics.loessParamSpecs, (c, p) => statistics.createLoess(c, p)),
    entry('loess_robust', 'robust local regression (LRR), Neat semantics',
      `${NEAT_OVERLOAD}.statistics.loess_robust_factory`,
      statistics.loessRobustParamSpecs, (c, p) => statistics.createLoessRobust(c, p)),
    entry('mad_threshold', 'median absolute deviation threshold, Neat semantics',
      `${NEAT_OVERLOAD}.statistics.mad_threshold_factory`,
      statistics.madThresholdParamSpecs, (c, p) => statistics.createMadThreshold(c, p)),
    entry('iqr_threshold', 'interquartile range threshold, Neat semantics',
      `${NEAT_OVERLOAD}.statistics.iqr_threshold_factory`,
      statistics.iqrThresholdParamSpecs, (c, p) => statistics.createIqrThreshold(c, p)),
    entry('otf', 'overload time fraction', `${NEAT_OVERLOAD}.otf.otf_factory`,
      otf.otfParamSpecs, (c, p) => otf.createOtf(c, p)),
    entry('mhod', 'Markov host overload detection (Neat default)', `${NEAT_OVERLOAD}.mhod.core.mhod_factory`,
      mhod.mhodParamSpecs, (c, p) => mhod.createMhod(c, p)),
    entry('cloudsim_thr', 'CloudSim 3.0.3 static threshold (THR)', null,
      cloudsimDetectors.cloudsimThrParamSpecs, (c, p) => cloudsimDetectors.createCloudsimThrDetector(c, p)),
    entry('cloudsim_iqr', 'CloudSim 3.0.3 IQR with its THR-0.7 fallback', null,
      cloudsimDetectors.cloudsimIqrParamSpecs, (c, p) => cloudsimDetectors.createCloudsimIqrDetector(c, p)),
    entry('cloudsim_mad', 'CloudSim 3.0.3 MAD with its THR-0.7 fallback', null,
      cloudsimDetectors.cloudsimMadParamSpecs, (c, p) => cloudsimDetectors.createCloudsimMadDetector(c, p)),
    entry('cloudsim_lr', 'CloudSim 3.0.3 local regression (LR)', null,
      cloudsimDetectors.cloudsimLrParamSpecs, (c, p) => cloudsimDetectors.createCloudsimLrDetector(c, p)),
    entry('cloudsim_lrr', 'CloudSim 3.0.3 robust local regression (LRR; equals LR there)', null,
      cloudsimDetectors.cloudsimLrrParamSpecs, (c, p) => cloudsimDetectors.createCloudsimLrrDetector(c, p)),
  ],
  selection: [
    entry('random', 'a random VM (seeded)', `${NEAT_SELECTION}.random_factory`,
      selection.randomSelectionParamSpecs, () => selection.createRandomSelection()),
    entry('minimum_utilization', 'the VM with the least last CPU', `${NEAT_SELECTION}.minimum_utilization_factory`,
      selection.minimumUtilizationParamSpecs, () => selection.createMinimumUtilization()),
    entry('minimum_migration_time', 'the VM with the least RAM', `${NEAT_SELECTION}.minimum_migration_time_factory`,
      selection.minimumMigrationTimeParamSpecs, () => selection.createMinimumMigrationTime()),
    entry('minimum_migration_time_max_cpu', 'least RAM, then highest recent CPU (Neat default)',
      `${NEAT_SELECTION}.minimum_migration_time_max_cpu_factory`,
      selection.minimumMigrationTimeMaxCpuParamSpecs, (_c, p) => selection.createMinimumMigrationTimeMaxCpu(p)),
    entry('maximum_correlation', 'CloudSim MC: the VM most correlated with the others', null,
      selection.maximumCorrelationParamSpecs, () => selection.createMaximumCorrelation()),
  ],
  placement: [
    entry('best_fit_decreasing', 'Neat best fit decreasing with CPU/RAM thresholds (Neat default)',
      'neat.globals.vm_placement.bin_packing.best_fit_decreasing_factory',
      bfd.bestFitDecreasingParamSpecs, (_c, p) => bfd.createBestFitDecreasing(p)),
  ],
};

const KIND_LABEL: Readonly<Record<AlgorithmKind, string>> = {
  underload: 'underload detection',
  overload: 'overload detection',
  selection: 'VM selection',
  placement: 'VM placement',
};

export class UnknownAlgorithmError extends Error {
  override name = 'UnknownAlgorithmError';
  constructor(readonly kind: AlgorithmKind, readonly algorithm: string) {
    const valid = REGISTRY[kind].map((e) => e.name).join(', ');
    super(`unknown ${KIND_LABEL[kind]} algorithm "${algorithm}"; valid: ${valid} (or Neat's dotted factory names)`);
  }
}

function findEntry<K extends AlgorithmKind>(kind: K, name: string): Entry<K> {
  const found = (REGISTRY[kind] as readonly Entry<K>[]).find((e) => e.name === name || e.neatFactory === name);
  if (found === undefined) throw new UnknownAlgorithmError(kind, name);
  return found;
}

export interface AlgorithmChoice {
  /** Our name or Neat's dotted factory name. */
  readonly name: string;
  /** JSON parameters as `neat.conf` gives them; absent keys take their defaults. */
  readonly params: unknown;
}

function create<K extends AlgorithmKind>(kind: K, choice: AlgorithmChoice, context: AlgorithmContext): InstanceOf[K] {
  const found = findEntry(kind, choice.name);
  const params = parseParams(`${KIND_LABEL[kind]} "${found.name}"`, found.specs, choice.params);
  return found.create(context, params as never);
}

export function createUnderloadDetector(choice: AlgorithmChoice, context: AlgorithmContext): Detector {
  return create('underload', choice, context);
}

export function createOverloadDetector(choice: AlgorithmChoice, context: AlgorithmContext): Detector {
  return create('overload', choice, context);
}

export function createVmSelector(choice: AlgorithmChoice, context: AlgorithmContext): VmSelector {
  return create('selection', choice, context);
}

export function createVmPlacer(choice: AlgorithmChoice, context: AlgorithmContext): VmPlacer {
  return create('placement', choice, context);
}

export interface AlgorithmDescription {
  readonly kind: AlgorithmKind;
  readonly name: string;
  readonly summary: string;
  readonly neatFactory: string | null;
  readonly params: string;
}

export function listAlgorithms(): AlgorithmDescription[] {
  return (Object.keys(REGISTRY) as AlgorithmKind[]).flatMap((kind) =>
    (REGISTRY[kind] as readonly Entry<AlgorithmKind>[]).map((e) => ({
      kind,
      name: e.name,
      summary: e.summary,
      neatFactory: e.neatFactory,
      params: describeParams(e.specs),
    })));
}
