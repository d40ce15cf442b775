/**
 * Child process of the compaction kill test: compacts the samples of a
 * prepared log through the position it is given, printing `start` before and
 * `chunk <n>` after each of its writes and `done <removed> <ms> <chunks>` after, until it is killed.
 */
import { SqliteEventLog } from '../../src/log/sqlite';

async function main(path: string, archive: string, throughPosition: number): Promise<void> {
  const log = new SqliteEventLog(path);
  process.stdout.write('start\n');
  const startedMs = performance.now();
  let chunks = 0;
  const result = await log.compactSamples(throughPosition, archive, () => {
    chunks += 1;
    process.stdout.write(`chunk ${chunks}\n`);
    return new Promise((resolve) => { setImmediate(resolve); });
  });
  process.stdout.write(`done ${result.removed} ${Math.ceil(performance.now() - startedMs)} ${chunks}\n`);
  await log.close();
}

main(process.argv[2], process.argv[3], Number(process.argv[4])).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
