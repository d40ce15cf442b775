/**
 * A Nova stand-in on 127.0.0.1 for answers lost on their way back: Keystone's
 * token endpoint and the Nova calls NovaCloud makes (os-hypervisors/detail,
 * servers/detail, servers/{id}, servers/{id}/action, os-migrations), over a
 * small model of Nova's state: servers on hosts, and live migrations that set
 * the server's task state and a migration record, and complete after
 * `migrationMs` with the server ACTIVE on its target. How os-migrateLive is
 * answered is scripted per test; every action it receives is counted, with
 * whether it came on a reused keep-alive connection.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { assert } from '../../src/engine/assert';

export type ActionAnswer =
  /** 202, as Nova answers an accepted live migration. */
  | 'accept'
  /** Starts the migration, then never answers. */
  | 'stall'
  /** Starts the migration, then closes the connection without an answer. */
  | 'drop'
  /** Closes the connection without an answer, and starts nothing. */
  | 'drop-unapplied'
  /** Starts the migration as an earlier request would have, and answers 409 as Nova does for a VM already migrating. */
  | 'conflict'
  /** Starts the migration, then answers 502, as a proxy whose upstream did not answer in time. */
  | 'bad-gateway'
  /** Answers 503 and starts nothing, as a service that could not take the request. */
  | 'unavailable';

export interface ActionReceived {
  readonly vmId: string;
  readonly targetHost: string;
  readonly answer: ActionAnswer;
  /** Whether the action came on a connection that had carried a request before. */
  readonly reusedConnection: boolean;
}

export interface StandInOptions {
  readonly hosts: readonly string[];
  /** Each server's id and host. */
  readonly servers: readonly { readonly id: string; readonly host: string }[];
  readonly migrationMs: number;
  /** How the actions are answered, in the order they arrive; 'accept' once the list is used up. */
  readonly answers: readonly ActionAnswer[];
}

interface ModelServer {
  readonly id: string;
  host: string;
  taskState: 'migrating' | null;
}

interface MigrationRecord {
  readonly id: number;
  readonly instanceUuid: string;
  readonly source: string;
  readonly target: string;
  status: 'running' | 'completed';
}

const HOST_VCPUS = 8;
const HOST_RAM_MB = 16_384;
const SERVER_RAM_MB = 512;
/** Requests a test makes of the stand-in, at most: a runaway client fails the test instead of looping. */
const MAX_REQUESTS = 10_000;

export class NovaStandIn {
  readonly actions: ActionReceived[] = [];
  private readonly servers = new Map<string, ModelServer>();
  private readonly records: MigrationRecord[] = [];
  private readonly answers: ActionAnswer[];
  private readonly requestsBySocket = new WeakMap<Socket, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private requests = 0;
  private listeningPort = 0;

  private constructor(private readonly server: Server, private readonly options: StandInOptions) {
    this.answers = [...options.answers];
    for (const { id, host } of options.servers) {
      assert(options.hosts.includes(host), () => `server ${id} is on an unknown host ${host}`);
      this.servers.set(id, { id, host, taskState: null });
    }
  }

