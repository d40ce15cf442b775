import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCsvTrace } from '../../traces/csv';
import { SAMPLE_OPTIONS, writeSampleTrace } from '../../traces/generateSample';
import { generateSyntheticTrace } from '../../traces/synthetic';
import type { Trace } from '../../traces/trace';

const ROOT = join(__dirname, '..', '..', '..');
const SAMPLE = join(ROOT, 'traces', 'sample', 'planetlab-like-day.csv');

function values(trace: Trace): number[] {
  return trace.vms.flatMap((vm) => Array.from(vm.utilization));
}

describe('generateSyntheticTrace', () => {
  const options = { seed: 'test', vms: 40, steps: 288, stepS: 300 };

  test('the same seed gives the same trace, another seed another one', () => {
    const trace = generateSyntheticTrace(options);
    expect(generateSyntheticTrace(options)).toEqual(trace);
    const other = generateSyntheticTrace({ ...options, seed: 'other' });
    expect(values(other)).not.toEqual(values(trace));
    expect(other.digest).not.toBe(trace.digest);
    expect(generateSyntheticTrace({ ...options, seed: 7 })).toEqual(generateSyntheticTrace({ ...options, seed: '7' }));
  });

  test('shape: format, name, step, ids in order, integer percentages, RAM from CloudSim\'s VM types', () => {
    const trace = generateSyntheticTrace({ ...options, vms: 12, steps: 5, stepS: 60, name: 'small' });
    expect(trace.name).toBe('small');
    expect(generateSyntheticTrace(options).name).toBe('synthetic-test');
    expect(trace.format).toBe('csv');
    expect(trace.stepS).toBe(60);
    expect(trace.vms.map((vm) => vm.id)).toEqual(Array.from({ length: 12 }, (_, i) => `vm-${String(i).padStart(2, '0')}`));
    for (const vm of trace.vms) {
      expect(vm.utilization).toHaveLength(5);
      expect([613, 870, 1740]).toContain(vm.ramMb);
      for (const u of vm.utilization) expect(Number.isInteger(Math.round(u * 100)) && Math.round(u * 100) / 100 === u).toBe(true);
    }
  });

  test('statistics like PlanetLab\'s: 10-20 % zeros, a mean of 8-18 %, bursts above 60 %, nothing above 99 %', () => {
    for (const seed of ['a', 'b', 'c', 'neat-sample']) {
      const all = values(generateSyntheticTrace({ ...options, seed }));
      const zeros = all.filter((u) => u === 0).length / all.length;
      const mean = all.reduce((sum, u) => sum + u, 0) / all.length;
      expect(zeros).toBeGreaterThanOrEqual(0.1);
      expect(zeros).toBeLessThanOrEqual(0.2);
      expect(mean).toBeGreaterThanOrEqual(0.08);
      expect(mean).toBeLessThanOrEqual(0.18);
      expect(all.some((u) => u >= 0.6)).toBe(true);
      expect(Math.max(...all)).toBeLessThanOrEqual(0.99);
      expect(Math.min(...all)).toBe(0);
    }
  });

  test('the RAM choice exercises every size', () => {
    expect(new Set(generateSyntheticTrace(options).vms.map((vm) => vm.ramMb))).toEqual(new Set([613, 870, 1740]));
  });

  test('refuses options it cannot honour', () => {
    expect(() => generateSyntheticTrace({ ...options, vms: 0 })).toThrow('vms must be a positive integer');
    expect(() => generateSyntheticTrace({ ...options, steps: 1 })).toThrow('steps must be an integer of at least 2');
    expect(() => generateSyntheticTrace({ ...options, stepS: -1 })).toThrow('stepS must be a positive number');
    expect(() => generateSyntheticTrace({ ...options, vms: 100_000, steps: 101 })).toThrow('vms × steps must be at most 10000000');
  });
});

describe('the shipped sample trace', () => {
  let directory: string;
  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'neat-sample-'));
  });
  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  test('is byte for byte what writeSampleTrace writes', () => {
    const fresh = join(directory, 'sample.csv');
    writeSampleTrace(fresh);
    const shipped = readFileSync(SAMPLE);
    expect(shipped.equals(readFileSync(fresh))).toBe(true);
    expect(shipped.length).toBeLessThan(1024 * 1024);
  });

  test('reads back as the generated trace, with the same digest', () => {
    const generated = generateSyntheticTrace(SAMPLE_OPTIONS);
    const read = readCsvTrace(SAMPLE);
    expect(read.name).toBe('planetlab-like-day');
    expect(read.digest).toBe(generated.digest);
    expect({ stepS: read.stepS, vms: read.vms }).toEqual({ stepS: generated.stepS, vms: generated.vms });
    expect(read.vms).toHaveLength(60);
    expect(read.vms[0].utilization).toHaveLength(288);
  });
});
