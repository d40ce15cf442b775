import fc from 'fast-check';
import type { HostOverloadTest } from '../../src/engine/cloudsim/types';
import { minimumMigrationTime } from '../../src/engine/cloudsim/selection';
import { HP_PROLIANT_ML110_G4, HP_PROLIANT_ML110_G5 } from '../../src/engine/power';
import { hostHistoryNewestFirst, pabfdPlace, placeFirstFit, placeInitially, planReallocation } from '../../src/engine/placement/pabfd';
import type { CloudsimPolicy, PlanningHost, PlanningVm } from '../../src/engine/placement/pabfd';
import { createRng } from '../../src/rng';

// CloudSim's THR test, written out here so that these tests exercise the planner alone.
const thr = (threshold: number): HostOverloadTest => (load) => load.utilization > threshold;
const THR_08: CloudsimPolicy = { isOverUtilized: thr(0.8), selectVm: minimumMigrationTime };

let vmCounter = 0;
function vm(requestedMips: number, overrides: Partial<PlanningVm> = {}): PlanningVm {
  vmCounter += 1;
  const mips = overrides.mips ?? 2500;
  return {
    id: `vm${vmCounter}`,
    mips,
    pes: 1,
    ramMb: 613,
    requestedMips,
    requestedRamMb: 613,
    requestedBwKbitPerS: 100_000,
    allocatedMips: requestedMips,
    migratingIn: false,
    inMigration: false,
    utilization: requestedMips / mips,
    historyNewestFirst: [requestedMips / mips],
    ...overrides,
  };
}

/** A G4 (type 0, 2 × 1860 MIPS) or G5 (type 1, 2 × 2660 MIPS) host, as CloudSim's PlanetLab setup has them. */
function host(id: number, vms: readonly PlanningVm[], overrides: Partial<PlanningHost> = {}): PlanningHost {
  const g5 = id % 2 === 1;
  const peMips = g5 ? 2660 : 1860;
  const allocated = Math.min(vms.reduce((a, v) => a + v.allocatedMips, 0), 2 * peMips);
  return {
    id,
    pes: 2,
    peMips,
    availableMips: 2 * peMips - allocated,
    availableRamMb: 4096 - vms.reduce((a, v) => a + v.requestedRamMb, 0),
    availableBwKbitPerS: 1_000_000 - vms.reduce((a, v) => a + v.requestedBwKbitPerS, 0),
    bwKbitPerS: 1_000_000,
    utilization: allocated / (2 * peMips),
    power: g5 ? HP_PROLIANT_ML110_G5 : HP_PROLIANT_ML110_G4,
    vms,
    ...overrides,
  };
}

const NONE = new Set<number>();

describe('PABFD placement (reference/cloudsim.md §2)', () => {
  test('chooses the smallest power increase: an empty G5 beats an empty G4 for a 500-MIPS VM', () => {
    // G4: P(500/3720) − P(0) ≈ 4.50 W; G5: P(500/5320) − P(0) ≈ 3.10 W.
    expect(pabfdPlace([host(0, []), host(1, [])], [vm(500)], NONE, THR_08)).toEqual([1]);
  });

  test('ties go to the lowest host id', () => {
    expect(pabfdPlace([host(3, []), host(1, [])], [vm(500)], NONE, THR_08)).toEqual([1]);
  });

  test('never uses an excluded host', () => {
    expect(pabfdPlace([host(0, []), host(1, [])], [vm(500)], new Set([1]), THR_08)).toEqual([0]);
    expect(pabfdPlace([host(1, [])], [vm(500)], new Set([1]), THR_08)).toEqual([null]);
  });

  test('skips a non-empty host that the policy would call over-utilised after the move', () => {
    const busy = host(1, [vm(4000)]); // 4000 + 500 > 0.8 × 5320
    const empty = host(0, []);
    expect(pabfdPlace([busy, empty], [vm(500)], NONE, THR_08)).toEqual([0]);
    const lenient: CloudsimPolicy = { isOverUtilized: thr(0.9), selectVm: minimumMigrationTime };
    expect(pabfdPlace([busy, empty], [vm(500)], NONE, lenient)).toEqual([1]);
  });

  test('checks suitability: PE capacity, free MIPS, RAM and bandwidth', () => {
    expect(pabfdPlace([host(0, [])], [vm(1900, { mips: 2500 })], NONE, THR_08)).toEqual([null]);
    expect(pabfdPlace([host(1, [], { availableRamMb: 600 })], [vm(100)], NONE, THR_08)).toEqual([null]);
    expect(pabfdPlace([host(1, [], { availableBwKbitPerS: 50_000 })], [vm(100)], NONE, THR_08)).toEqual([null]);
    expect(pabfdPlace([host(1, [], { availableMips: 99 })], [vm(100)], NONE, THR_08)).toEqual([null]);
  });

  test('places VMs by current MIPS, largest first, and a placed VM counts for the next one', () => {
    const small = vm(300);
    const big = vm(2000);
    // Both fit the single G5 only together (2300 < 0.8 × 5320); order of the answer follows the input.
    expect(pabfdPlace([host(1, [])], [small, big], NONE, THR_08)).toEqual([1, 1]);
    const tight = host(1, [], { availableMips: 2200 });
    expect(pabfdPlace([tight], [small, big], NONE, THR_08)).toEqual([null, 1]);
  });
});

