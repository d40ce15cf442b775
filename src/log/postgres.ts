/**
 * The event log on PostgreSQL (the `pg` client), for a deployment that keeps
 * its state in a database server rather than a file beside the manager.
 *
 * Positions must be gap-free and given in commit order, which a sequence is
 * not (a rolled-back transaction burns its values). So every append runs one
 * server-side function, `neat_append`, in a transaction of its own: it locks
 * the one row of `log_head` (FOR UPDATE, so appenders queue there, also those
 * of other processes), gives the batch positions head + 1…, checks the
 * stream's revision against max(revision) (UNIQUE(stream, revision) is the
 * backstop), inserts, and moves the head. One round trip per append. The row
 * also holds `writer_epoch`, the fencing token of the leader allowed to
 * append (see `postgresLeader.ts`): an append that carries an older epoch is
 * refused under that same lock, so a deposed leader's late write never lands,
 * and every event keeps the epoch it was written under.
 *
 * Appends go through one connection of their own, whose queries the server
 * runs in the order they were sent: positions follow the call order. Reads use
 * a small pool. `synchronous_commit = on`: an acknowledged append is on disk
 * (as durable as the server's `fsync` makes it, on by default). A committed
 * append NOTIFYs a channel that subscriptions LISTEN on, so that they wake at
 * once for appends from any process; they also poll, in case the listening
 * connection is lost.
 */
import { Client, Pool } from 'pg';
import type { ClientConfig, DatabaseError, PoolClient } from 'pg';
import { decodeStoredEvent, EventDecodeError } from '../events/envelope';
import type { NewEvent, RecordedEvent } from '../events/envelope';
import { checkBatch, resolveRetry } from './batch';
import type { StoredRef } from './batch';
import { assert } from '../engine/assert';
import { assertLimit, assertPosition, DuplicateEventIdError, FencedError, LogClosedError, LogFileError, WrongExpectedRevisionError } from './port';
import type { AppendResult, CompactionResult, EventLog, ReadStreamOptions, Subscription } from './port';
import { AppendSignal, pollingSubscription } from './subscription';
import { PostgresSnapshotStore } from './postgresSnapshot';
import { archiveTableOf, compactedThrough, compactPostgres } from './postgresCompaction';
import type { SnapshotStore } from '../managers/ports';

export const POSTGRES_SCHEMA_VERSION = 2;

/** The channel appends NOTIFY: per database, so a log in another schema of the same database only wakes ours for nothing. */
const NOTIFY_CHANNEL = 'neat_event_log';

/** Connections of the read pool: reads are short, and the server's connections are shared with others. */
const READ_POOL_CONNECTIONS = 4;

/** A server that does not answer a connection attempt within this is reported, not waited for forever. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Everything but the columns the queries need: what an event's envelope
 * carries besides its identity and place. Kept as text, not jsonb, so that
 * the data reads back exactly as it was written (jsonb reorders keys).
 */
