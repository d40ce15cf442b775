/**
 * Child process of the PostgreSQL compaction kill test: compacts the samples
 * of a prepared log (connection string, schema) through the position it is
 * given into its archive table, its sessions named by the application name
 * it is given, printing `start` before and `chunk <n>` after
 * each of its writes and `done <removed> <ms> <chunks>` after, until killed.
 */
import { PostgresEventLog } from '../../src/log/postgres';

async function main(url: string, schema: string, throughPosition: number, applicationName: string): Promise<void> {
  const log = new PostgresEventLog(url, { schema, applicationName });
  await log.headPosition();
  process.stdout.write('start\n');
  const startedMs = performance.now();
  let chunks = 0;
  const result = await log.compactSamples(throughPosition, log.archiveTable, () => {
    chunks += 1;
    process.stdout.write(`chunk ${chunks}\n`);
    return new Promise((resolve) => { setImmediate(resolve); });
  });
  process.stdout.write(`done ${result.removed} ${Math.ceil(performance.now() - startedMs)} ${chunks}\n`);
  await log.close();
}

main(process.argv[2], process.argv[3], Number(process.argv[4]), process.argv[5]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
