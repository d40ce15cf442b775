/**
 * The metrics of a run checked against expectations that do not come from
 * `MetricsProjection`: once recomputed from the log's state history with the
 * loops of CloudSim's `examples.power.Helper` (each host over its own entries,
 * each VM over its own), and once derived by hand from a trace small enough to
 * follow every step of. A run and its replay fold the same events through the
 * same projection, so their agreement alone would not catch a wrong formula.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replayRun } from '../../sim/replay';
import type { ReplayResult } from '../../sim/replay';
import { runSimulation } from '../../sim/run';
import type { SimulationResult } from '../../sim/run';
import type { EventData } from '../../src/events/catalogue';
import type { RecordedEvent } from '../../src/events/envelope';
import { SqliteEventLog } from '../../src/log/sqlite';
import { handTrace } from '../support/handTrace';

/*
 * Two hosts, three VMs, CloudSim's PlanetLab set-up (reference/cloudsim.md §2):
 * host-0 is a G4 (2 PEs × 1860 MIPS = 3720), host-1 a G5 (2 × 2660 = 5320),
 * both on 1 Gbit/s; with 3 VMs each VM has its own type: vm-0 2500 MIPS /
 * 870 MB, vm-1 2000 MIPS / 1740 MB, vm-2 1000 MIPS / 1740 MB.
 *
 * Initial placement (t = 0, every VM asking for its full MIPS): a G4's PE
 * (1860) cannot take vm-0 or vm-1, so both go to host-1; vm-2 goes to host-0,
 * whose power rises the least (G4 86 → 94.9 W; host-1 would pass 100 %).
 *
 * The load is low at the first two samples after t = 0, high from the third
 * on, and vm-0 rises once more at the fifth. Updates come at 300.1, 600.1, …;
 * a VM's load at t is interpolated between the samples around t, so it is
 * exactly a sample's wherever the two are equal: everywhere but at 600.1 and
 * 1200.1 s, each 0.1 s into a rise. Eight samples end the run at 2100 s,
 * after the update at 1800.1 s.
 */
const TRACE = handTrace('metrics-by-hand', {
  'vm-0': [0.1, 0.1, 0.1, 0.6, 0.6, 0.8, 0.8, 0.8],
  'vm-1': [0.25, 0.25, 0.25, 1, 1, 1, 1, 1],
  'vm-2': [0.1, 0.1, 0.1, 1, 1, 1, 1, 1],
});

/*
 * What thr-mmt-0.8 does, update by update (MIPS requested by vm-0, vm-1, vm-2):
 *
 * 300.1 s (250, 500, 100): host-0 at 100 / 3720 = 2.7 %, host-1 at 750 / 5320
 *   = 14.1 %. Nothing is over 80 %. host-0 is the least used, and its VM fits
 *   on host-1 (850 / 5320 = 16 %): vm-2 migrates host-0 → host-1, in
 *   1740 MB / (1 Gbit/s / 2) = 1740 / 62.5 = 27.84 s, until 327.94 s. host-1
 *   has no other switched-on host to be evacuated to.
 * 327.94 s: vm-2 arrives; host-0 runs nothing: one host shutdown, 327.94 s
 *   after t = 0.
 * 600.1 s (250.42, 500.5, 100.3: see REQUESTED_AT_600_1_MIPS): host-1 alone,
 *   at 16 %; nowhere to evacuate it to.
 * 900.1 s (1500, 2000, 1000): host-1 at 4500 / 5320 = 84.6 % > 80 %. MMT takes
 *   its VM with the least RAM, vm-0 (870 MB), which leaves 3000 / 5320 = 56 %;
 *   vm-0 migrates host-1 → host-0 (its PE takes 1500; switched off, so woken)
 *   in 870 / 62.5 = 13.92 s, until 914.02 s.
 * 1200.1 s (1500.17, 2000, 1000): host-0 at 40 % is the least used, but vm-0
 *   on host-1 would make it 4500 / 5320 > 80 %; host-1's VMs could go only to
 *   host-0, just tried: no migration.
 * 1500.1 and 1800.1 s (2000, 2000, 1000): a G4 PE gives vm-0 at most 1860
 *   MIPS, 140 short of its request, with no migration under way. host-0 is at
 *   1860 / 3720 = 50 % and would evacuate to host-1 at 5000 / 5320 > 80 %: no
 *   migration.
 */
