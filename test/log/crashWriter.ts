/**
 * Child process of the crash test: appends batches to a SQLite log as fast as
 * it can and prints one line per acknowledged append, until it is killed.
 */
import { newEvent } from '../../src/events/envelope';
import { randomIds } from '../../src/ids';
import { SqliteEventLog } from '../../src/log/sqlite';

async function main(path: string): Promise<void> {
  const log = new SqliteEventLog(path);
  const context = { ids: randomIds, clock: { nowMs: () => Date.now() }, source: 'crash-writer' };
  let revision = (await log.headPosition()) - 1;
  for (let batch = 0; batch < 1_000_000; batch++) {
    const size = 1 + (batch % 37);
    const events = Array.from({ length: size }, (_, i) => newEvent(context, 'UtilizationSampled', {
      host: `host-${batch % 7}`, hypervisorCpuMhz: i, vms: [{ vmId: `vm-${i}`, cpuMhz: batch, ramMb: null }],
    }));
    const result = await log.append('crash', events, revision);
    revision = result.streamRevision;
    process.stdout.write(`ack ${result.lastPosition} ${events[events.length - 1].id}\n`);
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
