/**
 * `exportTrace`: given a log, then the trace it exports, with every value
 * worked out by hand from the events.
 */
import fc from 'fast-check';
import type { NewEvent } from '../../src/events/envelope';
import { MemoryEventLog } from '../../src/log/memory';
import { NO_STREAM } from '../../src/log/port';
import { exportTrace } from '../../sim/export';
import type { TraceExportOptions } from '../../sim/export';
import { formatCsvTrace, writableUtilization } from '../../traces/csv';
import { TraceError } from '../../traces/trace';
import { TestEvents } from '../support/events';

const OPTIONS: TraceExportOptions = { stepS: null, vcpuMhz: 2000, powerModel: () => 'neat-testbed-linear', migrationDegradation: 0.1 };

async function logOf(events: readonly NewEvent[]): Promise<MemoryEventLog> {
  const log = new MemoryEventLog();
  let revision = NO_STREAM;
  for (const event of events) {
    await log.append('test', [event], revision);
    revision += 1;
  }
  return log;
}

/** Two hosts of 2 cores × 2000 MHz; VM a (1 vCPU: 2000 MHz) on h1, VM b (recorded 1000 MHz) on h2, VM c unplaced. */
function inventory(events: TestEvents): NewEvent {
  return events.make('InventoryObserved', {
    hosts: [
      { host: 'h2', cpuMhz: 4000, ramMb: 8192, state: 'up', cores: 2 },
      { host: 'h1', cpuMhz: 4000, ramMb: 8192, state: 'up', cores: 2 },
    ],
    vms: [
      { vmId: 'a', host: 'h1', ramMb: 1024, vcpus: 1 },
      { vmId: 'b', host: 'h2', ramMb: 2048, vcpus: 1, cpuMhz: 1000 },
      { vmId: 'c', host: null, ramMb: 512, vcpus: 1 },
    ],
  });
}

function at(events: TestEvents, timeS: number, event: (events: TestEvents) => NewEvent): NewEvent {
  events.timeMs = timeS * 1000;
  return event(events);
}

test('samples on the median step, held to each point, backfilled before the first, shares of each VM\'s capacity', async () => {
  const e = new TestEvents();
  const log = await logOf([
    at(e, 10, inventory),
    // h1 samples at 100, 400, 700, 1000; h2 at 130, 430, 1030 (missed one).
    at(e, 100, (x) => x.sample('h1', { a: 500 })),
    at(e, 130, (x) => x.sample('h2', { b: 250 })),
    at(e, 400, (x) => x.sample('h1', { a: 1000 })),
    at(e, 430, (x) => x.sample('h2', { b: 500 })),
    at(e, 700, (x) => x.sample('h1', { a: 3000 })),
    at(e, 1000, (x) => x.sample('h1', { a: 0 })),
    at(e, 1030, (x) => x.sample('h2', { b: 1000 })),
  ]);
  const { trace, notes, samples } = await exportTrace(log, 'x', OPTIONS);
  expect(samples).toBe(7);
  // Gaps 300, 300, 300, 300, 600: median 300. The first sample (100) moved back to the inventory (10): t0 = 100; last 1030 → 4 points.
  expect(trace.stepS).toBe(300);
  expect(notes[0]).toBe("t = 0 is 100 s of the log's clock; 4 points of 300 s; 2 VMs, 7 samples");
  expect(notes).toContain('1 VM without a host in the first inventory: left out');
  expect(notes).toContain('1 sample above the VM\'s capacity: cut to 100 %');
  expect(trace.vms.map((vm) => vm.id)).toEqual(['a', 'b']);
  // a: at 100 → 500/2000, 400 → 1000/2000, 700 → 3000/2000 cut to 1, 1000 → 0.
  expect([...trace.vms[0].utilization]).toEqual([0.25, 0.5, 1, 0]);
  // b: at 100 nothing yet → its first (250/1000), 400 → still 0.25 (the 430 sample is later), 700 → 0.5, 1000 → 0.5.
  expect([...trace.vms[1].utilization]).toEqual([0.25, 0.25, 0.5, 0.5]);
  expect(trace.vms.map((vm) => vm.ramMb)).toEqual([1024, 2048]);
  expect(trace.dataCentre).toEqual({
    hosts: [
      { name: 'h2', cores: 2, coreMhz: 2000, ramMb: 8192, power: 'neat-testbed-linear' },
      { name: 'h1', cores: 2, coreMhz: 2000, ramMb: 8192, power: 'neat-testbed-linear' },
    ],
    vms: [{ cpuMhz: 2000, host: 'h1' }, { cpuMhz: 1000, host: 'h2' }],
  });
});