const UPDATE_TIMES_S = [300.1, 327.94, 600.1, 900.1, 914.02, 1200.1, 1500.1, 1800.1];
const VM2_MIGRATION_S = 1740 / 62.5;
const VM0_MIGRATION_S = 870 / 62.5;

/** All VMs at 600.1 s: u(600) + (u(900) − u(600)) × 0.1 / 300 of each VM's MIPS. */
const REQUESTED_AT_600_1_MIPS = 2500 * (0.1 + 0.5 * 0.1 / 300) + 2000 * (0.25 + 0.75 * 0.1 / 300) + 1000 * (0.1 + 0.9 * 0.1 / 300);
/** vm-0 at 1200.1 s, 0.1 s into its rise from 0.6 to 0.8. */
const VM0_AT_1200_1_MIPS = 2500 * (0.6 + 0.2 * 0.1 / 300);
/** What a G4 PE gives vm-0 of the 2000 MIPS it asks for from 1500.1 s. */
const VM0_CAPPED_MIPS = 1860;

/** Watts between two points of a SPECpower table (reference/cloudsim.md §2), `lowFraction` being the lower point's load. */
function wattsBetween(lowW: number, highW: number, lowFraction: number, utilization: number): number {
  return lowW + (highW - lowW) * (utilization - lowFraction) / 0.1;
}

// Each host's power at the loads it runs at, from the table rows
// G4 86, 89.4 (10 %), …, 99.5 (40 %), 102 (50 %) and G5 93.7, 97 (10 %), 101, …, 116 (50 %), 121, …, 129 (80 %), 133.
/** vm-2 leaving host-0 counts at its full request (allocated / 0.9). */
const G4_VM2_LEAVING_W = wattsBetween(86, 89.4, 0, 100 / 3720);
/** vm-0 and vm-1, plus the 10 % host-1 reserves for vm-2 arriving. */
const G5_VM2_ARRIVING_W = wattsBetween(97, 101, 0.1, (250 + 500 + 10) / 5320);
const G5_LOW_W = wattsBetween(97, 101, 0.1, 850 / 5320);
const G5_AT_600_1_W = wattsBetween(97, 101, 0.1, REQUESTED_AT_600_1_MIPS / 5320);
const G5_HIGH_W = wattsBetween(129, 133, 0.8, 4500 / 5320);
/** The 10 % host-0 reserves for vm-0 arriving. */
const G4_VM0_ARRIVING_W = wattsBetween(86, 89.4, 0, 150 / 3720);
const G4_VM0_W = wattsBetween(99.5, 102, 0.4, 1500 / 3720);
const G4_VM0_AT_1200_1_W = wattsBetween(99.5, 102, 0.4, VM0_AT_1200_1_MIPS / 3720);
/** vm-0 capped at 1860 MIPS: 1860 / 3720 = 50 %, a point of the table. */
const G4_VM0_CAPPED_W = 102;
const G5_VM1_VM2_W = wattsBetween(116, 121, 0.5, 3000 / 5320);

/*
 * Energy at each update: every host that was on at the previous processing
 * draws the mean of its power then and now, over the time since (CloudSim's
 * PowerDatacenter). The first update has no previous processing, and host-0
 * is off from 327.94 to 900.1 s. A migration's start sets the hosts' power
 * until the next processing, so the intervals a migration spans are flat.
 */
const ENERGY_WS_BY_UPDATE = [
  0,
  VM2_MIGRATION_S * (G4_VM2_LEAVING_W + G5_VM2_ARRIVING_W),
  (600.1 - 327.94) * (G5_LOW_W + G5_AT_600_1_W) / 2,
  300 * (G5_AT_600_1_W + G5_HIGH_W) / 2,
  VM0_MIGRATION_S * (G4_VM0_ARRIVING_W + G5_HIGH_W),
  (1200.1 - 914.02) * ((G4_VM0_W + G4_VM0_AT_1200_1_W) / 2 + G5_VM1_VM2_W),
  300 * ((G4_VM0_AT_1200_1_W + G4_VM0_CAPPED_W) / 2 + G5_VM1_VM2_W),
  300 * (G4_VM0_CAPPED_W + G5_VM1_VM2_W),
];

