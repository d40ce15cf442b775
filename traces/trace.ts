/**
 * The in-memory workload trace that every format reads into and the simulator
 * replays: one CPU-utilisation series per VM on a fixed time step.
 */
import { assert, AssertionError } from '../src/engine/assert';

export interface TraceVm {
  readonly id: string;
  /**
   * Fractions of the VM's own CPU capacity (percent / 100) at t = 0, stepS,
   * 2·stepS, …. A fraction rather than MHz because a trace says nothing about
   * the VM's size: the simulator decides which VM type a series drives.
   */
  readonly utilization: Float64Array;
  /** The VM's RAM when the trace records it; PlanetLab does not. */
  readonly ramMb: number | null;
}

/** A host of a trace's data centre: its CPU (cores × MHz each), RAM and power model. */
export interface TraceHost {
  readonly name: string;
  readonly cores: number;
  readonly coreMhz: number;
  readonly ramMb: number;
  /** A key of `POWER_MODELS`. */
  readonly power: string;
}

/**
 * The data centre a trace was recorded on (an export of a production log
 * carries one): its hosts, each VM's CPU capacity and the host it started on.
 * Without one, the simulator builds CloudSim's PlanetLab data centre.
 */
export interface TraceDataCentre {
  readonly hosts: readonly TraceHost[];
  /** Per VM, in the trace's order. */
  readonly vms: readonly { readonly cpuMhz: number; readonly host: string }[];
}

export interface Trace {
  readonly name: string;
  readonly format: 'planetlab' | 'csv';
  readonly stepS: number;
  /** VM i of a run is driven by `vms[i]`, so this order is part of the data. */
  readonly vms: readonly TraceVm[];
  /**
   * sha256 (hex) of the source content in a canonical order, so that a run
   * records exactly which trace it replayed (see traces/README.md).
   */
  readonly digest: string;
  /** The data centre the trace was recorded on, when it says (CSV `#@host` and `#@vm` lines). */
  readonly dataCentre?: TraceDataCentre;
}

/** What a run's `SimulationStarted` says of its trace: enough to tell which trace it was. */
export function traceSummary(trace: Trace): { name: string; format: string; digest: string; vms: number; stepS: number } {
  return { name: trace.name, format: trace.format, digest: trace.digest, vms: trace.vms.length, stepS: trace.stepS };
}

/** Bad trace input: the message names the file, the 1-based line where there is one, and the problem. */
export class TraceError extends Error {
  override name = 'TraceError';
}

/** Why a file-system call failed, as briefly as Node says it (ENOENT, EACCES, …). */
export function systemErrorReason(error: unknown): string {
  // Duck-typed, because an error from another realm (a test sandbox) is not `instanceof Error` here.
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return String(error);
}

/**
 * Where CloudSim reads a series at a time: the samples either side, and the
 * interpolation's span and offset, which are the same for every VM of a trace.
 */
interface SamplePoint {
  readonly lower: number;
  readonly upper: number;
  readonly spanS: number;
  readonly offsetS: number;
}

function samplePointAt(timeS: number, stepS: number): SamplePoint {
  assert(Number.isFinite(stepS) && stepS > 0, () => `step must be a positive number of seconds, got ${stepS}`);
  assert(Number.isFinite(timeS) && timeS >= 0, () => `time must be a non-negative number of seconds, got ${timeS}`);
  if (timeS % stepS === 0) {
    // CloudSim divides `(int) time / (int) step`; for its whole-second steps that
    // is this quotient, which is exact whenever the remainder is 0.
    const index = timeS / stepS;
    return { lower: index, upper: index, spanS: 0, offsetS: 0 };
  }
  const lower = Math.floor(timeS / stepS);
  const upper = Math.ceil(timeS / stepS);
  return { lower, upper, spanS: (upper - lower) * stepS, offsetS: timeS - lower * stepS };
}

function valueAt(vm: TraceVm, point: SamplePoint, timeS: number, stepS: number): number {
  const data = vm.utilization;
  // Read for every VM at every processing: the message (and its closure) is made only on failure.
  if (!(point.upper < data.length)) {
    throw new AssertionError(`VM ${vm.id}: time ${timeS} s is past the trace's last point at ${(data.length - 1) * stepS} s`);
  }
  const utilization1 = data[point.lower];
  // A rounded quotient can land on a whole number although the remainder is
  // not 0; CloudSim would then compute 0 / 0, and the point itself is the answer.
  if (point.lower === point.upper) return utilization1;
  const utilization2 = data[point.upper];
  const delta = (utilization2 - utilization1) / point.spanS;
  return utilization1 + delta * point.offsetS;
}

/**
 * CloudSim's `UtilizationModelPlanetLabInMemory.getUtilization`, with its
 * arithmetic in its order, because a result near a detector threshold depends
 * on the last bit.
 */
export function utilizationAt(vm: TraceVm, timeS: number, stepS: number): number {
  return valueAt(vm, samplePointAt(timeS, stepS), timeS, stepS);
}

/**
 * `utilizationAt` for the VMs of one trace, which a simulation reads at the same
 * times one after another: the part of the arithmetic that depends on the time
 * alone is done once per time.
 */
export class TraceSampler {
  private timeS = Number.NaN;
  private point: SamplePoint = { lower: 0, upper: 0, spanS: 0, offsetS: 0 };

  constructor(readonly stepS: number) {}

  utilizationAt(vm: TraceVm, timeS: number): number {
    if (timeS !== this.timeS) {
      this.point = samplePointAt(timeS, this.stepS);
      this.timeS = timeS;
    }
    return valueAt(vm, this.point, timeS, this.stepS);
  }
}
