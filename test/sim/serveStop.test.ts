/**
 * One signal stops a busy simulated service: PlanetLab's 20110303 on 800
 * hosts, whose first interval sends some 790 requests at once (a queue that
 * takes them all), stopped in the middle of them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planetLabDay } from '../support/planetlab';
import { foldStrictly, Served } from '../support/served';

const DAY = planetLabDay('20110303');
/** In CI the shared traces must be there: a missing day fails there instead of passing unchecked. */
const dayTest = DAY !== null || process.env.CI === 'true' ? test : test.skip;
let directory: string;

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'neat-serve-stop-'));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

async function queueDepth(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^neat_queue_depth (\d+)$/m.exec(text)?.[1] ?? NaN);
}

describe('neat serve --sim stops on one signal', () => {
  dayTest('SIGINT with hundreds of requests queued: stopped within 2 s, exit 0, no stack trace, a log that folds without an anomaly', async () => {
    if (DAY === null) throw new Error('../shared/traces/planetlab/20110303 is missing, and CI=true requires it');
    const config = join(directory, 'busy.conf');
    writeFileSync(config, '[DEFAULT]\nrequest_queue_limit = 1000\n');
    const events = join(directory, 'busy.sqlite');
    const served = new Served(['serve', '--sim', DAY, '--hosts', '800', '--config', config, '--events', events, '--listen', '127.0.0.1:0', '--log-format', 'json']);
    const listening = await served.line((line) => line.event === 'listening', 60_000);
    const url = listening.url as string;
    let depth = 0;
    for (const deadline = Date.now() + 90_000; depth < 400; await new Promise((resolve) => { setTimeout(resolve, 100); })) {
      if (Date.now() > deadline) throw new Error(`the queue reached only ${depth} requests`);
      depth = await queueDepth(url);
    }
    const signalledMs = Date.now();
    served.child.kill('SIGINT');
    const exit = await served.exited;
    const stopMs = Date.now() - signalledMs;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(stopMs).toBeLessThan(2000);
    expect(served.stderr).toBe('');
    expect(served.stdout).not.toMatch(/\n\s+at /);
    expect(served.stdout).toMatch(/"msg":"SIGINT: stopping \(a second signal exits at once\)"/);
    const { received } = await foldStrictly(events);
    expect(received).toBeGreaterThanOrEqual(depth);
  });
});
