import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventLog } from '../../src/log/sqlite';
import { createRng } from '../../src/rng';

const KILLS = 20;
const SEED = 'crash-test';

interface Ack {
  readonly position: number;
  readonly eventId: string;
}

/** Runs the writer, SIGKILLs it after `afterMs`, and returns the appends it acknowledged. */
function runAndKill(path: string, afterMs: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'crashWriter.js'), path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let started = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!started) {
        started = true;
        setTimeout(() => child.kill('SIGKILL'), afterMs);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') {
        reject(new Error(`the writer ended by itself (code ${String(code)}): ${stderr}`));
        return;
      }
      // A line cut by the kill was never fully printed, so it does not count as acknowledged.
      const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1);
      resolve(complete.split('\n').filter((line) => line.startsWith('ack ')).map((line) => {
        const [, position, eventId] = line.split(' ');
        return { position: Number(position), eventId };
      }));
    });
  });
}

test(`SQLite: after ${KILLS} SIGKILLs at random moments, every acknowledged event is there and positions are gap-free`, async () => {
  const directory = mkdtempSync(join(tmpdir(), 'neat-crash-'));
  const path = join(directory, 'log.sqlite');
  const rng = createRng(SEED);
  const acknowledged: Ack[] = [];
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const acks = await runAndKill(path, Math.floor(rng.next() * 150));
      acknowledged.push(...acks);
      const log = new SqliteEventLog(path);
      const head = await log.headPosition();
      let expected = 1;
      for (let from = 1; from <= head; from += 10_000) {
        for (const event of await log.readAll(from, 10_000)) {
          expect(event.position).toBe(expected);
          expect(event.revision).toBe(expected - 1);
          expected += 1;
        }
      }
      expect(expected - 1).toBe(head);
      for (const ack of acks.slice(-50)) {
        expect((await log.readAll(ack.position, 1)).map((e) => e.id)).toEqual([ack.eventId]);
      }
      await log.close();
      if (acks.length > 0) expect(head).toBeGreaterThanOrEqual(acks[acks.length - 1].position);
    }
    const log = new SqliteEventLog(path);
    for (const ack of acknowledged) {
      expect((await log.readAll(ack.position, 1)).map((e) => e.id)).toEqual([ack.eventId]);
    }
    await log.close();
    expect(acknowledged.length).toBeGreaterThan(KILLS);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}, 120_000);
