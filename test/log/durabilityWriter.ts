/**
 * Child process of the durability test, run under strace: appends to a SQLite
 * log in rounds of concurrent appends and, once every append of a round is
 * acknowledged, writes `ACK <round>` to its own marker file with one write
 * syscall, so that the trace shows where each acknowledgement happened
 * between the log's writes and syncs.
 *
 * Usage: node durabilityWriter.js <log path> <marker path> durable|not-durable group|single <rounds> <appends per round>
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { NO_STREAM } from '../../src/log/port';
import { SqliteEventLog } from '../../src/log/sqlite';
import { TestEvents } from '../support/events';

async function main(args: readonly string[]): Promise<void> {
  const [path, markerPath, durability, commit, roundsText, appendsText] = args;
  if (!['durable', 'not-durable'].includes(durability) || !['group', 'single'].includes(commit)) {
    throw new Error(`usage: durabilityWriter <log> <marker> durable|not-durable group|single <rounds> <appends per round>, got ${args.join(' ')}`);
  }
  const rounds = Number(roundsText);
  const appendsPerRound = Number(appendsText);
  const log = new SqliteEventLog(path, { durable: durability === 'durable', groupCommit: commit === 'group' });
  const events = new TestEvents('durability-writer');
  const marker = openSync(markerPath, 'w');
  try {
    for (let round = 0; round < rounds; round++) {
      // One stream per concurrent append, so that the appends of a round do not conflict
      // and group commit puts them all in one transaction.
      await Promise.all(Array.from({ length: appendsPerRound }, (_, k) => log.append(
        `durability-${k}`, [events.sample(`host-${k}`, { [`vm-${k}`]: round })], round === 0 ? NO_STREAM : round - 1)));
      writeSync(marker, `ACK ${round}\n`);
    }
  } finally {
    closeSync(marker);
    await log.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
