/**
 * Appending to a SQLite log, on whichever connection does it: the log's own
 * (one transaction per append) or its writer thread's (`sqliteWriter.ts`,
 * several appends in one transaction). One code path for both, so that a
 * group-committed append is checked and stored exactly as a single one.
 */
import type Database from 'better-sqlite3';
import type { NewEvent } from '../events/envelope';
import { resolveRetry } from './batch';
import type { StoredRef } from './batch';
import { DuplicateEventIdError, NO_STREAM, WrongExpectedRevisionError } from './port';
import type { AppendResult } from './port';

export type Body = [
  position: number, id: string, stream: string, revision: number, type: string, version: number, data: unknown,
  correlationId: unknown, causationId: unknown, timeMs: unknown, source: unknown,
];

export interface AppendRequest {
  readonly stream: string;
  readonly events: readonly NewEvent[];
  readonly expectedRevision: number;
}

export type AppendOutcome = { readonly ok: true; readonly result: AppendResult } | { readonly ok: false; readonly error: unknown };

export interface Appender {
  /** One append, as a transaction of its own (`.immediate(...)`), or as a savepoint inside another. */
  readonly append: Database.Transaction<(stream: string, events: readonly NewEvent[], expectedRevision: number) => AppendResult>;
  /** Several appends in one transaction, each atomic on its own: one that fails rolls back alone. */
  readonly appendGroup: Database.Transaction<(batch: readonly AppendRequest[]) => AppendOutcome[]>;
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

export function appenderOn(db: Database.Database): Appender {
  const byId = db.prepare<[string], StoredRef>('SELECT stream, revision, position FROM events WHERE event_id = ?');
  const streamRevision = db.prepare<[string], number | null>('SELECT max(revision) FROM events WHERE stream = ?').pluck();
  const head = db.prepare<[], number | null>('SELECT max(position) FROM events').pluck();
  const insert = db.prepare('INSERT INTO events (position, event_id, stream, revision, type, body) VALUES (?, ?, ?, ?, ?, ?)');
  const append = db.transaction((stream: string, events: readonly NewEvent[], expectedRevision: number): AppendResult => {
    // A retry stores its first event already; other reuse of an id is caught by the UNIQUE index below,
    // so a fresh batch costs one lookup rather than one per event.
    if (events.length > 0 && byId.get(events[0].id) !== undefined) {
      const retry = resolveRetry(stream, events, (id) => byId.get(id) ?? null);
      if (retry !== null) return retry;
    }
    const currentRevision = streamRevision.get(stream) ?? NO_STREAM;
    if (currentRevision !== expectedRevision) throw new WrongExpectedRevisionError(stream, expectedRevision, currentRevision);
    const headPosition = head.get() ?? 0;
    events.forEach((event, i) => {
      const position = headPosition + 1 + i;
      const revision = currentRevision + 1 + i;
      const { correlationId, causationId, timeMs, source } = event.metadata;
      const body: Body = [position, event.id, stream, revision, event.type, event.version, event.data, correlationId, causationId, timeMs, source];
      try {
        insert.run(position, event.id, stream, revision, event.type, JSON.stringify(body));
      } catch (error) {
        if (isUniqueViolation(error, 'events.event_id')) {
          const stored = byId.get(event.id);
          throw new DuplicateEventIdError(event.id, `at position ${String(stored?.position)} (stream "${String(stored?.stream)}")`);
        }
        throw error;
      }
    });
    return {
      firstPosition: events.length === 0 ? 0 : headPosition + 1,
      lastPosition: events.length === 0 ? 0 : headPosition + events.length,
      streamRevision: currentRevision + events.length,
      duplicate: false,
    };
  });
  // Inside a transaction, better-sqlite3 runs a transaction function as a savepoint: one failed append rolls back alone.
  const appendGroup = db.transaction((batch: readonly AppendRequest[]): AppendOutcome[] => batch.map((item) => {
    try {
      return { ok: true as const, result: append(item.stream, item.events, item.expectedRevision) };
    } catch (error) {
      return { ok: false as const, error };
    }
  }));
  return { append, appendGroup };
}
