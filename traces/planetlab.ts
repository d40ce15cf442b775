/**
 * Reads a PlanetLab day as CloudSim's PlanetLab examples do: one file per VM,
 * 288 integer percentages at 300 s, and a 289th point equal to the 288th.
 */
import { createHash } from 'node:crypto';
import { closeSync, opendirSync, openSync, readSync, statSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { systemErrorReason as reason, TraceError } from './trace';
import type { Trace, TraceVm } from './trace';

export const PLANETLAB_STEP_S = 300;
export const PLANETLAB_LINES = 288;
export const MAX_PLANETLAB_FILES = 100_000;
/** 288 lines of "100\r\n" are 1,440 bytes; anything near this size is not a PlanetLab file. */
const MAX_FILE_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;

/** The directory's trace file names, sorted by UTF-16 code unit so that VM i is the same file on every machine. */
function listTraceFiles(directory: string): string[] {
  let dir;
  try {
    dir = opendirSync(directory);
  } catch (error) {
    throw new TraceError(`${directory}: cannot read the directory (${reason(error)})`);
  }
  const names: string[] = [];
  try {
    for (let entries = 0; ; entries++) {
      let entry: Dirent | null;
      try {
        entry = dir.readSync();
      } catch (error) {
        throw new TraceError(`${directory}: cannot read the directory (${reason(error)})`);
      }
      if (entry === null) break;
      if (entries >= MAX_PLANETLAB_FILES) {
        throw new TraceError(`${directory}: more than ${MAX_PLANETLAB_FILES} entries; a PlanetLab day has about 1,000 files`);
      }
      // Hidden files (.DS_Store, editor swap files) are not traces, and CloudSim's
      // data has none, so skipping them cannot change which file drives which VM.
      if (entry.name.startsWith('.')) continue;
      checkIsFile(directory, entry);
      names.push(entry.name);
    }
  } finally {
    dir.closeSync();
  }
  if (names.length === 0) throw new TraceError(`${directory}: no trace files in the directory`);
  return names.sort();
}

function checkIsFile(directory: string, entry: Dirent): void {
  if (entry.isFile()) return;
  const path = join(directory, entry.name);
  if (entry.isSymbolicLink()) {
    let isFile;
    try {
      isFile = statSync(path).isFile();
    } catch (error) {
      throw new TraceError(`${path}: cannot follow the symbolic link (${reason(error)})`);
    }
    if (isFile) return;
  }
  const kind = entry.isDirectory() ? 'a sub-directory' : 'not a regular file';
  throw new TraceError(`${path}: ${kind}; a PlanetLab day directory holds only trace files`);
}

/** Reads the whole file into `buffer`, returning its length; one buffer serves every file of a day. */
function readInto(path: string, buffer: Buffer): number {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new TraceError(`${path}: cannot read the file (${reason(error)})`);
  }
  try {
    let length = 0;
    for (let reads = 0; reads < buffer.length && length < buffer.length; reads++) {
      const count = readSync(fd, buffer, length, buffer.length - length, null);
      if (count === 0) break;
      length += count;
    }
    if (length > MAX_FILE_BYTES) {
      throw new TraceError(`${path}: larger than ${MAX_FILE_BYTES} bytes; a PlanetLab file has ${PLANETLAB_LINES} short lines`);
    }
    return length;
  } catch (error) {
    if (error instanceof TraceError) throw error;
    throw new TraceError(`${path}: cannot read the file (${reason(error)})`);
  } finally {
    closeSync(fd);
  }
}

/** The percentage on bytes [start, end) of a line, or a TraceError naming the line. */
function parsePercent(buffer: Buffer, start: number, end: number, path: string, line: number): number {
  const text = (): string => JSON.stringify(buffer.toString('latin1', start, Math.min(end, start + 40)));
  if (start === end) throw new TraceError(`${path}:${line}: empty line; expected an integer percentage`);
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = buffer[i];
    if (byte < DIGIT_0 || byte > DIGIT_9) {
      const negative = i === start && byte === MINUS && end - start > 1 && isDigits(buffer, start + 1, end);
      throw new TraceError(`${path}:${line}: ${negative ? 'negative' : 'non-numeric'} value ${text()}; expected an integer 0..100`);
    }
    // Saturating keeps the arithmetic exact on a long run of digits; it is an error either way.
    value = Math.min(value * 10 + (byte - DIGIT_0), 1000);
  }
  if (value > 100) throw new TraceError(`${path}:${line}: value ${text()} is above 100`);
  return value;
}

function isDigits(buffer: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    if (buffer[i] < DIGIT_0 || buffer[i] > DIGIT_9) return false;
  }
  return true;
}

/** Parses one file's 288 lines into CloudSim's 289 points. */
function parseFile(buffer: Buffer, length: number, path: string): Float64Array {
  const utilization = new Float64Array(PLANETLAB_LINES + 1);
  let lines = 0;
  let start = 0;
  for (let i = 0; i <= length; i++) {
    if (i < length && buffer[i] !== LF) continue;
    // The end of a file that ends with a newline (or is empty) starts no line.
    if (i === length && start === length) break;
    const end = i < length && i > start && buffer[i - 1] === CR ? i - 1 : i;
    lines++;
    if (lines <= PLANETLAB_LINES) utilization[lines - 1] = parsePercent(buffer, start, end, path, lines) / 100;
    start = i + 1;
  }
  if (lines !== PLANETLAB_LINES) {
    const where = lines < PLANETLAB_LINES ? lines + 1 : PLANETLAB_LINES + 1;
    throw new TraceError(`${path}:${where}: expected ${PLANETLAB_LINES} lines, found ${lines}`);
  }
  // CloudSim appends this point because its interpolation over the last
  // interval (86,100 s to 86,400 s) reads one point past the data.
  utilization[PLANETLAB_LINES] = utilization[PLANETLAB_LINES - 1];
  return utilization;
}

/**
 * Reads one PlanetLab day directory. VM i is driven by the i-th file sorted by
 * name and takes the file name as its id. The digest covers, file by file in
 * that order, `<name>\n<byte length>\n<content>`.
 */
export function readPlanetLabTrace(directory: string): Trace {
  const names = listTraceFiles(directory);
  const buffer = Buffer.allocUnsafe(MAX_FILE_BYTES + 1);
  const hash = createHash('sha256');
  const vms: TraceVm[] = names.map((name) => {
    const path = join(directory, name);
    const length = readInto(path, buffer);
    const utilization = parseFile(buffer, length, path);
    hash.update(`${name}\n${length}\n`);
    hash.update(buffer.subarray(0, length));
    return { id: name, utilization, ramMb: null };
  });
  return { name: basename(resolve(directory)), format: 'planetlab', stepS: PLANETLAB_STEP_S, vms, digest: hash.digest('hex') };
}
