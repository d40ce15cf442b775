/**
 * The Cloud port on OpenStack Nova (compute API v2.1 at a pinned
 * microversion, 2.74..2.87: 2.88 drops the hypervisors' capacity fields).
 *
 * Answers are mapped by kind so that the orchestration never parses
 * messages: 404 is a VM or host that is gone, 409 a conflict worth retrying
 * later, other 4xx a request that will never be valid; 5xx and transport
 * failures are retried here with backoff, within a bound, and then reported
 * as `unavailable`, except a POST that may have reached Nova (its transport
 * failed once the connection was made, or it was answered 500, 502 or 504):
 * that is never repeated, and is reported as `ambiguous`. A live migration is
 * judged by the migration record Nova keeps (`/os-migrations`), because
 * `os-migrateLive` answers 202 even for a migration the scheduler will
 * reject; the orchestration also checks the server itself (ACTIVE, no task,
 * on the target). Nova sets the server's task state before it answers 202, so
 * a start whose answer was lost shows on the server if Nova took it.
 */
import { assert } from '../engine/assert';
import type { Timer } from '../clock';
import { CloudError } from '../managers/ports';
import type { Cloud, CloudHost, CloudVm, MigrationStatus, VmStatus } from '../managers/ports';
import { exchange, TransportError } from './http';
import type { HttpAnswer } from './http';
import { AuthError } from './keystone';
import type { KeystoneSession, Token } from './keystone';

export interface NovaOptions {
  readonly session: KeystoneSession;
  /** `2.74`..`2.87`, sent on every call. */
  readonly microversion: string;
  /** Hosts to manage; others are left alone, with one warning each. */
  readonly computeHosts: readonly string[];
  /** Nova counts vCPUs, not clock speed: a host's capacity is its vCPUs times this. */
  readonly vcpuMhz: number;
  readonly blockMigration: boolean;
  readonly timeoutMs: number;
  readonly ca: Buffer | null;
  /** Tries per call for 5xx and transport failures, the first included. */
  readonly maxAttempts: number;
  /** Backoff before the second try; doubled for each further one. */
  readonly backoffMs: number;
  readonly timer: Timer;
  readonly warn: (message: string) => void;
}

type Method = 'GET' | 'POST' | 'DELETE';

/** Pages followed per listing at most: 100 pages of Nova's default 1000 items. */
const MAX_PAGES = 100;
const RECORD_FINAL_OK = 'completed';
const RECORD_FINAL_FAILED = new Set(['error', 'failed', 'cancelled']);

interface Handle {
  readonly vmId: string;
  readonly targetHost: string;
  /** The instance's newest live-migration record before this one was asked for. */
  readonly afterRecordId: number;
}

interface NovaServer {
  readonly id?: unknown;
  readonly status?: unknown;
  readonly 'OS-EXT-STS:task_state'?: unknown;
  readonly 'OS-EXT-SRV-ATTR:host'?: unknown;
  readonly flavor?: { readonly ram?: unknown; readonly vcpus?: unknown };
}

interface NovaHypervisor {
  readonly hypervisor_hostname?: unknown;
  readonly state?: unknown;
  readonly status?: unknown;
  readonly vcpus?: unknown;
  readonly memory_mb?: unknown;
  readonly service?: { readonly host?: unknown };
}

interface MigrationRecord {
  readonly id?: unknown;
  readonly status?: unknown;
}

export class NovaCloud implements Cloud {
  private readonly managed: ReadonlySet<string>;
  private readonly warned = new Set<string>();

  constructor(private readonly options: NovaOptions) {
    assert(/^2\.(7[4-9]|8[0-7])$/.test(options.microversion), () => `microversion ${options.microversion} is outside 2.74..2.87`);
    assert(options.maxAttempts >= 1 && options.maxAttempts <= 10, 'between 1 and 10 tries per call');
    this.managed = new Set(options.computeHosts);
  }

  async listHosts(): Promise<readonly CloudHost[]> {
    const hypervisors = await this.listAll<NovaHypervisor>('/os-hypervisors/detail', 'hypervisors');
    const hosts: CloudHost[] = [];
    for (const hypervisor of hypervisors) {
      const name = typeof hypervisor.service?.host === 'string' ? hypervisor.service.host : hypervisor.hypervisor_hostname;
      if (typeof name !== 'string' || !this.isManaged(name, 'a hypervisor')) continue;
      const { vcpus, memory_mb: ramMb } = hypervisor;
      if (typeof vcpus !== 'number' || typeof ramMb !== 'number') {
        throw new CloudError('unavailable', `Nova gave hypervisor "${name}" no vcpus or memory_mb (microversion ${this.options.microversion})`);
      }
      hosts.push({
        name, cpuMhz: vcpus * this.options.vcpuMhz, ramMb, cores: vcpus, state: hypervisor.state === 'up' ? 'up' : 'down', enabled: hypervisor.status === 'enabled',
      });
    }
    return hosts;
  }

