import { MetricsProjection } from '../../sim/metrics';
import { planetLabConfig } from '../../sim/config';
import type { EventData } from '../../src/events/catalogue';

// Two hosts, two VMs; the formulas of CloudSim's Helper over hand-made state histories.
function projection(): MetricsProjection {
  return new MetricsProjection(planetLabConfig(2, [null, null], 2), 'idle');
}

function update(timeS: number, hosts: [number, number][], vms: [number, number, number, 0 | 1][], energyWs = 0): EventData<'DataCentreUpdated'> {
  return {
    timeS, energyWs,
    hostAllocatedMips: hosts.map(([a]) => a), hostRequestedMips: hosts.map(([, r]) => r),
    vmHost: vms.map(([h]) => h), vmAllocatedMips: vms.map(([, a]) => a), vmRequestedMips: vms.map(([, , r]) => r),
    vmInMigration: vms.map(([, , , m]) => m),
  };
}

/** Updates stamped by the simulation's own clock. */
function feed(m: MetricsProjection, data: EventData<'DataCentreUpdated'>): void {
  m.updated(data, data.timeS);
}

describe('simulation metrics (CloudSim Helper formulas)', () => {
  test('SLATAH: time active with allocated < requested over time active; the interval after the last entry does not count', () => {
    const m = projection();
    feed(m, update(300, [[100, 100], [0, 0]], [[0, 100, 100, 0], [-1, 0, 0, 0]]));
    feed(m, update(400, [[90, 100], [0, 0]], [[0, 90, 100, 0], [-1, 0, 0, 0]]));
    feed(m, update(700, [[100, 100], [50, 50]], [[0, 100, 100, 0], [-1, 0, 0, 0]]));
    feed(m, update(1000, [[0, 0], [50, 50]], [[0, 0, 0, 0], [-1, 0, 0, 0]]));
    const result = m.result();
    // Host 0 active 300..1000 (700 s), violating 400..700 (300 s); host 1 active 700..1000 (300 s).
    expect(result.slatah).toBeCloseTo(300 / 1000, 12);
  });

  test('PDM counts under-allocation only while migrating out; overall SLA counts all of it', () => {
    const m = projection();
    feed(m, update(0, [[1, 1], [1, 1]], [[0, 100, 100, 0], [1, 90, 100, 1]]));
    feed(m, update(10, [[1, 1], [1, 1]], [[0, 80, 100, 0], [1, 100, 100, 0]]));
    feed(m, update(20, [[1, 1], [1, 1]], [[0, 100, 100, 0], [1, 100, 100, 0]]));
    const result = m.result();
    const requested = 100 * 10 * 4;
    expect(result.pdm).toBeCloseTo((10 * 10) / requested, 12);
    expect(result.overallSlaViolation).toBeCloseTo((10 * 10 + 20 * 10) / requested, 12);
    expect(result.averageSlaViolation).toBeCloseTo((0.1 + 0.2) / 2, 12);
    expect(result.slav).toBeCloseTo(result.slatah * result.pdm, 15);
  });

  test('host shutdowns: active → inactive, timed from the last switch-on (or t = 0); inactive at the first entry counts', () => {
    const m = projection();
    feed(m, update(300, [[10, 10], [0, 0]], [[0, 10, 10, 0], [-1, 0, 0, 0]]));
    feed(m, update(600, [[0, 0], [20, 20]], [[0, 0, 0, 0], [-1, 0, 0, 0]]));
    feed(m, update(900, [[30, 30], [0, 0]], [[0, 30, 30, 0], [-1, 0, 0, 0]]));
    const result = m.result();
    // Host 1 off at 300 (300 s after t = 0), host 0 off at 600 (600 s), host 1 off at 900 (300 s after 600).
    expect(result.hostShutdowns).toBe(3);
    expect(result.meanTimeBeforeHostShutdownS).toBeCloseTo(400, 12);
  });

  test('migration duration: from entering migration to leaving it; migrations are counted from MigrationStarted', () => {
    const m = projection();
    feed(m, update(300.1, [[1, 1], [1, 1]], [[0, 1, 1, 1], [1, 1, 1, 0]]));
    feed(m, update(313.92, [[1, 1], [1, 1]], [[1, 1, 1, 0], [1, 1, 1, 0]]));
    m.migrationStarted();
    expect(m.result().meanMigrationDurationS).toBeCloseTo(13.82, 10);
    expect(m.result().migrations).toBe(1);
  });

  test('energy is what the run metered, summed; ESV = energy × SLAV', () => {
    const m = projection();
    feed(m, update(300, [[1, 1], [1, 1]], [[0, 1, 1, 0], [1, 1, 1, 0]], 3_600_000));
    feed(m, update(600, [[1, 1], [1, 1]], [[0, 1, 1, 0], [1, 1, 1, 0]], 1_800_000));
    expect(m.result().energyKwh).toBeCloseTo(1.5, 12);
  });

  test('an update that does not describe every host and VM, or goes back in time, is a bug and stops the projection', () => {
    const m = projection();
    expect(() => { feed(m, update(1, [[1, 1]], [])); }).toThrow(/all 2 hosts/);
    feed(m, update(5, [[1, 1], [1, 1]], [[0, 1, 1, 0], [1, 1, 1, 0]]));
    expect(() => { feed(m, update(5, [[1, 1], [1, 1]], [[0, 1, 1, 0], [1, 1, 1, 0]])); }).toThrow(/move forward in time/);
  });

  test('mode neat counts suspensions, timed from the start or the last wake, whatever epoch the event clock starts at', () => {
    const m = new MetricsProjection(planetLabConfig(2, [null, null], 2), 'suspended');
    const epochS = 1_700_000_000;
    m.updated(update(0, [[100, 100], [100, 100]], [[0, 100, 100, 0], [1, 100, 100, 0]]), epochS);
    m.hostPower('host-1', epochS + 600, 'suspended');
    m.hostPower('host-1', epochS + 900, 'woken');
    m.hostPower('host-1', epochS + 1000, 'suspended');
    m.updated(update(1200, [[0, 0], [0, 0]], [[0, 0, 0, 0], [1, 0, 0, 0]]), epochS + 1200);
    const result = m.result();
    expect(result.hostShutdowns).toBe(2);
    expect(result.meanTimeBeforeHostShutdownS).toBeCloseTo((600 + 100) / 2, 12);
  });
});
