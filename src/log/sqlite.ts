/**
 * The embedded default: one SQLite file (better-sqlite3), WAL, one transaction
 * per append, `synchronous = FULL` so that an acknowledged append survives a
 * crash or power loss. Positions are the table's integer primary key, assigned
 * max + 1 inside the write transaction, so they are gap-free.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { decodeStoredEvent, EventDecodeError } from '../events/envelope';
import type { NewEvent, RecordedEvent } from '../events/envelope';
import { assert } from '../engine/assert';
import { checkBatch } from './batch';
import { assertLimit, assertPosition, COMPACTED_REQUEST_OUTCOMES_SQL, LogClosedError, LogFileError } from './port';
import type { AppendResult, CompactionResult, EventLog, ReadStreamOptions, Subscription } from './port';
import { appenderOn } from './sqliteAppend';
import type { Appender, AppendOutcome, AppendRequest, Body } from './sqliteAppend';
import { SqliteWriterThread } from './sqliteWriter';
import { AppendSignal, pollingSubscription } from './subscription';

/** `PRAGMA application_id` of our files: "NEAT" in ASCII. */
export const SQLITE_APPLICATION_ID = 0x4e454154;
export const SQLITE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE events (
  position INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  stream TEXT NOT NULL,
  revision INTEGER NOT NULL,
  type TEXT NOT NULL,
  -- The whole event as one flat JSON array (see Body), so that reading it back is one column and
  -- one parse; the columns above are there for the indexes and the queries.
  body TEXT NOT NULL,
  UNIQUE (stream, revision)
);
`;

/**
 * Added to a file of schema version 1 when it is first opened for writing: a
 * log without compactions has no gaps, so older readers read it unchanged.
 * A compaction's row is written before it removes anything, and `completed`
 * once it has removed all it meant to: gaps at or below any row's
 * `through_position` are the compactions' own.
 */
const COMPACTIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS compactions (
  through_position INTEGER PRIMARY KEY,
  archive TEXT,
  completed INTEGER NOT NULL DEFAULT 0
);
`;

/** `PRAGMA application_id` of an archive of compacted samples: "NEAA". */
export const SQLITE_ARCHIVE_APPLICATION_ID = 0x4e454141;

/** Archives a reader attaches at most (SQLite attaches 10 files by default). */
const MAX_ARCHIVES_READ = 8;

/** Positions looked at per transaction of a compaction: each removes in one short write, between which appends go on. */
const COMPACTION_CHUNK_POSITIONS = 20_000;


function bodyToEvent(body: string): RecordedEvent {
  const [position, id, stream, revision, type, version, data, correlationId, causationId, timeMs, source] = JSON.parse(body) as Body;
  return decodeStoredEvent({ position, id, stream, revision, type, version, data, metadata: { correlationId, causationId, timeMs, source } });
}

/**
 * Rows come back in position order. A body whose position is not its row's,
 * or a gap a compaction did not leave (`compactedThrough` says where they may
 * be), means a damaged file.
 */
function bodiesToEvents(rows: readonly { position: number; body: string }[], fromPosition: number | null, compactedThrough: () => number): RecordedEvent[] {
  let expected = fromPosition;
  return rows.map(({ position, body }) => {
    const event = bodyToEvent(body);
    if (event.position !== position) throw new EventDecodeError(position, event.stream, `the stored event says position ${event.position}`);
    if (expected !== null && position !== expected && (position < expected || position - 1 > compactedThrough())) {
      throw new EventDecodeError(expected, event.stream, `the next stored event is at position ${position}, and no compaction removed those between`);
    }
    if (expected !== null) expected = position + 1;
    return event;
  });
}

/**
 * Looks at an existing file read-only, so that a file we refuse is left exactly
 * as it was. Returns true when the file is a log we can open, false when it is
 * new (absent, empty, or an SQLite file with nothing in it).
 */
