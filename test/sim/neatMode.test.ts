import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayRun } from '../../sim/replay';
import { runSimulation } from '../../sim/run';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import { SqliteEventLog } from '../../src/log/sqlite';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { logDigest } from '../support/logDigest';
import { PROJECT_ROOT } from '../support/planetlab';

// Twenty VMs over eight hours on sixteen hosts: small enough to run in a second, busy enough to consolidate.
const TRACE = generateSyntheticTrace({ seed: 'neat-mode', vms: 20, steps: 96, stepS: 300 });
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-mode-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('mode neat: Neat local managers and the production global manager on the simulated data centre', () => {
  test('consolidates: requests are decided, VMs migrate, emptied hosts are suspended, and the log is a valid history', async () => {
    const path = join(directory, 'run.sqlite');
    const result = await runSimulation({ trace: TRACE, mode: 'neat', policy: 'thr-mmtc-0.8', seed: '1', hosts: 16, eventsPath: path });
    expect(result.metrics.migrations).toBeGreaterThan(0);
    expect(result.metrics.hostShutdowns).toBeGreaterThan(0);
    expect(result.metrics.energyKwh).toBeGreaterThan(0);
    expect(result.decisionTimes.count).toBeGreaterThan(0);
    const log = new SqliteEventLog(path);
    const state = initialDataCentreState({ historyLength: 100, strict: true });
    const types = new Map<string, number>();
    for (const event of await log.readAll(1, 10_000)) {
      evolveDataCentre(state, event);
      types.set(event.type, (types.get(event.type) ?? 0) + 1);
    }
    await log.close();
    expect(state.anomalyCount).toBe(0);
    for (const type of ['RequestReceived', 'PlacementDecided', 'MigrationCompleted', 'HostSuspended', 'RequestCompleted', 'UtilizationSampled']) {
      expect(types.get(type) ?? 0).toBeGreaterThan(0);
    }
    expect(types.get('RequestReceived')).toBe(types.get('RequestCompleted'));
  });

  test('the same trace, policy and seed write byte-identical logs; replay equals the run', async () => {
    const a = join(directory, 'a.sqlite');
    const b = join(directory, 'b.sqlite');
    const first = await runSimulation({ trace: TRACE, mode: 'neat', policy: 'lr-rs-1.2', seed: '3', hosts: 16, eventsPath: a });
    await runSimulation({ trace: TRACE, mode: 'neat', policy: 'lr-rs-1.2', seed: '3', hosts: 16, eventsPath: b });
    expect(logDigest(b)).toEqual(logDigest(a));
    const log = new SqliteEventLog(a);
    const replay = await replayRun(log);
    await log.close();
    expect(replay.mode).toBe('neat');
    expect(replay.metrics).toEqual(first.metrics);
    expect(replay.recorded).toEqual(first.metrics);
  });

  test('neat sim --mode neat on the command line: a policy or a neat.conf, the same JSON keys as mode cloudsim', () => {
    const tracePath = join(directory, 'trace.csv');
    writeCsvTrace(tracePath, TRACE);
    const neat = (...args: string[]) => spawnSync(process.execPath, [join(PROJECT_ROOT, 'bin', 'neat.js'), ...args], { encoding: 'utf8', timeout: 110_000 });
    const byPolicy = neat('sim', '--trace', tracePath, '--mode', 'neat', '--policy', 'thr-mmt-0.8', '--hosts', '16', '--json');
    expect(byPolicy.status).toBe(0);
    const report = JSON.parse(byPolicy.stdout) as Record<string, unknown>;
    for (const key of ['energyKwh', 'migrations', 'slatah', 'pdm', 'slav', 'esv', 'overallSlaViolation', 'hostShutdowns',
      'meanTimeBeforeHostShutdownS', 'meanMigrationDurationS', 'hosts', 'vms', 'simulatedS', 'wallMs', 'seed']) {
      expect(report).toHaveProperty(key);
    }
    expect(report).toMatchObject({ mode: 'neat', policy: 'thr-mmt-0.8', hosts: 16, vms: 20 });
    const config = join(directory, 'neat.conf');
    writeFileSync(config, '[DEFAULT]\nalgorithm_overload_detection_factory = neat.locals.overload.trivial.threshold_factory\n'
      + 'algorithm_overload_detection_parameters = {"threshold": 0.9}\nmigration_concurrency = 2\n');
    const byConfig = neat('sim', '--trace', tracePath, '--mode', 'neat', '--config', config, '--hosts', '16', '--json');
    expect(byConfig.status).toBe(0);
    expect(JSON.parse(byConfig.stdout)).toMatchObject({ mode: 'neat', policy: 'neat.conf' });
    writeFileSync(config, '[DEFAULT]\nmigration_concurency = 2\n');
    const typo = neat('sim', '--trace', tracePath, '--mode', 'neat', '--config', config);
    expect(typo.status).toBe(1);
    expect(typo.stderr).toMatch(/migration_concurency.*migration_concurrency/);
    const wrongMode = neat('sim', '--trace', tracePath, '--policy', 'thr-mmt-0.8', '--config', config);
    expect(wrongMode.status).toBe(2);
    expect(neat('sim', '--trace', tracePath, '--mode', 'neat', '--policy', 'thr-zz-0.8').stderr).toMatch(/unknown VM selection "zz"/);
  });
});