test('a sample taken while its VM migrates out is raised by the CPU the migration takes; a deleted VM is idle from then on', async () => {
  const e = new TestEvents();
  const migration = { migrationId: 'm1', vmId: 'a', sourceHost: 'h1', targetHost: 'h2' };
  const log = await logOf([
    at(e, 0, inventory),
    at(e, 300, (x) => x.sample('h1', { a: 900 })),
    at(e, 300, (x) => x.sample('h2', { b: 100 })),
    at(e, 301, (x) => x.make('MigrationStarted', { ...migration, requestId: null, attempt: 1 })),
    at(e, 600, (x) => x.sample('h1', { a: 900 })),
    at(e, 600, (x) => x.sample('h2', { b: 100 })),
    at(e, 620, (x) => x.make('MigrationCompleted', { ...migration, attempt: 1, durationMs: 319_000 })),
    at(e, 700, (x) => x.make('InventoryObserved', {
      hosts: [{ host: 'h1', cpuMhz: 4000, ramMb: 8192, state: 'up' }, { host: 'h2', cpuMhz: 4000, ramMb: 8192, state: 'up' }],
      vms: [{ vmId: 'a', host: 'h2', ramMb: 1024, vcpus: 1 }, { vmId: 'd', host: 'h2', ramMb: 512, vcpus: 1 }],
    })),
    at(e, 900, (x) => x.sample('h2', { a: 900 })),
    at(e, 900, (x) => x.sample('h2', { b: 100 })),
  ]);
  const { trace, notes } = await exportTrace(log, 'x', OPTIONS);
  expect(trace.vms[0].utilization[2]).toBe(writableUtilization(900 / 0.9 / 2000));
  expect([...trace.vms[0].utilization]).toEqual([0.45, 0.45, writableUtilization(900 / 0.9 / 2000), 0.45]);
  // b left the inventory at 700: its point at 900 is 0 although a sample names it (a stale agent's).
  expect([...trace.vms[1].utilization]).toEqual([0.1, 0.1, 0.1, 0]);
  expect(notes).toEqual(expect.arrayContaining([
    '1 VM that appeared after the first inventory: left out',
    '1 VM that left the inventory: idle (0 %) from then on',
    '1 sample taken during a migration out: raised by the migration\'s CPU loss',
  ]));
});

test('a log that cannot be exported says why', async () => {
  const e = new TestEvents();
  await expect(exportTrace(await logOf([]), 'x', OPTIONS)).rejects.toThrow(new TraceError('memory holds no events'));
  await expect(exportTrace(await logOf([at(e, 0, (x) => x.sample('h1', { a: 1 }))]), 'x', OPTIONS))
    .rejects.toThrow('memory has no InventoryObserved event: it records no data centre to export');
  await expect(exportTrace(await logOf([at(e, 0, inventory)]), 'x', OPTIONS)).rejects.toThrow('memory has no sample of any VM of its first inventory');
  await expect(exportTrace(await logOf([at(e, 0, inventory), at(e, 10, (x) => x.sample('h1', { a: 1 }))]), 'x', OPTIONS))
    .rejects.toThrow('no host with two samples at different times');
  await expect(exportTrace(await logOf([at(e, 0, inventory), at(e, 10, (x) => x.sample('h1', { a: 1 }))]), 'x', { ...OPTIONS, stepS: 300 }))
    .rejects.toThrow('the samples span less than one step of 300 s; a trace needs two points');
});

test('every share in 0..1 has a writable value within 1e-12 of it, and the CSV carries that value exactly', () => {
  fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), (share) => {
    const writable = writableUtilization(share);
    expect(Math.abs(writable - share)).toBeLessThan(1e-12);
    const text = formatCsvTrace({ name: 'x', format: 'csv', stepS: 1, digest: '', vms: [{ id: 'v', utilization: Float64Array.of(writable, writable), ramMb: null }] });
    const percent = Number(text.split('\n')[1].split(',')[2]);
    expect(percent / 100).toBe(writable);
  }), { numRuns: 2000 });
});
