/**
 * The generic CSV trace format (traces/README.md): one row per VM per sample,
 * `time_s,vm_id,cpu_percent[,ram_mb]`, on one fixed step.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { AssertionError, assert } from '../src/engine/assert';
import { DataCentreLines, dataCentreLines, DIRECTIVE_PREFIX } from './dataCentre';
import { systemErrorReason, TraceError } from './trace';
import type { Trace, TraceVm } from './trace';

export const MAX_CSV_ROWS = 10_000_000;
/** 10,000,000 rows of about 25 bytes, with room; V8 cannot hold a much longer string. */
const MAX_CSV_BYTES = 500 * 1024 * 1024;
const HEADER = 'time_s,vm_id,cpu_percent';
const HEADER_WITH_RAM = 'time_s,vm_id,cpu_percent,ram_mb';
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Hand-written times such as 0.3 for a step of 0.1 are 3 steps, although 3 × 0.1 is 0.30000000000000004. */
const TIME_TOLERANCE = 1e-9;

interface VmRows {
  readonly id: string;
  readonly firstLine: number;
  readonly ramMb: number | null;
  readonly ramLine: number;
  rows: number;
}

/** The data rows as parsed, before the step is known. */
interface Rows {
  readonly timesS: number[];
  readonly vmIndexes: number[];
  readonly percents: number[];
  readonly lines: number[];
  readonly vms: VmRows[];
  readonly dataCentre: DataCentreLines;
}

function parseDecimal(text: string): number | null {
  if (!DECIMAL.test(text)) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

class RowParser {
  private readonly vmIndexById = new Map<string, number>();
  readonly rows: Rows;

  constructor(private readonly path: string, private readonly columns: number, dataCentre: DataCentreLines) {
    this.rows = { timesS: [], vmIndexes: [], percents: [], lines: [], vms: [], dataCentre };
  }

  private fail(line: number, problem: string): never {
    throw new TraceError(`${this.path}:${line}: ${problem}`);
  }

  private number(text: string, column: string, line: number): number {
    const value = parseDecimal(text);
    if (value === null) this.fail(line, `non-numeric ${column} ${JSON.stringify(text)}`);
    return value;
  }

  add(text: string, line: number): void {
    const fields = text.split(',').map((field) => field.trim());
    if (fields.length !== this.columns) {
      this.fail(line, `expected ${this.columns} columns (${this.columns === 3 ? HEADER : HEADER_WITH_RAM}), found ${fields.length}`);
    }
    const timeS = this.number(fields[0], 'time_s', line);
    if (timeS < 0) this.fail(line, `time_s ${fields[0]} is negative`);
    const id = fields[1];
    if (id === '') this.fail(line, 'empty vm_id');
    const percent = this.number(fields[2], 'cpu_percent', line);
    if (percent < 0 || percent > 100) this.fail(line, `cpu_percent ${fields[2]} is outside 0..100`);
    const ramMb = this.columns === 4 && fields[3] !== '' ? this.number(fields[3], 'ram_mb', line) : null;
    if (ramMb !== null && ramMb <= 0) this.fail(line, `ram_mb ${fields[3]} is not positive`);
    this.rows.timesS.push(timeS);
    this.rows.vmIndexes.push(this.vmIndex(id, ramMb, line));
    // `+ 0` turns a written "-0" into 0, so that equal traces compare equal.
    this.rows.percents.push(percent + 0);
    this.rows.lines.push(line);
  }

  private vmIndex(id: string, ramMb: number | null, line: number): number {
    const known = this.vmIndexById.get(id);
    if (known === undefined) {
      this.vmIndexById.set(id, this.rows.vms.length);
      this.rows.vms.push({ id, firstLine: line, ramMb, ramLine: line, rows: 1 });
      return this.rows.vms.length - 1;
    }
    const vm = this.rows.vms[known];
    if (vm.ramMb !== ramMb) {
      this.fail(line, `ram_mb ${String(ramMb ?? 'empty')} for VM ${JSON.stringify(id)} differs from ${String(vm.ramMb ?? 'empty')} on line ${vm.ramLine}; a VM's RAM is constant`);
    }
    vm.rows++;
    return known;
  }
}

/** Splits the text into header and data rows; comments, blank lines and a byte-order mark are skipped. */
function parseRows(text: string, path: string): Rows {
  let parser: RowParser | null = null;
  const dataCentre = new DataCentreLines(path);
  let start = text.startsWith('\uFEFF') ? 1 : 0;
  let dataRows = 0;
  let headerLine = 0;
  // Every line is at least its newline, so there are no more lines than characters.
  for (let line = 1; start <= text.length && line <= text.length + 1; line++) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline;
    const content = text.slice(start, end > start && text[end - 1] === '\r' ? end - 1 : end);
    start = end + 1;
    const trimmed = content.trim();
    if (trimmed.startsWith(DIRECTIVE_PREFIX)) {
      dataCentre.add(trimmed, line);
      continue;
    }
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (content.includes('"')) throw new TraceError(`${path}:${line}: quoted fields are not supported; remove the '"'`);
    if (parser === null) {
      const header = content.split(',').map((field) => field.trim()).join(',');
      if (header !== HEADER && header !== HEADER_WITH_RAM) {
        throw new TraceError(`${path}:${line}: expected the header "${HEADER}" or "${HEADER_WITH_RAM}", found ${JSON.stringify(content)}`);
      }
      parser = new RowParser(path, header === HEADER ? 3 : 4, dataCentre);
      headerLine = line;
      continue;
    }
    dataRows++;
    if (dataRows > MAX_CSV_ROWS) throw new TraceError(`${path}:${line}: more than ${MAX_CSV_ROWS} rows`);
    parser.add(content, line);
  }
  if (parser === null) throw new TraceError(`${path}:1: no header; expected "${HEADER}" or "${HEADER_WITH_RAM}"`);
  if (dataRows === 0) throw new TraceError(`${path}:${headerLine}: no samples after the header`);
  return parser.rows;
}

