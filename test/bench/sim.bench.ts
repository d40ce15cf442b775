/**
 * `npm run bench:sim`: wall time and peak RSS of one policy-day (LR-MMT-1.2
 * on PlanetLab 20110303), of the same day in mode neat (Neat's local managers
 * and the production global manager, its configuration's defaults), and of the
 * 10-day × 5-policy sweep. Each measurement
 * runs in a process of its own, so that its peak RSS is its own. CloudSim
 * takes 35–50 s and 1.6–2.1 GB per policy-day on this kind of machine.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { runSimulation } from '../../sim/run';
import type { SimulationMode } from '../../sim/run';
import { runSweep } from '../../sim/sweep';
import type { SweepJob } from '../../sim/sweep';
import { readPlanetLabTrace } from '../../traces/planetlab';
import { PLANETLAB_ROOT } from '../support/planetlab';
import { readdirSync } from 'node:fs';

const POLICIES = ['dvfs', 'thr-mmt-0.8', 'iqr-mmt-1.5', 'mad-mmt-2.5', 'lr-mmt-1.2'];

interface Measurement {
  readonly wallMs: number;
  readonly maxRssMb: number;
  readonly detail: string;
}

function report(measurement: Measurement): void {
  console.log(JSON.stringify(measurement));
}

async function one(day: string, mode: SimulationMode, policy: string): Promise<void> {
  const startMs = performance.now();
  const trace = readPlanetLabTrace(join(PLANETLAB_ROOT, day));
  const result = await runSimulation({ trace, mode, policy, seed: '1' });
  report({ wallMs: performance.now() - startMs, maxRssMb: process.resourceUsage().maxRSS / 1024,
    detail: `${result.metrics.energyKwh.toFixed(2)} kWh, ${result.metrics.migrations} migrations, simulation ${result.wallMs.toFixed(0)} ms` });
}

async function sweep(): Promise<void> {
  const days = readdirSync(PLANETLAB_ROOT).filter((entry) => /^\d{8}$/.test(entry)).sort();
  const jobs: SweepJob[] = days.flatMap((day) => POLICIES.map((policy) => ({ day, dayPath: join(PLANETLAB_ROOT, day), mode: 'cloudsim' as const, policy, seed: '1', hosts: 800 })));
  const startMs = performance.now();
  let failures = 0;
  await runSweep(jobs, {
    workers: availableParallelism(), managerConfig: null, onOutcome: (outcome) => { if (outcome.error !== undefined) failures += 1; },
  });
  report({ wallMs: performance.now() - startMs, maxRssMb: process.resourceUsage().maxRSS / 1024,
    detail: `${jobs.length} runs (${days.length} days × ${POLICIES.length} policies), ${availableParallelism()} workers, ${failures} failed` });
}

function measure(args: string[]): Measurement {
  const child = spawnSync(process.execPath, [__filename, ...args], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`bench child failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as Measurement;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--one') {
    void one(args[1], args[2] as SimulationMode, args[3] ?? '');
    return;
  }
  if (args[0] === '--sweep') {
    void sweep();
    return;
  }
  console.log(`node ${process.version}, ${process.arch}, ${availableParallelism()} cores`);
  const runs = [1, 2, 3].map(() => measure(['--one', '20110303', 'cloudsim', 'lr-mmt-1.2']));
  const best = runs.reduce((a, b) => (a.wallMs < b.wallMs ? a : b));
  console.log(`one policy-day, lr-mmt-1.2 on 20110303 (trace read included): best of 3 ${(best.wallMs / 1000).toFixed(2)} s `
    + `(runs ${runs.map((r) => (r.wallMs / 1000).toFixed(2)).join(', ')} s), peak RSS ${Math.max(...runs.map((r) => r.maxRssMb)).toFixed(0)} MB; ${best.detail}`);
  const neat = measure(['--one', '20110303', 'neat']);
  console.log(`mode neat on 20110303, neat.conf's defaults (trace read included): ${(neat.wallMs / 1000).toFixed(1)} s, `
    + `peak RSS ${neat.maxRssMb.toFixed(0)} MB; ${neat.detail}`);
  const swept = measure(['--sweep']);
  console.log(`sweep: ${(swept.wallMs / 1000).toFixed(1)} s, peak RSS ${swept.maxRssMb.toFixed(0)} MB; ${swept.detail}`);
}

main();
