/**
 * The global-manager service against a simulated data centre, paced by the
 * wall clock: the embedded default of `neat serve --sim`, and what the HTTP
 * tests run against. The service is the production one (same manager, same
 * app, a real socket, a real log); only the Cloud and Power ports, the clock
 * and the timer are the simulation's.
 */
import type { ManagerConfig } from '../src/config';
import { seededIds } from '../src/ids';
import type { EventLog } from '../src/log/port';
import type { ManagerSettings } from '../src/managers/globalManager';
import { createRng } from '../src/rng';
import { startService } from '../src/service';
import type { RunningService } from '../src/service';
import type { Trace } from '../traces/trace';
import { planetLabConfig } from './config';
import { SimulatedDataCentre, spreadPlacement } from './datacentre';
import type { PowerTransitions } from './datacentre';
import { PacedScheduler } from './realTime';
import { Scheduler } from './scheduler';

export interface SimulatedServiceOptions {
  readonly trace: Trace;
  readonly hosts: number;
  readonly config: ManagerConfig;
  readonly settings?: Partial<ManagerSettings>;
  readonly log: EventLog;
  readonly transitions: PowerTransitions;
  /** Virtual seconds per wall-clock second. */
  readonly speed: number;
  readonly seed: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly onError: (error: unknown) => void;
}

export interface SimulatedService {
  readonly service: RunningService;
  readonly dataCentre: SimulatedDataCentre;
  readonly scheduler: Scheduler;
  readonly pacing: PacedScheduler;
  close(): Promise<void>;
}

export async function startSimulatedService(options: SimulatedServiceOptions): Promise<SimulatedService> {
  const scheduler = new Scheduler();
  const simulation = planetLabConfig(options.trace.vms.length, options.trace.vms.map((vm) => vm.ramMb), options.hosts);
  const dataCentre = new SimulatedDataCentre({
    config: simulation, trace: options.trace, scheduler, ids: seededIds(createRng(`${options.seed}/cloud`), scheduler),
    transitions: options.transitions, placement: spreadPlacement(simulation),
  });
  const pacing = new PacedScheduler(scheduler, { speed: options.speed, epochMs: Date.now(), tickMs: 10, maxEventsPerTick: 10_000 });
  const ids = seededIds(createRng(`${options.seed}/manager`), pacing.clock);
  pacing.start();
  try {
    const service = await startService({
      config: options.config,
      ports: { cloud: dataCentre, power: dataCentre, log: options.log, clock: pacing.clock, timer: pacing.timer, ids, rng: createRng(`${options.seed}/rng`) },
      settings: { computeHosts: null, ...options.settings },
      listen: options.listen,
      onError: options.onError,
    });
    return {
      service, dataCentre, scheduler, pacing,
      async close(): Promise<void> {
        await service.close();
        await pacing.stop();
      },
    };
  } catch (error) {
    await pacing.stop();
    throw error;
  }
}
