/**
 * `npm run bench:failover`: the failover scenario of the HA test
 * (test/support/failover.ts) for longer: three `neat serve --sim` on a private
 * PostgreSQL, the leader lost `--losses` times (SIGKILL, network cut, pause)
 * under request load. Prints the takeover times, p50 and max, in all and by
 * kind of loss, and whether anything acknowledged was lost.
 *
 * Options: `--losses 30 --instances 3 --speed 300 --seed bench`.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { epochRegressions, failoverSummary, overlappingMigrations, runFailover } from '../support/failover';
import { startPostgres } from '../support/postgres';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { losses: { type: 'string', default: '30' }, instances: { type: 'string', default: '3' }, speed: { type: 'string', default: '300' }, seed: { type: 'string', default: 'bench' } },
  });
  const server = await startPostgres();
  try {
    console.log(`bench:failover — ${values.instances} instances, ${values.losses} losses, ${availableParallelism()} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    const run = await runFailover({ databaseUrl: server.url, instances: Number(values.instances), losses: Number(values.losses), seed: values.seed, speed: Number(values.speed) });
    console.log(failoverSummary(run));
    console.log(`lost acknowledged requests: ${run.lostRequests.length}; overlapping migrations: ${overlappingMigrations(run.events).length}; `
      + `epoch regressions: ${epochRegressions(run.events).length}; deposed leaders that did not exit 75: ${run.badExits.length}`);
  } finally {
    server.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
