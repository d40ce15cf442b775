/**
 * Child process of the recovery test: the real service on a SQLite log,
 * managing a simulated data centre of four hosts (VMs 0 and 1 on host-1, 2
 * and 3 on host-3) paced 20× faster than the wall clock. The data centre is
 * in this process's memory: a restart brings it back as it was at t = 0, so
 * the restarted manager finds the cloud different from what its log says and
 * must reconcile. Prints `READY <url>` once it listens.
 *
 * argv: the log's path, the seed, and optionally `group-commit`: the log
 * opened as `neat serve` opens it (`src/log/open.ts`), appends committed
 * together on a writer thread; without it, each append commits on the event
 * loop. The options the log was opened with are printed on a `LOG` line
 * before READY, so that a test can check which of the two it killed.
 */
import { DEFAULT_CONFIG } from '../../src/config';
import { seededIds } from '../../src/ids';
import { SqliteEventLog } from '../../src/log/sqlite';
import type { SqliteLogOptions } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';
import { startService } from '../../src/service';
import { planetLabConfig } from '../../sim/config';
import { INSTANT_TRANSITIONS, SimulatedDataCentre } from '../../sim/datacentre';
import { PacedScheduler } from '../../sim/realTime';
import { Scheduler } from '../../sim/scheduler';
import { generateSyntheticTrace } from '../../traces/synthetic';

export const TOKEN_SHA256 = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

async function main(path: string, seed: string, mode: string | undefined): Promise<void> {
  if (mode !== undefined && mode !== 'group-commit') throw new Error(`unknown mode ${JSON.stringify(mode)}: "group-commit" or none`);
  const logOptions: SqliteLogOptions = { groupCommit: mode === 'group-commit' };
  const log = new SqliteEventLog(path, logOptions);
  const scheduler = new Scheduler();
  const trace = generateSyntheticTrace({ seed: 'recovery', vms: 4, steps: 288, stepS: 300 });
  const dataCentre = new SimulatedDataCentre({
    config: planetLabConfig(4, [870, 870, 870, 870], 4), trace, scheduler, ids: seededIds(createRng(`${seed}/cloud`), scheduler),
    transitions: INSTANT_TRANSITIONS, placement: [1, 1, 3, 3],
  });
  const pacing = new PacedScheduler(scheduler, { speed: 20, epochMs: Date.now(), tickMs: 10, maxEventsPerTick: 1000, activities: [] });
  pacing.start();
  const ids = seededIds(createRng(`${seed}/manager`), pacing.clock);
  const service = await startService({
    config: { ...DEFAULT_CONFIG, osAdminUser: 'admin', osAdminPassword: 'secret', apiTokensSha256: [TOKEN_SHA256] },
    ports: { cloud: dataCentre, power: dataCentre, log, clock: pacing.clock, timer: pacing.timer, ids, rng: createRng(seed) },
    settings: { computeHosts: null },
    listen: { host: '127.0.0.1', port: 0 },
    onError: (error) => { console.error(error); },
  });
  process.stdout.write(`LOG ${JSON.stringify(logOptions)}\n`);
  process.stdout.write(`READY ${service.url} ${JSON.stringify(service.recovery)}\n`);
}

main(process.argv[2], process.argv[3], process.argv[4]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
