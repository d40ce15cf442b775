/** Traces written out by hand, small enough that a test can derive what a run on them does. */
import { createHash } from 'node:crypto';
import { formatCsvTrace } from '../../traces/csv';
import type { Trace } from '../../traces/trace';

/**
 * A trace on CloudSim's 300 s step: each VM's utilisation (fractions) at
 * t = 0, 300, 600, …, in the order given, which is the order of the run's VMs.
 * No RAM is given, so each VM has its type's. The digest is that of the CSV
 * `writeCsvTrace` would write, as for a generated trace.
 */
export function handTrace(name: string, utilizationByVm: Readonly<Record<string, readonly number[]>>): Trace {
  const vms = Object.entries(utilizationByVm).map(([id, utilization]) => ({ id, utilization: Float64Array.from(utilization), ramMb: null }));
  const trace = { name, format: 'csv' as const, stepS: 300, vms };
  return { ...trace, digest: createHash('sha256').update(formatCsvTrace({ ...trace, digest: '' })).digest('hex') };
}
