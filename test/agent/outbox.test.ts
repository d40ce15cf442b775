import fc from 'fast-check';
import type { HttpAnswer } from '../../src/drivers/http';
import { TransportError } from '../../src/drivers/http';
import type { EventData } from '../../src/events/catalogue';
import { SampleOutbox } from '../../src/agent/outbox';
import type { OutboxOptions } from '../../src/agent/outbox';

type Sample = EventData<'UtilizationSampled'>;

const sample = (n: number): Sample => ({ host: 'compute-1', hypervisorCpuMhz: n, vms: [] });
const answer = (status: number, text = ''): HttpAnswer => ({ status, headers: {}, text });

/** An outbox whose sends are answered by `reply`, recording what it was told. */
function outboxWith(reply: (sample: Sample, attempt: number) => Promise<HttpAnswer>, limit = 3) {
  const seen = { sent: [] as number[], refused: [] as number[], unreachable: [] as number[], unauthorised: [] as number[] };
  let attempt = 0;
  const options: OutboxOptions = {
    limit, backoffInitialMs: 5, backoffMaxMs: 20,
    send: (s) => { attempt += 1; seen.sent.push(s.hypervisorCpuMhz); return reply(s, attempt); },
    onRefused: (s) => { seen.refused.push(s.hypervisorCpuMhz); },
    onUnreachable: (_problem, retryInMs) => { seen.unreachable.push(retryInMs); },
    onUnauthorised: (a) => { seen.unauthorised.push(a.status); },
  };
  return { outbox: new SampleOutbox(options), seen };
}

describe('the sample outbox', () => {
  test('sends in order; a 4xx is dropped and reported, never retried', async () => {
    const { outbox, seen } = outboxWith((s) => Promise.resolve(s.hypervisorCpuMhz === 2 ? answer(422, '{"error":{"message":"unknown host"}}') : answer(202)));
    for (const n of [1, 2, 3]) outbox.push(sample(n));
    await outbox.drained();
    expect(seen.sent).toEqual([1, 2, 3]);
    expect(seen.refused).toEqual([2]);
    expect(outbox.totals).toEqual({ sent: 2, refused: 1, dropped: 0, failures: 0 });
  });

  test('while the manager is unreachable, samples wait with a doubling, capped backoff; the oldest are dropped past the limit', async () => {
    let up = false;
    const { outbox, seen } = outboxWith((s) => {
      if (!up) return Promise.reject(new TransportError('connect ECONNREFUSED 127.0.0.1:9', false));
      return Promise.resolve(answer(s.hypervisorCpuMhz === 0 ? 500 : 202));
    });
    for (const n of [1, 2, 3, 4, 5]) outbox.push(sample(n));
    await new Promise((resolve) => { setTimeout(resolve, 80); });
    expect(outbox.depth).toBe(3);
    expect(seen.unreachable.slice(0, 4)).toEqual([5, 10, 20, 20]);
    up = true;
    await outbox.drained();
    // Sample 1 was on its way when 4 and 5 came: it is sent, and 2 and 3 were dropped.
    expect(seen.sent.filter((n, i, all) => all.indexOf(n) === i)).toEqual([1, 4, 5]);
    expect(outbox.totals.dropped).toBe(2);
    expect(outbox.totals.sent).toBe(3);
  });

  test('5xx and 429 are retried like an unreachable manager', async () => {
    const { outbox, seen } = outboxWith((_s, attempt) => Promise.resolve(answer(attempt === 1 ? 503 : attempt === 2 ? 429 : 202)));
    outbox.push(sample(1));
    await outbox.drained();
    expect(seen.sent).toEqual([1, 1, 1]);
    expect(outbox.totals).toEqual({ sent: 1, refused: 0, dropped: 0, failures: 2 });
  });

  test('401 or 403 stop the outbox: no retry mends a wrong token', async () => {
    const { outbox, seen } = outboxWith(() => Promise.resolve(answer(403)));
    outbox.push(sample(1));
    outbox.push(sample(2));
    await outbox.drained();
    expect(seen.unauthorised).toEqual([403]);
    expect(seen.sent).toEqual([1]);
    outbox.push(sample(3));
    await outbox.stop();
    expect(seen.sent).toEqual([1]);
  });

  test('stop ends a backoff wait at once', async () => {
    const { outbox } = outboxWith(() => Promise.reject(new TransportError('down', false)));
    outbox.push(sample(1));
    await new Promise((resolve) => { setTimeout(resolve, 10); });
    const startMs = Date.now();
    await outbox.stop();
    expect(Date.now() - startMs).toBeLessThan(50);
  });

  test('property: every sample pushed is sent, refused, dropped or still waiting, and at most `limit` wait', async () => {
    const script = fc.array(fc.record({ push: fc.integer({ min: 1, max: 5 }), status: fc.constantFrom(202, 202, 400, 503) }), { minLength: 1, maxLength: 15 });
    await fc.assert(fc.asyncProperty(script, fc.integer({ min: 1, max: 4 }), async (steps, limit) => {
      let sends = 0;
      const { outbox } = outboxWith(() => Promise.resolve(answer(steps[sends++ % steps.length].status)), limit);
      let pushed = 0;
      for (const { push } of steps) {
        for (let i = 0; i < push; i++) outbox.push(sample(pushed++));
        expect(outbox.depth).toBeLessThanOrEqual(limit);
        await new Promise((resolve) => { setImmediate(resolve); });
      }
      await outbox.stop();
      const { sent, refused, dropped } = outbox.totals;
      expect(sent + refused + dropped + outbox.depth).toBe(pushed);
    }), { numRuns: 50 });
  });
});
