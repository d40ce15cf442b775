/**
 * The global manager's snapshot beside a PostgreSQL log: one row of table
 * `snapshots` in the log's schema, made on first use. Every instance of a
 * highly available deployment reads it (a start, a standby's catch-up); the
 * leader writes it. An upsert is atomic: a reader finds the old snapshot or
 * the new one, whole. A snapshot a deposed leader writes late is still the
 * fold of a prefix of the log (it folds only acknowledged appends), so the
 * worst it does is make the next start fold more.
 */
import type { Pool } from 'pg';
import type { SnapshotStore } from '../managers/ports';

/** The row's key: the one snapshot of the global manager. */
const SNAPSHOT_NAME = 'global-manager';

export class PostgresSnapshotStore implements SnapshotStore {
  readonly description: string;
  private table: Promise<void> | null = null;

  /** `schema` is quoted, as the log's statements use it; `logReady` resolves once the log has made its schema. */
  constructor(private readonly pool: Pool, private readonly schema: string, logDescription: string, private readonly logReady: Promise<void>) {
    this.description = `the snapshot row in ${logDescription}`;
  }

  async read(): Promise<Buffer | null> {
    await this.madeTable();
    const result = await this.pool.query<{ body: Buffer }>(`SELECT body FROM ${this.schema}.snapshots WHERE name = $1`, [SNAPSHOT_NAME]);
    return result.rows[0]?.body ?? null;
  }

  async write(text: string): Promise<void> {
    await this.madeTable();
    await this.pool.query(
      `INSERT INTO ${this.schema}.snapshots (name, body) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET body = excluded.body, written_at = now()`,
      [SNAPSHOT_NAME, Buffer.from(text, 'utf8')],
    );
  }

  /** Made once a process; a failure (two instances making it at once) is tried again on the next call. */
  private madeTable(): Promise<void> {
    this.table ??= this.logReady.then(() => this.pool.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.snapshots (
      name text PRIMARY KEY, body bytea NOT NULL, written_at timestamptz NOT NULL DEFAULT now())`)).then(() => undefined, (error: unknown) => {
      this.table = null;
      throw error;
    });
    return this.table;
  }
}