  async listVms(): Promise<readonly CloudVm[]> {
    const vms: CloudVm[] = [];
    for (const host of this.options.computeHosts) {
      const servers = await this.listAll<NovaServer>(`/servers/detail?all_tenants=1&host=${encodeURIComponent(host)}`, 'servers');
      for (const server of servers) vms.push(this.vmOf(server));
    }
    return vms;
  }

  async getVm(vmId: string): Promise<CloudVm | null> {
    try {
      const body = await this.call('GET', `/servers/${encodeURIComponent(vmId)}`) as { server?: NovaServer };
      if (body.server === undefined) throw new CloudError('unavailable', `Nova answered server ${vmId} without a server`);
      return this.vmOf(body.server);
    } catch (error) {
      if (error instanceof CloudError && error.kind === 'not-found') return null;
      throw error;
    }
  }

  async startLiveMigration(vmId: string, targetHost: string): Promise<string> {
    if (!this.managed.has(targetHost)) throw new CloudError('bad-request', `host "${targetHost}" is not in compute_hosts`);
    const before = await this.records(vmId);
    const afterRecordId = before.reduce((max, record) => Math.max(max, recordId(record)), 0);
    const handle = JSON.stringify({ vmId, targetHost, afterRecordId } satisfies Handle);
    try {
      await this.call('POST', `/servers/${encodeURIComponent(vmId)}/action`, {
        'os-migrateLive': { host: targetHost, block_migration: this.options.blockMigration },
      });
    } catch (error) {
      // The handle names the migration Nova may have begun, so that it can be followed instead of asked for again.
      if (error instanceof CloudError && error.kind === 'ambiguous') throw new CloudError('ambiguous', error.message, handle);
      throw error;
    }
    return handle;
  }

  async migrationStatus(handleText: string): Promise<MigrationStatus> {
    const handle = parseHandle(handleText);
    const newer = (await this.records(handle.vmId)).filter((record) => recordId(record) > handle.afterRecordId);
    // Newest first; the record appears only once the conductor has taken the request.
    const record = newer.sort((a, b) => recordId(b) - recordId(a)).at(0);
    if (record === undefined) return { state: 'running', error: null };
    const status = String(record.status);
    if (status === RECORD_FINAL_OK) return { state: 'completed', error: null };
    if (RECORD_FINAL_FAILED.has(status)) {
      return { state: 'failed', error: `Nova's migration record ${recordId(record)} (to "${handle.targetHost}") ended "${status}"` };
    }
    return { state: 'running', error: null };
  }

  private records(vmId: string): Promise<MigrationRecord[]> {
    return this.listAll<MigrationRecord>(`/os-migrations?instance_uuid=${encodeURIComponent(vmId)}&migration_type=live-migration`, 'migrations');
  }

  private isManaged(host: string, what: string): boolean {
    if (this.managed.has(host)) return true;
    if (!this.warned.has(host)) {
      this.warned.add(host);
      this.options.warn(`Nova reports ${what} on host "${host}", which is not in compute_hosts: left alone`);
    }
    return false;
  }

  private vmOf(server: NovaServer): CloudVm {
    const id = server.id;
    const ramMb = server.flavor?.ram;
    const vcpus = server.flavor?.vcpus;
    if (typeof id !== 'string' || typeof ramMb !== 'number' || typeof vcpus !== 'number') {
      throw new CloudError('unavailable', `Nova answered a server without id or flavor ram/vcpus: ${JSON.stringify(server).slice(0, 200)}`);
    }
    const host = typeof server['OS-EXT-SRV-ATTR:host'] === 'string' ? server['OS-EXT-SRV-ATTR:host'] : null;
    return { id, host, ramMb, vcpus, cpuMhz: vcpus * this.options.vcpuMhz, status: vmStatus(server) };
  }

  /** Every item of a listing, following Nova's `*_links` next pages on our own endpoint. */
  private async listAll<T>(path: string, key: string): Promise<T[]> {
    const items: T[] = [];
    let next: string | null = path;
    for (let page = 0; next !== null; page++) {
      if (page === MAX_PAGES) throw new CloudError('unavailable', `${path}: more than ${MAX_PAGES} pages`);
      const body = await this.call('GET', next) as Record<string, unknown>;
      const list = body[key];
      if (!Array.isArray(list)) throw new CloudError('unavailable', `${next}: Nova's answer has no "${key}" list`);
      items.push(...(list as T[]));
      next = nextPage(path, body[`${key}_links`]);
    }
    return items;
  }