/*
 * SLATAH: a host violates while it allocates less than is requested of it:
 * host-1 from 300.1 to 327.94 s and host-0 from 900.1 to 914.02 s (a
 * migration's target gives the arriving VM 10 % of its request), and host-0
 * from 1500.1 to 1800.1 s (vm-0 capped). Active time: host-1 from 300.1 to
 * 1800.1 s, host-0 27.84 s until its shutdown and from 900.1 to 1800.1 s.
 */
const SLA_VIOLATION_S = VM2_MIGRATION_S + VM0_MIGRATION_S + 300;
const ACTIVE_S = 1500 + VM2_MIGRATION_S + 900;

/*
 * PDM: a migration's source gives the VM 90 % of its request, so each
 * migration loses 10 % of it over its duration: 10 MIPS × 27.84 s for vm-2,
 * 150 MIPS × 13.92 s for vm-0. vm-0's 140 MIPS short from 1500.1 to 1800.1 s
 * is no migration's, so it counts in the overall SLA violation only. Requests
 * summed over the VMs, interval by interval: 850 MIPS from 300.1 to 600.1 s,
 * REQUESTED_AT_600_1_MIPS to 900.1 s, 4500 to 1200.1 s, VM0_AT_1200_1_MIPS +
 * 3000 to 1500.1 s, 5000 to 1800.1 s.
 */
const UNDER_ALLOCATED_IN_MIGRATION_MIPS_S = 0.1 * 100 * VM2_MIGRATION_S + 0.1 * 1500 * VM0_MIGRATION_S;
const UNDER_ALLOCATED_CAPPED_MIPS_S = (2000 - VM0_CAPPED_MIPS) * 300;
const REQUESTED_MIPS_S = 300 * (850 + REQUESTED_AT_600_1_MIPS + 4500 + VM0_AT_1200_1_MIPS + 3000 + 5000);

const WS_PER_KWH = 3_600_000;

interface HostEntry {
  readonly timeS: number;
  readonly allocatedMips: number;
  readonly requestedMips: number;
  readonly active: boolean;
}

interface VmEntry {
  readonly timeS: number;
  readonly allocatedMips: number;
  readonly requestedMips: number;
  readonly inMigration: boolean;
}

/**
 * Each host's and each VM's state history, as CloudSim keeps them: a host has
 * an entry at every update, active when it allocates any MIPS; a VM only where
 * a host recorded it (`vmHost` ≥ 0).
 */
function stateHistories(updates: readonly EventData<'DataCentreUpdated'>[]): { hosts: HostEntry[][]; vms: VmEntry[][] } {
  const hosts = updates[0].hostAllocatedMips.map((_, h) => updates.map((update) => ({
    timeS: update.timeS,
    allocatedMips: update.hostAllocatedMips[h],
    requestedMips: update.hostRequestedMips[h],
    active: update.hostAllocatedMips[h] > 0,
  })));
  const vms = updates[0].vmHost.map((_, v) => updates.filter((update) => update.vmHost[v] >= 0).map((update) => ({
    timeS: update.timeS,
    allocatedMips: update.vmAllocatedMips[v],
    requestedMips: update.vmRequestedMips[v],
    inMigration: update.vmInMigration[v] === 1,
  })));
  return { hosts, vms };
}

/** `Helper.getSlaTimePerActiveHost`, split into its numerator and denominator. */
function slaTimePerActiveHost(hosts: readonly (readonly HostEntry[])[]): { violationS: number; activeS: number } {
  let violationS = 0;
  let activeS = 0;
  for (const history of hosts) {
    for (let i = 1; i < history.length; i++) {
      const previous = history[i - 1];
      if (!previous.active) continue;
      const dtS = history[i].timeS - previous.timeS;
      activeS += dtS;
      if (previous.allocatedMips < previous.requestedMips) violationS += dtS;
    }
  }
  return { violationS, activeS };
}

