/**
 * `neat agent` on a real compute host: the shared agent loop (`loop.ts`) on
 * libvirt, talking to the global manager over HTTP. Every
 * `data_collector_interval` it reads the host and hands a sample to the
 * outbox; every `local_manager_interval` it steps the local manager; after
 * each it saves its state file. Nothing here waits on the network for long:
 * samples wait in the bounded outbox, a request is sent once (Neat's local
 * manager logged a failure and went on), and each call has a deadline.
 *
 * A libvirt failure skips that collection (logged, counted); a wrong token or
 * wrong credentials stop the agent, since no retry mends them.
 */
import type { Clock } from '../clock';
import { family } from '../api/metrics';
import { TransportError } from '../drivers/http';
import type { HttpAnswer } from '../drivers/http';
import { assert } from '../engine/assert';
import type { Rng } from '../engine/types';
import type { ManagerClient } from './client';
import type { CounterNotes } from './counters';
import { answerMessage, historyOf } from './client';
import type { Hypervisor, HostReading } from './hypervisor';
import { HypervisorError } from './hypervisor';
import { HostAgent } from './loop';
import type { AgentMemory, AgentSettings, AgentTransport } from './loop';
import { SampleOutbox } from './outbox';
import { saveState } from './stateFile';

type Fields = Readonly<Record<string, unknown>>;

export interface AgentLog {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

/** The agent cannot go on: its token or Neat credentials were refused. */
export class AgentStoppedError extends Error {
  override name = 'AgentStoppedError';
}

export interface AgentRunOptions {
  readonly host: string;
  readonly hypervisor: Hypervisor;
  readonly client: ManagerClient;
  readonly settings: AgentSettings;
  readonly memory: AgentMemory;
  readonly rng: Rng;
  readonly collectIntervalS: number;
  readonly stepIntervalS: number;
  /** Samples kept while the manager is unreachable (`agent_buffer_limit`). */
  readonly bufferLimit: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  /** Where the state is saved after each collection and step; null keeps it in memory only. */
  readonly statePath: string | null;
  /** Neat's collector overload log: VMs plus hypervisor above this × the host's CPU (`host_cpu_overload_threshold × host_cpu_usable_by_vms`). */
  readonly hostOverloadThreshold: number;
  readonly clock: Clock;
  readonly log: AgentLog;
}

interface Counts {
  collections: number;
  skipped: Map<string, number>;
  readErrors: Map<string, number>;
  requests: Map<string, number>;
  historyFetchFailures: number;
  stateSaveFailures: number;
  vmRestarts: number;
  clockJumps: number;
}

/** Where a run of the agent stands, for `/metrics`. */
interface Gauges {
  lastCollectionDurationMs: number;
  lastCollectionAtMs: number | null;
  lastStepDurationMs: number;
  vms: number;
  hostOverloaded: number | null;
}

export class AgentRunner {
  readonly agent: HostAgent;
  private readonly outbox: SampleOutbox;
  private readonly counts: Counts = {
    collections: 0, skipped: new Map(), readErrors: new Map(), requests: new Map(), historyFetchFailures: 0, stateSaveFailures: 0, vmRestarts: 0, clockJumps: 0,
  };
  private readonly gauges: Gauges = { lastCollectionDurationMs: 0, lastCollectionAtMs: null, lastStepDurationMs: 0, vms: 0, hostOverloaded: null };
  private readonly timers: NodeJS.Timeout[] = [];
  /** The work under way, one at a time; at most one collection and one step wait behind it. */
  private work: Promise<void> = Promise.resolve();
  private readonly waiting = new Set<'collect' | 'step'>();
  private stopping = false;
  private fatal: ((error: AgentStoppedError) => void) | null = null;
  /** Resolves with why, once the agent cannot go on. */
  readonly failed: Promise<AgentStoppedError>;

