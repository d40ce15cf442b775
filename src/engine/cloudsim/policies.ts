/**
 * CloudSim's experiment policies by the names of the paper: `npa`, `dvfs`, and
 * `<detector>-<selection>-<parameter>` for any detector (thr, iqr, mad, lr,
 * lrr), selection (mmt, mu, rs, mc) and parameter, e.g. `lr-mmt-1.2`.
 */
import { InvalidParameterError, parseParams } from '../params';
import type { CloudsimPolicy } from '../placement/pabfd';
import {
  cloudsimIqrParamSpecs, cloudsimLrParamSpecs, cloudsimLrrParamSpecs, cloudsimMadParamSpecs, cloudsimThrParamSpecs,
  createCloudsimIqrTest, createCloudsimLrrTest, createCloudsimLrTest, createCloudsimMadTest, createCloudsimThrTest,
} from './detectors';
import { CLOUDSIM_SELECTIONS } from './selection';
import type { CloudsimSelectionName } from './selection';
import type { HostOverloadTest } from './types';

export const CLOUDSIM_DETECTORS = ['thr', 'iqr', 'mad', 'lr', 'lrr'] as const;
export type CloudsimDetectorName = (typeof CLOUDSIM_DETECTORS)[number];

export type CloudsimPolicyChoice =
  | { readonly kind: 'npa'; readonly name: 'npa' }
  | { readonly kind: 'dvfs'; readonly name: 'dvfs' }
  | {
    readonly kind: 'migration';
    readonly name: string;
    readonly detector: CloudsimDetectorName;
    readonly selection: CloudsimSelectionName;
    readonly parameter: number;
  };

export class UnknownPolicyError extends Error {
  override name = 'UnknownPolicyError';
}

const POLICY_HELP = 'npa, dvfs, or <detector>-<selection>-<parameter> with detector thr|iqr|mad|lr|lrr and selection '
  + 'mmt|mu|rs|mc, e.g. thr-mmt-0.8, iqr-mmt-1.5, mad-mmt-2.5, lr-mmt-1.2, lrr-mmt-1.2, lr-mc-1.2';

export function parseCloudsimPolicy(name: string): CloudsimPolicyChoice {
  if (name === 'npa') return { kind: 'npa', name };
  if (name === 'dvfs') return { kind: 'dvfs', name };
  const parts = /^([a-z]+)-([a-z]+)-(\d+(?:\.\d+)?)$/.exec(name);
  const detector = parts?.[1];
  const selection = parts?.[2];
  if (parts === null || detector === undefined || selection === undefined) {
    throw new UnknownPolicyError(`unknown policy "${name}"; expected ${POLICY_HELP}`);
  }
  if (!(CLOUDSIM_DETECTORS as readonly string[]).includes(detector)) {
    throw new UnknownPolicyError(`unknown detector "${detector}" in policy "${name}"; detectors: ${CLOUDSIM_DETECTORS.join(', ')}`);
  }
  if (!Object.hasOwn(CLOUDSIM_SELECTIONS, selection)) {
    throw new UnknownPolicyError(`unknown VM selection "${selection}" in policy "${name}"; selections: ${Object.keys(CLOUDSIM_SELECTIONS).join(', ')}`);
  }
  return { kind: 'migration', name, detector: detector as CloudsimDetectorName, selection: selection as CloudsimSelectionName, parameter: Number(parts[3]) };
}

function hostTest(detector: CloudsimDetectorName, parameter: number, schedulingIntervalS: number): HostOverloadTest {
  const label = `policy detector ${detector}`;
  switch (detector) {
    case 'thr':
      return createCloudsimThrTest(parseParams(label, cloudsimThrParamSpecs, { threshold: parameter }));
    case 'iqr':
      return createCloudsimIqrTest(parseParams(label, cloudsimIqrParamSpecs, { safety: parameter }));
    case 'mad':
      return createCloudsimMadTest(parseParams(label, cloudsimMadParamSpecs, { safety: parameter }));
    case 'lr':
      return createCloudsimLrTest(parseParams(label, cloudsimLrParamSpecs, { safety: parameter }), schedulingIntervalS);
    case 'lrr':
      return createCloudsimLrrTest(parseParams(label, cloudsimLrrParamSpecs, { safety: parameter }), schedulingIntervalS);
  }
}

/** The detector and selection of a migration policy, ready for `planReallocation`. */
export function cloudsimPolicyOf(choice: CloudsimPolicyChoice & { kind: 'migration' }, schedulingIntervalS: number): CloudsimPolicy {
  try {
    return { isOverUtilized: hostTest(choice.detector, choice.parameter, schedulingIntervalS), selectVm: CLOUDSIM_SELECTIONS[choice.selection] };
  } catch (error) {
    if (error instanceof InvalidParameterError) throw new UnknownPolicyError(`policy "${choice.name}": ${error.message}`);
    throw error;
  }
}
