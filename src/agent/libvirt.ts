/**
 * The production Hypervisor: libvirt through `virsh`, over a read-only
 * connection, plus the host's `/proc/stat`; Neat's collector arithmetic
 * (`counters.ts`) turns the counters into MHz.
 *
 * One read is two or more `virsh` processes, each given its commands as one
 * `;`-separated argument, so that a read costs a few process starts however
 * many commands it needs:
 * 1. `nodeinfo; list --uuid --state-running`: the capacity and the running
 *    domains;
 * 2. `dominfo <uuid>; dominfo <uuid>; …`, in chunks: each domain's state,
 *    CPU time and maximum memory. A domain that vanished between 1 and 2
 *    makes virsh print an error and go on to the next; it is left out.
 *
 * Why `dominfo` and not `domstats --cpu-total`: libvirt's test driver, which
 * the tests run against, reports no `cpu.time` in domstats, while its
 * dominfo CPU time advances with the wall clock. The price is resolution:
 * virsh prints the CPU time as `%.1lf` seconds, so each counter is rounded to
 * 0.1 s. Over Neat's 300 s `data_collector_interval` that is at most
 * 0.1 / 300 ≈ 0.03 % of a core; over a 1 s interval in a test, 10 %.
 *
 * Every process runs with LC_ALL=C (virsh translates its labels), without a
 * shell, with a timeout and bounded output. The counter state lives in this
 * object: a restarted agent starts with a reading of baselines only, as
 * Neat's collector did.
 */
import { open } from 'node:fs/promises';
import type { Clock } from '../clock';
import { assert } from '../engine/assert';
import { OutputTail } from '../drivers/outputTail';
import { runProgram } from '../drivers/program';
import { advanceCounters, parseProcStat } from './counters';
import type { CounterNotes, CounterState, HostCpuTimes, RawVmCounters } from './counters';
import type { HostCapacity, HostReading, Hypervisor } from './hypervisor';
import { HypervisorError } from './hypervisor';

export interface VirshHypervisorOptions {
  /** libvirt's connection URI, e.g. `qemu:///system` (config `libvirt_uri`). */
  readonly uri: string;
  /** The `virsh` program: a name looked up in PATH, or a path. */
  readonly virshPath: string;
  /** `/proc/stat`, or a file standing in for it. */
  readonly procStatPath: string;
  /** How long each virsh process may run before it is killed. */
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Told, after each successful read, what the counters saw (restarts, a clock that went back), to log and count. */
  readonly onNotes?: (notes: CounterNotes) => void;
}

/** A running domain's dominfo block is about 600 bytes; 1 MiB holds a chunk many times over. */
const VIRSH_OUTPUT_LIMIT_BYTES = 1024 * 1024;
/** Domains per dominfo process: the command line stays near 10 kB, far below ARG_MAX. */
export const DOMINFO_CHUNK_DOMAINS = 200;
/** More running domains than any host carries: a list this long is not a list of domains. */
const RUNNING_DOMAINS_LIMIT = 10_000;
/** The aggregate `cpu` line comes first and is about 100 bytes. */
const PROC_STAT_READ_BYTES = 4096;
const DESCRIBED_COMMANDS_LIMIT_CHARS = 120;
const MAX_TIMER_MS = 2 ** 31 - 1;
const KIB_PER_MB = 1024;
const NS_PER_S = 1e9;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** `Key:   value`, as nodeinfo and dominfo print; the key starts the line. */
const FIELD = /^([^\s:][^:]*):\s*(.*)$/;
/** What virsh prints for a domain that went away under it; such a domain is left out, not an error. */
const DOMAIN_GONE = /failed to get domain|domain not found|no domain with matching|domain is not running/i;
const CONNECT_FAILED = /failed to connect to the hypervisor/i;