/** The step: the smallest positive sample time, which is the smallest difference once the times start at 0. */
function findStep(rows: Rows, path: string): number {
  let first = 0;
  let second = -1;
  for (let i = 0; i < rows.timesS.length; i++) {
    const timeS = rows.timesS[i];
    if (timeS < rows.timesS[first]) first = i;
    if (timeS > 0 && (second === -1 || timeS < rows.timesS[second])) second = i;
  }
  if (rows.timesS[first] !== 0) {
    throw new TraceError(`${path}:${rows.lines[first]}: the earliest time_s is ${rows.timesS[first]}; samples must start at 0`);
  }
  if (second === -1) throw new TraceError(`${path}:${rows.lines[0]}: every sample is at time_s 0; two sample times are needed to find the step`);
  return rows.timesS[second];
}

/** Each row's sample index k, for time k × step. */
function sampleIndexes(rows: Rows, stepS: number, path: string): Int32Array {
  const indexes = new Int32Array(rows.timesS.length);
  for (let i = 0; i < rows.timesS.length; i++) {
    const timeS = rows.timesS[i];
    const k = Math.round(timeS / stepS);
    if (k > MAX_CSV_ROWS || Math.abs(timeS - k * stepS) > TIME_TOLERANCE * Math.max(stepS, timeS)) {
      throw new TraceError(`${path}:${rows.lines[i]}: time_s ${timeS} is not a multiple of the step ${stepS} s (the smallest positive time difference)`);
    }
    indexes[i] = k;
  }
  return indexes;
}

/** Names a sample that some VM lacks; called only when there must be one. */
function missingSample(rows: Rows, indexes: Int32Array, samples: number, stepS: number, path: string): never {
  const vmIndex = rows.vms.findIndex((vm) => vm.rows < samples);
  assert(vmIndex !== -1, 'fewer rows than VMs × samples means some VM has fewer samples');
  const present = new Set<number>();
  for (let i = 0; i < rows.vmIndexes.length; i++) {
    if (rows.vmIndexes[i] === vmIndex) present.add(indexes[i]);
  }
  let k = 0;
  while (k < samples && present.has(k)) k++;
  assert(k < samples, 'a VM with fewer rows than samples misses one');
  const vm = rows.vms[vmIndex];
  throw new TraceError(`${path}:${vm.firstLine}: VM ${JSON.stringify(vm.id)} (first seen on this line) has no sample at time_s ${k * stepS}`);
}

