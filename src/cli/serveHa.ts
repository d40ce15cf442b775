/**
 * `neat serve` on a PostgreSQL log: one of several instances, of which one
 * leads. Until this one leads it is a standby (reads from the log it follows,
 * writes redirected to the leader); once it holds the leadership lock it
 * fences the log with its epoch and becomes the service proper on the same
 * address, which reconciles the interrupted plan against the cloud, as any
 * restart does. A standby of the real cloud is promoted as it stands: it
 * folds only what it had not followed yet. A simulated one is stopped, and
 * the service rebuilds its world from the whole log.
 *
 * A leader that loses its leadership (its lock's session ended, or the log
 * refused an append of its epoch) exits at once with EXIT_LEADERSHIP_LOST,
 * without another write: its state is the old epoch's. A supervisor (systemd's
 * `Restart=always`) starts it again, as a standby. See docs/ha.md.
 */
import { hostname } from 'node:os';
import type { ManagerConfig } from '../config';
import type { PostgresEventLog } from '../log/postgres';
import { PostgresLeadership } from '../log/postgresLeader';
import type { ManagerSettings } from '../managers/globalManager';
import { startStandbyService } from '../service';
import type { ServiceOptions, StandbyService } from '../service';
import { errorText } from './console';
import type { ServeLog } from './serveLog';

/** The exit code of a leader that lost its leadership: EX_TEMPFAIL, "try again", as a standby. */
export const EXIT_LEADERSHIP_LOST = 75;

/** How often a leader checks its lock's session, and a standby reads who leads. */
const LEADER_CHECK_MS = 1_000;
const LEADER_READ_MS = 500;

export interface HaOptions {
  readonly connectionString: string;
  readonly log: PostgresEventLog;
  readonly instance: string;
  readonly listen: { readonly host: string; readonly port: number };
  /** The URL other instances redirect to while this one leads; default: the bound address. */
  readonly advertise: string | null;
  readonly config: ManagerConfig;
  readonly settings?: Partial<ManagerSettings>;
  readonly logger: ServeLog;
  readonly signalled: Promise<NodeJS.Signals>;
  /** The service's ports and sample source on the log: the standby folds into the manager that will serve. Absent: it is stopped on taking over. */
  readonly promotable?: Pick<ServiceOptions, 'ports' | 'samples'>;
}

export interface Leading {
  readonly epoch: number;
  readonly listen: { readonly host: string; readonly port: number };
  readonly leadership: PostgresLeadership;
  /** The standby's `promote`, for a promotable one; null: it was stopped, and the address is free for the service. */
  readonly promote: StandbyService['promote'];
}

export function defaultInstance(): string {
  return `${hostname()}:${process.pid}`;
}

/**
 * Serves as a standby until this process leads, then resolves with the bound
 * address for the service to listen on (and, when promotable, the standby to
 * promote); resolves null when a signal came first (the standby stopped,
 * nothing written).
 */
export async function standUntilLeading(options: HaOptions): Promise<Leading | null> {
  const { log, logger } = options;
  let leaderUrl: string | null = null;
  const standby = await startStandbyService({
    config: options.config, log, listen: options.listen, leaderUrl: () => leaderUrl, onError: (error) => { logger.error(`standby: ${errorText(error)}`); },
    ...(options.settings === undefined ? {} : { settings: options.settings }),
    ...(options.promotable === undefined ? {} : { promotable: options.promotable }),
  });
  const bound = new URL(standby.url);
  const listen = { host: options.listen.host, port: Number(bound.port) };
  const url = options.advertise ?? standby.url;
  const readLeader = (): Promise<void> => log.leader().then((leader) => { leaderUrl = leader?.url ?? null; }, () => { leaderUrl = null; });
  // Known before the standby says it is one, so that its first redirect has somewhere to go.
  await readLeader();
  const reading = setInterval(() => { void readLeader(); }, LEADER_READ_MS);
  const leadership = new PostgresLeadership(options.connectionString, {
    instance: options.instance, url, checkIntervalMs: LEADER_CHECK_MS,
    onLost: (reason) => { exitDeposed(logger, `the leadership was lost: ${reason}`); },
  });
  logger.info(`neat serve: standby ${options.instance} on ${standby.url}, following ${log.description}; writes go to the leader until this instance leads`,
    { event: 'standby', instance: options.instance, url: standby.url }, true);
  const outcome = await Promise.race([leadership.acquire(), options.signalled.then(() => null)]).catch(async (error: unknown) => {
    clearInterval(reading);
    await leadership.close();
    await standby.close();
    throw error;
  });
  clearInterval(reading);
  if (outcome === null) {
    await leadership.close();
    await standby.close();
    return null;
  }
  const followedTo = standby.position();
  if (standby.promote === null) await standby.close();
  log.fenceWith(outcome, (error) => { exitDeposed(logger, error.message); });
  logger.info(`neat serve: ${options.instance} leads with epoch ${outcome} (it had followed the log to position ${followedTo}); `
    + (standby.promote === null ? 'starting the service' : 'promoting the standby'),
  { event: 'leading', instance: options.instance, epoch: outcome, url, followedTo, promoted: standby.promote !== null }, true);
  return { epoch: outcome, listen, leadership, promote: standby.promote };
}

function exitDeposed(logger: ServeLog, reason: string): never {
  logger.error(`${reason}; exiting (${EXIT_LEADERSHIP_LOST}) without another write: a supervisor starts this instance again as a standby`);
  process.exit(EXIT_LEADERSHIP_LOST);
}
