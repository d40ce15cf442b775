/**
 * The core of CloudSim 3.0.3's maximum correlation (MC) VM selection
 * (`PowerVmSelectionPolicyMaximumCorrelation`): the VM whose utilisation
 * history is best explained, by R² of a least-squares fit with intercept, by
 * the histories of the host's other VMs.
 */
import { olsRSquared } from '../regression';

/**
 * The index of the VM with the largest R², or null where CloudSim catches an
 * `IllegalArgumentException` and falls back to another policy: fewer than 2
 * VMs, fewer history values than VMs, or a singular system (for instance a VM
 * whose history is all zeros).
 *
 * `histories[i]` is VM i's history with index 0 the newest value, as CloudSim's
 * `PowerVm` keeps it. All are cut to the shortest length, keeping the newest
 * values. (CloudSim 3.0.3 sizes its matrix by the shortest history but copies
 * every value of each, which would overflow for unequal lengths; all VMs of its
 * experiments have equal lengths, and we follow the intent.)
 */
export function maximumCorrelationIndex(histories: readonly (readonly number[])[]): number | null {
  if (histories.length < 2) return null;
  const length = Math.min(...histories.map((history) => history.length));
  const data = histories.map((history) => history.slice(0, length));
  const rSquared: number[] = [];
  for (let vm = 0; vm < data.length; vm++) {
    const others = data.filter((_, other) => other !== vm);
    const observations = Array.from({ length }, (_, j) => others.map((history) => history[j]));
    const result = olsRSquared(data[vm], observations);
    if (result.kind !== 'ok') return null;
    rSquared.push(result.rSquared);
  }
  return maximumMetricIndex(rSquared);
}

/**
 * CloudSim's selection loop, exactly: the running maximum starts at
 * `Double.MIN_VALUE` (the smallest positive double, not the most negative) and
 * must be beaten strictly, so index 0 wins when no metric is positive, ties go
 * to the lower index, and NaN never wins.
 */
export function maximumMetricIndex(metrics: readonly number[]): number {
  let maxMetric = Number.MIN_VALUE;
  let maxIndex = 0;
  metrics.forEach((metric, index) => {
    if (metric > maxMetric) {
      maxMetric = metric;
      maxIndex = index;
    }
  });
  return maxIndex;
}