function inspect(path: string): boolean {
  if (!existsSync(path) || statSync(path).size === 0) return false;
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new LogFileError(`cannot open ${path} as an event log: ${(error as Error).message}; nothing was changed`);
  }
  try {
    let applicationId: number;
    try {
      applicationId = db.pragma('application_id', { simple: true }) as number;
    } catch {
      throw new LogFileError(`${path} is not an SQLite database, so not a neat event log; nothing was changed`);
    }
    const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number;
    if (applicationId === 0 && tables === 0) return false;
    if (applicationId !== SQLITE_APPLICATION_ID) {
      throw new LogFileError(`${path} is an SQLite database but not a neat event log (application_id ${applicationId}); nothing was changed`);
    }
    let version: unknown;
    try {
      version = db.prepare('SELECT version FROM schema_version').pluck().get();
    } catch {
      throw new LogFileError(`${path} is marked as a neat event log but has no schema_version table; nothing was changed`);
    }
    if (version !== SQLITE_SCHEMA_VERSION) {
      throw new LogFileError(`${path} is a neat event log of schema version ${String(version)}; this build reads version ${SQLITE_SCHEMA_VERSION}; nothing was changed`);
    }
    return true;
  } finally {
    db.close();
  }
}

const READER_SIDECARS = ['-wal', '-shm'];

/**
 * For a read-only open: the file must exist and be a file. Returns true when
 * it has no -wal and -shm files, which a read-only connection to a WAL file
 * then creates.
 */
function checkReadable(path: string): boolean {
  if (!existsSync(path)) throw new LogFileError(`${path}: no such file, so no event log to read`);
  if (!statSync(path).isFile()) throw new LogFileError(`${path} is not a file, so not an event log`);
  return READER_SIDECARS.every((suffix) => !existsSync(`${path}${suffix}`));
}

/**
 * A read-only connection to a WAL file creates its -wal and -shm files and
 * cannot remove them (this build of SQLite has no URI filenames, so no
 * `immutable`). SQLite removes them when the last connection that may write
 * closes, and only then: so one is opened, reads, and closes. Its WAL is
 * empty, so nothing is written to the log file; were another process's
 * connection still open, SQLite would leave both files to it.
 */
function removeReaderSidecars(path: string): void {
  if (READER_SIDECARS.every((suffix) => !existsSync(`${path}${suffix}`))) return;
  readAsWriter(path);
}

/**
 * Opens the file as a connection that may write, reads it, and closes it: what
 * makes SQLite tidy a file (remove a WAL file's reader sidecars, roll back a
 * write left unfinished) without writing anything of its own.
 */
function readAsWriter(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
  } finally {
    db.close();
  }
}

/** `inspect` for a read-only open: a file that holds no log is an error, and the reading leaves no files behind. */
function inspectExisting(path: string, readerSidecars: boolean): true {
  let existing: boolean;
  try {
    existing = inspect(path);
  } finally {
    if (readerSidecars) removeReaderSidecars(path);
  }
  if (!existing) throw new LogFileError(`${path} is empty: it holds no event log to read; nothing was changed`);
  return existing;
}

