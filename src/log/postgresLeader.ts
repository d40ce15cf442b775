/**
 * Leadership among several `neat serve` processes on one PostgreSQL log.
 *
 * The leader holds a session-level advisory lock on a connection of its own:
 * the server releases it the moment that session ends, whether the process
 * died (SIGKILL closes its sockets) or its connection was cut. A standby waits
 * for the lock inside the server (`pg_advisory_lock` blocks), so it takes over
 * as soon as the lock is free, without polling. Once it holds the lock it
 * raises `log_head.writer_epoch` and writes its address beside it, in one
 * transaction: the new epoch is its fencing token. The log refuses an append
 * that carries an older one (`neat_append`), so a deposed leader that has not
 * noticed yet cannot write, and so cannot act either: every action of the
 * manager is recorded before it is sent.
 *
 * The leader checks its lock's session every `checkIntervalMs`; a failed
 * check, a connection error or its end is the loss of leadership, reported
 * once through `onLost`. The checks also keep the session from idling: it is
 * held under `idle_session_timeout` = LEASE_INTERVALS checks, so a leader that
 * stops without dying (frozen, paused, its host swapping) loses the lock when
 * the server ends its idle session, and the standby takes over; when the old
 * leader runs again, its appends carry the old epoch and are refused. A lost leader does not try to lead again in the same
 * process: its state is the old epoch's, and a fresh start rebuilds it.
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import type { ClientConfig } from 'pg';
import { assert } from '../engine/assert';
import { logSchema, redact } from './postgres';

/** A server that does not answer a connection attempt within this is reported, not waited for forever. */
const CONNECT_TIMEOUT_MS = 10_000;

/** Attempts in a row to reach the server while waiting for the lock, a second apart, before the wait fails. */
const MAX_CONNECT_FAILURES = 30;
const RECONNECT_DELAY_MS = 1_000;

/** Checks a leader may miss before the server ends its lock's session and the lock goes to a standby: its lease. */
const LEASE_INTERVALS = 5;

/** Intervals a leader waits for the answer to a check of its lock's session before it counts the session lost. */
const CHECK_ANSWER_INTERVALS = 3;

/** The lock's first key: both keys are 32-bit, so it cannot be mistaken for a one-key lock of someone else's. */
const LOCK_NAMESPACE = 'neat-leader';

export interface LeadershipOptions {
  readonly schema?: string;
  /** This process's name, unique among the instances (`pg_stat_activity` shows it as the lock session's application name). */
  readonly instance: string;
  /** The URL this process serves on once it leads. */
  readonly url: string;
  /** How often a leader checks that its lock's session is still there. */
  readonly checkIntervalMs: number;
  /** Called once, when a held leadership is lost. */
  readonly onLost: (reason: string) => void;
}

export class PostgresLeadership {
  readonly description: string;
  private readonly config: ClientConfig;
  private readonly schema: string;
  private readonly lockKeys: [string, string];
  private client: Client | null = null;
  private epoch: number | null = null;
  private lost = false;
  private closed = false;
  private checker: NodeJS.Timeout | null = null;

  constructor(connectionString: string, private readonly options: LeadershipOptions) {
    const schema = logSchema(options);
    this.schema = schema.quoted;
    this.lockKeys = [LOCK_NAMESPACE, schema.name];
    this.description = `leadership of ${redact(connectionString)} (schema ${schema.name})`;
    assert(options.checkIntervalMs > 0, 'a leader checks its lock at a positive interval');
    this.config = {
      connectionString, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: `neat-leader:${options.instance}`,
      keepAlive: true,
    };
  }

  /** The epoch this process leads with, or null while it does not lead. */
  get leadingEpoch(): number | null {
    return this.lost ? null : this.epoch;
  }

  /**
   * Resolves with this process's epoch once it leads: waits for the lock for
   * as long as another process holds it. Rejects once the server has been out
   * of reach MAX_CONNECT_FAILURES times in a row, or when closed meanwhile.
   */
  async acquire(): Promise<number> {
    assert(this.epoch === null && !this.lost, 'a process leads at most once');
    let failures = 0;
    for (;;) {
      if (this.closed) throw new Error(`${this.description}: closed while waiting for the lock`);
      const client = new Client(this.config);
      client.on('error', () => undefined);
      this.client = client;
      try {
        await client.connect();
        await client.query('SELECT pg_advisory_lock(hashtext($1), hashtext($2))', this.lockKeys);
        // Set once the lock is held: a session waiting in pg_advisory_lock is active, not idle, and must wait as long as it takes.
        await client.query(`SET idle_session_timeout = ${LEASE_INTERVALS * this.options.checkIntervalMs}`);
        const epoch = await this.raiseEpoch(client);
        this.lead(client, epoch);
        return epoch;
      } catch (error) {
        await client.end().catch(() => undefined);
        this.client = null;
        failures += 1;
        const why = this.isClosed() ? 'closed while waiting for the lock' : failures >= MAX_CONNECT_FAILURES ? `${failures} attempts failed` : null;
        if (why !== null) throw new Error(`${this.description}: ${why}: ${error instanceof Error ? error.message : String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
      }
    }
  }

  private async raiseEpoch(client: Client): Promise<number> {
    const s = this.schema;
    const result = await client.query<{ writer_epoch: string }>(
      `UPDATE ${s}.log_head SET writer_epoch = writer_epoch + 1, leader_instance = $1, leader_url = $2, leader_since = now() `
      + 'WHERE singleton RETURNING writer_epoch', [this.options.instance, this.options.url]);
    assert(result.rows.length === 1, 'the log has its head row');
    return Number(result.rows[0].writer_epoch);
  }

  private lead(client: Client, epoch: number): void {
    this.epoch = epoch;
    const lose = (reason: string): void => {
      if (this.lost || this.closed) return;
      this.lost = true;
      if (this.checker !== null) clearInterval(this.checker);
      client.end().catch(() => undefined);
      this.options.onLost(reason);
    };
    client.on('error', (error) => { lose(`the lock's connection failed: ${error.message}`); });
    client.on('end', () => { lose('the lock\'s connection ended'); });
    let checkSentMs: number | null = null;
    this.checker = setInterval(() => {
      // A check still unanswered after a few intervals: the session may be gone without a word (a cut network).
      if (checkSentMs !== null) {
        if (performance.now() - checkSentMs > CHECK_ANSWER_INTERVALS * this.options.checkIntervalMs) lose('the lock\'s session stopped answering');
        return;
      }
      checkSentMs = performance.now();
      client.query('SELECT 1').then(() => { checkSentMs = null; }, (error: unknown) => {
        lose(`the lock's session did not answer: ${error instanceof Error ? error.message : String(error)}`);
      });
    }, this.options.checkIntervalMs);
    this.checker.unref();
  }

  /** A call, not a field read, so that the check after an await is not narrowed away. */
  private isClosed(): boolean {
    return this.closed;
  }

  /** Releases the lock (by ending its session) or stops waiting for it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.checker !== null) clearInterval(this.checker);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
