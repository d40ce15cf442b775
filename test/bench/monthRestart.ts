/**
 * The restart of `bench:month`: a new process opens the run's log as `neat
 * serve` does (group commit, the snapshot beside it), starts the global
 * manager, and prints how long the start took once it is ready. Its cloud is
 * the same simulated data centre as it stood at t = 0, so the start also
 * reconciles the log with a cloud that moved, as after a real outage.
 */
import { performance } from 'node:perf_hooks';
import { simulationConfigFor } from '../../sim/config';
import { INSTANT_TRANSITIONS, SimulatedDataCentre } from '../../sim/datacentre';
import { Scheduler } from '../../sim/scheduler';
import { VirtualTimer } from '../../sim/virtualTime';
import { DEFAULT_CONFIG } from '../../src/config';
import { seededIds } from '../../src/ids';
import { SqliteEventLog } from '../../src/log/sqlite';
import { FileSnapshotStore, snapshotPathOf } from '../../src/log/snapshotFile';
import { GlobalManager } from '../../src/managers/globalManager';
import { Journal } from '../../src/managers/journal';
import { managerSettings } from '../../src/managers/settings';
import { createRng } from '../../src/rng';
import { monthTrace } from './monthWorld';

async function main(path: string, hosts: number, vms: number): Promise<void> {
  const processMs = performance.now();
  const trace = monthTrace(hosts, vms, 2, 300);
  const config = simulationConfigFor(trace, hosts, 'neat');
  const scheduler = new Scheduler();
  const cloud = new SimulatedDataCentre({
    config, trace, scheduler, ids: seededIds(createRng('restart/cloud'), scheduler), transitions: INSTANT_TRANSITIONS, placement: config.placement ?? [],
  });
  const cloudMs = performance.now() - processMs;
  const startFromMs = performance.now();
  const log = new SqliteEventLog(path, { groupCommit: true });
  const ids = seededIds(createRng('restart/manager'), scheduler);
  const manager = new GlobalManager({
    cloud, power: cloud, timer: new VirtualTimer(scheduler), journal: new Journal(log, { ids, clock: scheduler, source: 'global-manager' }), ids, rng: createRng('restart'),
    snapshots: { store: new FileSnapshotStore(snapshotPathOf(path)), intervalEvents: 1_000_000, onProblem: (message) => { console.error(message); } },
  }, { ...managerSettings(DEFAULT_CONFIG), computeHosts: null });
  // Awaited as it is: the log commits on its writer thread, in real time; nothing in a start waits for the virtual clock.
  const recovery = await manager.start();
  const startMs = performance.now() - startFromMs;
  console.log(JSON.stringify({ startMs: Math.round(startMs), simulatedCloudMs: Math.round(cloudMs), ...recovery }));
  process.exit(0);
}

main(process.argv[2], Number(process.argv[3]), Number(process.argv[4])).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
