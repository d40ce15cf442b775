/**
 * HTTP below fetch: node:http for methods fetch refuses to send (TRACE), and
 * raw sockets for what no HTTP client sends (unknown method tokens, bodies
 * cut short, broken chunked encoding). Every exchange is bounded in time.
 */
import { request } from 'node:http';
import { connect } from 'node:net';

export interface WireAnswer {
  readonly status: number;
  /** By lower-case name; a header sent twice is joined with commas. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly text: string;
}

/** One request with any method Node's client accepts, answered in full within `timeoutMs`. */
export function exchange(url: string, method: string, path: string, headers: Readonly<Record<string, string>> = {}, timeoutMs = 5_000): Promise<WireAnswer> {
  return new Promise((resolve, reject) => {
    const sent = request(`${url}${path}`, { method, headers, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => { chunks.push(chunk); });
      response.on('error', reject);
      response.on('end', () => {
        const flat: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) flat[name] = Array.isArray(value) ? value.join(', ') : String(value);
        resolve({ status: response.statusCode ?? 0, headers: flat, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    sent.on('error', reject);
    sent.end();
  });
}

export interface RawOptions {
  /** Half-close after writing: the client says it will send nothing more. */
  readonly halfClose: boolean;
  /** How long to wait for the server to close the connection before giving up on it. */
  readonly timeoutMs: number;
}

/** What came back on a raw connection: the status line's code (null when nothing came), and everything read. */
export interface RawAnswer {
  readonly status: number | null;
  readonly text: string;
}

/** Writes `bytes` on a fresh connection and reads until the server closes it, or `timeoutMs` passes. */
export function rawExchange(url: string, bytes: string, options: RawOptions): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); }, options.timeoutMs);
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk); });
    // A reset after the server's answer is how some refusals end; what was read is the answer either way.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve({ status: match === null ? null : Number(match[1]), text });
    });
    socket.write(bytes, 'latin1', () => { if (options.halfClose) socket.end(); });
  });
}

/** The head of a request, CRLF-terminated, with `Host` and the given header lines. */
export function requestHead(method: string, path: string, headerLines: readonly string[]): string {
  return [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headerLines, '', ''].join('\r\n');
}
