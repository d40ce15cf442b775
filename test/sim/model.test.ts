import { SimHost, SimVm } from '../../sim/cloudsim/model';
import { HP_PROLIANT_ML110_G5 } from '../../src/engine/power';
import type { TraceVm } from '../../traces/trace';
import { TraceSampler } from '../../traces/trace';

const INTERVAL_S = 300;

function traceVm(percent: number): TraceVm {
  return { id: `t${percent}`, utilization: Float64Array.from({ length: 289 }, () => percent / 100), ramMb: null };
}

let counter = 0;
function vm(mips: number, percent: number): SimVm {
  counter += 1;
  return new SimVm(counter, `vm${counter}`, mips, 870, 100_000, 2500, traceVm(percent), new TraceSampler(INTERVAL_S), false);
}

function g5(): SimHost {
  return new SimHost(1, 2, 2660, 4096, 1_000_000, 1_000_000, HP_PROLIANT_ML110_G5);
}

function processAll(host: SimHost, timeS: number): Map<SimVm, [number, number]> {
  const entries = new Map<SimVm, [number, number]>();
  host.process(timeS, INTERVAL_S, (_host, v, allocated, requested) => { entries.set(v, [allocated, requested]); });
  return entries;
}

function created(host: SimHost, ...vms: SimVm[]): void {
  for (const v of vms) {
    expect(host.create(v)).toBe(true);
    v.tableHost = host;
    v.beingInstantiated = false;
  }
}

describe("CloudSim's host model", () => {
  test('requests are capped at the PE capacity and allocated in full while they fit', () => {
    const host = g5();
    const big = vm(2500, 100);
    const small = vm(1000, 50);
    created(host, big, small);
    const entries = processAll(host, 300.1);
    expect(entries.get(big)).toEqual([2500, 2500]);
    expect(entries.get(small)).toEqual([500, 500]);
    expect(host.utilizationMips).toBe(3000);
    expect(host.entry).toEqual({ allocatedMips: 3000, requestedMips: 3000 });
    expect(host.availableMips).toBe(2320);
  });

  test('over-subscription scales every VM by one factor and floors; nothing stays free', () => {
    const host = g5();
    const vms = [vm(2500, 100), vm(2500, 100), vm(2500, 40)]; // 2500 + 2500 + 1000 > 5320
    created(host, ...vms);
    const entries = processAll(host, 300.1);
    const scale = 5320 / 6000;
    expect(vms.map((v) => entries.get(v)?.[0])).toEqual([Math.floor(2500 * scale), Math.floor(2500 * scale), Math.floor(1000 * scale)]);
    expect(host.availableMips).toBe(0);
    expect(host.entry.requestedMips).toBe(6000);
  });

  test('a migrating VM: 90 % on the source (counted back /0.9), 10 % on the target, whose request counts in full', () => {
    const source = g5();
    const target = new SimHost(3, 2, 2660, 4096, 1_000_000, 1_000_000, HP_PROLIANT_ML110_G5);
    const moving = vm(2000, 50);
    created(source, moving);
    processAll(source, 300.1);
    moving.inMigration = true;
    expect(target.acceptMigratingIn(moving)).toBe(true);
    const targetEntries = processAll(target, 300.1);
    const sourceEntries = processAll(source, 300.1);
    expect(targetEntries.has(moving)).toBe(false);
    expect(target.entry).toEqual({ allocatedMips: 100, requestedMips: 1000 });
    expect(sourceEntries.get(moving)).toEqual([900, 1000]);
    expect(source.utilizationMips).toBeCloseTo(1000, 9);
    // Completion: the VM leaves the source and is created on the target in full.
    source.destroy(moving);
    target.finishMigratingIn(moving);
    expect(target.create(moving)).toBe(true);
    expect(moving.inMigration).toBe(false);
    expect(processAll(target, 309.9).get(moving)).toEqual([1000, 1000]);
    expect(source.vms).toEqual([]);
  });

  test('a VM that migrates away and later back is not taken for one leaving (the stale mark is dropped)', () => {
    const a = g5();
    const b = new SimHost(3, 2, 2660, 4096, 1_000_000, 1_000_000, HP_PROLIANT_ML110_G5);
    const traveller = vm(1000, 50);
    created(a, traveller);
    processAll(a, 300.1);
    traveller.inMigration = true;
    b.acceptMigratingIn(traveller);
    processAll(a, 300.1); // a marks it as leaving
    a.destroy(traveller);
    b.finishMigratingIn(traveller);
    b.create(traveller);
    traveller.tableHost = b;
    traveller.inMigration = true;
    expect(a.acceptMigratingIn(traveller)).toBe(true);
    processAll(a, 600.1);
    expect(a.entry.allocatedMips).toBeCloseTo(50, 9); // 10 % of 500, not 90 %
  });

  test('the utilisation history grows once per scheduling update, newest first, at most 30 values', () => {
    const host = g5();
    const v = vm(1000, 30);
    created(host, v);
    for (let k = 1; k <= 35; k++) {
      processAll(host, 0.1 + 300 * k);
      processAll(host, 0.1 + 300 * k + 9.808); // a migration completion: no history value
    }
    expect(v.history).toHaveLength(30);
    expect(v.history.every((u) => Math.abs(u - 0.3) < 1e-12)).toBe(true);
  });
});
