import fc from 'fast-check';
import { advanceCounters, calculateCpuMhz, calculateHostCpuMhz, parseProcStat } from '../../src/agent/counters';
import type { CounterState, CounterStep, HostCpuTimes, RawReading, RawVmCounters } from '../../src/agent/counters';
import type { HostCapacity } from '../../src/agent/hypervisor';
import { HypervisorError } from '../../src/agent/hypervisor';

const CAPACITY: HostCapacity = { cores: 4, coreMhz: 2000, ramMb: 8192 };
const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';
const C = 'cccccccc-0000-0000-0000-000000000003';
const S_NS = 1e9;

function reading(timeS: number, vms: readonly RawVmCounters[], host: HostCpuTimes = { busy: 0, total: 0 }): RawReading {
  return { timeS, capacity: CAPACITY, vms, host };
}

function vm(vmId: string, cpuTimeNs: number, ramMb: number | null = 1024): RawVmCounters {
  return { vmId, cpuTimeNs, ramMb };
}

function mhzOf(step: CounterStep): Record<string, number | null> {
  return Object.fromEntries(step.vms.map((reading) => [reading.vmId, reading.cpuMhz]));
}

function malformed(run: () => unknown): HypervisorError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HypervisorError);
    expect((error as HypervisorError).kind).toBe('malformed');
    return error as HypervisorError;
  }
  throw new Error('expected a malformed HypervisorError');
}

describe('parseProcStat (Neat get_host_cpu_time)', () => {
  test("Neat's test: seven counters in 1..1000 and two more; total = sum of the seven, busy = the first three", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 7, maxLength: 7 }), (x) => {
      const times = parseProcStat(`cpu ${x.join(' ')} 2 3\ncpu0 1 2 3 4 5 6 7\n`);
      expect(times).toEqual({ total: x.reduce((a, b) => a + b, 0), busy: x[0] + x[1] + x[2] });
    }));
  });

  test('a real first line, with steal and guest counters beyond the seven', () => {
    expect(parseProcStat('cpu  842146 0 86718 615466 2951 0 2941 1854 0 0\n')).toEqual({
      busy: 842146 + 0 + 86718,
      total: 842146 + 0 + 86718 + 615466 + 2951 + 0 + 2941,
    });
  });

  test('an old kernel line of exactly seven counters, without a trailing newline', () => {
    expect(parseProcStat('cpu 1 2 3 4 5 6 7')).toEqual({ busy: 6, total: 28 });
  });

  test('what is not the aggregate cpu line is malformed, naming /proc/stat and the fault', () => {
    // Neat read whatever came first (its test wrote "1 …"); we insist on the all-CPU line.
    expect(malformed(() => parseProcStat('1 1 2 3 4 5 6 7 2 3')).message).toMatch(/^\/proc\/stat: .*should start with "cpu"/);
    expect(malformed(() => parseProcStat('cpu0 1 2 3 4 5 6 7')).message).toMatch(/"cpu"/);
    expect(malformed(() => parseProcStat('')).message).toMatch(/\/proc\/stat/);
    expect(malformed(() => parseProcStat('cpu 1 2 3 4\n')).message).toMatch(/has 4 counters; at least 7/);
    expect(malformed(() => parseProcStat('cpu 1 2 x 4 5 6 7')).message).toMatch(/counter 3 .*"x"/);
    expect(malformed(() => parseProcStat('cpu 1 2 -3 4 5 6 7')).message).toMatch(/counter 3/);
    expect(malformed(() => parseProcStat('cpu 1 2 3.5 4 5 6 7')).message).toMatch(/counter 3/);
    expect(malformed(() => parseProcStat(`cpu 1 2 ${'9'.repeat(30)} 4 5 6 7`)).message).toMatch(/counter 3/);
    expect(malformed(() => parseProcStat(`cpu ${'1 '.repeat(1000)}`)).message).toMatch(/longer than 1024/);
  });
});

