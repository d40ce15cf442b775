import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayRun } from '../../sim/replay';
import { runSimulation } from '../../sim/run';
import type { SimulationResult } from '../../sim/run';
import { DEFAULT_CONFIG } from '../../src/config';
import type { ManagerConfig } from '../../src/config';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import type { RecordedEvent } from '../../src/events/envelope';
import { SqliteEventLog } from '../../src/log/sqlite';
import { writeCsvTrace } from '../../traces/csv';
import { generateSyntheticTrace } from '../../traces/synthetic';
import { handTrace } from '../support/handTrace';
import { logDigest } from '../support/logDigest';
import { PROJECT_ROOT } from '../support/planetlab';

// Twenty VMs over eight hours on sixteen hosts: small enough to run in a second, busy enough to consolidate.
const TRACE = generateSyntheticTrace({ seed: 'neat-mode', vms: 20, steps: 96, stepS: 300 });

/*
 * Two hosts and two VMs, small enough to follow every decision by hand.
 * host-0 is a G4 (3720 MIPS, 4096 MB), host-1 a G5 (5320 MIPS, 4096 MB); with
 * two VMs, vm-0 is 2500 MIPS / 870 MB and vm-1 2000 MIPS / 1740 MB. Each starts
 * on the host with the most free RAM (ties to the lower index): vm-0 on
 * host-0, vm-1 on host-1. The local managers run at 300, 600, 900 and 1200 s,
 * each seeing what its VMs got then: the trace's sample times the VM's MIPS.
 */
const BY_HAND_TRACE = handTrace('neat-by-hand', {
  'vm-0': [0.2, 0.2, 0.2, 1, 0.6],
  'vm-1': [0.9, 0.9, 0.9, 1, 1],
});

/** Simple algorithms with thresholds a hand derivation can check, and the timings it relies on pinned rather than defaulted. */
const BY_HAND_CONFIG: ManagerConfig = {
  ...DEFAULT_CONFIG,
  algorithms: {
    underload: { name: 'threshold', params: { threshold: 0.3 } },
    overload: { name: 'threshold', params: { threshold: 0.8 } },
    selection: { name: 'minimum_migration_time', params: {} },
    placement: { name: 'best_fit_decreasing', params: { cpu_threshold: 0.8, ram_threshold: 0.95, last_n_vm_cpu: 2 } },
  },
  hostCpuUsableByVms: 1,
  migrationConcurrency: 1,
  migrationInitialWaitS: 10,
  migrationPollIntervalS: 3,
  wakePollIntervalS: 5,
};

/** The events that tell what the managers decided and did, one line each, in log order. */
function decisions(events: readonly RecordedEvent[]): string[] {
  return events.flatMap((event) => {
    const at = `${event.metadata.timeMs / 1000} s`;
    switch (event.type) {
      case 'RequestReceived': return [`${at} ${event.data.host} asks: ${event.data.reason} [${event.data.vmIds.join(', ')}]`];
      case 'PlacementDecided': return [`${at} plan: ${Object.entries(event.data.mapping).map(([vm, host]) => `${vm} → ${host}`).join(', ')}`
        + `; wake [${event.data.hostsToWake.join(', ')}]; suspend [${event.data.hostsToSuspend.join(', ')}]`];
      case 'MigrationCompleted': return [`${at} ${event.data.vmId} moved ${event.data.sourceHost} → ${event.data.targetHost} in ${event.data.durationMs / 1000} s`];
      case 'HostSuspended': return [`${at} ${event.data.host} suspended`];
      case 'HostWoken': return [`${at} ${event.data.host} woken in ${event.data.durationMs / 1000} s`];
      default: return [];
    }
  });
}

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
    // Timed: each of the global manager's decisions, and each local manager's step (one per host sample).
    expect(result.decisionTimes.count).toBe((types.get('PlacementDecided') ?? 0) + (types.get('NothingToDo') ?? 0));
    expect(result.localStepTimes?.count).toBe(types.get('UtilizationSampled'));
  });

  describe('on a trace small enough to follow, derived by hand', () => {
    let result: SimulationResult;
    let events: readonly RecordedEvent[];

    beforeAll(async () => {
      // Given the two-host trace, and thresholds: underloaded at <= 30 %, overloaded above 80 %,
      // when it runs with the configuration's algorithms (no policy names them).
      const path = join(directory, 'by-hand.sqlite');
      result = await runSimulation({ trace: BY_HAND_TRACE, mode: 'neat', policy: '', seed: '1', hosts: 2, eventsPath: path, managerConfig: BY_HAND_CONFIG });
      const log = new SqliteEventLog(path);
      try {
        events = await log.readAll(1, 10_000);
      } finally {
        await log.close();
      }
    });

    test('the local managers ask, and the global manager plans, migrates, suspends and wakes, exactly so', () => {
      // Then, step by step (a host's load is its VMs' MIPS over its own MIPS):
      expect(decisions(events)).toEqual([
        // 300 s: host-0 at 2500 × 0.2 / 3720 = 13 % is underloaded; host-1 at 1800 / 5320 = 34 % is neither.
        '300 s host-0 asks: underload []',
        // BFD: host-1, the only other host, has 0.8 × 5320 − 1800 = 2456 MHz and 0.95 × 4096 − 1740 = 2151 MB
        // free for vm-0's 500 MHz (the mean of its one sample) and 870 MB. The emptied host-0 is to be suspended.
        '300 s plan: vm-0 → host-1; wake []; suspend [host-0]',
        // 870 MB at 62.5 MB/s takes 13.92 s; the manager polls 10 s after the start, then every 3 s: done at 16 s.
        '316 s vm-0 moved host-0 → host-1 in 16 s',
        '316 s host-0 suspended',
        // 600 s: host-1 at (500 + 1800) / 5320 = 43 %. 900 s: (2500 + 2000) / 5320 = 85 % > 80 %: MMT names
        // vm-0, the VM with the least RAM (870 MB against 1740).
        '900 s host-1 asks: overload [vm-0]',
        // No other host is up: BFD switches on the asleep host-0 (3720 MHz, 4096 MB) for vm-0's
        // mean of its last two samples, (500 + 2500) / 2 = 1500 MHz.
        '900 s plan: vm-0 → host-0; wake [host-0]; suspend []',
        // The wake is instant, but the first check comes before it takes effect; the next, 5 s later, finds host-0 up.
        '905 s host-0 woken in 5 s',
        '921 s vm-0 moved host-1 → host-0 in 16 s',
        // 1200 s: host-0 at 1500 / 3720 = 40 % and host-1 at 2000 / 5320 = 38 %: nothing to do.
      ]);
      // Each migration counts once; host-0 was suspended once.
      expect(result.metrics).toMatchObject({ migrations: 2, hostShutdowns: 1 });
    });

    // The entries of t = 0 are written out (and stamped) when the next processing starts, at 300 s: the
    // clock's offset comes from the run's start, or every suspension would be timed 300 s early (16 s here).
    test('the time before host-0\'s shutdown counts from t = 0: 316 s', () => {
      expect(result.metrics.meanTimeBeforeHostShutdownS).toBe(316);
    });
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
