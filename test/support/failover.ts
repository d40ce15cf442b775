/**
 * The failover scenario of `test/recovery/failover.test.ts` and
 * `npm run bench:failover`: several `neat serve --sim` processes on one
 * PostgreSQL log, one leading, under a steady load of `POST /v1/requests` sent
 * to any of them (a standby answers 307 to the leader, which the load
 * follows). The leader is lost again and again at seeded moments, in one of
 * three ways:
 * - SIGKILL;
 * - a network cut: every session of its connections terminated by the
 *   server, after which it must exit by itself, code 75;
 * - a pause (SIGSTOP): it holds its connections but stops renewing its lease,
 *   so the server ends its idle lock session and a standby takes over; when
 *   it runs again (SIGCONT) it still believes it leads, its writes carry the
 *   old epoch and are refused, and it exits, code 75. This is the case the
 *   epochs exist for.
 * The lost instance is started again as a standby. What the run found is
 * read back from the log.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { EXIT_LEADERSHIP_LOST } from '../../src/cli/serveHa';
import { createRng } from '../../src/rng';
import { quantile } from '../bench/harness';
import { PROJECT_ROOT } from './planetlab';
import { Served } from './served';
import { freePort } from './sshd';

const TOKEN = 'failover-test';
/** A takeover not seen by then is a failure of the run. */
const TAKEOVER_GIVE_UP_MS = 40_000;
const TRACE = join(PROJECT_ROOT, 'traces', 'sample', 'planetlab-like-day.csv');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => { setTimeout(resolve, ms); });

interface Load {
  readonly acknowledged: string[];
  sent: number;
  redirected: number;
  refused: number;
  failed: number;
  stop(): Promise<void>;
}

/** Requests to a random instance every `periodMs`, each followed through one redirect; what got a 202 is acknowledged. */
function startLoad(urls: readonly string[], hosts: readonly string[], seed: string, periodMs: number): Load {
  const rng = createRng(seed);
  const state = { running: true };
  const load: Load = {
    acknowledged: [], sent: 0, redirected: 0, refused: 0, failed: 0,
    async stop() { state.running = false; await loop; },
  };
  const post = (url: string, host: string): Promise<Response> => fetch(url, {
    method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(10_000),
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ host, reason: 'underload' }),
  });
  const loop = (async () => {
    while (state.running) {
      const url = `${urls[Math.floor(rng.next() * urls.length)]}/v1/requests`;
      const host = hosts[Math.floor(rng.next() * hosts.length)];
      load.sent += 1;
      try {
        let answer = await post(url, host);
        if (answer.status === 307) {
          load.redirected += 1;
          answer = await post(answer.headers.get('location') ?? '', host);
        }
        if (answer.status === 202) load.acknowledged.push(((await answer.json()) as { requestId: string }).requestId);
        else load.refused += 1;
      } catch {
        load.failed += 1;
      }
      await sleep(periodMs);
    }
  })();
  return load;
}

