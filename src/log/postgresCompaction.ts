/**
 * Sample retention on a PostgreSQL log, as on SQLite (`SqliteEventLog.
 * compactSamples`): the samples at or before a position (each stream's last
 * kept), the refusals, the superseded checkpoints and the streams of the
 * requests that moved nothing there leave table `events`, after a
 * `SamplesCompacted` event past that position has made them redundant to a
 * fold. They move to table `events_archive` beside it (or are dropped), one
 * chunk of positions a transaction: a `DELETE … RETURNING` feeds the
 * archive's `INSERT` in the same statement, so a killed run leaves every row
 * in one table or the other, and the next run goes on. Table `compactions`
 * says up to where gaps are the compaction's: any other gap is damage.
 */
import type { Pool, PoolClient } from 'pg';
import { assert } from '../engine/assert';
import { COMPACTED_REQUEST_OUTCOMES_SQL } from './port';
import type { CompactionResult } from './port';

/** Positions a transaction of the compaction covers. */
const COMPACTION_CHUNK_POSITIONS = 20_000;

/** PostgreSQL's undefined_table: no compaction ever ran on this log. */
const UNDEFINED_TABLE = '42P01';

/** The archive table's name, as a `SamplesCompacted` event records it. */
export function archiveTableOf(schemaName: string): string {
  return `${schemaName}.events_archive`;
}

/** The last position a compaction (finished or not) may have removed events at or before; 0 when none ran. */
export async function compactedThrough(pool: Pool, s: string): Promise<number> {
  try {
    const result = await pool.query<[string | null]>({ text: `SELECT max(through_position) FROM ${s}.compactions`, rowMode: 'array' });
    return Number(result.rows[0]?.[0] ?? 0);
  } catch (error) {
    if ((error as { code?: string }).code === UNDEFINED_TABLE) return 0;
    throw error;
  }
}

/** `s` is the quoted schema; `archive` the archive table's name (`archiveTableOf`) or null to drop. */
export async function compactPostgres(
  pool: Pool, s: string, options: { readonly throughPosition: number; readonly archive: string | null; readonly pause: () => Promise<void> },
): Promise<CompactionResult> {
  const { throughPosition, archive, pause } = options;
  assert(Number.isSafeInteger(throughPosition) && throughPosition >= 0, 'a position to compact through');
  const client = await pool.connect();
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS ${s}.compactions (
        through_position bigint PRIMARY KEY, archive text, completed boolean NOT NULL DEFAULT false);
      CREATE TABLE IF NOT EXISTS ${s}.events_archive (LIKE ${s}.events INCLUDING ALL)`);
    const checkpoints = await scalar(client, `SELECT count(*) FROM ${s}.events WHERE type = 'SamplesCompacted' AND position > $1`, [throughPosition]);
    assert(checkpoints > 0, () => `no SamplesCompacted event after position ${throughPosition}: removing its samples would change the fold`);
    const fromPosition = await scalar(client, `SELECT coalesce(max(through_position), 0) FROM ${s}.compactions WHERE completed`, []) + 1;
    await client.query(`INSERT INTO ${s}.compactions (through_position, archive) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [throughPosition, archive]);
    // A stored body is [version, data, …].
    await client.query(`CREATE TEMP TABLE IF NOT EXISTS kept_samples (position bigint PRIMARY KEY); TRUNCATE kept_samples;
      INSERT INTO kept_samples SELECT max(position) FROM ${s}.events WHERE type = 'UtilizationSampled' GROUP BY stream;
      CREATE TEMP TABLE IF NOT EXISTS idle_requests (stream text PRIMARY KEY); TRUNCATE idle_requests;
      INSERT INTO idle_requests SELECT DISTINCT stream FROM ${s}.events WHERE type = 'RequestCompleted' AND position <= ${throughPosition}
        AND (body::jsonb) -> 1 ->> 'outcome' IN (${COMPACTED_REQUEST_OUTCOMES_SQL})`);
    // Checkpoints at or before the cut are superseded by the one after it, which a fold adopts whole.
    const which = `position BETWEEN $1 AND $2 AND (type IN ('RequestRejected', 'SamplesCompacted')
      OR (type = 'UtilizationSampled' AND position NOT IN (SELECT position FROM kept_samples))
      OR stream IN (SELECT stream FROM idle_requests))`;
    const move = archive === null ? `DELETE FROM ${s}.events WHERE ${which}`
      : `WITH gone AS (DELETE FROM ${s}.events WHERE ${which} RETURNING *) INSERT INTO ${s}.events_archive SELECT * FROM gone ON CONFLICT DO NOTHING`;
    let removed = 0;
    // A request completed in this run's range may have begun in an earlier one's: its whole stream goes.
    const firstIdle = await scalar(client, `SELECT coalesce(min(position), $1) FROM ${s}.events WHERE stream IN (SELECT stream FROM idle_requests)`, [fromPosition]);
    for (let low = Math.min(fromPosition, firstIdle); low <= throughPosition; low += COMPACTION_CHUNK_POSITIONS) {
      const high = Math.min(throughPosition, low + COMPACTION_CHUNK_POSITIONS - 1);
      removed += (await client.query(move, [low, high])).rowCount ?? 0;
      await pause();
    }
    await client.query(`UPDATE ${s}.compactions SET completed = true WHERE through_position = $1`, [throughPosition]);
    await client.query('DROP TABLE kept_samples; DROP TABLE idle_requests');
    return { removed, fromPosition };
  } finally {
    client.release();
  }
}

async function scalar(client: PoolClient, text: string, values: unknown[]): Promise<number> {
  const result = await client.query<[string | number]>({ text, values, rowMode: 'array' });
  return Number(result.rows[0]?.[0] ?? 0);
}
