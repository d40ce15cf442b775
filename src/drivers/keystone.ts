/**
 * Keystone v3 password authentication, scoped to a project: one token at a
 * time, cached, renewed before it expires and again when a service answers 401
 * (a revoked token). The compute endpoint comes from the token's catalogue.
 */
import type { Clock } from '../clock';
import { exchange, TransportError } from './http';
import type { HttpAnswer } from './http';

export interface KeystoneOptions {
  /** Keystone v3, without a trailing slash, e.g. `http://controller:5000/v3`. */
  readonly authUrl: string;
  readonly user: string;
  readonly password: string;
  readonly userDomainName: string;
  readonly project: string;
  readonly projectDomainName: string;
  readonly interface: 'public' | 'internal' | 'admin';
  /** Endpoint region, or null for the first endpoint of the interface. */
  readonly region: string | null;
  readonly timeoutMs: number;
  readonly ca: Buffer | null;
  readonly clock: Clock;
  /** A token this close to its expiry is renewed before use. */
  readonly renewBeforeMs: number;
}

export interface Token {
  readonly id: string;
  readonly expiresAtMs: number;
  readonly computeUrl: string;
}

/** Keystone refused the credentials or answered something unusable; retrying will not help. */
export class AuthError extends Error {
  override name = 'AuthError';
}

interface CatalogEntry {
  readonly type?: unknown;
  readonly endpoints?: readonly { readonly interface?: unknown; readonly region?: unknown; readonly url?: unknown }[];
}

export class KeystoneSession {
  private token: Token | null = null;
  private pending: Promise<Token> | null = null;
  private issued = 0;

  constructor(private readonly options: KeystoneOptions) {}

  /** Tokens issued so far: each one is a password authentication. */
  get authentications(): number {
    return this.issued;
  }

  /** A token valid for at least `renewBeforeMs`; concurrent callers share one authentication. */
  async current(): Promise<Token> {
    const token = this.token;
    if (token !== null && token.expiresAtMs - this.options.clock.nowMs() > this.options.renewBeforeMs) return token;
    this.pending ??= this.authenticate().finally(() => { this.pending = null; });
    return this.pending;
  }

  /** Forgets the token a service refused, unless a newer one has replaced it already. */
  invalidate(tokenId: string): void {
    if (this.token?.id === tokenId) this.token = null;
  }

  private async authenticate(): Promise<Token> {
    const o = this.options;
    const answer = await exchange({
      method: 'POST', url: new URL(`${o.authUrl}/auth/tokens`), headers: {}, timeoutMs: o.timeoutMs, ca: o.ca,
      body: {
        auth: {
          identity: { methods: ['password'], password: { user: { name: o.user, domain: { name: o.userDomainName }, password: o.password } } },
          scope: { project: { name: o.project, domain: { name: o.projectDomainName } } },
        },
      },
    });
    const id = answer.headers['x-subject-token'];
    if (answer.status !== 201 || typeof id !== 'string' || id === '') throw refusal(answer, o);
    const token = parseToken(answer.text, id, o);
    this.token = token;
    this.issued += 1;
    return token;
  }
}

function refusal(answer: HttpAnswer, o: KeystoneOptions): Error {
  const what = `Keystone at ${o.authUrl} refused user "${o.user}" (domain "${o.userDomainName}") for project "${o.project}"`
    + ` (domain "${o.projectDomainName}"): HTTP ${answer.status} ${answer.text.slice(0, 300)}`;
  // A Keystone that is down or overloaded may answer later; wrong credentials will not.
  return answer.status >= 500 ? new TransportError(what, true) : new AuthError(what);
}

function parseToken(text: string, id: string, o: KeystoneOptions): Token {
  let body: { token?: { expires_at?: unknown; catalog?: unknown } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new AuthError(`Keystone at ${o.authUrl} answered a token that is not JSON`);
  }
  const expiresAt = body.token?.expires_at;
  // Keystone writes microseconds, which Date.parse does not promise to read.
  const expiresAtMs = typeof expiresAt === 'string' ? Date.parse(expiresAt.replace(/(\.\d{3})\d+/, '$1')) : Number.NaN;
  if (!Number.isFinite(expiresAtMs)) throw new AuthError(`Keystone at ${o.authUrl} answered a token without a readable expires_at`);
  const catalog = Array.isArray(body.token?.catalog) ? body.token.catalog as CatalogEntry[] : [];
  return { id, expiresAtMs, computeUrl: computeEndpoint(catalog, o) };
}

function computeEndpoint(catalog: readonly CatalogEntry[], o: KeystoneOptions): string {
  const endpoints = catalog.filter((entry) => entry.type === 'compute').flatMap((entry) => entry.endpoints ?? []);
  const chosen = endpoints.find((e) => e.interface === o.interface && (o.region === null || e.region === o.region));
  if (chosen === undefined || typeof chosen.url !== 'string') {
    const seen = endpoints.map((e) => `${String(e.interface)}@${String(e.region)}`).join(', ') || 'none';
    throw new AuthError(`the catalogue has no compute endpoint with interface "${o.interface}"`
      + `${o.region === null ? '' : ` in region "${o.region}"`} (nova_interface, nova_region); it has: ${seen}`);
  }
  return chosen.url.replace(/\/+$/, '');
}
