import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimulationMetrics } from '../../sim/metrics';
import { runSweep, summariseSweep } from '../../sim/sweep';
import type { SweepJob, SweepOutcome } from '../../sim/sweep';
import { writePlanetLabDay } from '../support/days';

let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-sweep-'));
  writePlanetLabDay(directory, '20200101', 'a');
  writePlanetLabDay(directory, '20200102', 'b');
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function job(day: string, policy: string): SweepJob {
  return { day, dayPath: join(directory, day), mode: 'cloudsim', policy, seed: '1', hosts: 20 };
}

function outcome(day: string, policy: string, metrics: Partial<SimulationMetrics>): SweepOutcome {
  const full: SimulationMetrics = {
    energyKwh: 0, migrations: 0, slatah: 0, pdm: 0, slav: 0, esv: 0, overallSlaViolation: 0, averageSlaViolation: 0, hostShutdowns: 0,
    meanTimeBeforeHostShutdownS: 0, meanMigrationDurationS: 0, hosts: 20, vms: 12, simulatedS: 86_400, ...metrics,
  };
  const result = { metrics: full, decisionTimes: { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 }, localStepTimes: null, wallMs: 1, events: 1,
    seed: '1', policy, mode: 'cloudsim' as const, trace: day };
  return { job: job(day, policy), result };
}

describe('the summary of a sweep', () => {
  test('per policy in the order given: the mean and the sample standard deviation (n − 1) across days', () => {
    const outcomes = [
      outcome('d1', 'thr-mmt-0.8', { energyKwh: 10, migrations: 100, slatah: 0.05 }),
      outcome('d2', 'thr-mmt-0.8', { energyKwh: 14, migrations: 110, slatah: 0.07 }),
      outcome('d3', 'thr-mmt-0.8', { energyKwh: 12, migrations: 120, slatah: 0.06 }),
      outcome('d1', 'dvfs', { energyKwh: 50 }),
      { job: job('d2', 'dvfs'), error: 'the day is broken' },
    ];
    const [dvfs, thr] = summariseSweep(['dvfs', 'thr-mmt-0.8'], outcomes);
    expect(thr).toMatchObject({ policy: 'thr-mmt-0.8', days: 3, failed: 0 });
    expect(thr.metrics!.energyKwh).toEqual({ mean: 12, sd: 2 });
    expect(thr.metrics!.migrations).toEqual({ mean: 110, sd: 10 });
    expect(thr.metrics!.slatah.mean).toBeCloseTo(0.06, 12);
    expect(thr.metrics!.slatah.sd).toBeCloseTo(0.01, 12);
    // One day left after a failure: a mean and no spread.
    expect(dvfs).toMatchObject({ policy: 'dvfs', days: 1, failed: 1 });
    expect(dvfs.metrics!.energyKwh).toEqual({ mean: 50, sd: null });
  });

  test('a policy none of whose runs succeeded has no figures', () => {
    const [summary] = summariseSweep(['dvfs'], [{ job: job('d1', 'dvfs'), error: 'broken' }]);
    expect(summary).toEqual({ policy: 'dvfs', days: 0, failed: 1, metrics: null });
  });
});

describe('runSweep on worker threads', () => {
  test('reports every outcome, and progress that rises through each run to the number of jobs', async () => {
    const jobs = [job('20200101', 'thr-mmt-0.8'), job('20200102', 'thr-mmt-0.8'), job('20200101', 'dvfs')];
    const outcomes: SweepOutcome[] = [];
    const progress: number[] = [];
    await runSweep(jobs, {
      workers: 2, managerConfig: null,
      onOutcome: (o) => { outcomes.push(o); },
      onProgress: (runsDone) => { progress.push(runsDone); },
    });
    expect(outcomes.map((o) => `${o.job.day} ${o.job.policy} ${o.error ?? 'ok'}`).sort())
      .toEqual(['20200101 dvfs ok', '20200101 thr-mmt-0.8 ok', '20200102 thr-mmt-0.8 ok']);
    expect(progress[progress.length - 1]).toBe(jobs.length);
    // Within runs, not only between them: the share done of the runs under way counts.
    expect(progress.filter((p) => p > 0 && p < 1).length).toBeGreaterThan(10);
    progress.forEach((p, i) => { expect(p).toBeGreaterThanOrEqual(i === 0 ? 0 : progress[i - 1] - 1e-9); });
  });
});