type Body = [version: number, data: unknown, correlationId: unknown, causationId: unknown, timeMs: unknown, source: unknown];

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The schema, created when absent. `$S` is the quoted schema name. */
function schemaSql(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.neat_log_meta (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  schema_version integer NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.log_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  position bigint NOT NULL,
  -- The epoch of the leader allowed to append (0: none was ever elected), checked under the row's lock.
  writer_epoch bigint NOT NULL DEFAULT 0
);
${leaderColumnsSql(s)}
INSERT INTO ${s}.log_head (position) VALUES (0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ${s}.events (
  position bigint PRIMARY KEY,
  event_id text NOT NULL UNIQUE,
  stream text NOT NULL,
  revision bigint NOT NULL,
  type text NOT NULL,
  body text NOT NULL,
  -- The writer's epoch when it appended: epochs never go down along positions, or two leaders wrote.
  epoch bigint NOT NULL DEFAULT 0,
  UNIQUE (stream, revision)
);
${appendFunctionSql(s)}`;
}

/** Who leads, for standbys to redirect writes to: written with the epoch, in the transaction that raises it. */
function leaderColumnsSql(s: string): string {
  return `
ALTER TABLE ${s}.log_head ADD COLUMN IF NOT EXISTS leader_instance text;
ALTER TABLE ${s}.log_head ADD COLUMN IF NOT EXISTS leader_url text;
ALTER TABLE ${s}.log_head ADD COLUMN IF NOT EXISTS leader_since timestamptz;
`;
}

/** Replaced on every upgrade: the function's signature and body are the schema's version as much as its tables are. */
function appendFunctionSql(s: string): string {
  return `
DROP FUNCTION IF EXISTS ${s}.neat_append(text, bigint, text[], text[], text[]);
-- Returns 'stored' with the refs of the ids already stored (the client decides: a retry, or a reused id),
-- 'conflict' with the stream's revision, 'fenced' with the epoch now allowed (in stream_revision), or 'appended' with
-- the first position. Nothing is written unless 'appended'. A null p_epoch appends only while no leader was ever elected.
CREATE OR REPLACE FUNCTION ${s}.neat_append(p_stream text, p_expected bigint, p_ids text[], p_types text[], p_bodies text[],
  p_epoch bigint, OUT outcome text, OUT first_position bigint, OUT stream_revision bigint,
  OUT ref_ids text[], OUT ref_streams text[], OUT ref_revisions bigint[], OUT ref_positions bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
  head bigint;
  allowed bigint;
  current bigint;
  n integer := coalesce(array_length(p_ids, 1), 0);
BEGIN
  -- Appenders queue here; under READ COMMITTED each statement below then sees every append committed before.
  SELECT h.position, h.writer_epoch INTO head, allowed FROM ${s}.log_head h WHERE h.singleton FOR UPDATE;
  IF coalesce(p_epoch, 0) <> allowed THEN
    outcome := 'fenced';
    stream_revision := allowed;
    RETURN;
  END IF;
  SELECT array_agg(e.event_id), array_agg(e.stream), array_agg(e.revision), array_agg(e.position)
    INTO ref_ids, ref_streams, ref_revisions, ref_positions
    FROM ${s}.events e WHERE e.event_id = ANY (p_ids);
  IF ref_ids IS NOT NULL THEN
    outcome := 'stored';
    RETURN;
  END IF;
  SELECT coalesce(max(e.revision), -1) INTO current FROM ${s}.events e WHERE e.stream = p_stream;
  stream_revision := current;
  IF current <> p_expected THEN
    outcome := 'conflict';
    RETURN;
  END IF;
  outcome := 'appended';
  first_position := head + 1;
  IF n = 0 THEN
    RETURN;
  END IF;
  INSERT INTO ${s}.events (position, event_id, stream, revision, type, body, epoch)
    SELECT head + i, p_ids[i], p_stream, current + i, p_types[i], p_bodies[i], allowed FROM generate_series(1, n) AS i;
  UPDATE ${s}.log_head SET position = head + n WHERE singleton;
  stream_revision := current + n;
  PERFORM pg_notify('${NOTIFY_CHANNEL}', (head + n)::text);
END
$fn$;
`;
}

interface AppendRow {
  readonly outcome: 'stored' | 'conflict' | 'fenced' | 'appended';
  readonly first_position: string | null;
  readonly stream_revision: string | null;
  readonly ref_ids: string[] | null;
  readonly ref_streams: string[] | null;
  readonly ref_revisions: string[] | null;
  readonly ref_positions: string[] | null;
}

/** Rows as arrays: position, event_id, stream, revision, type, body (bigints come as strings). */
type EventRow = [string, string, string, string, string, string];

function rowToEvent(row: EventRow): RecordedEvent {
  const [position, id, stream, revision, type, body] = row;
  const [version, data, correlationId, causationId, timeMs, source] = JSON.parse(body) as Body;
  return decodeStoredEvent({
    position: Number(position), id, stream, revision: Number(revision), type, version, data, metadata: { correlationId, causationId, timeMs, source },
  });
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const { code, constraint: name } = error as Partial<DatabaseError>;
  return code === '23505' && name === constraint;
}

interface WriterConnection {
  readonly client: Client;
  readonly connected: Promise<Client>;
}

/**
 * The connection is gone (a network error, the server ended the session or is
 * shutting down), as opposed to an SQL error on a live one. Its events may come
 * after the failed query's rejection, so the query's error is looked at too.
 */
function lostConnection(error: unknown): boolean {
  const { severity, code } = error as Partial<DatabaseError>;
  if (typeof severity !== 'string' || typeof code !== 'string') return true;
  return code.startsWith('08') || code.startsWith('57P');
}

export interface LeaderRecord {
  readonly epoch: number;
  readonly instance: string;
  /** Where the leader serves its HTTP API: standbys redirect writes there. */
  readonly url: string;
  readonly sinceMs: number;
}

export interface PostgresLogOptions {
  /** The schema that holds the log's tables, created when absent: several logs can share a database. Default `neat`. */
  readonly schema?: string;
  /** How often a waiting subscription reads again, in case a NOTIFY was missed (the listening connection lost). */
  readonly pollIntervalMs?: number;
  /** The connections' `application_name`, so that an operator (or a test) can tell this process's sessions in `pg_stat_activity`. */
  readonly applicationName?: string;
}

/** The schema option checked, and its quoted name. */
export function logSchema(options: { readonly schema?: string }): { name: string; quoted: string } {
  const name = options.schema ?? 'neat';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new RangeError(`schema must be a lower-case SQL name, got ${JSON.stringify(name)}`);
  return { name, quoted: quoteIdentifier(name) };
}

export class PostgresEventLog implements EventLog {
  /** Appends go through one connection, which the server serves in the order they were sent. */
  readonly appendsInCallOrder = true;
  readonly description: string;
  private readonly schema: string;
  private readonly schemaName: string;
  private readonly config: ClientConfig;
  /** The appends' connection, made on first use and again after it is lost. */
  private writerConnection: WriterConnection | null = null;
  private readonly pool: Pool;
  private readonly listener: Client;
  private readonly signal = new AppendSignal();
  private readonly pollIntervalMs: number;
  /** Connected and the schema checked: every call awaits it first, so that opening stays synchronous. */
  private readonly ready: Promise<void>;
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;
  /** The leader's fencing token that appends carry, once it is set (`fenceWith`); null: appends carry none. */
  private epoch: number | null = null;
  private onFenced: (error: FencedError) => void = () => undefined;
  private readonly sql: { readonly append: string; readonly readAll: string; readonly readStream: string; readonly head: string };

  constructor(connectionString: string, options: PostgresLogOptions = {}) {
    const schema = logSchema(options);
    this.schema = schema.quoted;
    this.schemaName = schema.name;
    this.description = `${redact(connectionString)} (schema ${schema.name})`;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    const config: ClientConfig = {
      connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, options: '-c synchronous_commit=on',
      ...(options.applicationName === undefined ? {} : { application_name: options.applicationName }),
    };
    this.config = config;
    this.listener = new Client(config);
    this.pool = new Pool({ ...config, max: READ_POOL_CONNECTIONS });
    // An idle connection that the server drops is replaced on the next read; the error must not crash the process.
    this.pool.on('error', () => undefined);
    const s = this.schema;
    this.sql = {
      append: `SELECT * FROM ${s}.neat_append($1, $2, $3, $4, $5, $6)`,
      readAll: `SELECT position, event_id, stream, revision, type, body FROM ${s}.events WHERE position >= $1 ORDER BY position LIMIT $2`,
      readStream: `SELECT position, event_id, stream, revision, type, body FROM ${s}.events WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
      head: `SELECT position FROM ${s}.log_head`,
    };
    this.ready = this.open();
    // Failures surface through the calls that await it; an unused log must not reject unhandled.
    this.ready.catch(() => undefined);
  }

  private async open(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await this.createOrCheckSchema(client);
    } finally {
      client.release();
    }
    await this.listen();
  }

  private async createOrCheckSchema(client: PoolClient): Promise<void> {
    const s = this.schema;
    await client.query('BEGIN');
    try {
      // Two processes creating the same schema at once would collide on the catalogue: one waits for the other.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`neat-event-log:${s}`]);
      const existing = await client.query<{ schema_version: number }>(
        `SELECT schema_version FROM ${s}.neat_log_meta`).then((r) => r.rows, (error: unknown) => {
        if ((error as Partial<DatabaseError>).code === '42P01' || (error as Partial<DatabaseError>).code === '3F000') return null;
        throw error;
      });
      if (existing === null) {
        await client.query('ROLLBACK');
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`neat-event-log:${s}`]);
        await client.query(schemaSql(s));
        await client.query(`INSERT INTO ${s}.neat_log_meta (schema_version) VALUES ($1) ON CONFLICT DO NOTHING`, [POSTGRES_SCHEMA_VERSION]);
      } else if (existing.length === 1 && existing[0].schema_version === 1) {
        // Version 1 had no epochs: its events were all written before any leader.
        await client.query(`ALTER TABLE ${s}.events ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0`);
        await client.query(leaderColumnsSql(s));
        await client.query(appendFunctionSql(s));
        await client.query(`UPDATE ${s}.neat_log_meta SET schema_version = $1`, [POSTGRES_SCHEMA_VERSION]);
      } else if (existing.length !== 1 || existing[0].schema_version !== POSTGRES_SCHEMA_VERSION) {
        throw new LogFileError(`${this.description} is a neat event log of schema version ${String(existing[0]?.schema_version)}; this build reads version ${POSTGRES_SCHEMA_VERSION}; nothing was changed`);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * The same connection for every append while it lasts, so that the server
   * takes them in call order. A lost one is replaced on the next append: the
   * appends that were on it fail (committed or not: a retry of the same batch
   * is answered as a duplicate), and the ones after go on the new connection.
   */
  private writer(): WriterConnection {
    if (this.writerConnection !== null) return this.writerConnection;
    const client = new Client(this.config);
    const connected = this.ready.then(async () => {
      await client.connect();
      // Again, after the connection's options: a role's or a database's own setting (ALTER ROLE … SET) would otherwise win.
      await client.query('SET synchronous_commit TO on');
      return client;
    });
    const entry = { client, connected };
    const forget = (): void => { this.dropWriter(entry); };
    client.on('error', forget);
    client.on('end', forget);
    connected.catch(forget);
    this.writerConnection = entry;
    return entry;
  }

  /** Ended too, so that nothing queued on it commits after an append sent on its successor. */
  private dropWriter(entry: WriterConnection): void {
    if (this.writerConnection !== entry) return;
    this.writerConnection = null;
    entry.client.end().catch(() => undefined);
  }

  /** Best effort: without it, subscriptions still see appends by polling. */
  private async listen(): Promise<void> {
    this.listener.on('error', () => undefined);
    this.listener.on('notification', () => { this.signal.notify(); });
    try {
      await this.listener.connect();
      await this.listener.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch {
      // Polling it is.
    }
  }

  /**
   * From now on every append carries `epoch`, the token of the leadership this
   * process holds, and is refused (FencedError, also passed to `onFenced`) once
   * another process has been elected with a newer one.
   */
  fenceWith(epoch: number, onFenced: (error: FencedError) => void): void {
    assert(Number.isSafeInteger(epoch) && epoch > 0, 'an epoch is a positive integer');
    assert(this.epoch === null || epoch > this.epoch, 'a fencing token only grows');
    this.epoch = epoch;
    this.onFenced = onFenced;
  }

  // async, so that every failure is a rejected promise as the port promises, never a synchronous throw.
  async append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    this.assertOpen();
    checkBatch(stream, events, expectedRevision);
    const bodies = events.map((event) => {
      const { correlationId, causationId, timeMs, source } = event.metadata;
      return JSON.stringify([event.version, event.data, correlationId, causationId, timeMs, source] satisfies Body);
    });
    // Sent before any await of its own, so that appends reach the writer connection in call order.
    const writer = this.writer();
    const sent = writer.connected.then((client) => client.query<AppendRow>(this.sql.append, [
      stream, expectedRevision, events.map((e) => e.id), events.map((e) => e.type), bodies, this.epoch,
    ]));
    this.inFlight.add(sent);
    let row: AppendRow;
    try {
      row = (await sent).rows[0];
    } catch (error) {
      if (lostConnection(error)) this.dropWriter(writer);
      // The function looks every id up under the lock, so this is only the index's backstop speaking.
      if (isUniqueViolation(error, 'events_event_id_key')) {
        const id = /=\((.*)\)/.exec((error as DatabaseError).detail ?? '')?.[1] ?? '(unknown)';
        throw new DuplicateEventIdError(id, 'in the log (its unique index refused a second copy)');
      }
      throw error;
    } finally {
      this.inFlight.delete(sent);
    }
    if (row.outcome === 'stored') {
      const refs = new Map<string, StoredRef>();
      (row.ref_ids ?? []).forEach((id, i) => {
        refs.set(id, { stream: row.ref_streams![i], revision: Number(row.ref_revisions![i]), position: Number(row.ref_positions![i]) });
      });
      const retry = resolveRetry(stream, events, (id) => refs.get(id) ?? null);
      if (retry === null) throw new Error(`${this.description}: the server reported stored ids that none of the batch's are`);
      return retry;
    }
    if (row.outcome === 'fenced') {
      const fenced = new FencedError(this.description, this.epoch, Number(row.stream_revision));
      this.onFenced(fenced);
      throw fenced;
    }
    const revision = Number(row.stream_revision);
    if (row.outcome === 'conflict') throw new WrongExpectedRevisionError(stream, expectedRevision, revision);
    const first = Number(row.first_position);
    if (events.length > 0) this.signal.notify();
    return {
      firstPosition: events.length === 0 ? 0 : first,
      lastPosition: events.length === 0 ? 0 : first + events.length - 1,
      streamRevision: revision,
      duplicate: false,
    };
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    await this.ready;
    const rows = await this.pool.query<EventRow>({
      text: this.sql.readStream, values: [stream, options.fromRevision ?? 0, options.limit ?? null], rowMode: 'array',
    });
    return rows.rows.map(rowToEvent);
  }

  async readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    assertLimit(limit);
    await this.ready;
    const rows = await this.pool.query<EventRow>({ text: this.sql.readAll, values: [fromPosition, limit], rowMode: 'array' });
    const events = rows.rows.map(rowToEvent);
    // Appends never leave gaps; only a compaction removes events, at or before the position it records. Any other
    // missing position means a damaged table. Read when a gap is met, which is rare: another process may have compacted.
    let expected = fromPosition;
    let through: number | null = null;
    for (const event of events) {
      if (event.position !== expected) {
        through ??= await compactedThrough(this.pool, this.schema);
        if (event.position < expected || event.position - 1 > through) {
          throw new EventDecodeError(expected, event.stream, `the next stored event is at position ${event.position}, and no compaction removed those between`);
        }
      }
      expected = event.position + 1;
    }
    return events;
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    await this.ready;
    const result = await this.pool.query<[string]>({ text: this.sql.head, rowMode: 'array' });
    return Number(result.rows[0]?.[0] ?? 0);
  }

  /** Who leads the log now (see `postgresLeader.ts`): null before the first election. */
  async leader(): Promise<LeaderRecord | null> {
    this.assertOpen();
    await this.ready;
    const result = await this.pool.query<{ writer_epoch: string; leader_instance: string | null; leader_url: string | null; leader_since: Date | null }>(
      `SELECT writer_epoch, leader_instance, leader_url, leader_since FROM ${this.schema}.log_head WHERE singleton`);
    const row = result.rows.at(0);
    if (row === undefined || row.leader_instance === null || row.leader_url === null || row.leader_since === null) return null;
    return { epoch: Number(row.writer_epoch), instance: row.leader_instance, url: row.leader_url, sinceMs: row.leader_since.getTime() };
  }

  subscribe(fromPosition: number): Subscription {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    return pollingSubscription((from, limit) => this.readAll(from, limit), this.signal, () => this.closed, fromPosition, this.pollIntervalMs);
  }

  /** The table compacted samples and refusals move to (`compactSamples`), as a `SamplesCompacted` event names it. */
  get archiveTable(): string {
    return archiveTableOf(this.schemaName);
  }

  async compactSamples(throughPosition: number, archive: string | null, pause: () => Promise<void>): Promise<CompactionResult> {
    this.assertOpen();
    assert(archive === null || archive === this.archiveTable, () => `a PostgreSQL log archives into ${this.archiveTable}, not ${String(archive)}`);
    await this.ready;
    return compactPostgres(this.pool, this.schema, { throughPosition, archive, pause });
  }

  /** The global manager's snapshot, in a row beside the log (`postgresSnapshot.ts`). */
  snapshotStore(): SnapshotStore {
    return new PostgresSnapshotStore(this.pool, this.schema, this.description, this.ready);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signal.notify();
    // Appends already sent are answered (committed or not) before the connection goes.
    await Promise.allSettled([...this.inFlight, this.ready]);
    const writer = this.writerConnection;
    this.writerConnection = null;
    await Promise.allSettled([writer?.connected.then((client) => client.end()), this.listener.end(), this.pool.end()]);
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError(this.description);
  }
}

/** For messages: a connection string without its password. */
export function redact(connectionString: string): string {
  return connectionString.replace(/(\/\/[^:/@]*):[^@/]*@/, '$1:***@').replace(/([?&]password=)[^&]*/i, '$1***');
}
