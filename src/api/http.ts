/**
 * What every endpoint shares: reading a bounded body, JSON errors that name
 * the field, bearer tokens checked against stored SHA-256 digests in constant
 * time. No body-parser dependency: the two formats we read are a few lines.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Context } from 'koa';
import { SchemaError, validate } from '../events/schema';
import type { Schema } from '../events/schema';

/** A client error: the status, a message, and the field it is about when there is one. */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly status: number, message: string, readonly field: string | null = null, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message);
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Reads the raw body, refusing more than `limitBytes` (413) before it is all in memory. A body the client cuts
 * short (it closes the connection, or Node's parser refuses its chunked encoding and closes it) is the client's
 * error, a 400; its answer is written only if the connection is still open, which koa checks.
 */
export async function readBody(ctx: Context, limitBytes: number): Promise<string> {
  const declared = Number(ctx.get('content-length') || '0');
  if (declared > limitBytes) throw new HttpError(413, `the body is ${declared} bytes; the limit is ${limitBytes}`);
  const coding = ctx.get('transfer-encoding');
  // Node decodes `chunked` only: a body in any other coding would reach the parsers still encoded.
  if (coding !== '' && coding.trim().toLowerCase() !== 'chunked') {
    throw new HttpError(400, `Transfer-Encoding ${JSON.stringify(coding.slice(0, 100))} is not supported; send the body as is, or chunked`, 'Transfer-Encoding');
  }
  return (await collect(ctx.req, limitBytes, declared)).toString('utf8');
}

/** The body's bytes, read with listeners: an async iterator costs a few promises a chunk on a path taken by every request. */
function collect(request: IncomingMessage, limitBytes: number, declared: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const cutShort = (): HttpError => {
      const expected = declared > 0 ? ` of the ${declared} declared` : '';
      return new HttpError(400, `the body ended after ${total} bytes${expected}: the connection closed, or the chunked encoding was malformed`);
    };
    const settle = (): void => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total <= limitBytes) {
        chunks.push(chunk);
        return;
      }
      settle();
      request.destroy();
      reject(new HttpError(413, `the body exceeds the limit of ${limitBytes} bytes`));
    };
    const onEnd = (): void => {
      settle();
      resolve(Buffer.concat(chunks, total));
    };
    // Node destroys a request whose connection closes before its body ends with an `aborted` ECONNRESET.
    const onError = (error: NodeJS.ErrnoException): void => {
      settle();
      reject(error.code === 'ECONNRESET' ? cutShort() : error);
    };
    const onClose = (): void => {
      settle();
      reject(cutShort());
    };
    if (request.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}

/** The media type of the request, without parameters, lower case. */
export function mediaType(ctx: Context): string {
  return (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
}

/**
 * Reads a JSON body and checks it against a schema; a problem is a 400 naming
 * the field. An empty body reads as `{}` when `emptyAllowed` (actions whose
 * body is all optional).
 */
export async function readJson<T>(ctx: Context, schema: Schema<T>, limitBytes: number, emptyAllowed = false): Promise<T> {
  const text = await readBody(ctx, limitBytes);
  let value: unknown = {};
  if (!(emptyAllowed && text.trim() === '')) {
    if (mediaType(ctx) !== 'application/json') throw new HttpError(415, 'the body must be application/json');
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, `the body is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  try {
    validate(schema, value, 'body');
  } catch (error) {
    if (error instanceof SchemaError) throw new HttpError(400, error.message, error.path.replace(/^\./, '') || null);
    throw error;
  }
  return value as T;
}

/** Compares a presented bearer token with the stored digests, in time independent of where they differ. */
export function tokenMatches(presented: string, digestsHex: readonly string[]): boolean {
  const digest = Buffer.from(sha256Hex(presented), 'hex');
  let match = false;
  for (const stored of digestsHex) {
    if (timingSafeEqual(digest, Buffer.from(stored, 'hex'))) match = true;
  }
  return match;
}

export function requireToken(ctx: Context, digestsHex: readonly string[]): string {
  const header = ctx.get('authorization');
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (match === null) throw new HttpError(401, 'a bearer token is required (Authorization: Bearer <token>)', null, { 'WWW-Authenticate': 'Bearer' });
  if (!tokenMatches(match[1], digestsHex)) throw new HttpError(403, 'the bearer token is not valid', null, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  return `token:${sha256Hex(match[1]).slice(0, 12)}`;
}

export function sendError(ctx: Context, error: HttpError): void {
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  ctx.body = { error: { status: error.status, message: error.message, field: error.field } };
}

/** The largest `after` a reader may pass: the position after it must still be a safe integer. */
export const MAX_AFTER_POSITION = Number.MAX_SAFE_INTEGER - 1;

/** An integer query parameter within bounds, or its default; anything else is a 400 naming it. */
export function queryInteger(ctx: Context, name: string, fallback: number, min: number, max: number): number {
  const raw = ctx.query[name];
  if (raw === undefined) return fallback;
  const value = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(400, `query parameter "${name}" must be an integer in ${min}..${max}`, name);
  }
  return value;
}