interface VmSla {
  readonly requestedMipsS: number;
  readonly allocatedMipsS: number;
  readonly underAllocatedInMigrationMipsS: number;
  /** (requested − allocated) / requested of each interval in which a VM got less than it asked for. */
  readonly shortfallShares: readonly number[];
}

/** `Helper.getSlaMetrics`: MIPS·s requested, allocated, and under-allocated while migrating, over every VM's intervals. */
function slaMetrics(vms: readonly (readonly VmEntry[])[]): VmSla {
  let requestedMipsS = 0;
  let allocatedMipsS = 0;
  let underAllocatedInMigrationMipsS = 0;
  const shortfallShares: number[] = [];
  for (const history of vms) {
    for (let i = 1; i < history.length; i++) {
      const previous = history[i - 1];
      const dtS = history[i].timeS - previous.timeS;
      requestedMipsS += previous.requestedMips * dtS;
      allocatedMipsS += previous.allocatedMips * dtS;
      if (previous.allocatedMips < previous.requestedMips) {
        shortfallShares.push((previous.requestedMips - previous.allocatedMips) / previous.requestedMips);
        if (previous.inMigration) underAllocatedInMigrationMipsS += (previous.requestedMips - previous.allocatedMips) * dtS;
      }
    }
  }
  return { requestedMipsS, allocatedMipsS, underAllocatedInMigrationMipsS, shortfallShares };
}

/** `Helper.getTimesBeforeHostShutdown`: from the last switch-on (or t = 0) to each active → inactive entry. */
function timesBeforeHostShutdownS(hosts: readonly (readonly HostEntry[])[]): number[] {
  const times: number[] = [];
  for (const history of hosts) {
    let previousActive = true;
    let switchedOnS = 0;
    for (const entry of history) {
      if (previousActive && !entry.active) times.push(entry.timeS - switchedOnS);
      if (!previousActive && entry.active) switchedOnS = entry.timeS;
      previousActive = entry.active;
    }
  }
  return times;
}

function ofType<T extends RecordedEvent['type']>(events: readonly RecordedEvent[], type: T): Extract<RecordedEvent, { type: T }>[] {
  return events.filter((event): event is Extract<RecordedEvent, { type: T }> => event.type === type);
}

