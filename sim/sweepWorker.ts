/** A worker thread of `neat sweep`: runs the simulations it is sent, one at a time. */
import { parentPort, workerData } from 'node:worker_threads';
import { readPlanetLabTrace } from '../traces/planetlab';
import { runSimulation } from './run';
import type { SweepJob, SweepOutcome, SweepWorkerData, SweepWorkerMessage } from './sweep';
import type { Trace } from '../traces/trace';

const port = parentPort;
if (port === null) throw new Error('sweepWorker runs as a worker thread of neat sweep');
const { managerConfig } = workerData as SweepWorkerData;

/**
 * The day last read: a sweep sends the policies of a day one after another, and
 * a simulation never changes its trace, so the next job of the day reuses it
 * (a day takes ~80 ms to read and parse).
 */
let lastDay: { readonly path: string; readonly trace: Trace } | null = null;

function dayTrace(path: string): Trace {
  if (lastDay?.path !== path) lastDay = { path, trace: readPlanetLabTrace(path) };
  return lastDay.trace;
}

const send = (message: SweepWorkerMessage): void => { port.postMessage(message); };

port.on('message', (job: SweepJob) => {
  void (async (): Promise<SweepOutcome> => {
    try {
      const trace = dayTrace(job.dayPath);
      const result = await runSimulation({
        trace, mode: job.mode, policy: job.policy, seed: job.seed, hosts: job.hosts, managerConfig: managerConfig ?? undefined,
        onProgress: (fraction) => { send({ kind: 'progress', fraction }); },
      });
      return { job, result };
    } catch (error) {
      return { job, error: error instanceof Error ? error.message : String(error) };
    }
  })().then((outcome) => { send({ kind: 'outcome', outcome }); });
});
