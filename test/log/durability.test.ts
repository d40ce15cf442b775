/**
 * An acknowledged append is on disk, shown syscall by syscall. The SIGKILL
 * test cannot see a missing fsync (the page cache outlives a killed process),
 * so here a writer runs under strace and every acknowledgement it makes must
 * come after the log's writes were synced. A negative control with
 * `durable: false` shows that the check fails when the sync is missing.
 *
 * strace -f interleaves the lines of all threads; a syscall interrupted by
 * another thread's line is split into `name(args <unfinished ...>` and
 * `<... name resumed>) = result` on the same pid. The checker pairs them by
 * pid and takes a sync as done at its `resumed` line, a marker write as made
 * at its first line, and a sync as covering only writes finished when it
 * began: every approximation errs towards reporting an unsynced
 * acknowledgement, never towards hiding one. (`strace -ff` would avoid the
 * split, but with one file per thread and no order between them.)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { prerequisite } from '../support/prerequisite';

const ROUNDS = 20;
const APPENDS_PER_ROUND = 8;
const PROBE_TIMEOUT_MS = 10_000;
const RUN_TIMEOUT_MS = 30_000;
/** Every write variant, so that no write to the log escapes the check; SQLite here uses pwrite64 and fsync. */
const WRITES = ['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2'];
const SYNCS = ['fsync', 'fdatasync'];