  constructor(private readonly options: AgentRunOptions) {
    assert(options.collectIntervalS > 0 && options.stepIntervalS > 0, 'intervals are positive');
    this.failed = new Promise<AgentStoppedError>((resolve) => { this.fatal = resolve; });
    const { client, log } = options;
    this.outbox = new SampleOutbox({
      limit: options.bufferLimit, send: (sample) => client.postSample(sample),
      backoffInitialMs: options.backoff.initialMs, backoffMaxMs: options.backoff.maxMs,
      onRefused: (sample, answer) => {
        log.warn(`the global manager refused a sample of ${sample.host} (${answer.status}): ${answerMessage(answer)}; it is dropped, not retried`,
          { event: 'sample-refused', status: answer.status });
      },
      onUnreachable: (problem, retryInMs) => {
        log.warn(`the global manager cannot be reached (${problem}); ${this.outbox.depth} sample(s) wait, next try in ${retryInMs / 1000} s`,
          { event: 'manager-unreachable', problem, waiting: this.outbox.depth, retryInMs });
      },
      onUnauthorised: (answer) => { this.stopWith(unauthorised('agent_api_token', 'the bearer token of POST /v1/samples', answer)); },
    });
    this.agent = new HostAgent({ host: options.host, transport: this.transport(), settings: options.settings, rng: options.rng, memory: options.memory });
  }

  /** Collects now and then every collect interval; steps every step interval. */
  start(): void {
    const { collectIntervalS, stepIntervalS } = this.options;
    this.enqueue('collect', () => this.collect());
    this.timers.push(setInterval(() => { this.enqueue('collect', () => this.collect()); }, collectIntervalS * 1000));
    this.timers.push(setInterval(() => { this.enqueue('step', () => this.step()); }, stepIntervalS * 1000));
  }

  /** Stops the timers, lets the work under way finish, and stops the outbox (unsent samples are dropped). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.work;
    await this.outbox.stop();
  }

  /** One collection: a reading, the sample queued, the state saved. A hypervisor failure skips it. */
  async collect(): Promise<HostReading | null> {
    const { hypervisor, log, clock } = this.options;
    const startMs = clock.nowMs();
    let reading: HostReading;
    try {
      reading = await hypervisor.read();
    } catch (error) {
      if (!(error instanceof HypervisorError)) throw error;
      this.counts.readErrors.set(error.kind, (this.counts.readErrors.get(error.kind) ?? 0) + 1);
      log.error(`libvirt could not be read (${error.kind}): ${error.message}; this collection is skipped`, { event: 'read-failed', kind: error.kind });
      return null;
    }
    const outcome = await this.agent.collect(reading);
    this.counts.collections += 1;
    this.gauges.vms = reading.vms.length;
    this.gauges.lastCollectionAtMs = clock.nowMs();
    this.gauges.lastCollectionDurationMs = this.gauges.lastCollectionAtMs - startMs;
    this.logHostOverload(reading, outcome.sample?.vms ?? []);
    if (outcome.addedVmIds.length > 0 || outcome.removedVmIds.length > 0) {
      log.info(`VMs arrived: ${outcome.addedVmIds.join(', ') || 'none'}; left: ${outcome.removedVmIds.join(', ') || 'none'}`,
        { event: 'vms-changed', added: outcome.addedVmIds, removed: outcome.removedVmIds });
    }
    log.debug(outcome.sample === null ? 'first reading: counters noted, nothing to send yet' : `sample of ${outcome.sample.vms.length} VM(s) queued`,
      { event: 'collected', sample: outcome.sample, waiting: this.outbox.depth });
    this.save();
    return reading;
  }

  /** One local-manager step; its request, if any, is sent once. */
  async step(): Promise<void> {
    const { decision, durationMs } = await this.agent.step();
    this.gauges.lastStepDurationMs = durationMs;
    this.options.log.debug(`local manager: ${decision.kind}`, { event: 'step', decision, durationMs });
    this.save();
  }

  /** What libvirt's counters showed besides values: VMs restarted, a clock that went back. */
  noteCounters(notes: CounterNotes): void {
    const { log } = this.options;
    if (notes.clockWentBack) {
      this.counts.clockJumps += 1;
      log.warn('the clock stood still or went back since the last reading: this one only sets new baselines', { event: 'clock-went-back' });
    }
    for (const vmId of notes.restarted) {
      this.counts.vmRestarts += 1;
      log.info(`VM ${vmId} restarted (its CPU time went back): its last value stands for this interval`, { event: 'vm-restarted', vmId });
    }
  }