function duplicateSample(rows: Rows, indexes: Int32Array, row: number, stepS: number, path: string): never {
  const first = rows.vmIndexes.findIndex((vm, i) => vm === rows.vmIndexes[row] && indexes[i] === indexes[row]);
  const id = rows.vms[rows.vmIndexes[row]].id;
  throw new TraceError(`${path}:${rows.lines[row]}: duplicate sample for VM ${JSON.stringify(id)} at time_s ${indexes[row] * stepS} (first on line ${rows.lines[first]})`);
}

/** Parses CSV trace content; `path` is only for messages and the trace's name. */
function parseCsvTrace(content: Buffer, path: string): Trace {
  const rows = parseRows(content.toString('utf8'), path);
  const stepS = findStep(rows, path);
  const indexes = sampleIndexes(rows, stepS, path);
  const samples = indexes.reduce((max, k) => Math.max(max, k), 0) + 1;
  if (samples * rows.vms.length > rows.timesS.length) missingSample(rows, indexes, samples, stepS, path);
  const series = rows.vms.map(() => new Float64Array(samples).fill(Number.NaN));
  for (let i = 0; i < indexes.length; i++) {
    const utilization = series[rows.vmIndexes[i]];
    if (!Number.isNaN(utilization[indexes[i]])) duplicateSample(rows, indexes, i, stepS, path);
    utilization[indexes[i]] = rows.percents[i] / 100;
  }
  // Without duplicates, rows = VMs × samples leaves no hole.
  assert(samples * rows.vms.length === rows.timesS.length, 'every (VM, time) filled exactly once');
  const vms: TraceVm[] = rows.vms.map((vm, i) => ({ id: vm.id, utilization: series[i], ramMb: vm.ramMb }));
  const digest = createHash('sha256').update(content).digest('hex');
  const trace: Trace = { name: basename(path, extname(path)), format: 'csv', stepS, vms, digest };
  return rows.dataCentre.empty ? trace : { ...trace, dataCentre: rows.dataCentre.resolve(vms, rows.vms.map((vm) => vm.firstLine)) };
}

/**
 * Reads a CSV trace. VM order is the order of first appearance; the digest is
 * the sha256 of the file's bytes.
 */
export function readCsvTrace(path: string): Trace {
  let content: Buffer;
  try {
    const bytes = statSync(path).size;
    if (bytes > MAX_CSV_BYTES) throw new TraceError(`${path}: ${bytes} bytes is more than the ${MAX_CSV_BYTES} a trace of ${MAX_CSV_ROWS} rows needs`);
    content = readFileSync(path);
  } catch (error) {
    if (error instanceof TraceError) throw error;
    throw new TraceError(`${path}: cannot read the file (${systemErrorReason(error)})`);
  }
  return parseCsvTrace(content, path);
}

/**
 * The shortest decimal percentage p with p / 100 === utilization, so that a
 * written trace reads back bit for bit. Every value a reader produced is some
 * decimal / 100 and has one; an arbitrary fraction may not, as doubles near 100
 * are farther apart than 100 times the doubles near 1.
 */
function percentText(utilization: number): string | null {
  const percent = utilization * 100;
  for (let digits = 1; digits <= 17; digits++) {
    const text = String(Number(percent.toPrecision(digits)));
    if (Number(text) / 100 === utilization) return text;
  }
  return null;
}

/**
 * `utilization` itself when the CSV can carry it exactly, else the nearest
 * value it can (17 significant digits of the percentage, within an ulp or two):
 * for a writer of measured values, which are any double.
 */
