import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startServiceProcess } from './startService';

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
const TOKEN = 'test';
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-recovery-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

interface Row {
  readonly position: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
  readonly correlationId: string | null;
}

function readLog(path: string): Row[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT position, type, body FROM events ORDER BY position').all().map((row) => {
      const { position, type, body } = row as { position: number; type: string; body: string };
      // The SQLite adapter's body: [position, id, stream, revision, type, version, data, correlationId, …].
      const parsed = JSON.parse(body) as unknown[];
      return { position, type, data: parsed[6] as Record<string, unknown>, correlationId: parsed[7] as string | null };
    });
  } finally {
    db.close();
  }
}

async function waitFor(description: string, deadlineMs: number, condition: () => boolean): Promise<void> {
  const endMs = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > endMs) throw new Error(`timed out waiting for ${description}`);
    await new Promise((resolve) => { setTimeout(resolve, 25); });
  }
}

async function put(url: string, host: string, reason: string): Promise<number> {
  const response = await fetch(`${url}/`, {
    method: 'PUT',
    body: new URLSearchParams({ username: sha1('admin'), password: sha1('secret'), time: String(Date.now() / 1000), host, reason }),
  });
  await response.arrayBuffer();
  return response.status;
}

async function sample(url: string, host: string, vms: Record<string, number>): Promise<void> {
  const response = await fetch(`${url}/v1/samples`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ host, vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz })) }),
  });
  expect(response.status).toBe(202);
}

test('SIGKILL in the middle of a plan: after a restart on the same SQLite file no acknowledged request is lost and every plan ends explicitly', async () => {
  const path = join(directory, 'service.sqlite');
  const first = await startServiceProcess(path, '1', null);
  try {
    await sample(first.url, 'host-1', { 'vm-0': 300, 'vm-1': 200 });
    await sample(first.url, 'host-3', { 'vm-2': 400, 'vm-3': 100 });
    expect(await put(first.url, 'host-1', '0')).toBe(200);
    expect(await put(first.url, 'host-3', '0')).toBe(200);
    // Both acknowledged: both are in the log already, before any of their work is done.
    expect(readLog(path).filter((row) => row.type === 'RequestReceived')).toHaveLength(2);
    await waitFor('a migration in flight', 20_000, () => readLog(path).some((row) => row.type === 'MigrationStarted'));
  } finally {
    first.child.kill('SIGKILL');
  }
  await new Promise((resolve) => { first.child.once('exit', resolve); });
  const before = readLog(path);
  const acknowledged = before.filter((row) => row.type === 'RequestReceived').map((row) => row.data.requestId as string);
  expect(acknowledged).toHaveLength(2);
  expect(before.some((row) => row.type === 'RequestCompleted' && row.data.requestId === acknowledged[0])).toBe(false);

  const second = await startServiceProcess(path, '2', null);
  try {
    expect(second.recovery.events).toBe(before.length);
    expect(second.recovery.resumed + second.recovery.requeued).toBe(2);
    await waitFor('every acknowledged request to complete', 60_000, () => {
      const completed = new Set(readLog(path).filter((row) => row.type === 'RequestCompleted').map((row) => row.data.requestId));
      return acknowledged.every((id) => completed.has(id));
    });
    const after = readLog(path);
    for (const requestId of acknowledged) {
      const outcome = after.find((row) => row.type === 'RequestCompleted' && row.data.requestId === requestId)?.data.outcome;
      expect(['completed', 'partial', 'failed', 'nothing-to-do']).toContain(outcome);
    }
    // The migration the kill interrupted was settled against the cloud: the restarted (simulated) cloud
    // has the VM back on its source, so the attempt failed as interrupted, and a new attempt followed.
    const interrupted = before.filter((row) => row.type === 'MigrationStarted').at(-1);
    const settled = after.find((row) => row.type === 'MigrationFailed' && row.data.migrationId === interrupted?.data.migrationId);
    expect(settled?.data.error).toMatch(/^interrupted by a restart; the VM is still on "host-[13]"$/);
    expect(after.some((row) => row.type === 'MigrationStarted' && row.data.vmId === interrupted?.data.vmId && row.data.attempt === 2)).toBe(true);
    const health = await fetch(`${second.url}/healthz`);
    expect(((await health.json()) as { position: number }).position).toBe(after.length);
  } finally {
    second.child.kill('SIGKILL');
  }
});
