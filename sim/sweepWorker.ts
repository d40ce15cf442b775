/** A worker thread of `neat sweep`: runs the simulations it is sent, one at a time. */
import { parentPort } from 'node:worker_threads';
import { readPlanetLabTrace } from '../traces/planetlab';
import { runSimulation } from './run';
import type { SweepJob, SweepOutcome } from './sweep';

const port = parentPort;
if (port === null) throw new Error('sweepWorker runs as a worker thread of neat sweep');

port.on('message', (job: SweepJob) => {
  void (async (): Promise<SweepOutcome> => {
    try {
      const trace = readPlanetLabTrace(job.dayPath);
      const result = await runSimulation({ trace, mode: 'cloudsim', policy: job.policy, seed: job.seed, hosts: job.hosts });
      return { job, result };
    } catch (error) {
      return { job, error: error instanceof Error ? error.message : String(error) };
    }
  })().then((outcome) => { port.postMessage(outcome); });
});