let directory: string;
let run: SimulationResult;
let replay: ReplayResult;
let events: readonly RecordedEvent[];

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 'neat-metrics-'));
  const path = join(directory, 'run.sqlite');
  run = await runSimulation({ trace: TRACE, mode: 'cloudsim', policy: 'thr-mmt-0.8', seed: '1', hosts: 2, eventsPath: path });
  const log = new SqliteEventLog(path);
  try {
    events = await log.readAll(1, 1000);
    replay = await replayRun(log);
  } finally {
    await log.close();
  }
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('CloudSim metrics from the state history, computed apart from MetricsProjection', () => {
  test('the run does what the trace makes thr-mmt-0.8 do, derived by hand', () => {
    expect(ofType(events, 'MigrationStarted').map((e) => [e.metadata.timeMs / 1000, e.data.vmId, e.data.sourceHost, e.data.targetHost]))
      .toEqual([[300.1, 'vm-2', 'host-0', 'host-1'], [900.1, 'vm-0', 'host-1', 'host-0']]);
    const durationsS = ofType(events, 'MigrationCompleted').map((e) => e.data.durationMs / 1000);
    expect(durationsS).toHaveLength(2);
    expect(durationsS[0]).toBeCloseTo(VM2_MIGRATION_S, 9);
    expect(durationsS[1]).toBeCloseTo(VM0_MIGRATION_S, 9);
    const updateTimesS = ofType(events, 'DataCentreUpdated').map((e) => e.data.timeS);
    expect(updateTimesS).toHaveLength(UPDATE_TIMES_S.length);
    updateTimesS.forEach((timeS, i) => { expect(timeS).toBeCloseTo(UPDATE_TIMES_S[i], 9); });
    for (const metrics of [run.metrics, replay.metrics]) {
      expect(metrics.migrations).toBe(2);
      expect(metrics.meanMigrationDurationS).toBeCloseTo((VM2_MIGRATION_S + VM0_MIGRATION_S) / 2, 9);
    }
  });

  test('energy: what each update metered matches the SPECpower tables by hand, and the run and replay report its sum', () => {
    const meteredWs = ofType(events, 'DataCentreUpdated').map((e) => e.data.energyWs);
    expect(meteredWs).toHaveLength(ENERGY_WS_BY_UPDATE.length);
    meteredWs.forEach((energyWs, i) => { expect(energyWs).toBeCloseTo(ENERGY_WS_BY_UPDATE[i], 6); });
    // PowerDatacenter.getPower: the sum of what was metered.
    const energyKwh = meteredWs.reduce((sum, energyWs) => sum + energyWs, 0) / WS_PER_KWH;
    expect(energyKwh).toBeCloseTo(ENERGY_WS_BY_UPDATE.reduce((sum, energyWs) => sum + energyWs, 0) / WS_PER_KWH, 12);
    expect(run.metrics.energyKwh).toBeCloseTo(energyKwh, 15);
    expect(replay.metrics.energyKwh).toBeCloseTo(energyKwh, 15);
  });

  test("SLATAH, PDM and the overall SLA violation by Helper's loops over each host's and VM's own entries equal the hand values, the run's and the replay's", () => {
    const { hosts, vms } = stateHistories(ofType(events, 'DataCentreUpdated').map((e) => e.data));
    const { violationS, activeS } = slaTimePerActiveHost(hosts);
    const { requestedMipsS, allocatedMipsS, underAllocatedInMigrationMipsS, shortfallShares } = slaMetrics(vms);
    expect(violationS).toBeCloseTo(SLA_VIOLATION_S, 9);
    expect(activeS).toBeCloseTo(ACTIVE_S, 9);
    expect(underAllocatedInMigrationMipsS).toBeCloseTo(UNDER_ALLOCATED_IN_MIGRATION_MIPS_S, 9);
    expect(requestedMipsS - allocatedMipsS).toBeCloseTo(UNDER_ALLOCATED_IN_MIGRATION_MIPS_S + UNDER_ALLOCATED_CAPPED_MIPS_S, 6);
    expect(requestedMipsS).toBeCloseTo(REQUESTED_MIPS_S, 6);
    // VM by VM: vm-0's migration loses 10 %, its cap 140 of 2000 MIPS, then vm-2's migration 10 %.
    expect(shortfallShares.map((share) => Number(share.toFixed(12)))).toEqual([0.1, 0.07, 0.1]);
    const slatah = violationS / activeS;
    const pdm = underAllocatedInMigrationMipsS / requestedMipsS;
    const overallSlaViolation = (requestedMipsS - allocatedMipsS) / requestedMipsS;
    for (const metrics of [run.metrics, replay.metrics]) {
      expect(metrics.slatah).toBeCloseTo(slatah, 15);
      expect(metrics.pdm).toBeCloseTo(pdm, 15);
      expect(metrics.slav).toBeCloseTo(slatah * pdm, 15);
      expect(metrics.overallSlaViolation).toBeCloseTo(overallSlaViolation, 15);
      expect(metrics.averageSlaViolation).toBeCloseTo(shortfallShares.reduce((sum, share) => sum + share, 0) / shortfallShares.length, 15);
    }
  });

  test('host shutdowns by Helper over the host histories: one, host-0 when vm-2 has left it', () => {
    const { hosts } = stateHistories(ofType(events, 'DataCentreUpdated').map((e) => e.data));
    const shutdownsS = timesBeforeHostShutdownS(hosts);
    expect(shutdownsS).toHaveLength(1);
    expect(shutdownsS[0]).toBeCloseTo(300.1 + VM2_MIGRATION_S, 9);
    for (const metrics of [run.metrics, replay.metrics]) {
      expect(metrics.hostShutdowns).toBe(shutdownsS.length);
      expect(metrics.meanTimeBeforeHostShutdownS).toBeCloseTo(shutdownsS[0], 12);
    }
  });
});