  /** `/metrics` of the agent, in Prometheus' text format. */
  metrics(): string {
    const totals = this.outbox.totals;
    const labelled = (map: Map<string, number>, label: string) => [...map].map(([key, value]) => ({ labels: { [label]: key }, value }));
    const gauge = (name: string, help: string, value: number) => family(name, 'gauge', help, [{ labels: {}, value }]);
    return [
      family('neat_agent_collections_total', 'counter', 'Collections that read the host.', [{ labels: {}, value: this.counts.collections }]),
      family('neat_agent_skipped_total', 'counter', 'Collections and steps skipped because the previous one of their kind had not started yet.',
        labelled(this.counts.skipped, 'kind')),
      family('neat_agent_read_errors_total', 'counter', 'Readings of libvirt that failed, by kind.', labelled(this.counts.readErrors, 'kind')),
      family('neat_agent_samples_total', 'counter', 'Samples by fate: sent, refused by the manager (4xx), dropped from a full buffer.', [
        { labels: { result: 'sent' }, value: totals.sent },
        { labels: { result: 'refused' }, value: totals.refused },
        { labels: { result: 'dropped' }, value: totals.dropped },
      ]),
      family('neat_agent_send_failures_total', 'counter', 'Tries to send a sample that found the manager unreachable.', [{ labels: {}, value: totals.failures }]),
      gauge('neat_agent_samples_waiting', 'Samples waiting to be sent.', this.outbox.depth),
      family('neat_agent_requests_total', 'counter', 'Requests sent to the manager, by reason and result.', [...this.counts.requests].map(([key, value]) => {
        const [reason, result] = key.split('/');
        return { labels: { reason, result }, value };
      })),
      family('neat_agent_history_fetch_failures_total', 'counter', 'VM histories that could not be fetched from the manager.',
        [{ labels: {}, value: this.counts.historyFetchFailures }]),
      family('neat_agent_vm_restarts_total', 'counter', 'VMs whose CPU time went back (restarted).', [{ labels: {}, value: this.counts.vmRestarts }]),
      family('neat_agent_clock_jumps_total', 'counter', 'Readings after the clock stood still or went back.', [{ labels: {}, value: this.counts.clockJumps }]),
      family('neat_agent_state_save_failures_total', 'counter', 'State file writes that failed.', [{ labels: {}, value: this.counts.stateSaveFailures }]),
      gauge('neat_agent_vms', 'Running VMs in the last reading.', this.gauges.vms),
      gauge('neat_agent_last_collection_duration_seconds', 'Wall-clock time of the last collection.', this.gauges.lastCollectionDurationMs / 1000),
      gauge('neat_agent_last_step_duration_seconds', "Time of the last local-manager step's algorithms.", this.gauges.lastStepDurationMs / 1000),
      ...(this.gauges.lastCollectionAtMs === null ? [] : [gauge('neat_agent_last_collection_timestamp_seconds', 'When the last collection ended.', this.gauges.lastCollectionAtMs / 1000)]),
      ...(this.gauges.hostOverloaded === null ? [] : [gauge('neat_agent_host_overloaded', "Neat's host overload log: VMs and hypervisor above host_cpu_overload_threshold of the usable CPU (1) or not (0).", this.gauges.hostOverloaded)]),
    ].join('\n') + '\n';
  }

  private transport(): AgentTransport {
    const { client, log } = this.options;
    return {
      recordSample: (sample) => {
        this.outbox.push(sample);
        return Promise.resolve();
      },
      request: async (host, reason, vmIds) => {
        const result = await this.sendRequest(host, reason, vmIds);
        this.counts.requests.set(`${reason}/${result}`, (this.counts.requests.get(`${reason}/${result}`) ?? 0) + 1);
      },
      vmHistory: async (vmId) => {
        try {
          const answer = await client.getVm(vmId);
          if (answer.status === 404) return null;
          if (answer.status === 401 || answer.status === 403) {
            this.stopWith(unauthorised('agent_api_token', 'the bearer token of GET /v1/vms', answer));
            return null;
          }
          const history = answer.status === 200 ? historyOf(answer.text) : null;
          if (history === null) throw new Error(`${answer.status} ${answerMessage(answer)}`);
          return history;
        } catch (error) {
          if (this.stopping) return null;
          this.counts.historyFetchFailures += 1;
          log.warn(`the history of VM ${vmId} could not be fetched (${(error as Error).message}); it starts empty here`, { event: 'history-fetch-failed', vmId });
          return null;
        }
      },
    };
  }

