/** What the HTTP tests share: a fixture that is always closed, Neat's digests, bearer headers, bounded waiting. */
import { createHash } from 'node:crypto';
import type Router from '@koa/router';
import { createRouter } from '../../src/api/app';
import { sha256Hex } from '../../src/api/http';
import { systemClock } from '../../src/clock';
import type { NewEvent, RecordedEvent } from '../../src/events/envelope';
import { MemoryEventLog } from '../../src/log/memory';
import type { AppendResult } from '../../src/log/port';
import { ADMIN_PASSWORD, ADMIN_USER, startFixture, TOKEN } from './fixture';
import type { FixtureOptions } from './fixture';

export type Fixture = Awaited<ReturnType<typeof startFixture>>;

export async function withFixture(options: FixtureOptions, body: (fixture: Fixture) => Promise<void>): Promise<void> {
  const fixture = await startFixture(options);
  try {
    await body(fixture);
  } finally {
    await fixture.close();
  }
}

/** What a Neat local manager sends as `username` and `password`. */
export function sha1Hex(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

export function bearer(token: string = TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

export function delay(durationMs: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, durationMs); });
}

/** Polls until `probe` returns a value; fails with `what` once `timeoutMs` has passed. */
export async function eventually<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 5_000): Promise<T> {
  const deadlineMs = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadlineMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(20);
  }
}

/**
 * A memory log whose appends take `appendDelayMs`: an answer that did not wait
 * for its event to be durable would reach the client before the event is in the log.
 */
export class SlowAppendLog extends MemoryEventLog {
  /** Each append waits before it runs: the log cannot promise their order. */
  override readonly appendsInCallOrder = false;

  constructor(private readonly appendDelayMs: number) {
    super();
  }

  override async append(stream: string, events: readonly NewEvent[], expectedRevision: number): Promise<AppendResult> {
    await delay(this.appendDelayMs);
    return super.append(stream, events, expectedRevision);
  }
}

export async function allEvents(fixture: Fixture): Promise<readonly RecordedEvent[]> {
  return fixture.log.readAll(1, 10_000);
}

/**
 * Records one utilisation sample for every VM the simulated cloud reports, so
 * that the manager has the data a placement needs (it drops requests without).
 */
export async function sampleEveryHost(fixture: Fixture, cpuMhzPerVm: number): Promise<void> {
  const byHost = new Map<string, { vmId: string; cpuMhz: number; ramMb: null }[]>();
  for (const vm of await fixture.dataCentre.listVms()) {
    if (vm.host === null) continue;
    const samples = byHost.get(vm.host) ?? [];
    samples.push({ vmId: vm.id, cpuMhz: cpuMhzPerVm, ramMb: null });
    byHost.set(vm.host, samples);
  }
  for (const [host, vms] of byHost) await fixture.service.manager.recordSample({ host, hypervisorCpuMhz: 0, vms });
}

/** The routes the fixture's service mounts, built as `createApp` builds them: to enumerate them, not to serve. */
export function fixtureRouter(fixture: Fixture): Router {
  return createRouter({
    manager: fixture.service.manager, log: fixture.log, clock: systemClock,
    neat: { usernameSha1: sha1Hex(ADMIN_USER), passwordSha1: sha1Hex(ADMIN_PASSWORD), stalenessS: 5 },
    tokenDigestsHex: [sha256Hex(TOKEN)], bodyLimitBytes: 1024, maxStreams: 1, keepAliveMs: 1_000,
    onError: (error) => { throw error; },
  });
}