export interface LoggedEvent {
  readonly position: number;
  readonly epoch: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

async function readLog(client: Client): Promise<LoggedEvent[]> {
  const rows = await client.query<{ position: string; epoch: string; type: string; body: string }>('SELECT position, epoch, type, body FROM neat.events ORDER BY position');
  // The PostgreSQL adapter's body: [version, data, correlationId, causationId, timeMs, source].
  return rows.rows.map((row) => ({ position: Number(row.position), epoch: Number(row.epoch), type: row.type, data: (JSON.parse(row.body) as unknown[])[1] as Record<string, unknown> }));
}

/** VMs that had a migration started while an earlier one of theirs was neither completed nor failed. */
export function overlappingMigrations(events: readonly LoggedEvent[]): string[] {
  const open = new Map<string, string>();
  const found: string[] = [];
  for (const event of events) {
    const vmId = event.data.vmId as string;
    const migrationId = event.data.migrationId as string;
    if (event.type === 'MigrationStarted') {
      if (open.has(vmId)) found.push(`${vmId}: migration ${migrationId} started at ${event.position} while ${open.get(vmId)} was under way`);
      open.set(vmId, migrationId);
    } else if ((event.type === 'MigrationCompleted' || event.type === 'MigrationFailed') && open.get(vmId) === migrationId) {
      open.delete(vmId);
    }
  }
  return found;
}

/** Positions where the writer's epoch went down: a deposed leader's write landed after its successor's. */
export function epochRegressions(events: readonly LoggedEvent[]): number[] {
  return events.filter((event, i) => i > 0 && event.epoch < events[i - 1].epoch).map((event) => event.position);
}

/** How the process exited, or null if it is still running after `timeoutMs` (the timer cleared either way, so jest can exit). */
async function exitWithin(served: Served, timeoutMs: number): Promise<{ code: number | null } | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => { timer = setTimeout(() => { resolve(null); }, timeoutMs); });
  try {
    return await Promise.race([served.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export type LossKind = 'SIGKILL' | 'network cut' | 'pause';

export interface FailoverOptions {
  readonly databaseUrl: string;
  readonly instances: number;
  readonly losses: number;
  readonly seed: string;
  /** Virtual seconds per wall-clock second of the simulated data centre. */
  readonly speed: number;
}

export interface FailoverRun {
  readonly losses: readonly { readonly kind: LossKind; readonly instance: number; readonly takeoverMs: number }[];
  readonly load: Omit<Load, 'stop'>;
  /** Acknowledged requests the log does not hold. */
  readonly lostRequests: readonly string[];
  /** Deposed leaders that did not exit with EXIT_LEADERSHIP_LOST after a network cut or a pause. */
  readonly badExits: readonly string[];
  readonly events: readonly LoggedEvent[];
}

/** Runs the scenario to its end; the children are killed whatever happens. */
export async function runFailover(options: FailoverOptions): Promise<FailoverRun> {
  const admin = new Client({ connectionString: options.databaseUrl });
  await admin.connect();
  const running: (Served | null)[] = Array.from({ length: options.instances }, () => null);
  try {
    return await failover(options, admin, running);
  } finally {
    for (const served of running) served?.child.kill('SIGKILL');
    await Promise.all(running.flatMap((served) => (served === null ? [] : [served.exited])));
    await admin.end();
  }
}

async function failover(options: FailoverOptions, admin: Client, running: (Served | null)[]): Promise<FailoverRun> {
  const ports = await Promise.all(running.map(() => freePort()));
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const start = (i: number): Served => {
    const served = new Served(['serve', '--sim', TRACE, '--events', options.databaseUrl, '--speed', String(options.speed), '--seed', '1',
      '--listen', `127.0.0.1:${ports[i]}`, '--instance', `i${i}`, '--log-format', 'json', '--quiet'],
    { NEAT_API_TOKENS_SHA256: createHash('sha256').update(TOKEN).digest('hex') });
    running[i] = served;
    return served;
  };
  const leaderInstance = async (): Promise<number | null> => {
    const row = (await admin.query<{ leader_instance: string | null }>('SELECT leader_instance FROM neat.log_head')).rows.at(0);
    return row?.leader_instance == null ? null : Number(row.leader_instance.slice(1));
  };
  const listeningCount = (served: Served): number => served.stdout.split('\n').filter((line) => line.includes('"event":"listening"')).length;

  await start(0).line((line) => line.event === 'listening', 60_000);
  for (let i = 1; i < running.length; i++) await start(i).line((line) => line.event === 'standby', 60_000);
  const hostsAnswer = await fetch(`${urls[1]}/v1/hosts`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const hosts = ((await hostsAnswer.json()) as { hosts: { name: string }[] }).hosts.map((host) => host.name);

  const rng = createRng(options.seed);
  const load = startLoad(urls, hosts, `${options.seed}/load`, 40);
  const losses: { kind: LossKind; instance: number; takeoverMs: number }[] = [];
  const badExits: string[] = [];
  for (let loss = 0; loss < options.losses; loss++) {
    const leader = await leaderInstance();
    if (leader === null) throw new Error('no leader is recorded in log_head');
    const lost = running[leader]!;
    await sleep(500 + Math.floor(rng.next() * 1_500));
    const before = running.map((served) => (served === null ? 0 : listeningCount(served)));
    const lostAtMs = Date.now();
    const kind = (['SIGKILL', 'network cut', 'pause'] as const)[Math.floor(rng.next() * 3)];
    if (kind === 'SIGKILL') {
      lost.child.kill('SIGKILL');
      await lost.exited;
    } else {
      if (kind === 'pause') {
        lost.child.kill('SIGSTOP');
        while ((await leaderInstance()) === leader) await sleep(50);
        // Long enough for the successor to write under its epoch before the old leader wakes and tries to.
        await sleep(1_000);
        lost.child.kill('SIGCONT');
      } else {
        await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ($1, $2)', [`neat-serve:i${leader}`, `neat-leader:i${leader}`]);
      }
      const exit = await exitWithin(lost, 15_000);
      if (exit?.code !== EXIT_LEADERSHIP_LOST) {
        badExits.push(`loss ${loss} (${kind} of i${leader}): ${exit === null ? 'still running' : `exit ${String(exit.code)}`}`);
        lost.child.kill('SIGKILL');
        await lost.exited;
      }
    }
    // The first instance (other than the lost one) that logs one more `listening` line than before leads now.
    let newLeader = -1;
    while (newLeader < 0) {
      if (Date.now() - lostAtMs > TAKEOVER_GIVE_UP_MS) throw new Error(`no takeover after loss ${loss} (${kind}): ${running.map((s) => s?.stderr.slice(-500)).join(' | ')}`);
      newLeader = running.findIndex((served, i) => i !== leader && served !== null && listeningCount(served) > before[i]);
      await sleep(10);
    }
    const listening = await running[newLeader]!.line((line) => line.event === 'listening' && Date.parse(line.time as string) >= lostAtMs, 1_000);
    losses.push({ kind, instance: leader, takeoverMs: Date.parse(listening.time as string) - lostAtMs });
    await start(leader).line((line) => line.event === 'standby', 60_000);
  }
  await load.stop();
  await sleep(2_000);
  for (const served of running) served?.child.kill('SIGTERM');
  await Promise.all(running.flatMap((served) => (served === null ? [] : [served.exited])));
  const events = await readLog(admin);
  const received = new Set(events.filter((e) => e.type === 'RequestReceived').map((e) => e.data.requestId as string));
  return { losses, load, lostRequests: load.acknowledged.filter((id) => !received.has(id)), badExits, events };
}

/** One line of figures: the takeover times and the load's. */
export function failoverSummary(run: FailoverRun): string {
  const sorted = run.losses.map((l) => l.takeoverMs).sort((a, b) => a - b);
  const byKind = (['SIGKILL', 'network cut', 'pause'] as const).map((kind) => {
    const times = run.losses.filter((l) => l.kind === kind).map((l) => l.takeoverMs).sort((a, b) => a - b);
    return times.length === 0 ? `${kind}: none` : `${kind} ×${times.length}: p50 ${quantile(times, 0.5)} ms, max ${times.at(-1)} ms`;
  });
  return `${run.losses.length} losses; takeover p50 ${quantile(sorted, 0.5)} ms, max ${sorted.at(-1)} ms (${byKind.join('; ')}); `
    + `load: ${run.load.sent} sent, ${run.load.acknowledged.length} acknowledged, ${run.load.redirected} redirected, ${run.load.refused} refused, `
    + `${run.load.failed} failed in transit; log: ${run.events.length} events, ${new Set(run.events.map((e) => e.epoch)).size} epochs, `
    + `${run.events.filter((e) => e.type === 'MigrationStarted').length} migrations started`;
}
