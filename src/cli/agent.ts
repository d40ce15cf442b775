/**
 * `neat agent`: Neat's data collector and local manager for one compute host
 * (run by systemd, one per host; docs/deploy.md). It reads libvirt and
 * `/proc/stat`, posts samples to the global manager and sends Neat's
 * underload and overload requests; `--once` shows what it would send.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import { AgentRunner } from '../agent/run';
import { ManagerClient } from '../agent/client';
import type { CounterNotes } from '../agent/counters';
import type { HostReading, Hypervisor } from '../agent/hypervisor';
import { HypervisorError } from '../agent/hypervisor';
import { VirshHypervisor } from '../agent/libvirt';
import { HostAgent } from '../agent/loop';
import type { AgentSettings, AgentTransport } from '../agent/loop';
import { loadState, statePath } from '../agent/stateFile';
import { systemClock } from '../clock';
import type { ManagerConfig } from '../config';
import { neatCredentialHashes } from '../config';
import type { EventData } from '../events/catalogue';
import { createRng } from '../rng';
import { EXIT_FAILURE, EXIT_OK, listenOption, requiredOption, UsageError } from './command';
import type { Command, Output, ParsedValues } from './command';
import { loadCommandConfig } from './config';
import { consoleLog, consoleOptions, firstSignal, stopWithin } from './console';
import type { ConsoleLog } from './console';

const AGENT_USAGE = 'neat agent --config <neat.conf> [--once] [--metrics-listen <host:port>] [--log-format text|json] [--quiet|--verbose]';
/** A virsh call that takes longer has hung: libvirtd answers in milliseconds. */
const VIRSH_TIMEOUT_MS = 30_000;
/** `--once` reads the host twice this far apart: libvirt's counters give MHz only over an interval. */
const ONCE_INTERVAL_MS = 1_000;
/** Waits between tries while the manager is unreachable: doubling from the first to the last. */
const BACKOFF = { initialMs: 1_000, maxMs: 60_000 } as const;

export function agentSettings(config: ManagerConfig): AgentSettings {
  return {
    underload: config.algorithms.underload, overload: config.algorithms.overload, selection: config.algorithms.selection,
    timeStepS: config.dataCollectorIntervalS, migrationBandwidthMbPerS: config.networkMigrationBandwidthMbPerS,
    hostCpuUsableByVms: config.hostCpuUsableByVms, historyLength: config.dataCollectorDataLength,
  };
}

function virsh(config: ManagerConfig, onNotes?: (notes: CounterNotes) => void): Hypervisor {
  return new VirshHypervisor({ uri: config.libvirtUri, virshPath: 'virsh', procStatPath: '/proc/stat', timeoutMs: VIRSH_TIMEOUT_MS, clock: systemClock, onNotes });
}

/** `GET /metrics` of the agent, on its own port (nothing else is served). */
async function serveMetrics(listen: { host: string; port: number }, runner: AgentRunner): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only /metrics is served here\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('GET /metrics\n');
      return;
    }
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(request.method === 'HEAD' ? undefined : runner.metrics());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => { reject(new UsageError(`--metrics-listen ${listen.host}:${listen.port}: ${error.message}`)); });
    server.listen(listen.port, listen.host, () => { resolve(); });
  });
  return server;
}

/** Two readings, a step, and what would be sent, as JSON: nothing leaves the host, nothing is saved. */
async function once(config: ManagerConfig, host: string, io: Output, log: ConsoleLog): Promise<number> {
  const hypervisor = virsh(config);
  const loaded = loadState(statePath(config.localDataDirectory), host, systemClock.nowMs(), config.sampleMaxAgeS);
  if (loaded.status === 'discarded') log.warn(`state not used: ${loaded.reason}`);
  const sent: { samples: EventData<'UtilizationSampled'>[]; requests: { reason: string; vmIds: readonly string[] }[] } = { samples: [], requests: [] };
  const transport: AgentTransport = {
    recordSample: (sample) => { sent.samples.push(sample); return Promise.resolve(); },
    request: (_host, reason, vmIds) => { sent.requests.push({ reason, vmIds }); return Promise.resolve(); },
    vmHistory: (vmId) => Promise.resolve(loaded.memory.vmsCpuMhz[vmId] ?? null),
  };
  const agent = new HostAgent({ host, transport, settings: agentSettings(config), rng: createRng(randomBytes(16).toString('hex')), memory: loaded.memory });
  let reading: HostReading;
  try {
    await agent.collect(await hypervisor.read());
    await new Promise((resolve) => { setTimeout(resolve, ONCE_INTERVAL_MS); });
    reading = await hypervisor.read();
  } catch (error) {
    if (!(error instanceof HypervisorError)) throw error;
    io.err(`neat agent: libvirt could not be read (${error.kind}): ${error.message}`);
    return EXIT_FAILURE;
  }
  await agent.collect(reading);
  const { decision } = await agent.step();
  io.out(JSON.stringify({
    host, libvirtUri: config.libvirtUri, globalManagerUrl: config.globalManagerUrl, state: loaded.status,
    reading, decision, wouldSend: { samples: sent.samples.slice(-1), requests: sent.requests },
  }, null, 2));
  return EXIT_OK;
}