describe('calculateCpuMhz (Neat calculate_cpu_mhz)', () => {
  test("Neat's test: int(mhz × Δcpu / (Δt × 1e9)) over its ranges", () => {
    fc.assert(fc.property(
      fc.double({ min: 100, max: 1000, noNaN: true }), fc.double({ min: 1, max: 100, noNaN: true }),
      fc.integer({ min: 100, max: 2 ** 40 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 3000 }),
      (currentTimeS, periodS, currentCpuTimeNs, cpuTimeNs, mhz) => {
        const previousTimeS = currentTimeS - periodS;
        expect(calculateCpuMhz(mhz, previousTimeS, currentTimeS, currentCpuTimeNs - cpuTimeNs, currentCpuTimeNs))
          .toBe(Math.trunc(mhz * cpuTimeNs / ((currentTimeS - previousTimeS) * 1e9)));
      },
    ));
  });

  test('one busy core reads as the core MHz; half a core as half; truncation as Python int()', () => {
    expect(calculateCpuMhz(2000, 100, 400, 0, 300 * S_NS)).toBe(2000);
    expect(calculateCpuMhz(2000, 100, 400, 5 * S_NS, 155 * S_NS)).toBe(1000);
    expect(calculateCpuMhz(2000, 0, 3, 0, S_NS)).toBe(666);
    expect(calculateCpuMhz(3000, 0, 300, 0, 2 * 300 * S_NS)).toBe(6000);
    expect(calculateCpuMhz(3000, 0, 300, 7, 7)).toBe(0);
  });
});

describe('calculateHostCpuMhz (Neat get_host_cpu_mhz)', () => {
  test("Neat's test: int(cpu_mhz × Δbusy / Δtotal) over its ranges, as whole ticks (the kernel's counters are integers)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 100, max: 1000 }), fc.integer({ min: 1, max: 100 }),
      fc.integer({ min: 100, max: 1000 }), fc.integer({ min: 1, max: 100 }),
      (cpuMhz, previousTotal, previousBusy, totalDelta, busyDelta) => {
        const previous = { total: previousTotal, busy: previousBusy };
        const current = { total: previousTotal + totalDelta, busy: previousBusy + busyDelta };
        expect(calculateHostCpuMhz(cpuMhz, previous, current)).toBe(Math.trunc(cpuMhz * busyDelta / totalDelta));
      },
    ));
  });

  test("Neat's exception case (busy went back) is null: Neat raised ValueError and the collector died", () => {
    expect(calculateHostCpuMhz(1, { total: 0, busy: 2 }, { total: 1, busy: 1 })).toBeNull();
  });

  test('no tick passed, or the total went back (a reboot), is null rather than a division by zero or worse', () => {
    expect(calculateHostCpuMhz(8000, { total: 500, busy: 100 }, { total: 500, busy: 100 })).toBeNull();
    expect(calculateHostCpuMhz(8000, { total: 500, busy: 100 }, { total: 40, busy: 10 })).toBeNull();
  });

  test('a quarter busy of a 4 × 2000 MHz host is 2000 MHz', () => {
    expect(calculateHostCpuMhz(8000, { total: 1000, busy: 100 }, { total: 2000, busy: 350 })).toBe(2000);
  });
});

