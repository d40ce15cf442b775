/** Small PlanetLab days written by a test, for sweeps that take seconds. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSyntheticTrace } from '../../traces/synthetic';

/** A day in PlanetLab's format (one file of 288 integer percents per VM) made from a synthetic trace of 12 VMs. */
export function writePlanetLabDay(root: string, day: string, seed: string): void {
  const trace = generateSyntheticTrace({ seed, vms: 12, steps: 288, stepS: 300 });
  mkdirSync(join(root, day), { recursive: true });
  for (const vm of trace.vms) {
    writeFileSync(join(root, day, vm.id), Array.from(vm.utilization, (u) => String(Math.round(u * 100))).join('\n') + '\n');
  }
}