  static async start(options: StandInOptions): Promise<NovaStandIn> {
    const server = createServer();
    const standIn = new NovaStandIn(server, options);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => { standIn.receive(request, response); });
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
    standIn.listeningPort = (server.address() as AddressInfo).port;
    return standIn;
  }

  get port(): number {
    return this.listeningPort;
  }

  /** Keystone v3, as NovaCloud's configuration names it. */
  get authUrl(): string {
    return `http://127.0.0.1:${this.port}/v3`;
  }

  /** Where each server is now. */
  placement(): Record<string, string> {
    return Object.fromEntries([...this.servers.values()].map((s) => [s.id, s.host]));
  }

  actionsFor(vmId: string): number {
    return this.actions.filter((action) => action.vmId === vmId).length;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise((resolve) => { this.server.close(resolve); });
  }

  private receive(request: IncomingMessage, response: ServerResponse): void {
    this.requests += 1;
    assert(this.requests <= MAX_REQUESTS, `the client sent more than ${MAX_REQUESTS} requests`);
    const served = this.requestsBySocket.get(request.socket) ?? 0;
    this.requestsBySocket.set(request.socket, served + 1);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => { chunks.push(chunk); });
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      this.route(request, response, text === '' ? null : JSON.parse(text) as unknown, served > 0);
    });
  }

  private route(request: IncomingMessage, response: ServerResponse, body: unknown, reused: boolean): void {
    const url = new URL(request.url ?? '/', `http://127.0.0.1:${this.port}`);
    const path = url.pathname;
    const match = /^\/v2\.1\/servers\/([^/]+)(\/action)?$/.exec(path);
    const server = match === null || match[1] === 'detail' ? undefined : this.servers.get(decodeURIComponent(match[1]));
    if (request.method === 'POST' && path === '/v3/auth/tokens') this.token(response);
    else if (request.method === 'GET' && path === '/v2.1/os-hypervisors/detail') json(response, 200, { hypervisors: this.hypervisors() });
    else if (request.method === 'GET' && path === '/v2.1/servers/detail') {
      const host = url.searchParams.get('host');
      json(response, 200, { servers: [...this.servers.values()].filter((s) => s.host === host).map(serverJson) });
    } else if (request.method === 'GET' && path === '/v2.1/os-migrations') {
      const id = url.searchParams.get('instance_uuid');
      json(response, 200, { migrations: this.records.filter((r) => r.instanceUuid === id).sort((a, b) => b.id - a.id).map(recordJson) });
    } else if (server === undefined) json(response, 404, { itemNotFound: { code: 404, message: `${path} not found` } });
    else if (request.method === 'GET' && match?.[2] === undefined) json(response, 200, { server: serverJson(server) });
    else if (request.method === 'POST' && match?.[2] === '/action') this.action(server, body, reused, request, response);
    else json(response, 405, { badRequest: { code: 405, message: `${request.method ?? ''} ${path}` } });
  }

  private token(response: ServerResponse): void {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    response.setHeader('x-subject-token', `token-${this.requests}`);
    json(response, 201, {
      token: {
        expires_at: expiresAt,
        catalog: [{ type: 'compute', endpoints: [{ interface: 'public', region: 'RegionOne', url: `http://127.0.0.1:${this.port}/v2.1` }] }],
      },
    });
  }

  private hypervisors(): unknown[] {
    return this.options.hosts.map((host) => ({
      hypervisor_hostname: host, state: 'up', status: 'enabled', vcpus: HOST_VCPUS, memory_mb: HOST_RAM_MB, service: { host },
    }));
  }

  private action(server: ModelServer, body: unknown, reused: boolean, request: IncomingMessage, response: ServerResponse): void {
    const targetHost = (body as { 'os-migrateLive'?: { host?: unknown } } | null)?.['os-migrateLive']?.host;
    assert(typeof targetHost === 'string', 'the stand-in knows only os-migrateLive to a host');
    const answer = this.answers.shift() ?? 'accept';
    this.actions.push({ vmId: server.id, targetHost, answer, reusedConnection: reused });
    if (answer === 'drop-unapplied') {
      request.socket.destroy();
      return;
    }
    if (answer === 'unavailable') {
      json(response, 503, { message: 'the service cannot take the request now' });
      return;
    }
    if (server.taskState !== null) {
      json(response, 409, { conflictingRequest: { code: 409, message: `Cannot 'os-migrateLive' instance ${server.id} while it is in task_state migrating` } });
      return;
    }
    this.migrate(server, targetHost);
    if (answer === 'accept') response.writeHead(202).end();
    else if (answer === 'drop') request.socket.destroy();
    else if (answer === 'conflict') {
      json(response, 409, { conflictingRequest: { code: 409, message: `Cannot 'os-migrateLive' instance ${server.id} while it is in task_state migrating` } });
    } else if (answer === 'bad-gateway') json(response, 502, { message: 'upstream did not answer' });
    // 'stall': no answer; the client gives up at its deadline.
  }

  private migrate(server: ModelServer, targetHost: string): void {
    assert(this.options.hosts.includes(targetHost), () => `unknown target ${targetHost}`);
    const record: MigrationRecord = { id: this.records.length + 1, instanceUuid: server.id, source: server.host, target: targetHost, status: 'running' };
    this.records.push(record);
    server.taskState = 'migrating';
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      server.host = targetHost;
      server.taskState = null;
      record.status = 'completed';
    }, this.options.migrationMs);
    this.timers.add(timer);
  }
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function serverJson(server: ModelServer): unknown {
  return {
    id: server.id, status: server.taskState === null ? 'ACTIVE' : 'MIGRATING', 'OS-EXT-STS:task_state': server.taskState,
    'OS-EXT-SRV-ATTR:host': server.host, flavor: { ram: SERVER_RAM_MB, vcpus: 1 },
  };
}

function recordJson(record: MigrationRecord): unknown {
  return {
    id: record.id, instance_uuid: record.instanceUuid, migration_type: 'live-migration', status: record.status,
    source_compute: record.source, dest_compute: record.target,
  };
}
