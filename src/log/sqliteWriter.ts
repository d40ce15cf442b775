/**
 * A group-committing SQLite log's writer: a thread with its own connection
 * that commits batches of appends. SQLite's commit, and with it the fsync that
 * makes the appends durable, blocks the thread that calls it; on a thread of
 * its own it no longer holds up the service's event loop, which meanwhile
 * reads more requests, whose appends form the next batch. One batch at a
 * time, in the order sent, so appends keep their call order.
 */
import Database from 'better-sqlite3';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { assert } from '../engine/assert';
import { appenderOn } from './sqliteAppend';
import type { AppendOutcome, AppendRequest } from './sqliteAppend';
import { DuplicateEventIdError, WrongExpectedRevisionError } from './port';

const ROLE = 'neat-sqlite-writer';

interface WriterData {
  readonly role: typeof ROLE;
  readonly path: string;
  readonly durable: boolean;
}

/** An error as it crosses the thread boundary: by kind and fields, so that the log's callers see its own classes. */
type SentError =
  | { readonly kind: 'revision'; readonly stream: string; readonly expectedRevision: number; readonly actualRevision: number }
  | { readonly kind: 'duplicate'; readonly eventId: string; readonly detail: string }
  | { readonly kind: 'other'; readonly name: string; readonly message: string; readonly code: unknown };

type SentOutcome = { readonly ok: true; readonly result: Extract<AppendOutcome, { ok: true }>['result'] } | { readonly ok: false; readonly error: SentError };

type Reply = { readonly id: number; readonly outcomes: readonly SentOutcome[] } | { readonly id: number; readonly failure: SentError };

type Request = { readonly kind: 'write'; readonly id: number; readonly batch: readonly AppendRequest[] } | { readonly kind: 'close' };

function sent(error: unknown): SentError {
  if (error instanceof WrongExpectedRevisionError) {
    return { kind: 'revision', stream: error.stream, expectedRevision: error.expectedRevision, actualRevision: error.actualRevision };
  }
  if (error instanceof DuplicateEventIdError) return { kind: 'duplicate', eventId: error.eventId, detail: error.detail };
  const { name, message, code } = error instanceof Error ? (error as Error & { code?: unknown }) : { name: 'Error', message: String(error), code: undefined };
  return { kind: 'other', name, message, code };
}

function received(error: SentError): Error {
  switch (error.kind) {
    case 'revision': return new WrongExpectedRevisionError(error.stream, error.expectedRevision, error.actualRevision);
    case 'duplicate': return new DuplicateEventIdError(error.eventId, error.detail);
    default: return Object.assign(new Error(error.message), { name: error.name, code: error.code });
  }
}

function serveWrites(data: WriterData): void {
  const port = parentPort;
  assert(port !== null, 'the writer runs on a worker thread');
  const db = new Database(data.path, { fileMustExist: true });
  db.pragma('journal_mode = WAL');
  db.pragma(data.durable ? 'synchronous = FULL' : 'synchronous = OFF');
  db.pragma('busy_timeout = 10000');
  const appender = appenderOn(db);
  port.on('message', (request: Request) => {
    if (request.kind === 'close') {
      db.close();
      port.close();
      return;
    }
    let reply: Reply;
    try {
      const outcomes = appender.appendGroup.immediate(request.batch);
      reply = { id: request.id, outcomes: outcomes.map((o) => (o.ok ? o : { ok: false as const, error: sent(o.error) })) };
    } catch (error) {
      reply = { id: request.id, failure: sent(error) };
    }
    port.postMessage(reply);
  });
}

if (!isMainThread && (workerData as Partial<WriterData> | null)?.role === ROLE) serveWrites(workerData as WriterData);

export class SqliteWriterThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (outcomes: AppendOutcome[]) => void; reject: (error: unknown) => void }>();
  private failure: Error | null = null;
  private readonly exited: Promise<void>;

  constructor(path: string, options: { readonly durable: boolean }) {
    const data: WriterData = { role: ROLE, path, durable: options.durable };
    this.worker = new Worker(__filename, { workerData: data });
    // Idle, the writer does not keep the process alive (a log left open must not hang its exit); a write in flight does.
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => { this.settle(reply); });
    this.worker.on('error', (error) => { this.fail(error); });
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.fail(new Error(`the SQLite writer thread of ${path} exited (code ${code})`));
        resolve();
      });
    });
  }

  /** Commits the batch in one transaction; each append's outcome, in order, once the commit is durable. */
  write(batch: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      const request: Request = { kind: 'write', id, batch };
      this.worker.postMessage(request);
    });
  }

  /** After the last write answered: closes the writer's connection and waits for the thread to end. */
  async close(): Promise<void> {
    assert(this.waiting.size === 0, 'the writer is closed with no write in flight');
    const request: Request = { kind: 'close' };
    this.worker.ref();
    this.worker.postMessage(request);
    await this.exited;
  }

  private settle(reply: Reply): void {
    const waiter = this.waiting.get(reply.id);
    assert(waiter !== undefined, () => `a reply to write ${reply.id}, which is not waiting`);
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if ('failure' in reply) waiter.reject(received(reply.failure));
    else waiter.resolve(reply.outcomes.map((o) => (o.ok ? o : { ok: false as const, error: received(o.error) })));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