interface VirshRun {
  readonly stdout: string;
  /** The error lines virsh printed (bounded by the output limit). */
  readonly errorLines: readonly string[];
  readonly stderrTail: string | null;
  /** Null when killed by a signal that was not ours. */
  readonly exitCode: number | null;
  readonly signal: string | null;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class VirshHypervisor implements Hypervisor {
  private state: CounterState = null;
  private readInFlight = false;

  constructor(private readonly options: VirshHypervisorOptions) {
    assert(options.uri !== '', 'a libvirt URI is needed');
    assert(options.virshPath !== '', 'a virsh program is needed');
    assert(options.timeoutMs > 0 && options.timeoutMs <= MAX_TIMER_MS,
      () => `a virsh timeout must be in (0, ${MAX_TIMER_MS}] ms; got ${options.timeoutMs}`);
  }

  async read(): Promise<HostReading> {
    // The counter state is read, then replaced: two reads at once would each
    // compute from the same baseline. The agent loop reads one at a time.
    assert(!this.readInFlight, 'VirshHypervisor.read() calls must not overlap');
    this.readInFlight = true;
    try {
      return await this.readOnce();
    } finally {
      this.readInFlight = false;
    }
  }

  private async readOnce(): Promise<HostReading> {
    const { capacity, runningUuids } = await this.readNode();
    const { timeS, vms } = await this.readDomains(runningUuids);
    const host = await readHostCpuTimes(this.options.procStatPath);
    const step = advanceCounters(this.state, { timeS, capacity, vms, host });
    this.state = step.state;
    this.options.onNotes?.(step.notes);
    return { timeS, capacity, vms: step.vms, hypervisorCpuMhz: step.hypervisorCpuMhz };
  }

  private async readNode(): Promise<{ capacity: HostCapacity; runningUuids: string[] }> {
    const commands = 'nodeinfo; list --uuid --state-running';
    const run = await this.virsh(commands);
    if (run.exitCode !== 0) throw this.failure(commands, run);
    return parseNodeAndList(run.stdout, this.describe(commands));
  }

  /**
   * The running domains' counters, and when they were read: the middle of the
   * dominfo calls (the test driver's CPU time is the wall clock at the call,
   * and a real domain's counter is read within the call too).
   */
  private async readDomains(uuids: readonly string[]): Promise<{ timeS: number; vms: RawVmCounters[] }> {
    const startMs = this.options.clock.nowMs();
    const vms: RawVmCounters[] = [];
    for (let first = 0; first < uuids.length; first += DOMINFO_CHUNK_DOMAINS) {
      const chunk = uuids.slice(first, first + DOMINFO_CHUNK_DOMAINS);
      vms.push(...await this.readDomainChunk(chunk));
    }
    const endMs = this.options.clock.nowMs();
    return { timeS: (startMs + endMs) / 2 / 1000, vms };
  }

  private async readDomainChunk(uuids: readonly string[]): Promise<RawVmCounters[]> {
    assert(uuids.length > 0 && uuids.length <= DOMINFO_CHUNK_DOMAINS, () => `a dominfo chunk has 1 to ${DOMINFO_CHUNK_DOMAINS} domains; got ${uuids.length}`);
    const commands = uuids.map((uuid) => `dominfo ${uuid}`).join('; ');
    const run = await this.virsh(commands);
    const goneErrors = run.errorLines.filter((line) => DOMAIN_GONE.test(line)).length;
    // virsh exits with the last command's status: when the last domain
    // vanished the process fails, though every other block is there.
    const failedOnlyForGoneDomains = run.exitCode !== null && goneErrors > 0 && goneErrors === run.errorLines.length;
    if (run.exitCode !== 0 && !failedOnlyForGoneDomains) throw this.failure(commands, run);
    return parseDominfo(run.stdout, new Set(uuids), goneErrors > 0, this.describe(commands));
  }

  private failure(commands: string, run: VirshRun): HypervisorError {
    const tail = run.stderrTail === null ? '' : `: ${run.stderrTail.trim()}`;
    const described = this.describe(commands);
    if (run.errorLines.some((line) => CONNECT_FAILED.test(line))) {
      return new HypervisorError('connect', `cannot connect to libvirt at ${this.options.uri} (${described})${tail}`);
    }
    const how = run.exitCode === null ? `was killed by ${run.signal ?? 'a signal'}` : `exited with status ${run.exitCode}`;
    // The connection opened, then libvirt failed the command: the daemon went
    // away, or refused; the hypervisor is not reachable for this read.
    return new HypervisorError('connect', `${described} ${how}${tail}`);
  }

  /** The command line for a message; a long dominfo chunk is cut after its first domains. */
  private describe(commands: string): string {
    const shown = commands.length > DESCRIBED_COMMANDS_LIMIT_CHARS ? `${commands.slice(0, DESCRIBED_COMMANDS_LIMIT_CHARS)}…` : commands;
    return `${this.options.virshPath} -r -c ${this.options.uri} "${shown}"`;
  }

  private async virsh(commands: string): Promise<VirshRun> {
    const { virshPath, uri, timeoutMs } = this.options;
    const described = this.describe(commands);
    const run = await runProgram(virshPath, ['-r', '-c', uri, commands], {
      timeoutMs, maxOutputBytes: VIRSH_OUTPUT_LIMIT_BYTES,
      // virsh translates its labels ("CPU time:"), which the parsers read.
      env: { ...process.env, LC_ALL: 'C' },
    });
    const failure = run.failure;
    if (failure?.kind === 'timeout') throw new HypervisorError('timeout', `${described} did not finish within ${timeoutMs} ms and was killed`);
    if (failure?.kind === 'too-much-output') throw new HypervisorError('malformed', `${described} printed more than ${VIRSH_OUTPUT_LIMIT_BYTES} bytes and was killed`);
    if (failure?.kind === 'cannot-run') {
      throw new HypervisorError('unavailable', failure.code === 'ENOENT'
        ? `${described}: ${virshPath} not found; install libvirt-clients (it provides virsh)`
        : `${described}: ${failure.message}`);
    }
    const tail = new OutputTail();
    tail.push(run.stderr);
    return {
      stdout: run.stdout.toString('utf8'),
      errorLines: run.stderr.toString('utf8').split('\n').filter((line) => line.startsWith('error:')),
      stderrTail: tail.text(),
      exitCode: failure === null ? 0 : failure.exitCode,
      signal: failure === null ? null : failure.signal,
    };
  }
}

function malformed(described: string, what: string): HypervisorError {
  return new HypervisorError('malformed', `${described}: ${what}`);
}

/** A `<digits> <unit>` value of nodeinfo or dominfo, e.g. `8388608 KiB`. */
function wholeWithUnit(fields: ReadonlyMap<string, string>, key: string, unit: string, described: string): number {
  const value = fields.get(key);
  if (value === undefined) throw malformed(described, `no "${key}:" line`);
  const match = new RegExp(`^(\\d+)${unit === '' ? '' : ` ${unit}`}$`).exec(value);
  const whole = match === null ? NaN : Number(match[1]);
  if (!Number.isSafeInteger(whole)) {
    throw malformed(described, `"${key}:" should be a whole number${unit === '' ? '' : ` of ${unit}`}; got ${JSON.stringify(value.slice(0, 80))}`);
  }
  return whole;
}

/** The output of `nodeinfo; list --uuid --state-running`: `Key: value` lines, then one UUID a line. */
export function parseNodeAndList(stdout: string, described: string): { capacity: HostCapacity; runningUuids: string[] } {
  const fields = new Map<string, string>();
  const runningUuids: string[] = [];
  for (const rawLine of stdout.split('\n')) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (UUID.test(line)) {
      runningUuids.push(line.toLowerCase());
      if (runningUuids.length > RUNNING_DOMAINS_LIMIT) throw malformed(described, `more than ${RUNNING_DOMAINS_LIMIT} running domains listed`);
      continue;
    }
    const field = FIELD.exec(line);
    if (field === null) throw malformed(described, `a line is neither "Key: value" nor a domain UUID: ${JSON.stringify(line.slice(0, 80))}`);
    fields.set(field[1].trim(), field[2].trim());
  }
  if (new Set(runningUuids).size !== runningUuids.length) throw malformed(described, 'a domain UUID is listed twice');
  const cores = wholeWithUnit(fields, 'CPU(s)', '', described);
  const coreMhz = wholeWithUnit(fields, 'CPU frequency', 'MHz', described);
  const memoryKiB = wholeWithUnit(fields, 'Memory size', 'KiB', described);
  if (cores === 0 || coreMhz === 0) {
    throw malformed(described, `nodeinfo says ${cores} CPUs at ${coreMhz} MHz; both must be positive to turn CPU time into MHz`);
  }
  return { capacity: { cores, coreMhz, ramMb: Math.trunc(memoryKiB / KIB_PER_MB) }, runningUuids };
}

