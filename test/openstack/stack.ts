/**
 * The real OpenStack of `test/openstack/harness` (Keystone, Nova with fake
 * compute hosts, all on 127.0.0.1), seen by the tests: the configuration the
 * drivers get, and an administrator who boots and deletes servers with the
 * same HTTP client the driver uses.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock, systemTimer } from '../../src/clock';
import { loadConfig } from '../../src/config';
import type { ManagerConfig } from '../../src/config';
import { exchange } from '../../src/drivers/http';
import type { KeystoneSession } from '../../src/drivers/keystone';
import { novaCloud } from '../../src/drivers/production';

export const AUTH_URL = 'http://127.0.0.1:5000/v3';
export const COMPUTE_HOSTS = ['fake-compute-1', 'fake-compute-2', 'fake-compute-3'] as const;
/** Test servers are named with this prefix, so that a run removes what an interrupted one left. */
export const SERVER_PREFIX = 'neat-it-';
const MICROVERSION = '2.87';
const TIMEOUT_MS = 30_000;

export function configText(overrides: Readonly<Record<string, string>>): string {
  const settings: Record<string, string> = {
    os_admin_tenant_name: 'admin', os_admin_user: 'admin', os_admin_password: 'fakestack', os_auth_url: AUTH_URL,
    os_user_domain_name: 'Default', os_project_domain_name: 'Default', compute_hosts: COMPUTE_HOSTS.join(', '),
    nova_compute_microversion: MICROVERSION, global_manager_host: '127.0.0.1',
    migration_initial_wait_s: '1', migration_poll_interval_s: '0.5', migration_timeout_s: '90', nova_retry_backoff_s: '0.2',
    ...overrides,
  };
  return `[DEFAULT]\n${Object.entries(settings).map(([key, value]) => `${key} = ${value}`).join('\n')}\n`;
}

export function stackConfig(directory: string, overrides: Readonly<Record<string, string>> = {}): ManagerConfig {
  const path = join(directory, `neat-${Object.keys(overrides).length}-${Date.now()}.conf`);
  writeFileSync(path, configText(overrides));
  return loadConfig({ files: [path], env: { HOME: directory } });
}

/** Fails with the harness's instructions when Keystone or Nova does not answer. */
export async function requireStack(): Promise<void> {
  for (const url of [AUTH_URL, 'http://127.0.0.1:8774/']) {
    try {
      await exchange({ method: 'GET', url: new URL(url), headers: {}, timeoutMs: 5000, ca: null });
    } catch (error) {
      throw new Error(`${url} does not answer (${(error as Error).message}): start the harness first, as root: `
        + 'test/openstack/harness/setup.sh (about 5 minutes and 2.3 GB the first time)');
    }
  }
}

interface Server {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly 'OS-EXT-SRV-ATTR:host': string | null;
  readonly 'OS-EXT-STS:task_state': string | null;
}

/** Bounded polling for the tests' own waits. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 10_000; round++) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) break;
    await systemTimer.sleep(250);
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

export class Admin {
  readonly session: KeystoneSession;
  private imageId: string | null = null;

  constructor(directory: string) {
    this.session = novaCloud(stackConfig(directory), { clock: systemClock, timer: systemTimer, warn: () => undefined }).session;
  }

  async call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, microversion = MICROVERSION): Promise<{ status: number; json: unknown }> {
    const token = await this.session.current();
    const answer = await exchange({
      method, url: new URL(`${token.computeUrl}${path}`), body, timeoutMs: TIMEOUT_MS, ca: null,
      headers: { 'x-auth-token': token.id, 'openstack-api-version': `compute ${microversion}` },
    });
    return { status: answer.status, json: answer.text === '' ? null : JSON.parse(answer.text) as unknown };
  }

  /** Boots a server on a chosen host (admin, microversion >= 2.74) and waits until it is ACTIVE there. */
  async boot(name: string, host: string): Promise<string> {
    const created = await this.call('POST', '/servers', {
      server: { name: SERVER_PREFIX + name, imageRef: await this.image(), flavorRef: 'fake.tiny', networks: 'none', host },
    });
    if (created.status !== 202) throw new Error(`boot ${name} on ${host}: HTTP ${created.status} ${JSON.stringify(created.json)}`);
    const id = (created.json as { server: { id: string } }).server.id;
    await waitFor(`server ${name} ACTIVE on ${host}`, 60_000, async () => {
      const server = await this.server(id);
      if (server?.status === 'ERROR') throw new Error(`server ${name} went into ERROR`);
      return server?.status === 'ACTIVE' && server['OS-EXT-SRV-ATTR:host'] === host ? server : null;
    });
    return id;
  }

  async server(id: string): Promise<Server | null> {
    const answer = await this.call('GET', `/servers/${id}`);
    return answer.status === 404 ? null : (answer.json as { server: Server }).server;
  }

  async delete(id: string): Promise<void> {
    const answer = await this.call('DELETE', `/servers/${id}`);
    if (answer.status !== 204 && answer.status !== 404) throw new Error(`delete ${id}: HTTP ${answer.status}`);
  }

  /** The test servers on each host (ACTIVE or not), as a hypervisor would list its domains. */
  async testServersByHost(): Promise<Map<string, string[]>> {
    const answer = await this.call('GET', `/servers/detail?all_tenants=1&name=^${SERVER_PREFIX}`);
    const byHost = new Map<string, string[]>();
    for (const server of (answer.json as { servers: Server[] }).servers) {
      const host = server['OS-EXT-SRV-ATTR:host'];
      if (host === null) continue;
      byHost.set(host, [...(byHost.get(host) ?? []), server.id].sort());
    }
    return byHost;
  }

  /** Deletes every test server and waits until they are gone. */
  async deleteTestServers(): Promise<void> {
    const answer = await this.call('GET', `/servers?all_tenants=1&name=^${SERVER_PREFIX}`);
    const servers = (answer.json as { servers: { id: string }[] }).servers;
    for (const server of servers) await this.delete(server.id);
    for (const server of servers) await waitFor(`server ${server.id} deleted`, 60_000, async () => (await this.server(server.id) === null ? true : null));
  }

  /** The image `fake-image`, through Nova's image proxy (gone after microversion 2.35). */
  private async image(): Promise<string> {
    if (this.imageId !== null) return this.imageId;
    const answer = await this.call('GET', '/images', undefined, '2.35');
    const image = (answer.json as { images: { id: string; name: string }[] }).images.find((i) => i.name === 'fake-image');
    if (image === undefined) throw new Error('the harness registered no image "fake-image"');
    this.imageId = image.id;
    return image.id;
  }
}
