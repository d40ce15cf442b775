/**
 * The compaction kill tests' child: a worker script that prints `start`, then
 * `chunk <n>` after each of its writes and `done <removed> <ms> <chunks>`,
 * run and SIGKILLed `afterMs` after the mark of its `chunks`-th write (0: its
 * start), or left to finish.
 */
import { spawn } from 'node:child_process';
import { initialDataCentreState } from '../../src/events/dataCentre';
import { encodeDataCentre } from '../../src/events/dataCentreSnapshot';
import { NO_STREAM } from '../../src/log/port';
import type { EventLog } from '../../src/log/port';
import { TestEvents } from './events';

/**
 * Fills `log` with `hosts` sample streams of `samplesPerHost` samples, appended
 * in batches of `batchEvents`, then the checkpoint that makes the samples of
 * the first 80 % of the log redundant; returns the position it names.
 */
export async function compactableLog(log: EventLog, options: { hosts: number; samplesPerHost: number; batchEvents: number; archive: string; seed: string }): Promise<number> {
  const make = new TestEvents(options.seed);
  const revisions = new Array<number>(options.hosts).fill(NO_STREAM);
  for (let batch = 0; batch < (options.hosts * options.samplesPerHost) / options.batchEvents; batch++) {
    const host = batch % options.hosts;
    const events = Array.from({ length: options.batchEvents }, (_, i) => make.sample(`host-${host}`, { [`vm-${host}`]: i }));
    revisions[host] = (await log.append(`samples-host-${host}`, events, revisions[host])).streamRevision;
  }
  const throughPosition = Math.floor((await log.headPosition()) * 0.8);
  await log.append('compactions', [make.make('SamplesCompacted', {
    throughPosition, archive: options.archive, dataCentre: encodeDataCentre(initialDataCentreState({ historyLength: 10, strict: false })),
  })], NO_STREAM);
  return throughPosition;
}

export interface KillAt {
  /** After this many of the compaction's writes (0: after its start). */
  readonly chunks: number;
  readonly afterMs: number;
}

/** `killed`, or how long the compaction took and in how many writes; rejects when the worker fails. */
export function compactAndKill(argv: readonly string[], killAt: KillAt | null): Promise<'killed' | { durationMs: number; chunks: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let armed = false;
    const mark = killAt === null ? null : killAt.chunks === 0 ? 'start\n' : `chunk ${killAt.chunks}\n`;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (mark === null || armed || !stdout.includes(mark)) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), killAt!.afterMs);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const done = /done \d+ (\d+) (\d+)/.exec(stdout);
      if (signal === 'SIGKILL') resolve('killed');
      else if (code === 0 && done !== null) resolve({ durationMs: Number(done[1]), chunks: Number(done[2]) });
      else reject(new Error(`the compaction failed (code ${String(code)}): ${stderr}`));
    });
  });
}

/** Reads the whole log page by page, as a fold does (across its gaps), and returns how many events it read. */
export async function readableEvents(log: EventLog): Promise<number> {
  const pageEvents = 10_000;
  let position = 1;
  let read = 0;
  for (let page = 0; page < 1000; page++) {
    const events = await log.readAll(position, pageEvents);
    read += events.length;
    if (events.length < pageEvents) return read;
    position = events[events.length - 1].position + 1;
  }
  throw new Error(`more than ${1000 * pageEvents} events: not a test log`);
}
