/** `neat serve` or `neat agent` in a child process, as their tests run them. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { evolveDataCentre, initialDataCentreState } from '../../src/events/dataCentre';
import { SqliteEventLog } from '../../src/log/sqlite';
import { PROJECT_ROOT } from './planetlab';

export const BIN = join(PROJECT_ROOT, 'bin', 'neat.js');

/** JSON log lines of a run (`--log-format json`). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A running `neat serve` or `neat agent`, whose JSON lines are read as they come. */
export class Served {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: readonly string[], env: Readonly<Record<string, string>> = {}) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stdout!.on('data', (chunk: Buffer) => { this.stdout += chunk.toString(); });
    this.child.stderr!.on('data', (chunk: Buffer) => { this.stderr += chunk.toString(); });
    this.exited = new Promise((resolve) => { this.child.on('exit', (code, signal) => { resolve({ code, signal }); }); });
  }

  /** The first JSON line that `matches`, waiting for it at most `timeoutMs`. */
  async line(matches: (line: Record<string, unknown>) => boolean, timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = jsonLines(this.stdout.slice(0, this.stdout.lastIndexOf('\n') + 1)).find(matches);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no such line within ${timeoutMs} ms; stdout: ${this.stdout.slice(-2000)}; stderr: ${this.stderr}`);
      await new Promise((resolve) => { setTimeout(resolve, 20); });
    }
  }
}


/** Folds a log into a strict projection: an event the state machine does not allow throws. */
export async function foldStrictly(path: string): Promise<{ received: number; completed: number }> {
  const log = new SqliteEventLog(path);
  const state = initialDataCentreState({ historyLength: 100, strict: true });
  let received = 0;
  let completed = 0;
  try {
    for (let from = 1; ; from += 5000) {
      const page = await log.readAll(from, 5000);
      for (const event of page) {
        evolveDataCentre(state, event);
        if (event.type === 'RequestReceived') received += 1;
        if (event.type === 'RequestCompleted') completed += 1;
      }
      if (page.length < 5000) return { received, completed };
    }
  } finally {
    await log.close();
  }
}

