import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyseSweepFile, sweepDocument } from '../../src/report/sweep';
import type { ChartBlock } from '../../src/report/document';

let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-report-sweep-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function line(day: string, policy: string, energyKwh: number, slav: number, migrations: number): string {
  return JSON.stringify({ day, policy, energyKwh, migrations, slatah: 0.05, pdm: slav / 0.05, slav, esv: energyKwh * slav,
    overallSlaViolation: 0, mode: 'cloudsim', seed: '1', wallMs: 10 });
}

function write(name: string, lines: readonly string[]): string {
  const path = join(directory, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

describe('the analysis of a sweep\'s JSON lines', () => {
  test('runs by day and policy, failures apart, and per policy the mean ± sample sd, by hand', () => {
    const path = write('sweep.jsonl', [
      line('20110306', 'thr-mmt-0.8', 10, 2e-5, 100),
      line('20110303', 'thr-mmt-0.8', 14, 4e-5, 120),
      line('20110303', 'lr-mmt-1.2', 8, 1e-5, 50),
      '',
      JSON.stringify({ day: '20110306', policy: 'lr-mmt-1.2', error: 'worker died' }),
    ]);
    const analysis = analyseSweepFile(path, 'sweep.jsonl');
    expect(analysis.policies).toEqual(['lr-mmt-1.2', 'thr-mmt-0.8']);
    expect(analysis.days).toEqual(['20110303', '20110306']);
    expect(analysis.runs).toHaveLength(3);
    expect(analysis.failed).toEqual([{ day: '20110306', policy: 'lr-mmt-1.2', error: 'worker died' }]);
    const [lr, thr] = analysis.summaries;
    // thr: energy 10 and 14 → mean 12, sd √((4 + 4) / 1) = 2√2; migrations 100 and 120 → 110 ± 10√2.
    expect(thr).toMatchObject({ policy: 'thr-mmt-0.8', days: 2, failed: 0 });
    expect(thr.metrics!.energyKwh.mean).toBe(12);
    expect(thr.metrics!.energyKwh.sd).toBeCloseTo(2 * Math.SQRT2, 12);
    expect(thr.metrics!.migrations.sd).toBeCloseTo(10 * Math.SQRT2, 12);
    expect(lr).toMatchObject({ policy: 'lr-mmt-1.2', days: 1, failed: 1 });
    expect(lr.metrics!.energyKwh).toEqual({ mean: 8, sd: null });
    expect(analysis.provenance).toMatchObject({
      input: 'sweep.jsonl', inputSha256: createHash('sha256').update(readFileSync(path)).digest('hex'), logVersion: null, events: 4,
    });
  });

  test('the document: a scatter with a point per successful run, per-day bars by policy, the summary and the runs', () => {
    const path = write('doc.jsonl', [line('d1', 'a', 3, 1e-5, 1), line('d2', 'a', 1, 3e-5, 2), line('d1', 'b', 2, 2e-5, 3)]);
    const document = sweepDocument(analyseSweepFile(path, 'doc.jsonl'));
    const charts = document.sections.flatMap((s) => s.blocks).filter((b): b is ChartBlock => b.kind === 'chart');
    const scatter = charts.find((c) => c.id === 'energy-slav')!;
    // Sorted by energy: 1 (a, d2), 2 (b, d1), 3 (a, d1); each policy's series holds only its own runs.
    expect(scatter.x.values).toEqual([1, 2, 3]);
    expect(scatter.series.map((s) => [s.label, s.values])).toEqual([['a', [3e-5, null, 1e-5]], ['b', [null, 2e-5, null]]]);
    const energy = charts.find((c) => c.id === 'per-day-energyKwh')!;
    expect(energy.x.categories).toEqual(['d1', 'd2']);
    expect(energy.series.map((s) => s.values)).toEqual([[3, 1], [2, null]]);
    expect(document.title).toBe('Sweep: 2 policies × 2 days');
  });

  test('a malformed line is an error naming the file and line', () => {
    const cases: [string[], RegExp][] = [
      [[line('d1', 'a', 1, 1, 1), '{"day": "d2", "policy": "a", "energyKwh": 1'], /bad\.jsonl:2: not JSON/],
      [[line('d1', 'a', 1, 1, 1), '', '[1, 2]'], /bad\.jsonl:3: not a JSON object/],
      [['{"policy": "a"}'], /bad\.jsonl:1: no "day"/],
      [['{"day": "d1", "policy": "a", "energyKwh": "many"}'], /bad\.jsonl:1: "energyKwh" must be a number; got "many"/],
      [[line('d1', 'a', 1, 1, 1), line('d1', 'a', 2, 1, 1)], /bad\.jsonl:2: a second run of a on d1/],
      [['', '  '], /bad\.jsonl: no runs/],
    ];
    for (const [lines, message] of cases) {
      const path = write('bad.jsonl', lines);
      expect(() => analyseSweepFile(path, 'bad.jsonl')).toThrow(message);
    }
  });
});