/** `CPU time:       1796227672.5s`, in ns. virsh leaves the line out when the time is 0. */
function cpuTimeNs(fields: ReadonlyMap<string, string>, described: string): number {
  const value = fields.get('CPU time');
  if (value === undefined) return 0;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value);
  if (match === null) throw malformed(described, `"CPU time:" should be seconds such as 12.5s; got ${JSON.stringify(value.slice(0, 80))}`);
  return Math.round(Number(match[1]) * NS_PER_S);
}

/** `Max memory:     2097152 KiB`, in MB as Neat's maxMemory()/1024; null for virsh's "no limit". */
function maxMemoryMb(fields: ReadonlyMap<string, string>, described: string): number | null {
  if (fields.get('Max memory') === 'no limit') return null;
  return Math.trunc(wholeWithUnit(fields, 'Max memory', 'KiB', described) / KIB_PER_MB);
}

/** dominfo blocks, each starting with its `Id:` line. */
function dominfoBlocks(stdout: string, described: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = [];
  for (const line of stdout.split('\n')) {
    // Blank lines end blocks; indented lines continue a multi-line value (Messages:).
    if (line.trim() === '' || /^\s/.test(line)) continue;
    const field = FIELD.exec(line);
    if (field === null) throw malformed(described, `a line is not "Key: value": ${JSON.stringify(line.slice(0, 80))}`);
    const key = field[1].trim();
    if (key === 'Id' || blocks.length === 0) blocks.push(new Map());
    blocks[blocks.length - 1].set(key, field[2].trim());
  }
  return blocks;
}

