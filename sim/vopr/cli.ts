/**
 * `npm run vopr -- [--seeds N] [--from S] [--seed S]`: runs seeds S, S+1, …
 * (one whole world each) and prints seeds a minute, faults injected by kind,
 * crashes survived and the worst convergence time; on a violation, the seed,
 * the invariant and the last events before it, and exits 1. `--seed S` runs
 * that one seed and prints its trace: the same lines on every run.
 */
import { runSeed, TRACE_PRINTED } from './run';
import type { SeedResult } from './run';
import type { FaultKind } from './faults';

export interface Totals {
  seeds: number;
  readonly faults: Map<FaultKind, number>;
  crashes: number;
  worstConvergenceMs: number;
  worstConvergenceSeed: number | null;
  worstPlanMs: number;
  events: number;
  requests: number;
}

export function emptyTotals(): Totals {
  return { seeds: 0, faults: new Map(), crashes: 0, worstConvergenceMs: 0, worstConvergenceSeed: null, worstPlanMs: 0, events: 0, requests: 0 };
}

export function addResult(totals: Totals, result: SeedResult): void {
  const { stats } = result;
  totals.seeds += 1;
  for (const [kind, count] of stats.faults) totals.faults.set(kind, (totals.faults.get(kind) ?? 0) + count);
  totals.crashes += stats.crashes;
  if (stats.convergenceMs > totals.worstConvergenceMs) {
    totals.worstConvergenceMs = stats.convergenceMs;
    totals.worstConvergenceSeed = result.seed;
  }
  totals.worstPlanMs = Math.max(totals.worstPlanMs, stats.worstPlanMs);
  totals.events += stats.events;
  totals.requests += stats.requests;
}

export function formatViolation(result: SeedResult): string {
  const { violation } = result;
  if (violation === null) return `seed ${result.seed}: no violation`;
  return [
    `VIOLATION seed ${result.seed}: ${violation.invariant} at ${violation.atS} s`,
    `  ${violation.detail}`,
    `last ${TRACE_PRINTED} events:`,
    ...result.trace.map((line) => `  ${line}`),
    `reproduce: npm run vopr -- --seed ${result.seed}`,
  ].join('\n');
}

/** With `elapsedMs` null (one seed rerun), nothing of the wall clock is printed: a rerun prints the same bytes. */
export function formatTotals(totals: Totals, elapsedMs: number | null): string {
  const faults = [...totals.faults.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([kind, count]) => `  ${kind.padEnd(28)} ${count}`);
  return [
    `${totals.seeds} seeds${elapsedMs === null ? '' : ` in ${(elapsedMs / 1000).toFixed(1)} s: ${Math.round(totals.seeds / (elapsedMs / 60_000))} seeds/minute`}`
      + `, ${totals.requests} requests, ${totals.events} scheduler events`,
    `crashes survived: ${totals.crashes}`,
    `worst convergence after the fault horizon: ${(totals.worstConvergenceMs / 1000).toFixed(1)} s virtual (seed ${String(totals.worstConvergenceSeed)})`,
    `worst plan, decision to completion: ${(totals.worstPlanMs / 1000).toFixed(1)} s virtual`,
    'faults injected by kind:',
    ...faults,
  ].join('\n');
}

interface Options {
  readonly from: number;
  readonly seeds: number;
  /** One seed, its trace printed. */
  readonly single: boolean;
}

function parse(args: readonly string[]): Options {
  let from = 1;
  let seeds = 1000;
  let single = false;
  for (let i = 0; i < args.length; i += 2) {
    const value = Number(args[i + 1]);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${args[i]} needs a non-negative integer, not "${args[i + 1]}"`);
    if (args[i] === '--seeds') seeds = value;
    else if (args[i] === '--from') from = value;
    else if (args[i] === '--seed') {
      from = value;
      seeds = 1;
      single = true;
    } else throw new Error(`unknown option "${args[i]}" (usage: vopr [--seeds N] [--from S] [--seed S])`);
  }
  return { from, seeds, single };
}

async function main(): Promise<number> {
  const options = parse(process.argv.slice(2));
  const totals = emptyTotals();
  const startedMs = Date.now();
  for (let seed = options.from; seed < options.from + options.seeds; seed++) {
    const result = await runSeed(seed);
    addResult(totals, result);
    if (options.single && result.violation === null) {
      process.stdout.write(`seed ${seed}: no violation; its last ${TRACE_PRINTED} events:\n${result.trace.map((line) => `  ${line}`).join('\n')}\n`);
    }
    if (result.violation !== null) {
      process.stdout.write(`${formatViolation(result)}\n${formatTotals(totals, options.single ? null : Date.now() - startedMs)}\n`);
      return 1;
    }
  }
  process.stdout.write(`${formatTotals(totals, options.single ? null : Date.now() - startedMs)}\n0 violations in seeds ${options.from}..${options.from + options.seeds - 1}\n`);
  return 0;
}

if (require.main === module) {
  // Piped into `head`: the reader has all it wants, which is no failure of the run.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(process.exitCode ?? 0);
  });
  main().then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`vopr: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  });
}