async function run(config: ManagerConfig, host: string, values: ParsedValues, log: ConsoleLog): Promise<number> {
  const path = statePath(config.localDataDirectory);
  const loaded = loadState(path, host, systemClock.nowMs(), config.sampleMaxAgeS);
  if (loaded.status === 'loaded') log.info(`state restored from ${path} (saved ${loaded.ageS.toFixed(0)} s ago)`, { event: 'state-restored', ageS: loaded.ageS });
  else if (loaded.status === 'discarded') log.warn(`starting afresh: ${loaded.reason}`, { event: 'state-discarded' });
  const client = new ManagerClient({
    baseUrl: config.globalManagerUrl, token: config.agentApiToken, credentials: neatCredentialHashes(config),
    timeoutMs: config.agentRequestTimeoutS * 1000, clock: systemClock,
  });
  const runner = new AgentRunner({
    host, hypervisor: virsh(config, (notes) => { runner.noteCounters(notes); }), client, settings: agentSettings(config), memory: loaded.memory,
    rng: createRng(randomBytes(16).toString('hex')), collectIntervalS: config.dataCollectorIntervalS, stepIntervalS: config.localManagerIntervalS,
    bufferLimit: config.agentBufferLimit, backoff: BACKOFF, statePath: path,
    hostOverloadThreshold: config.hostCpuOverloadThreshold * config.hostCpuUsableByVms, clock: systemClock, log,
  });
  const metricsListen = listenOption(values, 'metrics-listen');
  const server = metricsListen === undefined ? null : await serveMetrics(metricsListen, runner);
  if (config.agentApiToken === null) log.warn('agent_api_token is empty: the global manager will refuse every sample (401)');
  log.info([
    `neat agent: host ${host}, libvirt ${config.libvirtUri}, global manager ${config.globalManagerUrl}`,
    `  collecting every ${config.dataCollectorIntervalS} s, local manager every ${config.localManagerIntervalS} s, state in ${path}`
    + (metricsListen === undefined ? '' : `, metrics on ${metricsListen.host}:${metricsListen.port}/metrics`),
  ].join('\n'), { event: 'started', host, libvirtUri: config.libvirtUri, globalManagerUrl: config.globalManagerUrl }, true);
  runner.start();
  const stopped = await Promise.race([firstSignal(log).then(() => null), runner.failed]);
  await stopWithin(log, async () => {
    client.close();
    await runner.stop();
    if (server !== null) await new Promise((resolve) => { server.close(resolve); });
  });
  // Its message is out already: the runner logged it when it stopped.
  return stopped === null ? EXIT_OK : EXIT_FAILURE;
}

export const agentCommand: Command = {
  summary: "run a compute host's agent: Neat's data collector and local manager (libvirt, /proc/stat)",
  usage: AGENT_USAGE,
  options: {
    config: { type: 'string' }, once: { type: 'boolean' }, 'metrics-listen': { type: 'string' },
    'log-format': { type: 'string' }, quiet: { type: 'boolean' }, verbose: { type: 'boolean' },
  },
  allowPositionals: false,
  async run(values, _positionals, io) {
    const config = loadCommandConfig({ configPath: requiredOption(values, 'config', AGENT_USAGE), env: process.env });
    const log = consoleLog({ ...consoleOptions(values, config.logLevel), io, command: 'neat agent' });
    const host = config.agentHostName ?? hostname();
    if (values.once === true) {
      if (values['metrics-listen'] !== undefined) throw new UsageError('--once prints and exits: --metrics-listen has nothing to serve');
      return once(config, host, io, log);
    }
    return run(config, host, values, log);
  },
};
