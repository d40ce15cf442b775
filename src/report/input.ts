/**
 * What `neat report` is given: an event log (a simulation's or a manager's)
 * or a sweep's JSON lines, told apart by the file's first bytes; and the
 * digest that ties a report to the exact bytes it was made from.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

/** Bad input to `neat report`: a message naming the file and the problem, exit code 1. */
export class ReportError extends Error {
  override name = 'ReportError';
}

export type InputKind = 'log' | 'sweep';

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = 'SQLite format 3\0';
const CHUNK_BYTES = 1 << 20;

function readHead(path: string, bytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const read = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** An SQLite file is taken for an event log, anything that starts with `{` for a sweep's JSON lines. */
export function inputKind(path: string): InputKind {
  if (!existsSync(path)) throw new ReportError(`${path}: no such file`);
  const stat = statSync(path);
  if (!stat.isFile()) throw new ReportError(`${path}: not a file`);
  if (stat.size === 0) throw new ReportError(`${path}: the file is empty, so neither an event log nor a sweep's JSON lines`);
  const head = readHead(path, SQLITE_HEADER.length);
  if (head.toString('latin1') === SQLITE_HEADER) return 'log';
  if (head.toString('utf8').trimStart().startsWith('{')) return 'sweep';
  throw new ReportError(`${path}: neither an event log (an SQLite file of neat sim --events or neat serve) nor a sweep's JSON lines (neat sweep --format jsonl)`);
}

/** sha256 (hex) of a file's bytes, read in chunks so that a large log is never held whole. */
export function fileSha256(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(CHUNK_BYTES);
    const chunks = Math.ceil(statSync(path).size / CHUNK_BYTES) + 1;
    for (let chunk = 0; chunk < chunks; chunk++) {
      const read = readSync(fd, buffer, 0, CHUNK_BYTES, null);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