/**
 * The running domains among `dominfo` blocks. A block without `UUID:` or
 * `State:` is a domain whose information virsh could not get (it went away
 * during the command); that is expected only when virsh said so on stderr.
 */
export function parseDominfo(
  stdout: string, requested: ReadonlySet<string>, domainsWentAway: boolean, described: string,
): RawVmCounters[] {
  const vms: RawVmCounters[] = [];
  const seen = new Set<string>();
  for (const fields of dominfoBlocks(stdout, described)) {
    const uuid = fields.get('UUID')?.toLowerCase();
    const state = fields.get('State');
    if (uuid === undefined || state === undefined) {
      if (domainsWentAway) continue;
      throw malformed(described, `a domain's block has no "${uuid === undefined ? 'UUID' : 'State'}:" line`);
    }
    if (!requested.has(uuid)) throw malformed(described, `information about domain ${uuid}, which was not asked for`);
    if (seen.has(uuid)) throw malformed(described, `domain ${uuid} is described twice`);
    seen.add(uuid);
    // Listed as running a moment ago; paused or shut off since: left out, as
    // Neat left out a VM not running (migrating in).
    if (state !== 'running') continue;
    vms.push({ vmId: uuid, cpuTimeNs: cpuTimeNs(fields, described), ramMb: maxMemoryMb(fields, described) });
  }
  return vms;
}

/** The first bytes of /proc/stat: its first line is all Neat reads. */
async function readHostCpuTimes(path: string): Promise<HostCpuTimes> {
  let text: string;
  try {
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(PROC_STAT_READ_BYTES);
      const { bytesRead } = await file.read(buffer, 0, PROC_STAT_READ_BYTES, 0);
      text = buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await file.close();
    }
  } catch (error) {
    throw new HypervisorError('unavailable', `cannot read the host's CPU times from ${path}: ${messageOf(error)}`);
  }
  return parseProcStat(text);
}
