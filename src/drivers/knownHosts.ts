/**
 * OpenSSH's `known_hosts`: which host keys a compute host may present. The
 * suspend driver trusts a host only through this file, as `ssh` does, so that
 * the service never runs a command on (or sends its key to) an impostor.
 *
 * A line is `[@marker] patterns keytype base64-key [comment]`. Patterns are a
 * comma-separated list of names, `[name]:port` for a port other than 22,
 * wildcards `*` and `?`, negations `!pattern`; or one hashed name
 * `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, as `ssh-keygen -H` writes.
 * Names compare case-insensitively (OpenSSH lower-cases them before matching
 * and hashing). A line that cannot be parsed matches nothing: a typo makes a
 * host unknown, never trusted.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type KnownHostMarker = 'revoked' | 'cert-authority' | null;

type HostPatterns =
  | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'patterns'; readonly patterns: readonly string[] };

export interface KnownHostKey {
  /** 1-based, for messages that send the operator to the line. */
  readonly line: number;
  readonly marker: KnownHostMarker;
  readonly keyType: string;
  /** The key as the server sends it during key exchange (the base64-decoded field). */
  readonly blob: Buffer;
  readonly hosts: HostPatterns;
}

export interface KnownHosts {
  readonly keys: readonly KnownHostKey[];
  /** Lines that are neither blank, comments nor valid entries. */
  readonly malformedLines: readonly number[];
}

export type HostKeyVerdict =
  | { readonly kind: 'trusted'; readonly line: number }
  | { readonly kind: 'revoked'; readonly line: number }
  /** The host is listed, but with other keys: a reinstalled host or a man in the middle. */
  | { readonly kind: 'mismatch'; readonly lines: readonly number[] }
  | { readonly kind: 'unknown' };

const HASH_MAGIC = '|1|';
const SHA1_BYTES = 20;
const DEFAULT_SSH_PORT = 22;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** How `ssh` names a host in known_hosts: the name alone on port 22, `[name]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === DEFAULT_SSH_PORT ? host : `[${host}]:${port}`;
}

function decodeBase64(text: string): Buffer | null {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : null;
}

/** The key type a blob names in its first field (RFC 4253 §6.6: a uint32-length-prefixed string). */
export function blobKeyType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > blob.length - 4) return null;
  return blob.toString('latin1', 4, 4 + length);
}

/** `SHA256:…` as `ssh-keygen -l` prints it, so that messages can be compared with what an operator sees. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function parseHosts(field: string): HostPatterns | null {
  if (field.startsWith(HASH_MAGIC)) {
    const parts = field.slice(HASH_MAGIC.length).split('|');
    if (parts.length !== 2) return null;
    const saltBytes = decodeBase64(parts[0]);
    const hashBytes = decodeBase64(parts[1]);
    if (saltBytes === null || hashBytes?.length !== SHA1_BYTES) return null;
    return { kind: 'hashed', salt: saltBytes, hash: hashBytes };
  }
  const patterns = field.toLowerCase().split(',');
  if (patterns.some((pattern) => pattern === '' || pattern === '!')) return null;
  return { kind: 'patterns', patterns };
}

function parseMarker(field: string): KnownHostMarker | undefined {
  if (field === '@revoked') return 'revoked';
  if (field === '@cert-authority') return 'cert-authority';
  return undefined;
}

function parseLine(text: string, line: number): KnownHostKey | null {
  const fields = text.trim().split(/\s+/);
  let marker: KnownHostMarker = null;
  if (fields[0].startsWith('@')) {
    const parsed = parseMarker(fields.shift()!);
    if (parsed === undefined) return null;
    marker = parsed;
  }
  if (fields.length < 3) return null;
  const [hostsField, keyType, keyField] = fields;
  const hosts = parseHosts(hostsField);
  const blob = decodeBase64(keyField);
  // A blob that names another type than its line is corrupt; trusting it under either type would be a guess.
  if (hosts === null || blob === null || blobKeyType(blob) !== keyType) return null;
  return { line, marker, keyType, blob, hosts };
}

export function parseKnownHosts(text: string): KnownHosts {
  const keys: KnownHostKey[] = [];
  const malformedLines: number[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const trimmed = lines[index].trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const key = parseLine(trimmed, index + 1);
    if (key === null) malformedLines.push(index + 1);
    else keys.push(key);
  }
  return { keys, malformedLines };
}

function wildcard(pattern: string): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${source}$`);
}

/** OpenSSH's rule: a negated pattern that matches excludes the name, whatever else matches. */
function patternsMatch(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (!wildcard(negated ? pattern.slice(1) : pattern).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function hostsMatch(hosts: HostPatterns, name: string): boolean {
  const lower = name.toLowerCase();
  if (hosts.kind === 'patterns') return patternsMatch(hosts.patterns, lower);
  const hash = createHmac('sha1', hosts.salt).update(lower).digest();
  return timingSafeEqual(hash, hosts.hash);
}

/** The lines that speak of any of `names` (the host as `ssh` would name it, and its address). */
export function keysFor(knownHosts: KnownHosts, names: readonly string[]): KnownHostKey[] {
  return knownHosts.keys.filter((key) => names.some((name) => hostsMatch(key.hosts, name)));
}

/**
 * What the file says of the key a host presented, given the lines for that
 * host. Host certificates are not supported, so `@cert-authority` lines vouch
 * for nothing; a revoked key is refused even when another line lists it.
 */
export function verifyHostKey(lines: readonly KnownHostKey[], blob: Buffer): HostKeyVerdict {
  const same = (key: KnownHostKey): boolean => key.blob.equals(blob);
  const revoked = lines.find((key) => key.marker === 'revoked' && same(key));
  if (revoked !== undefined) return { kind: 'revoked', line: revoked.line };
  const plain = lines.filter((key) => key.marker === null);
  const trusted = plain.find(same);
  if (trusted !== undefined) return { kind: 'trusted', line: trusted.line };
  if (plain.length > 0) return { kind: 'mismatch', lines: plain.map((key) => key.line) };
  return { kind: 'unknown' };
}
