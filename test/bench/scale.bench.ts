/**
 * `npm run bench:scale`: how a simulation's cost grows with the data centre.
 * One run per size and mode, at 800, 2,000, 4,000 and 8,000 hosts, each on a
 * seeded synthetic trace with VMs in PlanetLab's proportion (1,052 VMs on 800
 * hosts) and the same number of 300 s steps, so that the time per step can be
 * compared across sizes. Prints wall time, peak RSS and the decisions' times,
 * then the exponent k of wall-per-step ∝ hosts^k (and of decision p99) fitted
 * over the sizes, beside what n log n would give over the same range.
 *
 * Options: `--steps N` (default 72, 6 h), `--sizes 800,2000`, `--modes neat`.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { runSimulation, SIMULATION_MODES } from '../../sim/run';
import type { SimulationMode } from '../../sim/run';
import { generateSyntheticTrace } from '../../traces/synthetic';

const DEFAULT_SIZES = [800, 2000, 4000, 8000];
const DEFAULT_STEPS = 72;
const STEP_S = 300;
/** CloudSim's PlanetLab day: 1,052 VMs on 800 hosts. */
const PLANETLAB_VMS = 1052;
const PLANETLAB_HOSTS = 800;
const TRACE_SEED = 'scale';
const SIMULATION_SEED = '1';
/** Mode cloudsim needs a policy naming every algorithm; mode neat takes neat.conf's defaults, as `bench:sim` does. */
const POLICIES: Readonly<Record<SimulationMode, string>> = { cloudsim: 'lr-mmt-1.2', neat: '' };

interface RunFigures {
  readonly hosts: number;
  readonly vms: number;
  readonly mode: SimulationMode;
  readonly simulatedS: number;
  readonly traceMs: number;
  readonly wallMs: number;
  readonly rssMb: number;
  readonly decisionP50Ms: number;
  readonly decisionP99Ms: number;
  readonly decisionMaxMs: number;
  readonly decisionTotalMs: number;
  readonly decisions: number;
  /** Mode neat: the local managers' steps, summed; null in mode cloudsim. */
  readonly localStepTotalMs: number | null;
  readonly events: number;
  readonly migrations: number;
}

function vmsFor(hosts: number): number {
  return Math.round((hosts * PLANETLAB_VMS) / PLANETLAB_HOSTS);
}

/** The child: generate the trace and run once, so that the process's peak RSS is this run's alone. */
async function child(hosts: number, mode: SimulationMode, steps: number): Promise<void> {
  const vms = vmsFor(hosts);
  const traceFromMs = performance.now();
  // Mode neat steps up to the trace's last sample; mode cloudsim stops an interval short of it (CloudSim reads
  // u(t) between two samples), so it needs one sample more to take the same number of steps.
  const samples = steps + (mode === 'cloudsim' ? 2 : 1);
  const trace = generateSyntheticTrace({ seed: TRACE_SEED, vms, steps: samples, stepS: STEP_S, name: `synthetic-${TRACE_SEED}-${vms}` });
  const traceMs = performance.now() - traceFromMs;
  const result = await runSimulation({ trace, mode, policy: POLICIES[mode], seed: SIMULATION_SEED, hosts });
  const figures: RunFigures = {
    hosts, vms, mode, simulatedS: result.metrics.simulatedS, traceMs, wallMs: result.wallMs,
    rssMb: process.resourceUsage().maxRSS / 1024,
    decisionP50Ms: result.decisionTimes.p50Ms, decisionP99Ms: result.decisionTimes.p99Ms, decisionMaxMs: result.decisionTimes.maxMs,
    decisionTotalMs: result.decisionTimes.meanMs * result.decisionTimes.count, decisions: result.decisionTimes.count,
    localStepTotalMs: result.localStepTimes === null ? null : result.localStepTimes.meanMs * result.localStepTimes.count,
    events: result.events, migrations: result.metrics.migrations,
  };
  console.log(JSON.stringify(figures));
}