  /** One API call: token, microversion, bounded retries; the parsed JSON body of a 2xx (null when empty). */
  private async call(method: Method, path: string, body?: unknown): Promise<unknown> {
    const o = this.options;
    let renewedAfter401 = false;
    let lastFailure = '';
    for (let attempt = 1; attempt <= o.maxAttempts; attempt++) {
      if (attempt > 1) await o.timer.sleep(o.backoffMs * 2 ** (attempt - 2));
      let token: Token;
      try {
        token = await o.session.current();
      } catch (error) {
        if (error instanceof AuthError) throw new CloudError('unavailable', error.message);
        if (!(error instanceof TransportError)) throw error;
        // Nothing has gone to Nova yet, and asking Keystone again is harmless.
        lastFailure = `Keystone: ${error.message}`;
        continue;
      }
      let answer: HttpAnswer;
      try {
        answer = await exchange({
          method, url: new URL(`${token.computeUrl}${path}`), body, timeoutMs: o.timeoutMs, ca: o.ca,
          headers: { 'x-auth-token': token.id, 'openstack-api-version': `compute ${o.microversion}`, 'x-openstack-nova-api-version': o.microversion },
        });
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        lastFailure = `Nova: ${error.message}`;
        // A POST that may have reached Nova is never repeated: a second os-migrateLive could start a second migration.
        if (method === 'POST' && error.sent) throw new CloudError('ambiguous', `Nova may have acted; its answer was lost: ${error.message}`);
        continue;
      }
      if (answer.status === 401 && !renewedAfter401) {
        renewedAfter401 = true;
        o.session.invalidate(token.id);
        attempt -= 1;
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) return answer.text === '' ? null : parseJson(answer, method, path);
      if (answer.status < 500) throw refusal(answer, method, path);
      lastFailure = `Nova: ${method} ${path}: HTTP ${answer.status} ${novaMessage(answer)}`;
      // 503 says the request was not taken; a 500, 502 or 504 may come from Nova, or a proxy in front of it, after Nova acted.
      if (method === 'POST' && answer.status !== 503) throw new CloudError('ambiguous', `${lastFailure} (Nova may have acted)`);
    }
    throw new CloudError('unavailable', lastFailure);
  }
}

function vmStatus(server: NovaServer): VmStatus {
  const status = server.status;
  if (status === 'ERROR') return 'ERROR';
  if (status === 'MIGRATING') return 'MIGRATING';
  // ACTIVE with a task (e.g. the end of a migration) is not yet settled.
  if (status === 'ACTIVE') return server['OS-EXT-STS:task_state'] == null ? 'ACTIVE' : 'MIGRATING';
  return 'OTHER';
}

function recordId(record: MigrationRecord): number {
  return typeof record.id === 'number' ? record.id : 0;
}

function parseHandle(text: string): Handle {
  let handle: Partial<Handle>;
  try {
    handle = JSON.parse(text) as Partial<Handle>;
  } catch {
    throw new CloudError('bad-request', `not a Nova migration handle: ${text.slice(0, 100)}`);
  }
  if (typeof handle.vmId !== 'string' || typeof handle.targetHost !== 'string' || typeof handle.afterRecordId !== 'number') {
    throw new CloudError('bad-request', `not a Nova migration handle: ${text.slice(0, 100)}`);
  }
  return handle as Handle;
}

/** The next page's query on our path, so that a link naming another address never receives the token. */
function nextPage(path: string, links: unknown): string | null {
  if (!Array.isArray(links)) return null;
  const next = (links as { rel?: unknown; href?: unknown }[]).find((link) => link.rel === 'next');
  if (typeof next?.href !== 'string') return null;
  const marker = new URL(next.href).searchParams.get('marker');
  if (marker === null) return null;
  const base = path.replace(/([?&])marker=[^&]*&?/, '$1').replace(/[?&]$/, '');
  return `${base}${base.includes('?') ? '&' : '?'}marker=${encodeURIComponent(marker)}`;
}

function parseJson(answer: HttpAnswer, method: Method, path: string): unknown {
  try {
    return JSON.parse(answer.text) as unknown;
  } catch {
    throw new CloudError('unavailable', `${method} ${path}: Nova answered HTTP ${answer.status} with a body that is not JSON`);
  }
}

/** Nova wraps errors as `{"badRequest": {"code": 400, "message": "…"}}`. */
function novaMessage(answer: HttpAnswer): string {
  try {
    const body = JSON.parse(answer.text) as Record<string, { message?: unknown } | undefined>;
    const message = Object.values(body).find((value) => typeof value?.message === 'string')?.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the text itself says what happened.
  }
  return answer.text.slice(0, 300);
}

function refusal(answer: HttpAnswer, method: Method, path: string): CloudError {
  const message = `${method} ${path}: HTTP ${answer.status} ${novaMessage(answer)}`;
  if (answer.status === 404) return new CloudError('not-found', message);
  if (answer.status === 409) return new CloudError('conflict', message);
  return new CloudError('bad-request', message);
}