describe('advanceCounters', () => {
  test('the first reading is baselines only: every value null, as Neat wrote nothing on its first iteration', () => {
    const step = advanceCounters(null, reading(1000, [vm(A, 5 * S_NS, 2048), vm(B, 7 * S_NS, null)], { busy: 10, total: 100 }));
    expect(step.vms).toEqual([{ vmId: A, cpuMhz: null, ramMb: 2048 }, { vmId: B, cpuMhz: null, ramMb: null }]);
    expect(step.hypervisorCpuMhz).toBeNull();
    expect(step.notes).toEqual({ clockWentBack: false, firstSeen: [A, B], restarted: [], removed: [], hostCpuMhz: null });
    expect(step.state).toEqual({ timeS: 1000, vmCpuTimeNs: { [A]: 5 * S_NS, [B]: 7 * S_NS }, vmCpuMhz: {}, hostBusy: 10, hostTotal: 100 });
  });

  test('the second reading: each VM by Neat, the hypervisor as host minus the VMs', () => {
    const first = advanceCounters(null, reading(1000, [vm(A, 0), vm(B, 0)], { busy: 0, total: 0 }));
    // 300 s: A kept one core busy, B half a core; the host was 3/8 busy out of 8000 MHz = 3000 MHz.
    const second = advanceCounters(first.state, reading(1300, [vm(A, 300 * S_NS), vm(B, 150 * S_NS)], { busy: 300, total: 800 }));
    expect(mhzOf(second)).toEqual({ [A]: 2000, [B]: 1000 });
    expect(second.notes.hostCpuMhz).toBe(3000);
    expect(second.hypervisorCpuMhz).toBe(0);
    expect(second.state.vmCpuMhz).toEqual({ [A]: 2000, [B]: 1000 });

    const third = advanceCounters(second.state, reading(1600, [vm(A, 450 * S_NS), vm(B, 150 * S_NS)], { busy: 600, total: 1600 }));
    expect(mhzOf(third)).toEqual({ [A]: 1000, [B]: 0 });
    expect(third.notes.hostCpuMhz).toBe(3000);
    expect(third.hypervisorCpuMhz).toBe(2000);
  });

  test('the hypervisor is at least 0 when the VMs add up to more than the host (different clocks, rounding)', () => {
    const first = advanceCounters(null, reading(0, [vm(A, 0)], { busy: 0, total: 0 }));
    const second = advanceCounters(first.state, reading(10, [vm(A, 10 * S_NS)], { busy: 10, total: 100 }));
    expect(second.notes.hostCpuMhz).toBe(800);
    expect(mhzOf(second)[A]).toBe(2000);
    expect(second.hypervisorCpuMhz).toBe(0);
  });

  test('a counter that went back (VM restarted) reuses the previous MHz and takes the new counter as baseline', () => {
    const s1 = advanceCounters(null, reading(0, [vm(A, 100 * S_NS), vm(B, 0)]));
    const s2 = advanceCounters(s1.state, reading(100, [vm(A, 150 * S_NS), vm(B, 100 * S_NS)]));
    expect(mhzOf(s2)).toEqual({ [A]: 1000, [B]: 2000 });
    const s3 = advanceCounters(s2.state, reading(200, [vm(A, 2 * S_NS), vm(B, 200 * S_NS)]));
    expect(mhzOf(s3)).toEqual({ [A]: 1000, [B]: 2000 });
    expect(s3.notes.restarted).toEqual([A]);
    expect(s3.state.vmCpuTimeNs[A]).toBe(2 * S_NS);
    expect(s3.state.vmCpuMhz[A]).toBe(1000);
    const s4 = advanceCounters(s3.state, reading(300, [vm(A, 27 * S_NS), vm(B, 200 * S_NS)]));
    expect(mhzOf(s4)).toEqual({ [A]: 500, [B]: 0 });
    expect(s4.notes.restarted).toEqual([]);
  });

  test('a restart before the VM had any MHz gives null, and nothing to reuse is invented', () => {
    const s1 = advanceCounters(null, reading(0, [vm(A, 100 * S_NS)]));
    const s2 = advanceCounters(s1.state, reading(100, [vm(A, 100 * S_NS), vm(B, 50 * S_NS)]));
    const s3 = advanceCounters(s2.state, reading(200, [vm(A, 150 * S_NS), vm(B, S_NS)]));
    expect(mhzOf(s3)).toEqual({ [A]: 1000, [B]: null });
    expect(s3.notes.restarted).toEqual([B]);
    expect(s3.state.vmCpuMhz).toEqual({ [A]: 1000 });
  });

  test('a VM that appears is null first, then measured; one that leaves is dropped, and comes back as new', () => {
    const s1 = advanceCounters(null, reading(0, [vm(A, 0), vm(B, 0)]));
    const s2 = advanceCounters(s1.state, reading(100, [vm(A, 100 * S_NS), vm(C, 500 * S_NS)]));
    expect(mhzOf(s2)).toEqual({ [A]: 2000, [C]: null });
    expect(s2.notes).toMatchObject({ firstSeen: [C], removed: [B] });
    expect(Object.keys(s2.state.vmCpuTimeNs).sort()).toEqual([A, C]);
    expect(Object.keys(s2.state.vmCpuMhz)).toEqual([A]);

    const s3 = advanceCounters(s2.state, reading(200, [vm(A, 100 * S_NS), vm(B, 900 * S_NS), vm(C, 550 * S_NS)]));
    expect(mhzOf(s3)).toEqual({ [A]: 0, [B]: null, [C]: 1000 });
    expect(s3.notes).toMatchObject({ firstSeen: [B], removed: [] });
  });

  test('a hypervisor with no VMs at all: the whole host is the hypervisor', () => {
    const s1 = advanceCounters(null, reading(0, [], { busy: 0, total: 0 }));
    const s2 = advanceCounters(s1.state, reading(300, [], { busy: 100, total: 400 }));
    expect(s2.vms).toEqual([]);
    expect(s2.hypervisorCpuMhz).toBe(2000);
  });

  test.each([['went back', 900], ['stood still', 1000]])('a clock that %s: all null, said so, baselines reset', (_, timeS) => {
    const s1 = advanceCounters(null, reading(900, [vm(A, 0)], { busy: 0, total: 0 }));
    const s2 = advanceCounters(s1.state, reading(1000, [vm(A, 100 * S_NS), vm(B, 0)], { busy: 100, total: 400 }));
    expect(mhzOf(s2)).toEqual({ [A]: 2000, [B]: null });

    const back = advanceCounters(s2.state, reading(timeS, [vm(A, 150 * S_NS), vm(C, 0)], { busy: 150, total: 600 }));
    expect(mhzOf(back)).toEqual({ [A]: null, [C]: null });
    expect(back.hypervisorCpuMhz).toBeNull();
    expect(back.notes).toEqual({ clockWentBack: true, firstSeen: [C], restarted: [], removed: [B], hostCpuMhz: null });
    expect(back.state).toEqual({ timeS, vmCpuTimeNs: { [A]: 150 * S_NS, [C]: 0 }, vmCpuMhz: { [A]: 2000 }, hostBusy: 150, hostTotal: 600 });

    // The next interval runs from the reset baselines.
    const after = advanceCounters(back.state, reading(timeS + 100, [vm(A, 200 * S_NS), vm(C, 100 * S_NS)], { busy: 250, total: 1000 }));
    expect(mhzOf(after)).toEqual({ [A]: 1000, [C]: 2000 });
    expect(after.notes.hostCpuMhz).toBe(2000);
    expect(after.notes.clockWentBack).toBe(false);
  });

  test('host ticks that did not advance: host and hypervisor null, the VMs still measured', () => {
    const s1 = advanceCounters(null, reading(0, [vm(A, 0)], { busy: 10, total: 100 }));
    const s2 = advanceCounters(s1.state, reading(100, [vm(A, 100 * S_NS)], { busy: 10, total: 100 }));
    expect(mhzOf(s2)).toEqual({ [A]: 2000 });
    expect(s2.notes.hostCpuMhz).toBeNull();
    expect(s2.hypervisorCpuMhz).toBeNull();
  });

  test("Neat's get_cpu_mhz test: the tracked VMs measured, the removed dropped, the added given a baseline", () => {
    const uuid = fc.uuid();
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 8 }), fc.double({ min: 100, max: 1000, noNaN: true }), fc.double({ min: 1, max: 100, noNaN: true }),
      fc.dictionary(uuid, fc.tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 }), fc.boolean()), { maxKeys: 10 }),
      fc.dictionary(uuid, fc.integer({ min: 1, max: 100 }), { maxKeys: 5 }),
      (coreMhz, currentTimeS, periodS, tracked, added) => {
        const previousTimeS = currentTimeS - periodS;
        const capacity = { cores: 1, coreMhz, ramMb: 1 };
        const addedOnly = Object.entries(added).filter(([vmId]) => !Object.hasOwn(tracked, vmId));
        const previous = advanceCounters(null, {
          timeS: previousTimeS, capacity, host: { busy: 0, total: 0 },
          vms: Object.entries(tracked).map(([vmId, [cpuTimeNs]]) => vm(vmId, cpuTimeNs)),
        });
        const kept = Object.entries(tracked).filter(([, [, , removed]]) => !removed);
        const current = [
          ...kept.map(([vmId, [cpuTimeNs, delta]]) => vm(vmId, cpuTimeNs + delta)),
          ...addedOnly.map(([vmId, cpuTimeNs]) => vm(vmId, cpuTimeNs)),
        ];
        const step = advanceCounters(previous.state, { timeS: currentTimeS, capacity, host: { busy: 0, total: 0 }, vms: current });
        expect(step.state.vmCpuTimeNs).toEqual(Object.fromEntries(current.map((reading) => [reading.vmId, reading.cpuTimeNs])));
        expect(mhzOf(step)).toEqual(Object.fromEntries([
          ...kept.map(([vmId, [cpuTimeNs, delta]]) => [vmId, calculateCpuMhz(coreMhz, previousTimeS, currentTimeS, cpuTimeNs, cpuTimeNs + delta)]),
          ...addedOnly.map(([vmId]) => [vmId, null]),
        ]));
      },
    ));
  });
});