export function writableUtilization(utilization: number): number {
  assert(utilization >= 0 && utilization <= 1, () => `a utilization must be in 0..1; got ${utilization}`);
  if (percentText(utilization) !== null) return utilization;
  const percent = utilization * 100;
  // A shorter decimal lands nearer a value whose own percentage reads back; 17 to 12 digits move it by < 1e-10 %.
  for (let digits = 17; digits >= 12; digits--) {
    const candidate = Math.min(1, Number(percent.toPrecision(digits)) / 100);
    if (percentText(candidate) !== null) return candidate;
  }
  throw new AssertionError(`no writable utilization near ${utilization}`);
}

function checkWritable(trace: Trace): number {
  const fail = (problem: string): never => {
    throw new TraceError(`trace ${JSON.stringify(trace.name)}: ${problem}`);
  };
  if (!(Number.isFinite(trace.stepS) && trace.stepS > 0)) fail(`step ${trace.stepS} s is not a positive number`);
  if (trace.vms.length === 0) fail('no VMs');
  const samples = trace.vms[0].utilization.length;
  // The reader finds the step from the first two sample times.
  if (samples < 2) fail(`${samples} sample(s) per VM; the CSV format needs two to carry the step`);
  if (samples * trace.vms.length > MAX_CSV_ROWS) fail(`${samples * trace.vms.length} rows is more than ${MAX_CSV_ROWS}`);
  const ids = new Set<string>();
  for (const vm of trace.vms) {
    if (vm.id === '' || vm.id !== vm.id.trim() || /[,"\r\n]/.test(vm.id) || vm.id.startsWith('#')) {
      fail(`VM id ${JSON.stringify(vm.id)} cannot be written as a CSV field`);
    }
    if (ids.has(vm.id)) fail(`VM id ${JSON.stringify(vm.id)} appears twice`);
    ids.add(vm.id);
    if (vm.utilization.length !== samples) fail(`VM ${JSON.stringify(vm.id)} has ${vm.utilization.length} samples, the first VM ${samples}`);
    if (vm.ramMb !== null && !(Number.isFinite(vm.ramMb) && vm.ramMb > 0)) fail(`VM ${JSON.stringify(vm.id)} has RAM ${vm.ramMb} MB`);
  }
  return samples;
}

/**
 * The CSV text of a trace, time by time and VM by VM within a time, as
 * `writeCsvTrace` writes it: `comments` first (each line a `# ` comment), then
 * the data-centre lines when the trace has a data centre.
 */
export function formatCsvTrace(trace: Trace, comments: readonly string[] = []): string {
  const samples = checkWritable(trace);
  const withRam = trace.vms.some((vm) => vm.ramMb !== null);
  const ramFields = trace.vms.map((vm) => (withRam ? `,${vm.ramMb === null ? '' : String(vm.ramMb)}` : ''));
  const lines = [
    ...comments.map((comment) => `# ${comment.replace(/[\r\n]+/g, ' ')}`),
    ...(trace.dataCentre === undefined ? [] : dataCentreLines(trace.dataCentre, trace.vms)),
    withRam ? HEADER_WITH_RAM : HEADER,
  ];
  for (let k = 0; k < samples; k++) {
    const timeText = String(k * trace.stepS);
    trace.vms.forEach((vm, i) => {
      const utilization = vm.utilization[k];
      const percent = utilization >= 0 && utilization <= 1 ? percentText(utilization) : null;
      if (percent === null) {
        throw new TraceError(`trace ${JSON.stringify(trace.name)}: VM ${JSON.stringify(vm.id)} sample ${k} (${utilization}) is not a percentage in 0..100 that reads back exactly`);
      }
      lines.push(`${timeText},${vm.id},${percent}${ramFields[i]}`);
    });
  }
  return lines.join('\n') + '\n';
}

/** Writes a trace that `readCsvTrace` reads back equal, except for its format, name and digest. */
export function writeCsvTrace(path: string, trace: Trace, comments: readonly string[] = []): void {
  writeFileSync(path, formatCsvTrace(trace, comments));
}