function measure(hosts: number, mode: SimulationMode, steps: number): RunFigures {
  const run = spawnSync(process.execPath, [__filename, '--child', String(hosts), mode, String(steps)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
  });
  if (run.status !== 0) throw new Error(`bench child (${hosts} hosts, mode ${mode}) failed with status ${String(run.status)}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as RunFigures;
}

/** Least-squares slope of log y against log x: the k of y ∝ x^k. */
function logLogSlope(xs: readonly number[], ys: readonly number[]): number {
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < lx.length; i++) {
    covariance += (lx[i] - mx) * (ly[i] - my);
    variance += (lx[i] - mx) ** 2;
  }
  return covariance / variance;
}

function stepsOf(figures: RunFigures): number {
  return Math.round(figures.simulatedS / STEP_S);
}

function wallPerStepMs(figures: RunFigures): number {
  return figures.wallMs / stepsOf(figures);
}

const COLUMNS: readonly { readonly title: string; readonly cell: (f: RunFigures) => string }[] = [
  { title: 'hosts', cell: (f) => String(f.hosts) },
  { title: 'VMs', cell: (f) => String(f.vms) },
  { title: 'mode', cell: (f) => f.mode },
  { title: 'sim h', cell: (f) => (f.simulatedS / 3600).toFixed(1) },
  { title: 'wall s', cell: (f) => (f.wallMs / 1000).toFixed(2) },
  { title: 'ms/step', cell: (f) => wallPerStepMs(f).toFixed(1) },
  { title: 'RSS MB', cell: (f) => f.rssMb.toFixed(0) },
  { title: 'dec p50 ms', cell: (f) => f.decisionP50Ms.toFixed(2) },
  { title: 'dec p99 ms', cell: (f) => f.decisionP99Ms.toFixed(2) },
  { title: 'decisions', cell: (f) => String(f.decisions) },
  { title: 'events', cell: (f) => String(f.events) },
  { title: 'dec Σ s', cell: (f) => (f.decisionTotalMs / 1000).toFixed(2) },
  { title: 'local Σ s', cell: (f) => (f.localStepTotalMs === null ? '-' : (f.localStepTotalMs / 1000).toFixed(2)) },
  { title: 'migrations', cell: (f) => String(f.migrations) },
];

function printTable(rows: readonly RunFigures[]): void {
  const cells = rows.map((row) => COLUMNS.map((column) => column.cell(row)));
  const widths = COLUMNS.map((column, i) => Math.max(column.title.length, ...cells.map((row) => row[i].length)));
  console.log(COLUMNS.map((column, i) => column.title.padStart(widths[i])).join('  '));
  for (const row of cells) console.log(row.map((cell, i) => cell.padStart(widths[i])).join('  '));
}

function printExponents(rows: readonly RunFigures[], modes: readonly SimulationMode[], sizes: readonly number[]): void {
  if (sizes.length < 2) {
    console.log('\nexponents: need at least two sizes');
    return;
  }
  // n log n's local slope on a log–log plot is 1 + 1/ln n: over this range it sits a little above 1.
  const nLogN = logLogSlope(sizes, sizes.map((n) => n * Math.log(n)));
  const range = `${sizes[0]}–${sizes[sizes.length - 1]} hosts`;
  console.log(`\nexponent k of y ∝ hosts^k, least squares over ${range} (n log n per step would give ${nLogN.toFixed(2)}; VMs grow in proportion):`);
  for (const mode of modes) {
    const ofMode = rows.filter((row) => row.mode === mode).sort((a, b) => a.hosts - b.hosts);
    const hosts = ofMode.map((row) => row.hosts);
    const perStep = logLogSlope(hosts, ofMode.map(wallPerStepMs));
    const p99 = logLogSlope(hosts, ofMode.map((row) => Math.max(row.decisionP99Ms, 1e-6)));
    console.log(`  mode ${mode.padEnd(8)}  wall per step ${perStep.toFixed(2)}  decision p99 ${p99.toFixed(2)}`);
  }
}

function listOption(args: readonly string[], name: string): string[] | null {
  const at = args.indexOf(name);
  if (at < 0) return null;
  if (at + 1 >= args.length || args[at + 1].startsWith('--')) throw new Error(`${name} needs a value`);
  const value = args[at + 1];
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function positiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive integer, got ${text}`);
  return value;
}

function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  return `node ${process.version}, ${process.arch}, ${availableParallelism()} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GB, load average ${load}`;
}

function main(): void {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    void child(positiveInteger(args[1], 'hosts'), args[2] as SimulationMode, positiveInteger(args[3], 'steps'));
    return;
  }
  const steps = positiveInteger(listOption(args, '--steps')?.[0] ?? String(DEFAULT_STEPS), '--steps');
  const sizes = (listOption(args, '--sizes')?.map((size) => positiveInteger(size, '--sizes')) ?? DEFAULT_SIZES).sort((a, b) => a - b);
  const modes = listOption(args, '--modes') ?? [...SIMULATION_MODES];
  for (const mode of modes) {
    if (!(SIMULATION_MODES as readonly string[]).includes(mode)) throw new Error(`--modes: unknown mode ${mode}`);
  }
  console.log(machine());
  console.log(`${steps} steps of ${STEP_S} s (${((steps * STEP_S) / 3600).toFixed(1)} h simulated) per run; synthetic trace seed '${TRACE_SEED}', `
    + `VMs = round(hosts × ${PLANETLAB_VMS} / ${PLANETLAB_HOSTS}); mode cloudsim ${POLICIES.cloudsim}, mode neat neat.conf's defaults; `
    + 'each run in a process of its own (trace generation outside wall, inside RSS)');
  console.log('decisions: mode cloudsim, one consolidation per step; mode neat, one global-manager request each '
    + '(under 100 decisions, p99 is the slowest one). dec Σ / local Σ: time summed over the decisions / the local managers\' steps');
  const rows: RunFigures[] = [];
  for (const mode of modes as SimulationMode[]) {
    for (const hosts of sizes) {
      const figures = measure(hosts, mode, steps);
      rows.push(figures);
      console.log(`  ${mode} ${hosts} hosts: ${(figures.wallMs / 1000).toFixed(1)} s (trace generated in ${(figures.traceMs / 1000).toFixed(1)} s)`);
    }
  }
  console.log('');
  printTable(rows);
  printExponents(rows, modes as SimulationMode[], sizes);
  console.log(`\nload average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

main();