/** Null when strace can trace a child here; otherwise why not (absent, or ptrace refused by the kernel or container). */
function whyStraceCannotTrace(): string | null {
  const probe = spawnSync('strace', ['-f', '-o', '/dev/null', process.execPath, '-e', ''], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  if (probe.error !== undefined) {
    return (probe.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'strace is not installed (apt-get install strace)'
      : `strace cannot be run: ${probe.error.message}`;
  }
  if (probe.status !== 0) return `strace cannot trace here (is ptrace permitted?): ${probe.stderr.trim()}`;
  return null;
}

function requireStrace(): boolean {
  const reason = whyStraceCannotTrace();
  return prerequisite('a strace that can trace', reason === null, reason ?? '');
}

interface LogFiles {
  readonly database: string;
  readonly wal: string;
  /** The writer's marker file: one `ACK <round>` write per acknowledged round. */
  readonly marker: string;
}

interface Acknowledgement {
  readonly round: number;
  /** Files of the log (database, WAL) with a write not covered by a completed sync when the marker was written. */
  readonly unsyncedFiles: readonly string[];
  /** WAL writes started and WAL syncs completed since the previous marker. */
  readonly walWrites: number;
  readonly walSyncs: number;
}

class FileWrites {
  /** Writes are numbered from 1 as they start; a sync covers those up to `synced`. */
  started = 0;
  synced = 0;
  readonly inFlight = new Set<number>();
}

const CALL = /^(\d+) +(\w+)\(\d+<([^>]*)>(.*)$/;
const RESUMED = /^(\d+) +<\.\.\. (\w+) resumed>(.*)$/;
const RESULT = /\) += (-?\d+)(?: \w+ \(.*\))?$/;
const MARKER = /^, "ACK (\d+)\\n"/;

function resultOf(line: string): number {
  const match = RESULT.exec(line);
  if (match === null) throw new Error(`no result in the strace line: ${line}`);
  return Number(match[1]);
}

/**
 * Reads an `strace -f -y` trace in order and returns, for each marker write,
 * the state of the log's files at that moment. The shared-memory index
 * (`-shm`) is not checked: SQLite rebuilds it from the WAL after a crash.
 */
function checkTrace(trace: string, files: LogFiles): Acknowledgement[] {
  const wal = new FileWrites();
  const tracked = new Map([[files.database, new FileWrites()], [files.wal, wal]]);
  /** What completes the syscall a pid left unfinished. */
  const pending = new Map<string, (result: number) => void>();
  const acknowledgements: Acknowledgement[] = [];
  let walWrites = 0;
  let walSyncs = 0;
  for (const line of trace.split('\n')) {
    const resumed = RESUMED.exec(line);
    if (resumed !== null) {
      pending.get(resumed[1])?.(resultOf(line));
      pending.delete(resumed[1]);
      continue;
    }
    const call = CALL.exec(line);
    if (call === null) continue;
    const [, pid, name, path, rest] = call;
    let complete: (result: number) => void;
    if (path === files.marker && WRITES.includes(name)) {
      const marker = MARKER.exec(rest);
      if (marker === null) throw new Error(`a write to the marker file that is not one whole marker: ${line}`);
      const unsyncedFiles = [...tracked].filter(([, state]) => state.synced < state.started).map(([file]) => basename(file));
      acknowledgements.push({ round: Number(marker[1]), unsyncedFiles, walWrites, walSyncs });
      walWrites = 0;
      walSyncs = 0;
      continue;
    }
    const state = tracked.get(path);
    if (state === undefined) continue;
    if (WRITES.includes(name)) {
      const id = ++state.started;
      state.inFlight.add(id);
      if (state === wal) walWrites += 1;
      complete = () => { state.inFlight.delete(id); };
    } else if (SYNCS.includes(name)) {
      // A write still in progress when the sync began may not be covered by it.
      const coveredUpTo = state.inFlight.size === 0 ? state.started : Math.min(...state.inFlight) - 1;
      complete = (result) => {
        if (result !== 0) return;
        state.synced = Math.max(state.synced, coveredUpTo);
        if (state === wal) walSyncs += 1;
      };
    } else {
      continue;
    }
    if (rest.endsWith(' <unfinished ...>')) pending.set(pid, complete);
    else complete(resultOf(line));
  }
  return acknowledgements;
}

/** The checker's verdict: one line per acknowledgement made before the log was synced, or without a WAL write. */
function unsyncedAcknowledgements(acknowledgements: readonly Acknowledgement[]): string[] {
  return acknowledgements.flatMap(({ round, unsyncedFiles, walWrites }) => [
    ...unsyncedFiles.map((file) => `ACK ${round}: ${file} written but not synced`),
    ...(walWrites === 0 ? [`ACK ${round}: no write to the WAL in this round`] : []),
  ]);
}

/** Runs the writer under strace; returns its acknowledgements as the trace shows them. */
function traceWriter(directory: string, durability: 'durable' | 'not-durable', commit: 'group' | 'single'): Acknowledgement[] {
  const runDirectory = join(directory, `${durability}-${commit}`);
  mkdirSync(runDirectory);
  const files = { database: join(runDirectory, 'events.sqlite'), wal: join(runDirectory, 'events.sqlite-wal'), marker: join(runDirectory, 'acks') };
  const tracePath = join(runDirectory, 'trace');
  const run = spawnSync('strace', [
    '-f', '-y', '-e', `trace=${[...WRITES, ...SYNCS].join(',')}`, '-o', tracePath,
    process.execPath, join(__dirname, 'durabilityWriter.js'), files.database, files.marker, durability, commit,
    String(ROUNDS), String(APPENDS_PER_ROUND),
  ], { encoding: 'utf8', timeout: RUN_TIMEOUT_MS });
  if (run.error !== undefined) throw run.error;
  if (run.status !== 0) throw new Error(`the traced writer failed (status ${String(run.status)}): ${run.stderr}`);
  return checkTrace(readFileSync(tracePath, 'utf8'), files);
}

const everyRound = Array.from({ length: ROUNDS }, (_, round) => round);

describe('the strace checker', () => {
  const files = { database: '/d/events.sqlite', wal: '/d/events.sqlite-wal', marker: '/d/acks' };
  const check = (lines: readonly string[]) => unsyncedAcknowledgements(checkTrace(lines.join('\n'), files));

  test('a sync split by another thread counts once resumed; a marker written while it is unfinished is unsynced', () => {
    expect(check([
      '10 pwrite64(3</d/events.sqlite-wal>, "x", 1, 0) = 1',
      '10 fsync(3</d/events.sqlite-wal> <unfinished ...>',
      '11 write(4</d/acks>, "ACK 0\\n", 6) = 6',
      '10 <... fsync resumed>) = 0',
      '10 pwrite64(3</d/events.sqlite-wal>, "y", 1, 1) = 1',
      '10 fdatasync(3</d/events.sqlite-wal> <unfinished ...>',
      '12 write(5<pipe:[7]>, "*", 1) = 1',
      '10 <... fdatasync resumed>) = 0',
      '11 write(4</d/acks>, "ACK 1\\n", 6) = 6',
    ])).toEqual(['ACK 0: events.sqlite-wal written but not synced']);
  });

  test('a sync does not cover a write still in progress when it began, and a failed sync covers nothing', () => {
    expect(check([
      '10 pwrite64(3</d/events.sqlite-wal>, "x", 1, 0 <unfinished ...>',
      '11 fsync(3</d/events.sqlite-wal>) = 0',
      '10 <... pwrite64 resumed>) = 1',
      '11 write(4</d/acks>, "ACK 0\\n", 6) = 6',
      '10 pwrite64(3</d/events.sqlite>, "x", 1, 0) = 1',
      '10 pwrite64(3</d/events.sqlite-wal>, "x", 1, 0) = 1',
      '10 fsync(3</d/events.sqlite>) = -1 EIO (Input/output error)',
      '10 fsync(3</d/events.sqlite-wal>) = 0',
      '11 write(4</d/acks>, "ACK 1\\n", 6) = 6',
      '11 write(4</d/acks>, "ACK 2\\n", 6) = 6',
    ])).toEqual([
      'ACK 0: events.sqlite-wal written but not synced',
      'ACK 1: events.sqlite written but not synced',
      'ACK 2: events.sqlite written but not synced',
      'ACK 2: no write to the WAL in this round',
    ]);
  });
});

(requireStrace() ? describe : describe.skip)(`SQLite under strace, ${ROUNDS} rounds of ${APPENDS_PER_ROUND} concurrent appends`, () => {
  let directory: string;
  beforeAll(() => { directory = realpathSync(mkdtempSync(join(tmpdir(), 'neat-durability-'))); });
  afterAll(() => { rmSync(directory, { recursive: true, force: true }); });

  test('with group commit, every acknowledgement follows an fsync of the WAL, one per round for all its appends', () => {
    const acknowledgements = traceWriter(directory, 'durable', 'group');
    expect(acknowledgements.map((a) => a.round)).toEqual(everyRound);
    expect(unsyncedAcknowledgements(acknowledgements)).toEqual([]);
    // The first round also holds the commit that creates the schema.
    expect(acknowledgements.slice(1).map((a) => a.walSyncs)).toEqual(everyRound.slice(1).map(() => 1));
  });

  test('negative control: durable: false (synchronous = OFF) acknowledges every round before any sync, and the checker says so', () => {
    const acknowledgements = traceWriter(directory, 'not-durable', 'group');
    expect(acknowledgements.map((a) => a.round)).toEqual(everyRound);
    expect(unsyncedAcknowledgements(acknowledgements)).toEqual(everyRound.map((round) => `ACK ${round}: events.sqlite-wal written but not synced`));
  });

  test('without group commit, every acknowledgement follows an fsync of the WAL, one per append', () => {
    const acknowledgements = traceWriter(directory, 'durable', 'single');
    expect(acknowledgements.map((a) => a.round)).toEqual(everyRound);
    expect(unsyncedAcknowledgements(acknowledgements)).toEqual([]);
    expect(acknowledgements.slice(1).map((a) => a.walSyncs)).toEqual(everyRound.slice(1).map(() => APPENDS_PER_ROUND));
  });
});
