import { fingerprint, hostKeyName, keysFor, parseKnownHosts, verifyHostKey } from '../../src/drivers/knownHosts';

// Keys made with ssh-keygen; the hashed lines are `ssh-keygen -H` of "Compute1 <ED25519>" and "[compute2]:2222 <ED25519>".
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHA7fRHmCDIm4dBVZHFt8SspgQ4Fk8ReQZ1KkdrBHvWL';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBALUXkhC95tuBXqFnGKkwS4HTUC0aCfOWRqWI53PVFv28lmTanzjcHcDB0QoIJNVX/wlgLh5ydhBTr4K/0bzSRQ=';
const HASHED_COMPUTE1 = '|1|GAi13sB1aloTGiwxbgQVuPtQmY8=|4VW0GGOazSZtm+01aj2YX9Pewnc=';
const HASHED_COMPUTE2_2222 = '|1|S5YODbemyOtIoLZXEL5XnwTJZHQ=|dlEBlUTI9WkiT5EI6WhBMv6LCHg=';

function blobOf(key: string): Buffer {
  return Buffer.from(key.split(' ')[1], 'base64');
}

function linesFor(text: string, ...names: string[]): number[] {
  return keysFor(parseKnownHosts(text), names).map((key) => key.line);
}

describe('known_hosts lines', () => {
  test('a port other than 22 is part of the name, as ssh writes it', () => {
    expect(hostKeyName('compute1', 22)).toBe('compute1');
    expect(hostKeyName('compute1', 2222)).toBe('[compute1]:2222');
    const text = `compute1 ${ED25519}\n[compute1]:2222 ${ECDSA}\n`;
    expect(linesFor(text, 'compute1')).toEqual([1]);
    expect(linesFor(text, '[compute1]:2222')).toEqual([2]);
  });

  test('names compare without case, in lists, with wildcards and negations', () => {
    const text = [
      `COMPUTE1,10.0.0.1 ${ED25519}`,
      `compute?.example.org ${ED25519}`,
      `*.example.org,!bad.example.org ${ED25519}`,
    ].join('\n');
    expect(linesFor(text, 'compute1')).toEqual([1]);
    expect(linesFor(text, '10.0.0.1')).toEqual([1]);
    expect(linesFor(text, 'compute7.example.org')).toEqual([2, 3]);
    expect(linesFor(text, 'bad.example.org')).toEqual([]);
    expect(linesFor(text, 'compute1.example.org.evil')).toEqual([]);
  });

  test('hashed names (ssh-keygen -H) match their host, lower-cased, and nothing else', () => {
    const text = `${HASHED_COMPUTE1} ${ED25519}\n${HASHED_COMPUTE2_2222} ${ED25519}\n`;
    expect(linesFor(text, 'compute1')).toEqual([1]);
    expect(linesFor(text, 'COMPUTE1')).toEqual([1]);
    expect(linesFor(text, '[compute2]:2222')).toEqual([2]);
    expect(linesFor(text, 'compute2')).toEqual([]);
  });

  test('comments and blank lines are skipped; a line that cannot be parsed matches nothing and is reported', () => {
    const [type, key] = ED25519.split(' ');
    const text = [
      '# a comment',
      '',
      `compute1 ${type}`,
      `compute1 ${type} not!base64`,
      `compute1 ecdsa-sha2-nistp256 ${key}`,
      `|1|c2FsdA==|dG9vIHNob3J0 ${ED25519}`,
      `@trusted compute1 ${ED25519}`,
      `compute1 ${ED25519} a comment`,
    ].join('\r\n');
    const knownHosts = parseKnownHosts(text);
    expect(knownHosts.malformedLines).toEqual([3, 4, 5, 6, 7]);
    expect(keysFor(knownHosts, ['compute1']).map((k) => k.line)).toEqual([8]);
  });
});

describe('the verdict on a presented key', () => {
  const text = [
    `compute1 ${ED25519}`,
    `compute2 ${ECDSA}`,
    `@revoked compute3 ${ED25519}`,
    `compute3 ${ED25519}`,
    `@cert-authority * ${ECDSA}`,
  ].join('\n');
  const verdict = (host: string, key: string) => verifyHostKey(keysFor(parseKnownHosts(text), [host]), blobOf(key));

  test('the listed key is trusted; another key of a listed host is a mismatch; an unlisted host is unknown', () => {
    expect(verdict('compute1', ED25519)).toEqual({ kind: 'trusted', line: 1 });
    expect(verdict('compute2', ED25519)).toEqual({ kind: 'mismatch', lines: [2] });
    expect(verdict('compute9', ED25519)).toEqual({ kind: 'unknown' });
  });

  test('a revoked key is refused though another line lists it; a certificate authority vouches for nothing', () => {
    expect(verdict('compute3', ED25519)).toEqual({ kind: 'revoked', line: 3 });
    expect(verdict('compute9', ECDSA)).toEqual({ kind: 'unknown' });
  });

  test('fingerprints read as ssh-keygen -l prints them', () => {
    expect(fingerprint(blobOf(ED25519))).toBe('SHA256:c1b/uqi5rEym09Bi0LHYPf430tjdrdB01jYFfz7asqI');
  });
});
