import { alignCurves, compareDocument } from '../../src/report/compareReport';
import type { ComparedRun, CompareCurve } from '../../src/report/compareReport';
import type { Block, ChartBlock, ReportDocument, TableBlock } from '../../src/report/document';
import type { ProductionAnalysis } from '../../src/report/model';
import { productionDocument } from '../../src/report/productionReport';
import { onGrid } from '../../src/report/simulationReport';

function blocks(document: ReportDocument): Block[] {
  return document.sections.flatMap((section) => section.blocks);
}

function chart(document: ReportDocument, id: string): ChartBlock {
  return blocks(document).find((b): b is ChartBlock => b.kind === 'chart' && b.id === id)!;
}

function table(document: ReportDocument, title: RegExp): TableBlock {
  return blocks(document).find((b): b is TableBlock => b.kind === 'table' && title.test(b.title))!;
}

/** Four 60 s buckets from t = 1000 s. */
function analysis(): ProductionAnalysis {
  const zeros = [0, 0, 0, 0];
  return {
    metrics: {
      energyKwh: 1, migrations: 5, migrationsCompleted: 4, migrationsFailed: 1, migrationsAbandoned: 0, slatah: 0, pdm: 0, slav: 0, esv: 0,
      hostShutdowns: 0, meanTimeBeforeHostShutdownS: 0, meanMigrationDurationS: 0, hosts: 2, vms: 3, observedS: 240, powerModel: 'neat-testbed-linear',
    },
    buckets: { startS: 1000, bucketS: 60, count: 4 },
    series: {
      requests: { completed: [1, 0, 2, 0], partial: zeros, failed: zeros, superseded: zeros, rejected: zeros, recorded: zeros },
      nothingToDo: { 'no-capacity': [0, 1, 0, 0] },
      migrationsStarted: zeros, migrationsCompleted: zeros, migrationsFailed: zeros, suspends: zeros, wakes: zeros, suspendFailures: zeros,
      wakeFailures: zeros, hostsActive: [2, 2, 1, 1], hostsSuspended: [0, 0, 1, 1], powerW: [500, 500, 270, 270], energyKwh: [0.1, 0.2, 0.3, 0.4],
    },
    migrationDurations: { endS: [1010, 1020, 1100, 1200], durationS: [10, 20, 40, 12] },
    migrationFailures: [{ timeS: 1090, vmId: 'vm-1', sourceHost: 'a', targetHost: 'b', error: 'nova: error' }],
    // Bucket 0: 5 and 1 ms; bucket 2: 7, 3 and 4 ms; a decision at 1240 s falls in the last bucket.
    decisionLatency: { timeS: [1001, 1059, 1130, 1150, 1170, 1240], latencyMs: [5, 1, 7, 3, 4, 9] },
  };
}

const PROVENANCE = { input: '/var/lib/neat/events.sqlite', inputSha256: 'f'.repeat(64), reportVersion: '0.1.0', logVersion: null, events: 99 };

describe('the production document', () => {
  test('times from the first bucket; requests by outcome and by NothingToDo reason; latency per bucket, by hand', () => {
    const document = productionDocument(analysis(), PROVENANCE);
    expect(document.title).toBe('Global manager: events.sqlite');
    const requests = chart(document, 'requests');
    expect(requests.x.values).toEqual([0, 60, 120, 180]);
    expect(requests.series.map((s) => s.label)).toEqual(['completed', 'partial', 'recorded (manual, off)', 'superseded', 'failed', 'rejected', 'nothing to do: no-capacity']);
    const latency = chart(document, 'latency');
    expect(latency.series.map((s) => s.values)).toEqual([[3, null, 4, 9], [5, null, 7, 9]]);
  });

  test('migration durations: 30 bins from the shortest to the longest, bars at their middles; the failures in a table', () => {
    const document = productionDocument(analysis(), PROVENANCE);
    const histogram = chart(document, 'migration-durations');
    // 10 to 40 s in 30 bins of 1 s: 10 → bin 0, 12 → bin 2, 20 → bin 10, 40 → the last bin.
    expect(histogram.x.values).toHaveLength(30);
    expect(histogram.x.values[0]).toBe(10.5);
    const counts = histogram.series[0].values;
    expect([counts[0], counts[2], counts[10], counts[29]]).toEqual([1, 1, 1, 1]);
    expect(counts.reduce<number>((a, b) => a + (b ?? 0), 0)).toBe(4);
    expect(table(document, /^Failed and abandoned/).rows).toEqual([[{ text: '90.0', value: 90 }, 'vm-1', 'a', 'b', 'nova: error']]);
  });
});

function run(label: string, energyKwh: number, curve: CompareCurve): ComparedRun {
  const format = (v: number): string => `${v.toFixed(2)} kWh`;
  return {
    label, description: label, provenance: { ...PROVENANCE, input: label },
    metrics: [{ key: 'energyKwh', label: 'energy', cell: { text: format(energyKwh), value: energyKwh }, format }], curves: [curve],
  };
}

describe('two runs compared', () => {
  const curveA: CompareCurve = { id: 'power', title: 'Power', yLabel: 'W', aggregate: 'mean', timeS: [0, 300, 600], values: [1, 2, 3] };
  const curveB: CompareCurve = { ...curveA, timeS: [0, 150, 600, 900], values: [10, 20, 30, 40] };

  test('curves on the union of their times, each empty where it has no value', () => {
    expect(alignCurves(curveA, curveB)).toEqual({ x: [0, 150, 300, 600, 900], a: [1, null, 2, 3, null], b: [10, 20, null, 30, 40] });
  });

  test('the metrics table: both values, b − a written as the metric is, and b relative to a', () => {
    const document = compareDocument(run('a: x', 4, curveA), run('b: y', 3, curveB));
    expect(table(document, /^Metrics$/).rows).toEqual([
      ['energy', { text: '4.00 kWh', value: 4 }, { text: '3.00 kWh', value: 3 }, { text: '−1.00 kWh', value: -1 }, '−25.0 %'],
    ]);
    expect(chart(document, 'compare-power').series.map((s) => s.label)).toEqual(['a: x', 'b: y']);
  });

  test('per-update counts summed per scheduling interval', () => {
    expect(onGrid([300.1, 309.9, 314, 600.1, 1500.1], [2, 1, 1, 5, 3], 300)).toEqual({ x: [300, 600, 1500], values: [4, 5, 3] });
  });
});
