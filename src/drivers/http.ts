/**
 * One HTTP exchange with Keystone or Nova: node's http/https client rather than
 * `fetch`, because `fetch` cannot take a CA bundle without another dependency.
 * Every exchange has a deadline and a bounded response size.
 */
import { request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpExchange {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** JSON to send, when there is a body. */
  readonly body?: unknown;
  /** A form to send instead (Neat's `PUT /`). */
  readonly form?: URLSearchParams;
  /** Aborts the exchange (a TransportError, `sent` as far as known). */
  readonly signal?: AbortSignal;
  readonly timeoutMs: number;
  /** PEM CA certificates for TLS, or null for the system's. */
  readonly ca: Buffer | null;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** Large enough for a /servers/detail page of 1000 servers. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/**
 * The request could not be completed: refused, reset, timed out, or the answer
 * was too large. `sent` says whether the server may have acted on it: false
 * only when the request provably never left (the connection was never made).
 */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(message: string, readonly sent: boolean) {
    super(message);
  }
}

export function exchange(options: HttpExchange): Promise<HttpAnswer> {
  const payload = options.form !== undefined ? Buffer.from(options.form.toString())
    : options.body === undefined ? null : Buffer.from(JSON.stringify(options.body));
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (payload !== null) {
    headers['content-type'] = options.form !== undefined ? 'application/x-www-form-urlencoded' : 'application/json';
    headers['content-length'] = String(payload.length);
  }
  const secure = options.url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const what = `${options.method} ${options.url.origin}${options.url.pathname}`;
  return new Promise((resolve, reject) => {
    let sent = false;
    const request = send(options.url, {
      method: options.method, headers, signal: options.signal, ...(secure && options.ca !== null ? { ca: options.ca } : {}),
    }, (response) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > MAX_RESPONSE_BYTES) {
          request.destroy(new TransportError(`${what}: the answer is larger than ${MAX_RESPONSE_BYTES} bytes`, true));
          return;
        }
        chunks.push(chunk);
      });
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      response.on('error', (error) => { reject(asTransportError(error, what, true)); });
    });
    request.on('socket', (socket) => {
      // A keep-alive socket the agent hands out again is connected already and never
      // fires `connect` again: a request on it may reach the server at once.
      if (!socket.connecting) {
        sent = true;
        return;
      }
      socket.once(secure ? 'secureConnect' : 'connect', () => { sent = true; });
    });
    // One deadline for the whole exchange (node's own `timeout` would only bound idleness).
    const deadline = setTimeout(() => {
      request.destroy(new TransportError(`${what}: no complete answer within ${options.timeoutMs} ms`, sent));
    }, options.timeoutMs);
    request.on('error', (error) => { reject(asTransportError(error, what, sent)); });
    request.on('close', () => { clearTimeout(deadline); });
    request.end(payload ?? undefined);
  });
}

function asTransportError(error: Error, what: string, sent: boolean): TransportError {
  return error instanceof TransportError ? error : new TransportError(`${what}: ${error.message}`, sent);
}
