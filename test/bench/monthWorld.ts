/**
 * The data centre of `bench:month`: hosts large enough for ten VMs each
 * (16 cores of 2,600 MHz, 64 GB), VMs of one 2,600 MHz vCPU placed ten to a
 * host in order. Shared by the run and its restart, which must name the same
 * hosts and VMs.
 */
import { createHash } from 'node:crypto';
import { HP_PROLIANT_ML110_G5 } from '../../src/engine/power';
import { createRng } from '../../src/rng';
import type { Trace, TraceDataCentre, TraceVm } from '../../traces/trace';

export const MONTH_TRACE_SEED = 'month';
const RAM_CHOICES_MB = [613, 870, 1740] as const;
const DAY_S = 86_400;

/**
 * A seeded trace of `steps` points per VM, too large for the CSV-backed
 * synthetic generator (its digest is its CSV's): each VM idles around a level
 * of its own, with a daily swing and noise, and rare bursts. Its digest is the
 * sha256 of the values as stored.
 */
export function monthTrace(hosts: number, vmCount: number, steps: number, stepS: number): Trace {
  const rng = createRng(MONTH_TRACE_SEED);
  const digest = createHash('sha256');
  const width = String(vmCount - 1).length;
  const vms: TraceVm[] = Array.from({ length: vmCount }, (_, i) => {
    const level = 0.02 + 0.3 * rng.next() * rng.next();
    const swing = level * rng.next();
    const phase = 2 * Math.PI * rng.next();
    const utilization = new Float64Array(steps);
    let burst = 0;
    for (let k = 0; k < steps; k++) {
      if (burst === 0 && rng.next() < 0.002) burst = 1 + Math.floor(rng.next() * 6);
      const daily = level + swing * Math.sin(phase + (2 * Math.PI * k * stepS) / DAY_S);
      const value = burst > 0 ? 0.6 + 0.39 * rng.next() : daily + 0.05 * (rng.next() - 0.5);
      if (burst > 0) burst -= 1;
      utilization[k] = Math.round(Math.min(0.99, Math.max(0, value)) * 100) / 100;
    }
    digest.update(new Uint8Array(utilization.buffer));
    return { id: `vm-${String(i).padStart(width, '0')}`, utilization, ramMb: RAM_CHOICES_MB[Math.floor(rng.next() * RAM_CHOICES_MB.length)] };
  });
  return { name: `month-${hosts}-${vmCount}`, format: 'csv', stepS, vms, digest: digest.digest('hex'), dataCentre: monthDataCentre(hosts, vmCount) };
}

export function monthDataCentre(hosts: number, vms: number): TraceDataCentre {
  const perHost = Math.ceil(vms / hosts);
  return {
    hosts: Array.from({ length: hosts }, (_, i) => ({ name: `host-${i}`, cores: 16, coreMhz: 2600, ramMb: 65_536, power: HP_PROLIANT_ML110_G5.name })),
    vms: Array.from({ length: vms }, (_, i) => ({ cpuMhz: 2600, host: `host-${Math.floor(i / perHost)}` })),
  };
}