describe('advanceCounters properties', () => {
  const VM_IDS = [A, B, C, 'dddddddd-0000-0000-0000-000000000004', 'eeeeeeee-0000-0000-0000-000000000005'];

  interface Tick {
    readonly elapsedMs: number;
    /** Per VM: present, and how busy (in vCPUs, up to its own count). */
    readonly vms: readonly { readonly present: boolean; readonly vcpus: number; readonly busyShare: number }[];
    readonly hostBusyShare: number;
    readonly hostTotalTicks: number;
  }

  const tickArbitrary: fc.Arbitrary<Tick> = fc.record({
    elapsedMs: fc.integer({ min: 1, max: 600_000 }),
    vms: fc.array(fc.record({
      present: fc.boolean(), vcpus: fc.integer({ min: 1, max: CAPACITY.cores }), busyShare: fc.double({ min: 0, max: 1, noNaN: true }),
    }), { minLength: VM_IDS.length, maxLength: VM_IDS.length }),
    hostBusyShare: fc.double({ min: 0, max: 1, noNaN: true }),
    hostTotalTicks: fc.integer({ min: 0, max: 100_000 }),
  });

  test('with counters that only go forward: every MHz within [0, vCPUs × core MHz], the host within capacity, the state exactly the VMs', () => {
    fc.assert(fc.property(fc.array(tickArbitrary, { minLength: 1, maxLength: 12 }), (ticks) => {
      let state: CounterState = null;
      let timeMs = 1_700_000_000_000;
      const cpuTimeNs = new Map<string, number>();
      let host = { busy: 0, total: 0 };
      for (const tick of ticks) {
        timeMs += tick.elapsedMs;
        const busyTicks = Math.floor(tick.hostTotalTicks * tick.hostBusyShare);
        host = { busy: host.busy + busyTicks, total: host.total + tick.hostTotalTicks };
        const vms: RawVmCounters[] = [];
        tick.vms.forEach((shape, index) => {
          const vmId = VM_IDS[index];
          if (!shape.present) {
            cpuTimeNs.delete(vmId);
            return;
          }
          // A VM's CPU time grows by at most its vCPUs × the elapsed time.
          const grownNs = (cpuTimeNs.get(vmId) ?? 0) + Math.floor(shape.vcpus * shape.busyShare * tick.elapsedMs * 1e6);
          cpuTimeNs.set(vmId, grownNs);
          vms.push(vm(vmId, grownNs));
        });
        const step: CounterStep = advanceCounters(state, { timeS: timeMs / 1000, capacity: CAPACITY, vms, host });
        step.vms.forEach((reading) => {
          if (reading.cpuMhz === null) return;
          const vcpus = tick.vms[VM_IDS.indexOf(reading.vmId)].vcpus;
          expect(Number.isInteger(reading.cpuMhz)).toBe(true);
          expect(reading.cpuMhz).toBeGreaterThanOrEqual(0);
          expect(reading.cpuMhz).toBeLessThanOrEqual(vcpus * CAPACITY.coreMhz);
        });
        expect(step.notes.restarted).toEqual([]);
        const hostCpuMhz = step.notes.hostCpuMhz;
        if (hostCpuMhz !== null) {
          expect(hostCpuMhz).toBeGreaterThanOrEqual(0);
          expect(hostCpuMhz).toBeLessThanOrEqual(CAPACITY.cores * CAPACITY.coreMhz);
          expect(step.hypervisorCpuMhz).toBeGreaterThanOrEqual(0);
          expect(step.hypervisorCpuMhz).toBeLessThanOrEqual(hostCpuMhz);
        } else {
          expect(step.hypervisorCpuMhz).toBeNull();
        }
        expect(Object.keys(step.state.vmCpuTimeNs).sort()).toEqual(vms.map((reading) => reading.vmId).sort());
        state = step.state;
      }
    }));
  });

  test('with counters and clock going anywhere: never a negative or fractional MHz, never a throw, the state JSON-plain and exactly the VMs', () => {
    const rawArbitrary = fc.record({
      timeS: fc.integer({ min: 0, max: 10_000 }),
      vms: fc.uniqueArray(fc.record({ vmId: fc.constantFrom(...VM_IDS), cpuTimeNs: fc.integer({ min: 0, max: 1e12 }), ramMb: fc.constant(512) }),
        { selector: (raw) => raw.vmId, maxLength: VM_IDS.length }),
      host: fc.tuple(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 1e6 })).map(([a, b]) => ({ busy: Math.min(a, b), total: Math.max(a, b) })),
    });
    fc.assert(fc.property(fc.array(rawArbitrary, { minLength: 1, maxLength: 15 }), (raws) => {
      let state: CounterState = null;
      for (const raw of raws) {
        const step = advanceCounters(state, { ...raw, capacity: CAPACITY });
        for (const value of [...step.vms.map((reading) => reading.cpuMhz), step.hypervisorCpuMhz, step.notes.hostCpuMhz]) {
          if (value !== null) expect(Number.isInteger(value) && value >= 0).toBe(true);
        }
        expect(JSON.parse(JSON.stringify(step.state))).toEqual(step.state);
        const vmIds = raw.vms.map((reading) => reading.vmId).sort();
        expect(Object.keys(step.state.vmCpuTimeNs).sort()).toEqual(vmIds);
        for (const vmId of Object.keys(step.state.vmCpuMhz)) expect(vmIds).toContain(vmId);
        state = step.state;
      }
    }));
  });
});
