import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatCsvTrace, readCsvTrace, writeCsvTrace } from '../../traces/csv';
import { TraceError } from '../../traces/trace';
import type { Trace } from '../../traces/trace';

let base: string;
let count = 0;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'neat-csv-'));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

function file(content: string): string {
  const path = join(base, `trace${count++}.csv`);
  writeFileSync(path, content);
  return path;
}

function series(percents: readonly number[]): Float64Array {
  return Float64Array.from(percents, (p) => p / 100);
}

/** Everything a round trip keeps. */
function content(trace: Trace): Pick<Trace, 'stepS' | 'vms'> {
  return { stepS: trace.stepS, vms: trace.vms };
}

describe('readCsvTrace', () => {
  test('reads the documented example: VMs in order of first appearance, percent / 100, RAM per VM', () => {
    const path = file([
      '# two VMs, a 300 s step',
      'time_s,vm_id,cpu_percent,ram_mb',
      '0,web-1,12.5,870',
      '0,db-1,0,1740',
      '300,web-1,40,870',
      '300,db-1,3.25,1740',
      '',
    ].join('\n'));
    const trace = readCsvTrace(path);
    expect(trace.name).toMatch(/^trace\d+$/);
    expect(trace.format).toBe('csv');
    expect(content(trace)).toEqual({
      stepS: 300,
      vms: [
        { id: 'web-1', utilization: series([12.5, 40]), ramMb: 870 },
        { id: 'db-1', utilization: series([0, 3.25]), ramMb: 1740 },
      ],
    });
    expect(trace.digest).toBe(createHash('sha256').update(readFileSync(path)).digest('hex'));
  });

  test('rows in any order, comments, blank lines, CRLF, spaces and a byte-order mark', () => {
    const path = file('\uFEFF# comment\r\n\r\n time_s , vm_id , cpu_percent \r\n600,a,3\r\n  # another\r\n0,a,1\r\n300,a,2\r\n300,b,5\r\n0,b,4\r\n600,b,6');
    const trace = readCsvTrace(path);
    expect(content(trace)).toEqual({
      stepS: 300,
      vms: [
        { id: 'a', utilization: series([1, 2, 3]), ramMb: null },
        { id: 'b', utilization: series([4, 5, 6]), ramMb: null },
      ],
    });
  });

  test('a decimal step: hand-written multiples are accepted although 3 × 0.1 is not 0.3', () => {
    const trace = readCsvTrace(file('time_s,vm_id,cpu_percent\n0,a,1\n0.1,a,2\n0.2,a,3\n0.3,a,4\n0.7,a,8\n0.4,a,5\n0.5,a,6\n0.6,a,7\n'));
    expect(trace.stepS).toBe(0.1);
    expect(trace.vms[0].utilization).toEqual(series([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  test('an empty ram_mb is an unknown RAM, which must be unknown on every row of the VM', () => {
    const trace = readCsvTrace(file('time_s,vm_id,cpu_percent,ram_mb\n0,a,1,\n0,b,1,613\n300,a,2,\n300,b,2,613\n'));
    expect(trace.vms.map((vm) => vm.ramMb)).toEqual([null, 613]);
  });

  const header = 'time_s,vm_id,cpu_percent';
  const errors: readonly [string, string, string][] = [
    ['an empty file', '', ':1: no header'],
    ['only comments', '# nothing\n\n', ':1: no header'],
    ['a wrong header', 'time,vm,cpu\n0,a,1\n', ':1: expected the header "time_s,vm_id,cpu_percent" or "time_s,vm_id,cpu_percent,ram_mb", found "time,vm,cpu"'],
    ['a header in another order', 'vm_id,time_s,cpu_percent\n', ':1: expected the header'],
    ['a header without rows', `# first\n${header}\n# none\n`, ':2: no samples after the header'],
    ['too few columns', `${header}\n0,a,1\n300,a\n`, ':3: expected 3 columns (time_s,vm_id,cpu_percent), found 2'],
    ['too many columns', `${header}\n0,a,1,870\n`, ':2: expected 3 columns'],
    ['a quoted field', `${header}\n0,"a",1\n`, ':2: quoted fields are not supported'],
    ['a non-numeric time', `${header}\nzero,a,1\n`, ':2: non-numeric time_s "zero"'],
    ['a hexadecimal time', `${header}\n0x10,a,1\n`, ':2: non-numeric time_s "0x10"'],
    ['an infinite time', `${header}\n1e999,a,1\n`, ':2: non-numeric time_s "1e999"'],
    ['a negative time', `${header}\n-300,a,1\n`, ':2: time_s -300 is negative'],
    ['an empty vm_id', `${header}\n0, ,1\n`, ':2: empty vm_id'],
    ['a non-numeric percentage', `${header}\n0,a,12%\n`, ':2: non-numeric cpu_percent "12%"'],
    ['an empty percentage', `${header}\n0,a,\n`, ':2: non-numeric cpu_percent ""'],
    ['a percentage above 100', `${header}\n0,a,1\n300,a,100.5\n`, ':3: cpu_percent 100.5 is outside 0..100'],
    ['a negative percentage', `${header}\n0,a,-1\n`, ':2: cpu_percent -1 is outside 0..100'],
    ['a non-numeric RAM', `${header},ram_mb\n0,a,1,lots\n`, ':2: non-numeric ram_mb "lots"'],
    ['a zero RAM', `${header},ram_mb\n0,a,1,0\n`, ':2: ram_mb 0 is not positive'],
    ['a RAM that changes', `${header},ram_mb\n0,a,1,870\n0,b,1,613\n300,a,1,1740\n`, ':4: ram_mb 1740 for VM "a" differs from 870 on line 2'],
    ['a RAM that goes missing', `${header},ram_mb\n0,a,1,870\n300,a,1,\n`, ':3: ram_mb empty for VM "a" differs from 870 on line 2'],
    ['a duplicate sample', `${header}\n0,a,1\n300,a,2\n0,a,3\n`, ':4: duplicate sample for VM "a" at time_s 0 (first on line 2)'],
    ['a missing sample', `${header}\n0,a,1\n0,b,1\n300,a,2\n600,a,3\n600,b,3\n`, ':3: VM "b" (first seen on this line) has no sample at time_s 300'],
    ['a VM that stops early', `${header}\n0,a,1\n0,b,1\n300,a,2\n300,b,2\n600,a,3\n`, ':3: VM "b" (first seen on this line) has no sample at time_s 600'],
    ['a time off the step', `${header}\n0,a,1\n300,a,2\n450,a,3\n`, ':4: time_s 450 is not a multiple of the step 300 s'],
    ['samples that do not start at 0', `${header}\n300,a,1\n600,a,2\n`, ':2: the earliest time_s is 300; samples must start at 0'],
    ['a single sample time', `${header}\n0,a,1\n0,b,2\n`, ':2: every sample is at time_s 0; two sample times are needed to find the step'],
  ];
  test.each(errors)('%s is an error naming the file and line', (_, text, message) => {
    const path = file(text);
    expect(() => readCsvTrace(path)).toThrow(TraceError);
    expect(() => readCsvTrace(path)).toThrow(`${path}${message}`);
  });

  test('a missing file cannot be read', () => {
    const path = join(base, 'absent.csv');
    expect(() => readCsvTrace(path)).toThrow(`${path}: cannot read the file (ENOENT)`);
  });
});

describe('writeCsvTrace', () => {
  const vmId = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/);
  /** A percentage with up to 3 decimals, as a reader could have produced it. */
  const percent = fc.integer({ min: 0, max: 100_000 }).map((thousandths) => thousandths / 1000);
  const ramMb = fc.option(fc.oneof(fc.constantFrom(613, 870, 1740), fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0.5, max: 1e6, noNaN: true })));
  const stepS = fc.oneof(fc.integer({ min: 1, max: 86_400 }), fc.constantFrom(0.1, 0.25, 2.5, 7.3));
  const trace: fc.Arbitrary<Trace> = fc.integer({ min: 2, max: 12 }).chain((samples) => fc.record({
    name: fc.constant('random'),
    format: fc.constant('csv' as const),
    stepS,
    vms: fc.uniqueArray(vmId, { minLength: 1, maxLength: 5 }).chain((ids) => fc.tuple(...ids.map((id) => fc.record({
      id: fc.constant(id),
      utilization: fc.array(percent, { minLength: samples, maxLength: samples }).map(series),
      ramMb,
    })))),
    digest: fc.constant(''),
  }));

  test('property: write then read gives the same step, VMs and values, bit for bit', () => {
    fc.assert(fc.property(trace, (original) => {
      const path = join(base, 'round-trip.csv');
      writeCsvTrace(path, original);
      const copy = readCsvTrace(path);
      expect(content(copy)).toEqual(content(original));
      expect(copy.digest).toBe(createHash('sha256').update(formatCsvTrace(original)).digest('hex'));
    }), { numRuns: 200 });
  });

  test('writes the documented layout: time-major rows, shortest percentages, RAM when any VM has it', () => {
    const text = formatCsvTrace({
      name: 't', format: 'csv', stepS: 300, digest: '',
      vms: [{ id: 'a', utilization: series([7, 12.5]), ramMb: 870 }, { id: 'b', utilization: series([0, 100]), ramMb: null }],
    });
    expect(text).toBe('time_s,vm_id,cpu_percent,ram_mb\n0,a,7,870\n0,b,0,\n300,a,12.5,870\n300,b,100,\n');
  });

  const unwritable: readonly [string, Partial<Trace>, string][] = [
    ['no VMs', { vms: [] }, 'no VMs'],
    ['a single sample', { vms: [{ id: 'a', utilization: series([1]), ramMb: null }] }, '1 sample(s) per VM'],
    ['a zero step', { stepS: 0 }, 'step 0 s is not a positive number'],
    ['an id with a comma', { vms: [{ id: 'a,b', utilization: series([1, 2]), ramMb: null }] }, 'VM id "a,b" cannot be written'],
    ['an id like a comment', { vms: [{ id: '#a', utilization: series([1, 2]), ramMb: null }] }, 'VM id "#a" cannot be written'],
    ['a repeated id', { vms: [{ id: 'a', utilization: series([1, 2]), ramMb: null }, { id: 'a', utilization: series([1, 2]), ramMb: null }] }, 'VM id "a" appears twice'],
    ['series of different lengths', { vms: [{ id: 'a', utilization: series([1, 2]), ramMb: null }, { id: 'b', utilization: series([1, 2, 3]), ramMb: null }] }, 'VM "b" has 3 samples'],
    ['a negative RAM', { vms: [{ id: 'a', utilization: series([1, 2]), ramMb: -1 }] }, 'VM "a" has RAM -1 MB'],
    ['a value above 1', { vms: [{ id: 'a', utilization: Float64Array.from([0.5, 1.5]), ramMb: null }] }, 'VM "a" sample 1 (1.5) is not a percentage'],
    // Doubles near 70 are farther apart than 100 × the doubles near 0.7: no percentage divides to this one.
    ['a fraction no percentage reaches', { vms: [{ id: 'a', utilization: Float64Array.from([0.7000000000000001, 0]), ramMb: null }] }, 'VM "a" sample 0 (0.7000000000000001) is not a percentage in 0..100 that reads back exactly'],
  ];
  test.each(unwritable)('%s cannot be written', (_, change, message) => {
    const original: Trace = { name: 'bad', format: 'csv', stepS: 300, digest: '', vms: [{ id: 'a', utilization: series([1, 2]), ramMb: null }], ...change };
    expect(() => formatCsvTrace(original)).toThrow(TraceError);
    expect(() => formatCsvTrace(original)).toThrow(`trace "bad": ${message}`);
  });
});