describe('the consolidation step', () => {
  test('moves VMs off an over-utilised host until it passes the test, smallest RAM first (MMT)', () => {
    const a = vm(2000, { ramMb: 1740 });
    const b = vm(1500, { ramMb: 613 });
    const c = vm(1200, { ramMb: 870 });
    const overloaded = host(1, [a, b, c]); // 4700 / 5320 > 0.8
    const plan = planReallocation([overloaded, host(2, []), host(3, [])], THR_08, createRng(1));
    expect(plan.overUtilizedHostIds).toEqual([1]);
    const fromOverload = plan.migrations.filter((m) => m.cause === 'overloaded-host');
    expect(fromOverload.map((m) => m.vmId)).toEqual([b.id]); // 3200 / 5320 ≤ 0.8 after b leaves
    expect(fromOverload[0].targetHostId).not.toBe(1);
  });

  test('evacuates the least utilised host when all its VMs fit elsewhere', () => {
    const lonely = host(2, [vm(300)]);
    const busy = host(1, [vm(2500), vm(1000)]);
    const plan = planReallocation([busy, lonely], THR_08, createRng(1));
    expect(plan.evacuatedHostIds).toEqual([2]);
    expect(plan.migrations).toEqual([
      expect.objectContaining({ sourceHostId: 2, targetHostId: 1, cause: 'underloaded-host' }),
    ]);
  });

  test('all or nothing: a host whose VMs do not all fit keeps them all', () => {
    const small = vm(200);
    const huge = vm(2400);
    const source = host(2, [small, huge]);
    const target = host(1, [vm(2500), vm(1500)]); // busier than the source, so the source is tried first
    const plan = planReallocation([target, source], THR_08, createRng(1));
    expect(plan.cancelledEvacuationHostIds).toContain(2);
    expect(plan.migrations.filter((m) => m.sourceHostId === 2)).toEqual([]);
  });

  test('switched-off hosts are neither sources nor targets of an evacuation', () => {
    const off = host(3, []);
    const lonely = host(2, [vm(300)]);
    const plan = planReallocation([lonely, off], THR_08, createRng(1));
    expect(plan.migrations).toEqual([]);
    expect(plan.cancelledEvacuationHostIds).toEqual([2]);
  });

  test('but a switched-off host can take a VM from an over-utilised one', () => {
    const overloaded = host(1, [vm(2500), vm(2500)]);
    const plan = planReallocation([overloaded, host(3, [])], THR_08, createRng(1));
    expect(plan.migrations.filter((m) => m.cause === 'overloaded-host').map((m) => m.targetHostId)).toEqual([3]);
  });

  test('the host history is trimmed of trailing zeros and sums VM histories scaled by VM MIPS / host MIPS', () => {
    const v1 = vm(0, { mips: 1000, historyNewestFirst: [0.5, 0.25] });
    const v2 = vm(0, { mips: 2000, historyNewestFirst: [0.1] });
    const history = hostHistoryNewestFirst([v1, v2], 4000);
    expect(history).toHaveLength(2);
    expect(history[0]).toBeCloseTo(0.5 * 1000 / 4000 + 0.1 * 2000 / 4000, 12);
    expect(history[1]).toBeCloseTo(0.25 * 1000 / 4000, 12);
  });

  test('initial placement: a VM just created asks for nothing more, so only free MIPS stop the next one', () => {
    // A 2500-MIPS VM never fits a G4 (1860 MIPS per PE). On the G5 the first takes 2500 MIPS; the
    // what-if test for the second sees 0 + 2500 requested (the first no longer asks), so it fits too;
    // the third finds only 320 MIPS free. This is CloudSim's t = 0 behaviour.
    const vms = [vm(2500), vm(2500), vm(2500)];
    expect(placeInitially([host(0, []), host(1, [])], vms, THR_08)).toEqual([1, 1, null]);
  });

  test('first fit (DVFS, NPA) takes the first suitable host by id', () => {
    const vms = [vm(1000), vm(1000), vm(2500)];
    expect(placeFirstFit([host(0, []), host(1, [])], vms)).toEqual([0, 0, 1]);
  });
});

