/**
 * Resuming a simulated service from its log, as production resumes: the
 * global manager rebuilds its state from the log and reconciles the plans a
 * stop interrupted against the cloud. The cloud here is the simulated data
 * centre, which lived in the stopped process; it is rebuilt from the log too.
 * Its state is a function of the trace and of what the manager did to it, and
 * the log holds both: the run's `SimulationStarted` (trace, configuration,
 * seed) and every action with its time (`MigrationStarted`,
 * `HostSuspendRequested`, `HostWakeRequested`). The world is run again from
 * t = 0 with those actions applied at their times and nothing sent, up to the
 * log's last event; the local managers' histories and detectors come back
 * with it. An action whose answer the log does not hold was taken as the
 * cloud would have taken it; the manager settles it against the cloud.
 */
import { assert } from '../src/engine/assert';
import type { EventData } from '../src/events/catalogue';
import { MAX_BATCH_EVENTS } from '../src/log/port';
import type { EventLog } from '../src/log/port';
import { CloudError, PowerError } from '../src/managers/ports';
import { MAX_NEAT_EVENTS } from './neat/setup';
import type { NeatWorld } from './neat/world';
import type { Scheduler } from './scheduler';
import { runScheduled } from './virtualTime';

export class ResumeError extends Error {
  override name = 'ResumeError';
}

type CloudAction =
  | { readonly timeS: number; readonly kind: 'migrate'; readonly vmId: string; readonly targetHost: string }
  | { readonly timeS: number; readonly kind: 'suspend' | 'wake'; readonly host: string };

export interface ResumePoint {
  readonly headPosition: number;
  readonly started: EventData<'SimulationStarted'>;
  /** The time of the log's last event: the world is replayed up to it. */
  readonly endS: number;
  /** The time of the last state-history update in the log; later ones are the replay's to write. */
  readonly lastUpdateTimeS: number;
  readonly actions: readonly CloudAction[];
  /** Throws ResumeError when the run about to resume is not the one the log holds. */
  check(started: EventData<'SimulationStarted'>): void;
}

function differences(logged: EventData<'SimulationStarted'>, now: EventData<'SimulationStarted'>): string[] {
  const loggedTrace = logged.trace as { name?: unknown; digest?: unknown };
  const nowTrace = now.trace as { name?: unknown; digest?: unknown };
  const found: string[] = [];
  if (logged.codeVersion !== now.codeVersion) found.push(`it was written by version ${logged.codeVersion}, this is ${now.codeVersion}`);
  if (loggedTrace.digest !== nowTrace.digest) {
    found.push(`it replays trace ${String(loggedTrace.name)} (sha256 ${String(loggedTrace.digest).slice(0, 12)}…), not ${String(nowTrace.name)} (${String(nowTrace.digest).slice(0, 12)}…)`);
  }
  if (logged.seed !== now.seed) found.push(`its seed is "${logged.seed}", not "${now.seed}"`);
  if (logged.mode !== now.mode || logged.policy !== now.policy) found.push(`it is a ${logged.mode} run of ${logged.policy}`);
  if (found.length === 0 && JSON.stringify(logged.config) !== JSON.stringify(now.config)) {
    found.push('its configuration (hosts, algorithms, the manager\'s settings) differs from this one\'s (--hosts, --config, NEAT_*)');
  }
  return found;
}

function actionOf(event: { type: string; data: unknown }, timeS: number): CloudAction | null {
  switch (event.type) {
    case 'MigrationStarted': {
      const { vmId, targetHost } = event.data as EventData<'MigrationStarted'>;
      return { timeS, kind: 'migrate', vmId, targetHost };
    }
    case 'HostSuspendRequested':
      return { timeS, kind: 'suspend', host: (event.data as EventData<'HostSuspendRequested'>).host };
    case 'HostWakeRequested':
      return { timeS, kind: 'wake', host: (event.data as EventData<'HostWakeRequested'>).host };
    default:
      return null;
  }
}

/** What a log says of the run it holds, or null for an empty log; ResumeError when it cannot be resumed. */
export async function readResumePoint(log: EventLog): Promise<ResumePoint | null> {
  const headPosition = await log.headPosition();
  if (headPosition === 0) return null;
  let started: EventData<'SimulationStarted'> | null = null;
  const actions: CloudAction[] = [];
  let endS = 0;
  let lastUpdateTimeS = -1;
  for (let from = 1; from <= headPosition; from += MAX_BATCH_EVENTS) {
    for (const event of await log.readAll(from, MAX_BATCH_EVENTS)) {
      if (event.position === 1) {
        if (event.type !== 'SimulationStarted' || event.metadata.timeMs !== 0) {
          throw new ResumeError(`${log.description} does not begin with the start of a simulated service's run `
            + '(a log of production or of `neat sim` cannot be resumed); pass --events <new file>');
        }
        started = event.data;
      }
      if (event.type === 'SimulationEnded') throw new ResumeError(`${log.description} holds a run that ended (position ${event.position}); pass --events <new file>`);
      const timeS = event.metadata.timeMs / 1000;
      endS = Math.max(endS, timeS);
      if (event.type === 'DataCentreUpdated') lastUpdateTimeS = Math.max(lastUpdateTimeS, event.data.timeS);
      const action = actionOf(event, timeS);
      if (action !== null) actions.push(action);
    }
  }
  assert(started !== null, 'position 1 was read');
  const logged = started;
  return {
    headPosition, started: logged, endS, lastUpdateTimeS, actions,
    check(now) {
      const found = differences(logged, now);
      if (found.length > 0) throw new ResumeError(`${log.description} holds another run: ${found.join('; ')}`);
    },
  };
}

/** Applies an action as the manager did; a refusal is the cloud's answer then too, and the log holds what followed. */
function apply(world: NeatWorld, action: CloudAction): void {
  const dc = world.dataCentre;
  const done = action.kind === 'migrate' ? dc.startLiveMigration(action.vmId, action.targetHost)
    : action.kind === 'suspend' ? dc.suspend(action.host) : dc.wake(action.host);
  done.catch((error: unknown) => {
    if (!(error instanceof CloudError) && !(error instanceof PowerError)) throw error;
  });
}

/** Runs the started world again up to the log's end, the logged actions applied at their times. */
export async function replayWorld(world: NeatWorld, scheduler: Scheduler, point: ResumePoint): Promise<void> {
  for (const action of point.actions) scheduler.at(action.timeS, () => { apply(world, action); });
  await runScheduled(scheduler, point.endS, MAX_NEAT_EVENTS, [world], () => { world.checkFailure(); });
}
