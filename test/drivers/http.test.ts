/**
 * The HTTP exchange's account of whether a request was sent, against real
 * sockets on 127.0.0.1: a request on a reused keep-alive connection may have
 * reached the server from the start; only one whose connection was never made
 * provably did not.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { exchange, TransportError } from '../../src/drivers/http';

const execFileAsync = promisify(execFile);
let server: Server;
let port: number;
const connections = new Set<Socket>();
/** What the server does with a request to `/stall`: nothing at all. */
const stalled: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      if (request.url === '/stall') stalled.push(response);
      else response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  server.on('connection', (socket: Socket) => { connections.add(socket); });
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => { server.close(resolve); });
});

function call(path: string, method: 'GET' | 'POST', timeoutMs = 2000): ReturnType<typeof exchange> {
  return exchange({ method, url: new URL(`http://127.0.0.1:${port}${path}`), headers: {}, body: method === 'POST' ? {} : undefined, timeoutMs, ca: null });
}

async function failure(exchanged: ReturnType<typeof exchange>): Promise<TransportError> {
  const error: unknown = await exchanged.then(() => null, (reason: unknown) => reason);
  expect(error).toBeInstanceOf(TransportError);
  return error as TransportError;
}

test('many calls on one keep-alive connection leave no listener behind: no MaxListenersExceededWarning', async () => {
  // In a process of its own, because node writes its warnings to the real process, which a test cannot listen to under jest.
  const script = `
    const { exchange } = require(${JSON.stringify(join(__dirname, '..', '..', 'src', 'drivers', 'http.js'))});
    (async () => {
      for (let round = 0; round < 30; round++) {
        const method = round % 2 === 0 ? 'GET' : 'POST';
        await exchange({ method, url: new URL('http://127.0.0.1:${port}/ok'), headers: {}, body: method === 'POST' ? {} : undefined, timeoutMs: 2000, ca: null });
      }
      setImmediate(() => { process.stdout.write('done'); process.exit(0); });
    })();`;
  const before = connections.size;
  const { stdout, stderr } = await execFileAsync(process.execPath, ['-e', script], { timeout: 30_000 });
  expect(stdout).toBe('done');
  expect(connections.size - before).toBe(1);
  expect(stderr).not.toMatch(/MaxListenersExceededWarning/);
});

test('a request on a reused connection that the server takes and never answers may have been acted on: sent', async () => {
  expect((await call('/ok', 'GET')).status).toBe(200);
  const before = connections.size;
  const error = await failure(call('/stall', 'POST', 300));
  expect(connections.size).toBe(before);
  expect(error.message).toMatch(/no complete answer within 300 ms/);
  expect(error.sent).toBe(true);
});

test('a request whose connection is refused provably was not sent', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => { closed.listen(0, '127.0.0.1', resolve); });
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => { closed.close(resolve); });
  const error = await failure(exchange({ method: 'POST', url: new URL(`http://127.0.0.1:${closedPort}/`), headers: {}, body: {}, timeoutMs: 2000, ca: null }));
  expect(error.message).toMatch(/ECONNREFUSED/);
  expect(error.sent).toBe(false);
});
