/**
 * An HTTP load generator on its own thread: the clients' work (building,
 * sending and parsing requests) runs beside the server's event loop rather
 * than in it, so that a benchmark measures the server, not the two sharing one
 * thread. Each client holds one keep-alive connection and sends its next
 * request when the last one is answered (closed loop).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export interface LoadOptions {
  readonly url: string;
  readonly method: 'PUT' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  /** Request bodies, sent in turn by each client (client k starts at body k). */
  readonly bodies: readonly string[];
  /** Replaced in a body by the Unix time (s) at sending, as Neat's local manager stamps each request. */
  readonly timePlaceholder: string | null;
  readonly clients: number;
  readonly durationMs: number;
}

export interface LoadResult {
  readonly elapsedS: number;
  readonly statuses: Readonly<Record<number, number>>;
  /** Every request's latency, ms, ascending. */
  readonly latenciesMs: readonly number[];
}

/** Requests a client may send at most: a bound on its loop whatever the server's speed. */
const MAX_REQUESTS_PER_CLIENT = 10_000_000;

function send(agent: Agent, options: LoadOptions, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(options.url, { method: options.method, agent, headers: { ...options.headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => { resolve(res.statusCode ?? 0); });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function generate(options: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.clients });
  const latenciesMs: number[] = [];
  const statuses: Record<number, number> = {};
  const startMs = performance.now();
  const endMs = startMs + options.durationMs;
  await Promise.all(Array.from({ length: options.clients }, async (_, client) => {
    for (let sent = 0; sent < MAX_REQUESTS_PER_CLIENT && performance.now() < endMs; sent++) {
      const template = options.bodies[(client + sent * options.clients) % options.bodies.length];
      const body = options.timePlaceholder === null ? template : template.replace(options.timePlaceholder, String(Date.now() / 1000));
      const beforeMs = performance.now();
      const status = await send(agent, options, body);
      latenciesMs.push(performance.now() - beforeMs);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }));
  const elapsedS = (performance.now() - startMs) / 1000;
  agent.destroy();
  return { elapsedS, statuses, latenciesMs: latenciesMs.sort((a, b) => a - b) };
}

/** Runs the load on a worker thread and resolves with what it measured. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: options });
    worker.once('message', (result: LoadResult) => { resolve(result); });
    worker.once('error', reject);
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`the load generator exited with code ${code}`)); });
  });
}

if (!isMainThread) {
  void generate(workerData as LoadOptions).then((result) => { parentPort!.postMessage(result); });
}
