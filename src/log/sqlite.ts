/**
 * The embedded default: one SQLite file (better-sqlite3), WAL, one transaction
 * per append, `synchronous = FULL` so that an acknowledged append survives a
 * crash or power loss. Positions are the table's integer primary key, assigned
 * max + 1 inside the write transaction, so they are gap-free.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { decodeStoredEvent, EventDecodeError } from '../events/envelope';
import type { NewEvent, RecordedEvent } from '../events/envelope';
import { checkBatch, resolveRetry } from './batch';
import type { StoredRef } from './batch';
import { assertLimit, assertPosition, DuplicateEventIdError, LogClosedError, LogFileError, NO_STREAM, WrongExpectedRevisionError } from './port';
import type { AppendResult, EventLog, ReadStreamOptions, Subscription } from './port';
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

type Body = [
  position: number, id: string, stream: string, revision: number, type: string, version: number, data: unknown,
  correlationId: unknown, causationId: unknown, timeMs: unknown, source: unknown,
];

function bodyToEvent(body: string): RecordedEvent {
  const [position, id, stream, revision, type, version, data, correlationId, causationId, timeMs, source] = JSON.parse(body) as Body;
  return decodeStoredEvent({ position, id, stream, revision, type, version, data, metadata: { correlationId, causationId, timeMs, source } });
}

/** Rows come back in position order; a body whose position is not the one expected means a damaged file. */
function bodiesToEvents(bodies: readonly string[], firstPosition: number | null): RecordedEvent[] {
  return bodies.map((body, i) => {
    const event = bodyToEvent(body);
    if (firstPosition !== null && event.position !== firstPosition + i) {
      throw new EventDecodeError(firstPosition + i, event.stream, `the stored event says position ${event.position}`);
    }
    return event;
  });
}

/**
 * Checked by its fields, not `instanceof SqliteError`: the native addon keeps the
 * constructor of the first module instance that loaded it, which need not be ours
 * (jest, for one, loads modules afresh per test file).
 */
function isUniqueViolation(error: unknown, column: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, message } = error as { code?: unknown; message?: unknown };
  return code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof message === 'string' && message.includes(column);
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
   * True: appends made within a short window are committed together, one
   * transaction and one fsync for all of them, each still
   * atomic on its own (a savepoint each) and acknowledged only after the
   * commit. A service taking many concurrent requests pays one fsync per turn
   * instead of one per request. False (the default): each append commits at
   * once, as a simulation on virtual time needs (it must not wait for a
   * wall-clock timer).
   */
  readonly groupCommit?: boolean;
  /**
   * True: read an existing log and never write to it (`openExisting`); an
   * absent, empty or foreign file is a LogFileError, and appends are refused.
   */
  readonly readOnly?: boolean;
}

interface PendingAppend {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expectedRevision: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** Appends committed together at most; more wait for the next commit. */
const GROUP_COMMIT_MAX_APPENDS = 1000;
/**
 * How long an append waits for others to join its commit. A request's
 * append is a few turns of the event loop after its bytes arrive, so
 * committing at the next turn would commit one append at a time; an fsync
 * costs 1-2 ms here, so a window of that size adds about one fsync of latency.
 */
const GROUP_COMMIT_WINDOW_MS = 2;

export class SqliteEventLog implements EventLog {
  /** An append commits before `append` returns, or joins the group-commit queue in call order. */
  readonly appendsInCallOrder = true;
  readonly description: string;
  private readonly db: Database.Database;
  private readonly signal = new AppendSignal();
  private readonly pollIntervalMs: number;
  private closed = false;
  private readonly statements;
  private readonly appendTransaction;
  private readonly groupTransaction;
  private readonly groupCommit: boolean;
  private readonly readOnly: boolean;
  /** Opened read-only when the file had no -wal and -shm files: any the reading creates are removed at close. */
  private readonly readerSidecars: boolean;
  private pending: PendingAppend[] = [];
  private flushScheduled = false;

  /** An existing log, read-only: for a command that reads a log it is given (`neat replay`), and must leave it as it was. */
  static openExisting(path: string, options: Omit<SqliteLogOptions, 'readOnly'> = {}): SqliteEventLog {
    return new SqliteEventLog(path, { ...options, readOnly: true });
  }

