/**
 * Writes the shipped sample trace, traces/sample/planetlab-like-day.csv:
 * `node dist/traces/generateSample.js traces/sample/planetlab-like-day.csv`.
 * A test regenerates it and compares the bytes, so the file is always what
 * this code makes.
 */
import { writeCsvTrace } from './csv';
import { generateSyntheticTrace } from './synthetic';

/** One PlanetLab-sized day (288 steps of 300 s) for 60 VMs. */
export const SAMPLE_OPTIONS = { seed: 'neat-sample', vms: 60, steps: 288, stepS: 300 } as const;

export function writeSampleTrace(path: string): void {
  writeCsvTrace(path, generateSyntheticTrace(SAMPLE_OPTIONS));
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args.length !== 1) {
    process.stderr.write('usage: node dist/traces/generateSample.js <path>\n');
    process.exitCode = 2;
  } else {
    writeSampleTrace(args[0]);
  }
}