/** Deletes a log file with its WAL and shared-memory files: for a command that created it and then failed to start. */
export function removeSqliteLog(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${path}${suffix}`, { force: true });
}

export interface SqliteLogOptions {
  /** How often a waiting subscription looks for appends made by another process. */
  readonly pollIntervalMs?: number;
  /**
   * True (the default): every append is on disk before it is acknowledged
   * (`synchronous = FULL`). False: the operating system writes when it likes
   * (`synchronous = OFF`; the file stays consistent, but a machine crash can
   * lose the last appends): for a simulation run's log, which a crash makes
   * worthless anyway and which appends tens of thousands of small batches.
   */
  readonly durable?: boolean;
  /**
   * True: appends are committed by a writer thread of the log's own
   * (`sqliteWriter.ts`), together: while it commits one batch, the appends
   * made meanwhile form the next, one transaction and one fsync for all of
   * them, each still atomic on its own (a savepoint each) and acknowledged
   * only after the commit. A service taking many concurrent requests pays one
   * fsync per batch instead of one per request, and its event loop never
   * waits for one. False (the default): each append commits at once on the
   * calling thread, as a simulation on virtual time needs.
   */
  readonly groupCommit?: boolean;
  /**
   * For a batch run's log (`durable: false` only): appends share one
   * transaction, committed every this many appends and at close. A commit
   * writes every page it changed to the WAL, about four per append, so
   * committing each of a simulated day's hundreds of thousands of small
   * appends costs more than the simulation. The file is consistent at every
   * commit; a killed run loses the appends since the last one, and another
   * process sees the log only up to it. Absent: each append commits.
   */
  readonly appendsPerCommit?: number;
  /**
   * True: read an existing log and never write to it (`openExisting`); an
   * absent, empty or foreign file is a LogFileError, and appends are refused.
   */
  readonly readOnly?: boolean;
}

interface PendingAppend extends AppendRequest {
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Appends committed together at most; more wait for the next commit. */
const GROUP_COMMIT_MAX_APPENDS = 1000;

export class SqliteEventLog implements EventLog {
  /** An append commits before `append` returns, or joins the group-commit queue, which the writer commits in call order. */
  readonly appendsInCallOrder = true;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly signal = new AppendSignal();
  private readonly pollIntervalMs: number;
  private closed = false;
  private readonly statements;
  /** Null when read-only. */
  private readonly appender: Appender | null;
  /** With group commit: the thread that commits, and the batch it is committing. */
  private readonly writer: SqliteWriterThread | null;
  private writing: Promise<void> | null = null;
  private readonly readOnly: boolean;
  /** Opened read-only when the file had no -wal and -shm files: any the reading creates are removed at close. */
  private readonly readerSidecars: boolean;
  private pending: PendingAppend[] = [];
  private writeScheduled = false;
  /** Read-only: the archives attached, whose events `readAll` returns with the log's. */
  readonly archives: readonly string[];
  private readonly appendsPerCommit: number;
  /** Appends made in the open batch transaction (with `appendsPerCommit`). */
  private appendsUncommitted = 0;

  /** An existing log, read-only: for a command that reads a log it is given (`neat replay`), and must leave it as it was. */
  static openExisting(path: string, options: Omit<SqliteLogOptions, 'readOnly'> = {}): SqliteEventLog {
    return new SqliteEventLog(path, { ...options, readOnly: true });
  }

  constructor(readonly path: string, options: SqliteLogOptions = {}) {
    this.description = `sqlite:${path}`;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.readOnly = options.readOnly ?? false;
    this.readerSidecars = this.readOnly && checkReadable(path);
    const existing = this.readOnly ? inspectExisting(path, this.readerSidecars) : inspect(path);
    this.db = new Database(path, { readonly: this.readOnly, fileMustExist: this.readOnly });
    // A reader leaves the journal mode as the writer set it: changing it is a write.
    if (!this.readOnly) this.db.pragma('journal_mode = WAL');
    this.db.pragma(options.durable === false ? 'synchronous = OFF' : 'synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    if (!existing) {
      this.db.transaction(() => {
        this.db.exec(SCHEMA);
        this.db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SQLITE_SCHEMA_VERSION);
        this.db.pragma(`application_id = ${SQLITE_APPLICATION_ID}`);
      }).immediate();
    }
    if (!this.readOnly) this.db.exec(COMPACTIONS_SCHEMA);
    const compacted = this.db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'compactions'").pluck().get() === 1;
    this.archives = this.readOnly && compacted ? this.attachArchivesToRead() : [];
    const readAllSql = this.archives.length === 0 ? 'SELECT position, body FROM events WHERE position >= $from ORDER BY position LIMIT $limit'
      // UNION, not UNION ALL: a row an interrupted compaction copied and did not remove yet is in both, identical.
      : `SELECT position, body FROM (${['main', ...this.archives.map((_, i) => `archive${i}`)].map((db) => `SELECT position, body FROM ${db}.events WHERE position >= $from`).join(' UNION ')}) ORDER BY position LIMIT $limit`;
    const readAll = this.db.prepare<[{ from: number; limit: number }], { position: number; body: string }>(readAllSql);
    this.statements = {
      head: this.db.prepare<[], number | null>('SELECT max(position) FROM events').pluck(),
      readAll: (from: number, limit: number) => readAll.all({ from, limit }),
      readStream: this.db.prepare<[string, number, number], { position: number; body: string }>(
        'SELECT position, body FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?'),
      compactedThrough: compacted ? this.db.prepare<[], number | null>('SELECT max(through_position) FROM compactions').pluck() : null,
    };
    this.appender = this.readOnly ? null : appenderOn(this.db);
    this.appendsPerCommit = options.appendsPerCommit ?? 1;
    assert(Number.isInteger(this.appendsPerCommit) && this.appendsPerCommit >= 1, 'appendsPerCommit is a positive integer');
    assert(this.appendsPerCommit === 1 || (options.durable === false && options.groupCommit !== true && !this.readOnly),
      'batched commits are for a non-durable log written on its own thread');
    this.writer = options.groupCommit === true && !this.readOnly ? new SqliteWriterThread(path, { durable: options.durable !== false }) : null;
  }

  // async, so that every failure is a rejected promise as the port promises, never a synchronous throw.
  async append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    this.assertOpen();
    if (this.appender === null) throw new LogFileError(`${this.path} was opened read-only: appends are refused`);
    checkBatch(stream, events, expectedRevision);
    if (this.writer !== null) return this.enqueue(stream, events, expectedRevision);
    const result = this.appendsPerCommit === 1 ? this.appender.append.immediate(stream, events, expectedRevision)
      : this.appendBatched(this.appender, stream, events, expectedRevision);
    if (!result.duplicate && events.length > 0) this.signal.notify();
    return result;
  }

  /** Inside the open batch transaction, as a savepoint: a refused append rolls back alone. */
  private appendBatched(appender: Appender, stream: string, events: readonly NewEvent[], expectedRevision: number): AppendResult {
    if (!this.db.inTransaction) this.db.exec('BEGIN IMMEDIATE');
    const result = appender.append(stream, events, expectedRevision);
    this.appendsUncommitted += 1;
    if (this.appendsUncommitted >= this.appendsPerCommit) this.commitBatch();
    return result;
  }

  private commitBatch(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
    this.appendsUncommitted = 0;
  }

  private enqueue(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ stream, events, expectedRevision, resolve, reject });
      this.scheduleWrite();
    });
  }

  /** At the next turn, so that the appends of this one (a round of concurrent calls) share the commit. */
  private scheduleWrite(): void {
    if (this.writeScheduled || this.writing !== null || this.pending.length === 0) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      this.writeBatch();
    });
  }

  private writeBatch(): void {
    const writer = this.writer;
    if (writer === null || this.writing !== null || this.closed) return;
    const batch = this.pending.splice(0, GROUP_COMMIT_MAX_APPENDS);
    if (batch.length === 0) return;
    const requests: AppendRequest[] = batch.map(({ stream, events, expectedRevision }) => ({ stream, events, expectedRevision }));
    this.writing = writer.write(requests).then((outcomes) => { this.settle(batch, outcomes); }, (error: unknown) => {
      for (const item of batch) item.reject(error);
    }).finally(() => {
      this.writing = null;
      if (this.closed) this.rejectPending();
      else this.scheduleWrite();
    });
  }

  private settle(batch: readonly PendingAppend[], outcomes: readonly AppendOutcome[]): void {
    if (outcomes.some((o) => o.ok && !o.result.duplicate && o.result.lastPosition > 0)) this.signal.notify();
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) batch[i].resolve(outcome.result);
      else batch[i].reject(outcome.error);
    });
  }

  private rejectPending(): void {
    for (const item of this.pending.splice(0)) item.reject(new LogClosedError(this.description));
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    return bodiesToEvents(this.statements.readStream.all(stream, options.fromRevision ?? 0, options.limit ?? -1), null, this.compactedThrough);
  }

  async readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    assertLimit(limit);
    return bodiesToEvents(this.statements.readAll(fromPosition, limit), fromPosition, this.compactedThrough);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.statements.head.get() ?? 0;
  }

  /** Read when a gap is met, which is rare: another process may have compacted since this one opened the file. */
  private readonly compactedThrough = (): number => this.statements.compactedThrough?.get() ?? 0;

  async compactSamples(throughPosition: number, archive: string | null, pause: () => Promise<void>): Promise<CompactionResult> {
    this.assertOpen();
    if (this.readOnly) throw new LogFileError(`${this.path} was opened read-only: it cannot be compacted`);
    assert(Number.isInteger(throughPosition) && throughPosition >= 0, 'a position to compact through');
    // A batch run's open transaction ends here: an archive is attached outside any.
    if (this.appendsPerCommit > 1) this.commitBatch();
    const compactedEvent = this.db.prepare<[number], number>(
      "SELECT count(*) FROM events WHERE type = 'SamplesCompacted' AND position > ?").pluck().get(throughPosition) ?? 0;
    assert(compactedEvent > 0, () => `no SamplesCompacted event after position ${throughPosition}: removing its samples would change the fold`);
    const fromPosition = (this.db.prepare<[], number | null>('SELECT max(through_position) FROM compactions WHERE completed = 1').pluck().get() ?? 0) + 1;
    // Absolute: a reader may open the log from another directory.
    const archivePath = archive === null ? null : resolve(archive);
    this.db.prepare('INSERT INTO compactions (through_position, archive) VALUES (?, ?) ON CONFLICT DO NOTHING').run(throughPosition, archivePath);
    if (archivePath !== null) this.attachArchive(archivePath);
    let removed = 0;
    try {
      // A stored body is [position, id, stream, revision, type, version, data, …].
      this.db.exec(`CREATE TEMP TABLE IF NOT EXISTS kept_samples (position INTEGER PRIMARY KEY);
        DELETE FROM temp.kept_samples;
        INSERT INTO temp.kept_samples SELECT max(position) FROM events WHERE type = 'UtilizationSampled' GROUP BY stream;
        CREATE TEMP TABLE IF NOT EXISTS idle_requests (stream TEXT PRIMARY KEY);
        DELETE FROM temp.idle_requests;
        INSERT OR IGNORE INTO temp.idle_requests SELECT stream FROM events WHERE type = 'RequestCompleted' AND position <= ${throughPosition}
          AND json_extract(body, '$[6].outcome') IN (${COMPACTED_REQUEST_OUTCOMES_SQL});`);
      // Checkpoints at or before the cut are superseded by the one after it, which a fold adopts whole.
      const which = `position BETWEEN ? AND ? AND (type IN ('RequestRejected', 'SamplesCompacted')
        OR (type = 'UtilizationSampled' AND position NOT IN (SELECT position FROM temp.kept_samples))
        OR stream IN (SELECT stream FROM temp.idle_requests))`;
      const copy = archive === null ? null : this.db.prepare(`INSERT OR IGNORE INTO archive.events SELECT * FROM main.events WHERE ${which}`);
      const remove = this.db.prepare(`DELETE FROM main.events WHERE ${which}`);
      // A request completed in this run's range may have begun in an earlier one's: its whole stream goes.
      const firstIdle = this.db.prepare<[], number | null>('SELECT min(position) FROM events WHERE stream IN (SELECT stream FROM temp.idle_requests)').pluck().get() ?? fromPosition;
      for (let low = Math.min(fromPosition, firstIdle); low <= throughPosition; low += COMPACTION_CHUNK_POSITIONS) {
        const high = Math.min(throughPosition, low + COMPACTION_CHUNK_POSITIONS - 1);
        // The archive commits its copies before the log lets them go: killed between the two, both hold them, and the next run goes on.
        copy?.run(low, high);
        removed += remove.run(low, high).changes;
        await pause();
        this.assertOpen();
      }
      this.db.prepare('UPDATE compactions SET completed = 1 WHERE through_position = ?').run(throughPosition);
    } finally {
      // A batch run's appends made meanwhile opened a transaction again; an archive is detached outside any.
      if (this.appendsPerCommit > 1) this.commitBatch();
      if (archivePath !== null) this.db.exec('DETACH DATABASE archive');
    }
    return { removed, fromPosition };
  }

  /**
   * For a reader: the archives the compactions moved events to, attached, so
   * that `readAll` returns the whole history (a what-if export, a report).
   * An archive no longer there (an operator removed it) is left out: its
   * events are missing from the reading, which the compaction's gaps allow.
   */
  private attachArchivesToRead(): string[] {
    const listed = this.db.prepare<[], string>('SELECT DISTINCT archive FROM compactions WHERE archive IS NOT NULL ORDER BY archive').pluck().all();
    const present = listed.filter((archive) => existsSync(archive));
    if (present.length > MAX_ARCHIVES_READ) throw new LogFileError(`${this.path} names ${present.length} archives; a reader attaches at most ${MAX_ARCHIVES_READ}`);
    const attached: string[] = [];
    for (const archive of present) {
      const name = `archive${attached.length}`;
      const attach = (): void => { this.db.prepare(`ATTACH DATABASE ? AS ${name}`).run(archive); };
      try {
        attach();
      } catch {
        // A compaction killed mid-write leaves the archive a hot journal, which only a connection that may write rolls
        // back (as any next opener would): undoing a write never committed loses nothing. Then it attaches read-only.
        readAsWriter(archive);
        attach();
      }
      // Killed before it made its table, an archive holds nothing yet.
      if (this.db.prepare(`SELECT count(*) FROM ${name}.sqlite_master WHERE type = 'table' AND name = 'events'`).pluck().get() === 1) attached.push(archive);
      else this.db.exec(`DETACH DATABASE ${name}`);
    }
    return attached;
  }

  /** The archive: an SQLite file of the log's `events` rows that compactions moved out, created on first use. */
  private attachArchive(archive: string): void {
    this.db.prepare('ATTACH DATABASE ? AS archive').run(archive);
    const applicationId = this.db.pragma('archive.application_id', { simple: true }) as number;
    const tables = this.db.prepare("SELECT count(*) FROM archive.sqlite_master WHERE type = 'table'").pluck().get() as number;
    if (applicationId !== SQLITE_ARCHIVE_APPLICATION_ID && !(applicationId === 0 && tables === 0)) {
      this.db.exec('DETACH DATABASE archive');
      throw new LogFileError(`${archive} is not an archive of compacted samples (application_id ${applicationId}); nothing was changed`);
    }
    // In one transaction, and again when missing: an earlier run killed between the two left the id without the table.
    this.db.exec(`BEGIN; PRAGMA archive.application_id = ${SQLITE_ARCHIVE_APPLICATION_ID};
      CREATE TABLE IF NOT EXISTS archive.events (position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, stream TEXT NOT NULL,
        revision INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL); COMMIT;`);
    this.db.pragma('archive.synchronous = FULL');
  }

  subscribe(fromPosition: number): Subscription {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    return pollingSubscription((from, limit) => this.readAll(from, limit), this.signal, () => this.closed, fromPosition, this.pollIntervalMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.signal.notify();
    // An append already committing is acknowledged; those still waiting are refused.
    await this.writing;
    this.rejectPending();
    await this.writer?.close();
    if (this.appendsPerCommit > 1) this.commitBatch();
    this.db.close();
    if (this.readerSidecars) removeReaderSidecars(this.path);
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError(this.description);
  }
}