  constructor(readonly path: string, options: SqliteLogOptions = {}) {
    this.description = `sqlite:${path}`;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.groupCommit = options.groupCommit ?? false;
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
    this.statements = {
      byId: this.db.prepare<[string], StoredRef>('SELECT stream, revision, position FROM events WHERE event_id = ?'),
      streamRevision: this.db.prepare<[string], number | null>('SELECT max(revision) FROM events WHERE stream = ?').pluck(),
      head: this.db.prepare<[], number | null>('SELECT max(position) FROM events').pluck(),
      insert: this.db.prepare('INSERT INTO events (position, event_id, stream, revision, type, body) VALUES (?, ?, ?, ?, ?, ?)'),
      readAll: this.db.prepare<[number, number], string>('SELECT body FROM events WHERE position >= ? ORDER BY position LIMIT ?').pluck(),
      readStream: this.db.prepare<[string, number, number], string>(
        'SELECT body FROM events WHERE stream = ? AND revision >= ? ORDER BY revision LIMIT ?').pluck(),
    };
    this.appendTransaction = this.db.transaction((stream: string, events: readonly NewEvent[], expectedRevision: number): AppendResult => {
      // A retry stores its first event already; other reuse of an id is caught by the UNIQUE index below,
      // so a fresh batch costs one lookup rather than one per event.
      if (events.length > 0 && this.statements.byId.get(events[0].id) !== undefined) {
        const retry = resolveRetry(stream, events, (id) => this.statements.byId.get(id) ?? null);
        if (retry !== null) return retry;
      }
      const currentRevision = this.statements.streamRevision.get(stream) ?? NO_STREAM;
      if (currentRevision !== expectedRevision) throw new WrongExpectedRevisionError(stream, expectedRevision, currentRevision);
      const head = this.statements.head.get() ?? 0;
      events.forEach((event, i) => {
        const position = head + 1 + i;
        const revision = currentRevision + 1 + i;
        const { correlationId, causationId, timeMs, source } = event.metadata;
        const body: Body = [position, event.id, stream, revision, event.type, event.version, event.data, correlationId, causationId, timeMs, source];
        try {
          this.statements.insert.run(position, event.id, stream, revision, event.type, JSON.stringify(body));
        } catch (error) {
          if (isUniqueViolation(error, 'events.event_id')) {
            const stored = this.statements.byId.get(event.id);
            throw new DuplicateEventIdError(event.id, `at position ${String(stored?.position)} (stream "${String(stored?.stream)}")`);
          }
          throw error;
        }
      });
      return {
        firstPosition: events.length === 0 ? 0 : head + 1,
        lastPosition: events.length === 0 ? 0 : head + events.length,
        streamRevision: currentRevision + events.length,
        duplicate: false,
      };
    });
    // Inside a transaction, better-sqlite3 runs a transaction function as a savepoint: one failed append rolls back alone.
    this.groupTransaction = this.db.transaction((batch: readonly PendingAppend[]) => batch.map((item) => {
      try {
        return { ok: true as const, result: this.appendTransaction(item.stream, item.events, item.expectedRevision) };
      } catch (error) {
        return { ok: false as const, error };
      }
    }));
  }

  // async, so that every failure is a rejected promise as the port promises, never a synchronous throw.
  async append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    this.assertOpen();
    if (this.readOnly) throw new LogFileError(`${this.path} was opened read-only: appends are refused`);
    checkBatch(stream, events, expectedRevision);
    if (this.groupCommit) return this.enqueue(stream, events, expectedRevision);
    const result = this.appendTransaction.immediate(stream, events, expectedRevision);
    if (!result.duplicate && events.length > 0) this.signal.notify();
    return result;
  }

  private enqueue(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ stream, events, expectedRevision, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setTimeout(() => { this.flush(); }, GROUP_COMMIT_WINDOW_MS);
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending.splice(0, GROUP_COMMIT_MAX_APPENDS);
    if (this.pending.length > 0) {
      this.flushScheduled = true;
      setImmediate(() => { this.flush(); });
    }
    if (this.closed) {
      for (const item of batch) item.reject(new LogClosedError(this.description));
      return;
    }
    let outcomes;
    try {
      outcomes = this.groupTransaction.immediate(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    if (outcomes.some((o) => o.ok && !o.result.duplicate && o.result.lastPosition > 0)) this.signal.notify();
    outcomes.forEach((outcome, i) => {
      if (outcome.ok) batch[i].resolve(outcome.result);
      else batch[i].reject(outcome.error);
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    return bodiesToEvents(this.statements.readStream.all(stream, options.fromRevision ?? 0, options.limit ?? -1), null);
  }

  async readAll(fromPosition: number, limit: number): Promise<readonly RecordedEvent[]> {
    this.assertOpen();
    assertPosition(fromPosition, 'fromPosition');
    assertLimit(limit);
    return bodiesToEvents(this.statements.readAll.all(fromPosition, limit), fromPosition);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    return this.statements.head.get() ?? 0;
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
    this.db.close();
    if (this.readerSidecars) removeReaderSidecars(this.path);
  }

  private assertOpen(): void {
    if (this.closed) throw new LogClosedError(this.description);
  }
}