const snapshotArbitrary = fc.record({
  hosts: fc.array(fc.array(fc.integer({ min: 0, max: 2500 }), { maxLength: 4 }), { minLength: 1, maxLength: 10 }),
  toPlace: fc.array(fc.integer({ min: 0, max: 2500 }), { maxLength: 8 }),
  threshold: fc.double({ min: 0.5, max: 1, noNaN: true }),
  excluded: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }),
});

describe('PABFD properties', () => {
  test('targets never exceed free MIPS, RAM or bandwidth, never are excluded, and each VM lands at most once', () => {
    fc.assert(fc.property(snapshotArbitrary, ({ hosts, toPlace, threshold, excluded }) => {
      const snapshot = hosts.map((requests, id) => host(id, requests.map((r) => vm(Math.min(r, 1860)))));
      const vms = toPlace.map((r) => vm(r));
      const excludedIds = new Set(excluded);
      const policy: CloudsimPolicy = { isOverUtilized: thr(threshold), selectVm: minimumMigrationTime };
      const targets = pabfdPlace(snapshot, vms, excludedIds, policy);
      expect(targets).toHaveLength(vms.length);
      for (const h of snapshot) {
        const landed = vms.filter((_, k) => targets[k] === h.id);
        if (landed.length > 0) expect(excludedIds.has(h.id)).toBe(false);
        expect(landed.reduce((a, v) => a + v.requestedMips, 0)).toBeLessThanOrEqual(h.availableMips);
        expect(landed.reduce((a, v) => a + v.requestedRamMb, 0)).toBeLessThanOrEqual(h.availableRamMb);
        expect(landed.reduce((a, v) => a + v.requestedBwKbitPerS, 0)).toBeLessThanOrEqual(h.availableBwKbitPerS);
      }
    }));
  });

  test('a consolidation step never targets an over-utilised host, evacuates all or nothing, and is deterministic', () => {
    fc.assert(fc.property(snapshotArbitrary, fc.integer(), ({ hosts, threshold }, seed) => {
      const snapshot = hosts.map((requests, id) => host(id, requests.map((r) => vm(Math.min(r, 1860)))));
      const policy: CloudsimPolicy = { isOverUtilized: thr(threshold), selectVm: minimumMigrationTime };
      const plan = planReallocation(snapshot, policy, createRng(seed));
      const over = new Set(plan.overUtilizedHostIds);
      for (const m of plan.migrations) {
        expect(over.has(m.targetHostId)).toBe(false);
        expect(m.targetHostId).not.toBe(m.sourceHostId);
      }
      for (const id of plan.evacuatedHostIds) {
        const evacuated = snapshot.find((h) => h.id === id)!;
        const moved = new Set(plan.migrations.filter((m) => m.cause === 'underloaded-host' && m.sourceHostId === id).map((m) => m.vmId));
        for (const v of evacuated.vms) expect(moved.has(v.id)).toBe(true);
      }
      expect(planReallocation(snapshot, policy, createRng(seed))).toEqual(plan);
    }));
  });
});
