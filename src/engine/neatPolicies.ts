/**
 * Local-manager policies by short names, for `neat sim --mode neat`, formed
 * like CloudSim's: `<detector>-<selection>-<parameter>`, e.g. `thr-mmt-0.8`,
 * `mhod-mmtc-0.2`. Each names Neat's algorithms with Neat's parameters (the
 * alternatives its `neat.conf` lists), the parameter going where the paper
 * puts it: the threshold, the safety parameter, or the OTF bound.
 */
import { UnknownPolicyError } from './cloudsim/policies';
import { createOverloadDetector, createVmSelector } from './registry';
import type { AlgorithmChoice } from './registry';

const DETECTORS: Readonly<Record<string, (parameter: number) => AlgorithmChoice>> = {
  thr: (p) => ({ name: 'threshold', params: { threshold: p } }),
  lr: (p) => ({ name: 'loess', params: { threshold: 1, param: p, length: 10 } }),
  lrr: (p) => ({ name: 'loess_robust', params: { threshold: 1, param: p, length: 10 } }),
  mad: (p) => ({ name: 'mad_threshold', params: { threshold: p, limit: 12 } }),
  iqr: (p) => ({ name: 'iqr_threshold', params: { threshold: p, limit: 12 } }),
  otf: (p) => ({ name: 'otf', params: { otf: p, threshold: 0.8, limit: 10 } }),
  mhod: (p) => ({
    name: 'mhod',
    params: { state_config: [0.8], otf: p, history_size: 500, window_sizes: [30, 40, 50, 60, 70, 80, 90, 100], bruteforce_step: 0.5, learning_steps: 10 },
  }),
};

const SELECTIONS: Readonly<Record<string, AlgorithmChoice>> = {
  mmt: { name: 'minimum_migration_time', params: {} },
  mmtc: { name: 'minimum_migration_time_max_cpu', params: { last_n: 2 } },
  mu: { name: 'minimum_utilization', params: {} },
  rs: { name: 'random', params: {} },
  mc: { name: 'maximum_correlation', params: {} },
};

export interface NeatPolicy {
  readonly name: string;
  readonly overload: AlgorithmChoice;
  readonly selection: AlgorithmChoice;
}

const HELP = `<detector>-<selection>-<parameter> with detector ${Object.keys(DETECTORS).join('|')} `
  + `and selection ${Object.keys(SELECTIONS).join('|')}, e.g. thr-mmt-0.8, lr-mmtc-1.2, mhod-mmtc-0.2`;

export function parseNeatPolicy(name: string): NeatPolicy {
  const parts = /^([a-z]+)-([a-z]+)-(\d+(?:\.\d+)?)$/.exec(name);
  if (parts === null) throw new UnknownPolicyError(`unknown policy "${name}"; expected ${HELP}`);
  const [, detector, selection, parameter] = parts;
  if (!Object.hasOwn(DETECTORS, detector)) throw new UnknownPolicyError(`unknown detector "${detector}" in policy "${name}"; expected ${HELP}`);
  if (!Object.hasOwn(SELECTIONS, selection)) throw new UnknownPolicyError(`unknown VM selection "${selection}" in policy "${name}"; expected ${HELP}`);
  const policy = { name, overload: DETECTORS[detector](Number(parameter)), selection: SELECTIONS[selection] };
  try {
    const context = { timeStepS: 300, migrationTimeS: 1 };
    createOverloadDetector(policy.overload, context);
    createVmSelector(policy.selection, context);
  } catch (error) {
    throw new UnknownPolicyError(`policy "${name}": ${error instanceof Error ? error.message : String(error)}`);
  }
  return policy;
}