  private async sendRequest(host: string, reason: 'underload' | 'overload', vmIds: readonly string[]): Promise<string> {
    const { client, log } = this.options;
    const what = reason === 'overload' ? `overload request (move ${vmIds.join(', ')})` : 'underload request';
    let answer: HttpAnswer;
    try {
      answer = await client.putRequest(host, reason, vmIds);
    } catch (error) {
      if (!(error instanceof TransportError)) throw error;
      log.warn(`the ${what} could not be sent: ${error.message}; the next step decides again`, { event: 'request-failed', reason });
      return 'unreachable';
    }
    if (answer.status === 200) {
      log.info(`${what} accepted by the global manager`, { event: 'request-sent', reason, vmIds });
      return 'accepted';
    }
    if (answer.status === 401 || answer.status === 403) {
      this.stopWith(unauthorised('os_admin_user / os_admin_password', "Neat's PUT / credentials (their SHA-1 digests)", answer));
      return 'unauthorised';
    }
    log.warn(`the global manager refused the ${what} (${answer.status}): ${answerMessage(answer)}`, { event: 'request-refused', reason, status: answer.status });
    return String(answer.status);
  }

  /** Runs collections and steps one at a time; one of a kind already waiting makes another redundant, so it is skipped. */
  private enqueue(kind: 'collect' | 'step', run: () => Promise<unknown>): void {
    if (this.stopping) return;
    if (this.waiting.has(kind)) {
      this.counts.skipped.set(kind, (this.counts.skipped.get(kind) ?? 0) + 1);
      this.options.log.warn(`the previous ${kind === 'collect' ? 'collection' : 'step'} has not started yet: this one is skipped`, { event: 'skipped', kind });
      return;
    }
    this.waiting.add(kind);
    this.work = this.work.then(async () => {
      this.waiting.delete(kind);
      if (this.stopping) return;
      await run();
    }).catch((error: unknown) => {
      this.options.log.error(`internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    });
  }

  private save(): void {
    const { statePath, host, clock, log } = this.options;
    if (statePath === null) return;
    try {
      const { detectorsSaved } = saveState(statePath, host, clock.nowMs(), this.agent.memory());
      if (!detectorsSaved) log.warn('a detector state holds a non-finite number; it is not saved, and would start afresh after a restart');
    } catch (error) {
      this.counts.stateSaveFailures += 1;
      log.error(`the state file ${statePath} could not be written: ${(error as Error).message}`, { event: 'state-save-failed' });
    }
  }

  /** Neat's `log_host_overload`, as a gauge and a line on each change. */
  private logHostOverload(reading: HostReading, vms: readonly { readonly cpuMhz: number }[]): void {
    if (reading.hypervisorCpuMhz === null) return;
    const totalCpuMhz = reading.hypervisorCpuMhz + vms.reduce((sum, vm) => sum + vm.cpuMhz, 0);
    const overloaded = this.options.hostOverloadThreshold * reading.capacity.cores * reading.capacity.coreMhz < totalCpuMhz ? 1 : 0;
    if (overloaded !== this.gauges.hostOverloaded) {
      this.options.log.info(`host ${overloaded === 1 ? 'overloaded' : 'not overloaded'}: ${totalCpuMhz} MHz used`, { event: 'host-overload', overloaded, totalCpuMhz });
    }
    this.gauges.hostOverloaded = overloaded;
  }

  private stopWith(error: AgentStoppedError): void {
    if (this.stopping) return;
    this.options.log.error(error.message, { event: 'unauthorised' });
    this.fatal?.(error);
  }
}

function unauthorised(keys: string, what: string, answer: HttpAnswer): AgentStoppedError {
  return new AgentStoppedError(`the global manager refused ${what} (${answer.status}: ${answerMessage(answer)}); check ${keys} in the configuration`);
}
