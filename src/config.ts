/**
 * The global manager's configuration: Neat's `neat.conf` plus our own keys,
 * read once into one validated, typed, frozen object.
 *
 * The INI reader follows Python 2 `ConfigParser`, which Neat used, so that an
 * existing `neat.conf` means the same thing here. Unlike Neat, every value is
 * checked at start-up: a typo or a bad value stops the manager with a message
 * naming the key, where it came from, the value and what is valid, instead of
 * failing (or silently misbehaving) in the middle of a consolidation.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { homedir } from 'node:os';
import { InvalidParameterError } from './engine/params';
import type { AlgorithmChoice, AlgorithmKind } from './engine/registry';
import {
  createOverloadDetector, createUnderloadDetector, createVmPlacer, createVmSelector, UnknownAlgorithmError,
} from './engine/registry';
import type { AlgorithmContext } from './engine/types';
import { AUTOMATION_LEVELS } from './events/catalogue';

export class ConfigError extends Error {
  override name = 'ConfigError';
  /** `file:line`, `environment variable NEAT_…`, `default`, or a file name. */
  readonly origin: string;
  constructor(origin: string, problem: string) {
    super(`${origin}: ${problem}`);
    this.origin = origin;
  }
}

// ---------------------------------------------------------------------------
// INI, with Python 2 ConfigParser semantics.

const DEFAULT_SECTION = 'DEFAULT';
/** Python 2 ConfigParser's MAX_INTERPOLATION_DEPTH. */
const MAX_INTERPOLATION_DEPTH = 10;

export interface IniValue {
  /** The value after interpolation; continuation lines joined with `\n`. */
  readonly value: string;
  /** `source:line` of the key. */
  readonly origin: string;
}

export interface IniSection {
  /** `source:line` of the section's first header. */
  readonly origin: string;
  /** The section's own keys, lower-cased; `iniGet` adds DEFAULT's. */
  readonly entries: ReadonlyMap<string, IniValue>;
}

export interface IniFile {
  readonly sections: ReadonlyMap<string, IniSection>;
}

interface RawEntry {
  /** The first line's value, then one element per continuation line. */
  readonly parts: string[];
  readonly origin: string;
}

interface RawSection {
  readonly origin: string;
  readonly entries: Map<string, RawEntry>;
}

// Python's SECTCRE and OPTCRE: a header may be followed by anything; a key runs
// up to the first `=` or `:`, so `url = http://host:5000` splits after `url`.
const SECTION_HEADER = /^\[([^\]]+)\]/;
const OPTION = /^([^:=\s][^:=]*)[:=]\s*(.*)$/;

function lookup<T>(
  sections: ReadonlyMap<string, { readonly entries: ReadonlyMap<string, T> }>,
  section: string,
  key: string,
): T | undefined {
  const own = sections.get(section);
  if (own === undefined) return undefined;
  return own.entries.get(key) ?? sections.get(DEFAULT_SECTION)?.entries.get(key);
}

/** A key of a section, falling back to [DEFAULT] as ConfigParser does. */
export function iniGet(file: IniFile, section: string, key: string): IniValue | undefined {
  return lookup(file.sections, section, key.toLowerCase());
}

/**
 * Python 2 strips an inline comment only when the first `;` of the value
 * follows whitespace; a later ` ;` is kept, and so is a `#`.
 */
function optionValue(rest: string): string {
  const semicolon = rest.indexOf(';');
  const cut = semicolon > 0 && /\s/.test(rest[semicolon - 1]) ? rest.slice(0, semicolon) : rest;
  const value = cut.trim();
  return value === '""' ? '' : value;
}

/**
 * Reads one file into `sections`, as each `ConfigParser.read` call adds to the
 * same parser: a later file overrides an earlier one key by key, and
 * interpolation happens only after the last file.
 */
function readIniInto(sections: Map<string, RawSection>, text: string, source: string): void {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let section: RawSection | null = null;
  let entry: RawEntry | null = null;
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index];
    const origin = `${source}:${index + 1}`;
    // A comment must start in the first column: an indented `#` line after a key
    // continues its value, in Python as here.
    if (line.trim() === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (/^\s/.test(line) && entry !== null) {
      entry.parts.push(line.trim());
      continue;
    }
    const header = SECTION_HEADER.exec(line);
    if (header !== null) {
      const name = header[1];
      section = sections.get(name) ?? { origin, entries: new Map<string, RawEntry>() };
      sections.set(name, section);
      entry = null;
      continue;
    }
    if (section === null) {
      throw new ConfigError(origin, `${JSON.stringify(line)} comes before any [section] header; a neat.conf starts with [DEFAULT]`);
    }
    const option = OPTION.exec(line);
    if (option === null) {
      throw new ConfigError(origin, `cannot parse ${JSON.stringify(line)}: expected a [section] header, ` +
        '"key = value", "key: value", a comment starting with # or ; in column 1, or an indented continuation line');
    }
    entry = { parts: [optionValue(option[2])], origin };
    section.entries.set(option[1].trim().toLowerCase(), entry);
  }
}

/**
 * `%(name)s` becomes the named key's value (from the same section or
 * [DEFAULT], itself interpolated) and `%%` a `%`. A lone `%` is kept: Python's
 * ConfigParser leaves a value without references untouched, so a password such
 * as `50%off` keeps working.
 */
function interpolate(sections: ReadonlyMap<string, RawSection>, section: string, chain: readonly string[]): string {
  const key = chain[chain.length - 1];
  const entry = lookup(sections, section, key)!;
  const raw = entry.parts.join('\n');
  const where = `${key} = ${JSON.stringify(raw)}`;
  return raw.replace(/%%|%\(([^)]*)\)s|%\(/g, (match, reference: string | undefined) => {
    if (match === '%%') return '%';
    if (reference === undefined) {
      throw new ConfigError(entry.origin, `${where}: "%(" must start a reference "%(name)s"; write "%%" for a literal "%"`);
    }
    const name = reference.toLowerCase();
    if (chain.includes(name)) {
      throw new ConfigError(entry.origin, `${where}: interpolation loop ${[...chain, name].join(' -> ')}`);
    }
    // `chain` holds the key itself, then one key per reference followed.
    if (chain.length > MAX_INTERPOLATION_DEPTH) {
      throw new ConfigError(entry.origin, `${where}: references nested deeper than ${MAX_INTERPOLATION_DEPTH}`);
    }
    if (lookup(sections, section, name) === undefined) {
      const scope = section === DEFAULT_SECTION ? '[DEFAULT]' : `[${section}] or [DEFAULT]`;
      throw new ConfigError(entry.origin, `${where}: %(${reference})s refers to "${name}", which is not in ${scope}`);
    }
    return interpolate(sections, section, [...chain, name]);
  });
}

function interpolateIni(raw: ReadonlyMap<string, RawSection>): IniFile {
  const sections = new Map<string, IniSection>();
  for (const [name, section] of raw) {
    const entries = new Map<string, IniValue>();
    for (const [key, entry] of section.entries) {
      entries.set(key, { value: interpolate(raw, name, [key]), origin: entry.origin });
    }
    sections.set(name, { origin: section.origin, entries });
  }
  return { sections };
}

/** Parses INI text; `source` names it in errors and origins. */
export function parseIni(text: string, source: string): IniFile {
  const raw = new Map<string, RawSection>();
  readIniInto(raw, text, source);
  return interpolateIni(raw);
}

// ---------------------------------------------------------------------------
// Keys.

const HOST_MACS_SECTION = 'host_macs';

const NEAT_ALGORITHMS = {
  underloadFactory: 'neat.locals.underload.trivial.last_n_average_threshold_factory',
  underloadParameters: '{"threshold": 0.5, "n": 2}',
  overloadFactory: 'neat.locals.overload.mhod.core.mhod_factory',
  overloadParameters: '{"state_config": [0.8], "otf": 0.1, "history_size": 500, ' +
    '"window_sizes": [30, 40, 50, 60, 70, 80, 90, 100], "bruteforce_step": 0.5, "learning_steps": 10}',
  selectionFactory: 'neat.locals.vm_selection.algorithms.minimum_migration_time_max_cpu_factory',
  selectionParameters: '{"last_n": 2}',
  placementFactory: 'neat.globals.vm_placement.bin_packing.best_fit_decreasing_factory',
  placementParameters: '{"cpu_threshold": 0.8, "ram_threshold": 0.95, "last_n_vm_cpu": 2}',
} as const;

/**
 * Every key of [DEFAULT], its default as it would be written in the file, and
 * its meaning (the README's key table mirrors this list). Neat's 32
 * keys come first, with Neat's defaults except `os_auth_url`.
 */
export const CONFIG_KEYS = [
  // Ignored: each Neat service writes its own log; we log to stdout/stderr.
  { key: 'log_directory', default: '/var/log/neat', meaning: "Neat's log directory; parsed and ignored (we log to standard output)" },
  { key: 'log_level', default: '3', meaning: '0 none, 1 warnings and errors, 2 plus info, 3 plus debug' },
  // Ignored: Neat chowns this directory on the manager host before each
  // migration, which is only right with storage shared by every host.
  { key: 'vm_instance_directory', default: '/var/lib/nova/instances', meaning: "Neat chowns it before each migration; parsed and ignored (wrong without shared storage; Nova handles it)" },
  // Ignored: our state is the event log (`event_log`), not Neat's database.
  { key: 'sql_connection', default: 'mysql://neat:neatpassword@controller/neat', meaning: "Neat's database URL; kept as a string and ignored (our state is the event log)" },
  { key: 'os_admin_tenant_name', default: 'admin', meaning: 'OpenStack project (Keystone v3) of the admin user' },
  { key: 'os_admin_user', default: 'admin', meaning: "OpenStack user for Nova; its SHA-1 is the REST username of Neat's local managers" },
  { key: 'os_admin_password', default: 'adminpassword', meaning: "OpenStack password; its SHA-1 is the REST password of Neat's local managers" },
  { key: 'os_auth_url', default: 'http://controller:5000/v3', meaning: "Keystone v3 URL (Neat's default was a v2.0 URL, which is refused)" },
  { key: 'compute_hosts', default: 'compute1, compute2, compute3, compute4', meaning: 'managed compute hosts, split on anything but letters, digits, `-` and `_`; no repeats' },
  { key: 'global_manager_host', default: 'controller', meaning: 'address the REST server binds to' },
  { key: 'global_manager_port', default: '60080', meaning: 'REST server port (1..65535)' },
  // Ignored: there is no database to clean; the event log keeps history.
  { key: 'db_cleaner_interval', default: '7200', meaning: "Neat's DB cleaner period, s; parsed and ignored (no database to clean)" },
  // Ignored: a path on the compute hosts, used by Neat's local services only.
  { key: 'local_data_directory', default: '/var/lib/neat', meaning: "data directory of Neat's local services on the compute hosts; parsed and ignored" },
  { key: 'local_manager_interval', default: '300', meaning: 'local manager period, s (integer > 0)' },
  { key: 'data_collector_interval', default: '300', meaning: "data collector period, s (integer > 0); every algorithm's time step" },
  { key: 'data_collector_data_length', default: '100', meaning: 'utilisation history length, values (integer >= 1)' },
  { key: 'host_cpu_overload_threshold', default: '0.8', meaning: 'host overload threshold as a fraction of the usable CPU, in (0, 1]' },
  { key: 'host_cpu_usable_by_vms', default: '1.0', meaning: 'fraction of host CPU usable by VMs, in (0, 1]' },
  { key: 'compute_user', default: 'neat', meaning: 'SSH user on the compute hosts (suspend)' },
  // Ignored: we authenticate with SSH keys (`ssh_key_file`), never passwords.
  { key: 'compute_password', default: 'neatpassword', meaning: 'parsed and ignored (SSH uses keys: `ssh_key_file`)' },
  { key: 'block_migration', default: 'False', meaning: 'live-migrate with block migration: true/false, yes/no, on/off, 1/0 (Neat always used true)' },
  { key: 'network_migration_bandwidth', default: '10', meaning: 'migration bandwidth, MB/s (> 0); migration time = mean VM RAM / bandwidth' },
  { key: 'sleep_command', default: 'pm-suspend', meaning: 'command run over SSH to suspend a host; empty = none' },
  { key: 'ether_wake_interface', default: 'eth0', meaning: 'network interface passed to `wol_program` as `-i`' },
  { key: 'algorithm_underload_detection_factory', default: NEAT_ALGORITHMS.underloadFactory, meaning: 'underload detection algorithm: our name or Neat\'s factory name (`neat algorithms` lists them)' },
  { key: 'algorithm_underload_detection_parameters', default: NEAT_ALGORITHMS.underloadParameters, meaning: 'its parameters, JSON' },
  { key: 'algorithm_overload_detection_factory', default: NEAT_ALGORITHMS.overloadFactory, meaning: 'overload detection algorithm' },
  { key: 'algorithm_overload_detection_parameters', default: NEAT_ALGORITHMS.overloadParameters, meaning: 'its parameters, JSON' },
  { key: 'algorithm_vm_selection_factory', default: NEAT_ALGORITHMS.selectionFactory, meaning: 'VM selection algorithm' },
  { key: 'algorithm_vm_selection_parameters', default: NEAT_ALGORITHMS.selectionParameters, meaning: 'its parameters, JSON' },
  { key: 'algorithm_vm_placement_factory', default: NEAT_ALGORITHMS.placementFactory, meaning: 'VM placement algorithm' },
  { key: 'algorithm_vm_placement_parameters', default: NEAT_ALGORITHMS.placementParameters, meaning: 'its parameters, JSON' },

  { key: 'event_log', default: 'sqlite:neat-events.sqlite', meaning: 'event log: `sqlite:<path>`, or a KurrentDB connection string (`kurrentdb://…`, `esdb://…`, with or without `+discover`)' },
  { key: 'automation', default: 'automatic', meaning: 'automatic (act on requests), manual (decide, wait for approval) or off (record only)' },
  { key: 'request_staleness_s', default: '5', meaning: "requests older than this are refused with 412 (Neat's window), s" },
  { key: 'request_queue_limit', default: '64', meaning: 'requests waiting at most; more are refused (integer >= 1)' },
  { key: 'migration_concurrency', default: '1', meaning: 'live migrations in flight at most (integer >= 1; Neat: 1)' },
  { key: 'migration_initial_wait_s', default: '10', meaning: 'wait before the first status poll of a migration, s (>= 0)' },
  { key: 'migration_poll_interval_s', default: '3', meaning: 'migration status poll period, s' },
  { key: 'migration_timeout_s', default: '300', meaning: 'a migration not done after this has failed, s' },
  { key: 'migration_max_attempts', default: '3', meaning: 'attempts per migration (integer 1..100; Neat: unbounded)' },
  { key: 'wake_timeout_s', default: '300', meaning: 'a woken host not up after this has failed, s' },
  { key: 'wake_poll_interval_s', default: '5', meaning: 'poll period while waiting for a woken host, s' },
  { key: 'api_tokens_sha256', default: '', meaning: 'comma-separated hex SHA-256 digests of the JSON API bearer tokens; empty = writes refused' },
  { key: 'api_body_limit_bytes', default: '65536', meaning: 'largest accepted request body, bytes' },
  { key: 'ssh_key_file', default: '~/.ssh/id_ed25519', meaning: 'SSH private key (`~` = `$HOME`)' },
  { key: 'ssh_known_hosts_file', default: '~/.ssh/known_hosts', meaning: 'SSH known hosts file (`~` = `$HOME`)' },
  { key: 'ssh_port', default: '22', meaning: 'SSH port of the compute hosts' },
  { key: 'ssh_strict_host_key_checking', default: 'true', meaning: 'refuse hosts missing from `ssh_known_hosts_file` (boolean)' },
  { key: 'ssh_connect_timeout_s', default: '10', meaning: 'SSH connection timeout, s' },
  { key: 'ssh_command_timeout_s', default: '60', meaning: 'SSH command timeout, s' },
  { key: 'wol_broadcast_address', default: '255.255.255.255', meaning: 'IPv4 address Wake-on-LAN packets are sent to' },
  { key: 'wol_port', default: '9', meaning: 'UDP port of Wake-on-LAN packets' },
  { key: 'wol_program', default: '', meaning: 'empty = send the packet ourselves; else a program (e.g. `ether-wake`) run as `<program> -i <ether_wake_interface> <mac>`' },
  { key: 'nova_compute_microversion', default: '2.87', meaning: 'Nova API microversion, 2.74..2.87' },
  { key: 'nova_interface', default: 'public', meaning: 'Nova endpoint interface from the catalogue: public, internal or admin' },
  { key: 'nova_region', default: '', meaning: 'Nova endpoint region; empty = any' },
  { key: 'nova_ca_bundle', default: '', meaning: 'CA bundle file for Keystone and Nova TLS; empty = system CAs' },
  { key: 'nova_request_timeout_s', default: '30', meaning: 'Keystone and Nova request timeout, s' },
  { key: 'nova_max_attempts', default: '4', meaning: 'tries per Nova call on 5xx or connection failure, the first included (integer 1..10); then the cloud counts as unavailable' },
  { key: 'nova_retry_backoff_s', default: '1', meaning: 'wait before the second try of a Nova call, doubled for each further one, s' },
  { key: 'nova_vcpu_mhz', default: '2000', meaning: "MHz of one hypervisor vCPU: Nova reports vCPUs, not clock speed; a host's CPU capacity is vcpus × this" },
  { key: 'os_user_domain_name', default: 'Default', meaning: 'Keystone v3 domain of `os_admin_user`' },
  { key: 'os_project_domain_name', default: 'Default', meaning: 'Keystone v3 domain of `os_admin_tenant_name`' },
] as const satisfies readonly { readonly key: string; readonly default: string; readonly meaning: string }[];

type Key = (typeof CONFIG_KEYS)[number]['key'];

interface Setting {
  readonly key: Key;
  readonly value: string;
  /** `file:line`, `environment variable NEAT_…` or `default`. */
  readonly origin: string;
}

type Settings = Readonly<Record<Key, Setting>>;

// ---------------------------------------------------------------------------
// The typed configuration.

export type Automation = (typeof AUTOMATION_LEVELS)[number];
export type NovaInterface = 'public' | 'internal' | 'admin';
export type EventLogLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'kurrentdb'; readonly connectionString: string };

export interface AlgorithmChoices {
  readonly underload: AlgorithmChoice;
  readonly overload: AlgorithmChoice;
  readonly selection: AlgorithmChoice;
  readonly placement: AlgorithmChoice;
}

export interface ManagerConfig {
  // Neat's keys.
  readonly logDirectory: string;
  readonly logLevel: 0 | 1 | 2 | 3;
  readonly vmInstanceDirectory: string;
  readonly sqlConnection: string;
  readonly osAdminTenantName: string;
  readonly osAdminUser: string;
  readonly osAdminPassword: string;
  /** Keystone v3, without a trailing slash. */
  readonly osAuthUrl: string;
  readonly computeHosts: readonly string[];
  readonly globalManagerHost: string;
  readonly globalManagerPort: number;
  readonly dbCleanerIntervalS: number;
  readonly localDataDirectory: string;
  readonly localManagerIntervalS: number;
  readonly dataCollectorIntervalS: number;
  readonly dataCollectorDataLength: number;
  readonly hostCpuOverloadThreshold: number;
  readonly hostCpuUsableByVms: number;
  readonly computeUser: string;
  readonly computePassword: string;
  readonly blockMigration: boolean;
  /** Megabytes per second, as Neat divides RAM in MB by it. */
  readonly networkMigrationBandwidthMbPerS: number;
  /** Empty: no command, as in Neat. */
  readonly sleepCommand: string;
  readonly etherWakeInterface: string;
  readonly algorithms: AlgorithmChoices;
  // Ours.
  readonly eventLog: EventLogLocation;
  readonly automation: Automation;
  readonly requestStalenessS: number;
  readonly requestQueueLimit: number;
  readonly migrationConcurrency: number;
  readonly migrationInitialWaitS: number;
  readonly migrationPollIntervalS: number;
  readonly migrationTimeoutS: number;
  readonly migrationMaxAttempts: number;
  readonly wakeTimeoutS: number;
  readonly wakePollIntervalS: number;
  /** Lower-case hex; empty: the JSON API refuses every write. */
  readonly apiTokensSha256: readonly string[];
  readonly apiBodyLimitBytes: number;
  readonly sshKeyFile: string;
  readonly sshKnownHostsFile: string;
  readonly sshPort: number;
  readonly sshStrictHostKeyChecking: boolean;
  readonly sshConnectTimeoutS: number;
  readonly sshCommandTimeoutS: number;
  readonly wolBroadcastAddress: string;
  readonly wolPort: number;
  /** Null: we send the magic packet ourselves. */
  readonly wolProgram: string | null;
  /** Compute host (as spelled in compute_hosts) → MAC `aa:bb:cc:dd:ee:ff`; no prototype. */
  readonly hostMacs: Readonly<Record<string, string>>;
  readonly novaComputeMicroversion: string;
  readonly novaInterface: NovaInterface;
  /** Null: any region. */
  readonly novaRegion: string | null;
  /** Null: the system's CAs. */
  readonly novaCaBundle: string | null;
  readonly novaRequestTimeoutS: number;
  readonly novaMaxAttempts: number;
  readonly novaRetryBackoffS: number;
  readonly novaVcpuMhz: number;
  readonly osUserDomainName: string;
  readonly osProjectDomainName: string;
}

// ---------------------------------------------------------------------------
// Value parsers: each returns the typed value or throws naming the setting.

// Node's timers fire at once for delays above 2^31 - 1 ms; every duration
// becomes a timer somewhere, so none may exceed it.
const MAX_DURATION_S = Math.floor((2 ** 31 - 1) / 1000);
const PORT_MAX = 65535;
const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function invalid(setting: Setting, expected: string): ConfigError {
  return new ConfigError(setting.origin, `${setting.key} must be ${expected}; got ${JSON.stringify(setting.value)}`);
}

function integer(setting: Setting, min: number, max: number): number {
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const value = Number(setting.value);
  if (!INTEGER.test(setting.value) || value < min || value > max) throw invalid(setting, expected);
  return value === 0 ? 0 : value; // Python's int("-0") is 0, Number("-0") is -0.
}

/** Seconds: a number > 0 (>= 0 when `zeroAllowed`), bounded by MAX_DURATION_S. */
function seconds(setting: Setting, zeroAllowed = false): number {
  const value = Number(setting.value);
  const tooSmall = zeroAllowed ? value < 0 : value <= 0;
  if (!FLOAT.test(setting.value) || tooSmall || value > MAX_DURATION_S) {
    throw invalid(setting, `a number of seconds ${zeroAllowed ? '>= 0' : '> 0'} and <= ${MAX_DURATION_S}`);
  }
  return value;
}

/** Neat's intervals are Python int()s. */
function intervalS(setting: Setting): number {
  return integer(setting, 1, MAX_DURATION_S);
}

function fraction(setting: Setting): number {
  const value = Number(setting.value);
  if (!FLOAT.test(setting.value) || value <= 0 || value > 1) throw invalid(setting, 'a number > 0 and <= 1');
  return value;
}

function positive(setting: Setting): number {
  const value = Number(setting.value);
  if (!FLOAT.test(setting.value) || value <= 0 || !Number.isFinite(value)) throw invalid(setting, 'a number > 0');
  return value;
}

// Python's ConfigParser.getboolean set. Neat used bool(str) instead, so that
// block_migration = False meant true (reference §9.1).
const BOOLEANS: Readonly<Record<string, boolean>> = {
  '1': true, yes: true, true: true, on: true, '0': false, no: false, false: false, off: false,
};

function boolean(setting: Setting): boolean {
  const value = setting.value.toLowerCase();
  if (!Object.hasOwn(BOOLEANS, value)) throw invalid(setting, 'a boolean: true/false, yes/no, on/off or 1/0');
  return BOOLEANS[value];
}

function oneOf<T extends string>(setting: Setting, valid: readonly T[]): T {
  const found = valid.find((v) => v === setting.value);
  if (found === undefined) throw invalid(setting, `one of ${valid.join(', ')}`);
  return found;
}

function nonEmpty(setting: Setting): string {
  if (setting.value === '') throw invalid(setting, 'non-empty');
  return setting.value;
}

function optional(setting: Setting): string | null {
  return setting.value === '' ? null : setting.value;
}

function expandHome(setting: Setting, env: LoadConfigOptions['env']): string {
  const value = setting.value;
  if (value !== '~' && !value.startsWith('~/')) return value;
  const home = env.HOME;
  if (home === undefined || home === '') throw invalid(setting, 'a path; it starts with ~ but HOME is not set');
  return home + value.slice(1);
}

/** Neat's `parse_compute_hosts`, plus a duplicate check. */
function computeHosts(setting: Setting): readonly string[] {
  const hosts = setting.value.split(/[^a-zA-Z0-9\-_]+/).filter((host) => host !== '');
  // Host names compare case-insensitively (DNS), and ConfigParser lower-cases
  // the host names of [host_macs].
  const seen = new Set<string>();
  for (const host of hosts) {
    if (seen.has(host.toLowerCase())) throw invalid(setting, `a list of distinct host names; "${host}" is repeated`);
    seen.add(host.toLowerCase());
  }
  return Object.freeze(hosts);
}

const KEYSTONE_V2 = /\/v2\.0\/?$/;

function authUrl(setting: Setting): string {
  if (KEYSTONE_V2.test(setting.value)) {
    throw invalid(setting, 'a Keystone v3 URL (Keystone v2.0 is gone from OpenStack): use the v3 endpoint, ' +
      `e.g. ${setting.value.replace(KEYSTONE_V2, '/v3')}`);
  }
  if (!/^https?:\/\/./.test(setting.value) || !URL.canParse(setting.value)) {
    throw invalid(setting, 'an http:// or https:// URL of Keystone v3, e.g. http://controller:5000/v3');
  }
  return setting.value.replace(/\/+$/, '');
}

// Every scheme @kurrent/kurrentdb-client accepts.
const KURRENTDB_SCHEMES = ['kurrentdb', 'kurrent', 'kdb', 'esdb'].flatMap((s) => [`${s}://`, `${s}+discover://`]);

function eventLog(setting: Setting): EventLogLocation {
  const value = setting.value;
  if (value.startsWith('sqlite:') && value.length > 'sqlite:'.length) {
    return Object.freeze({ kind: 'sqlite', path: value.slice('sqlite:'.length) });
  }
  if (KURRENTDB_SCHEMES.some((scheme) => value.startsWith(scheme) && value.length > scheme.length)) {
    return Object.freeze({ kind: 'kurrentdb', connectionString: value });
  }
  throw invalid(setting, `sqlite:<path> or a KurrentDB connection string (${KURRENTDB_SCHEMES.join('…, ')}…)`);
}

function apiTokens(setting: Setting): readonly string[] {
  if (setting.value === '') return Object.freeze([]);
  const digests = setting.value.split(',').map((digest) => digest.trim());
  const bad = digests.find((digest) => !/^[0-9a-fA-F]{64}$/.test(digest));
  if (bad !== undefined) {
    throw invalid(setting, `comma-separated SHA-256 digests of 64 hex characters each; ${JSON.stringify(bad)} is not one`);
  }
  return Object.freeze(digests.map((digest) => digest.toLowerCase()));
}

function ipv4(setting: Setting): string {
  if (!isIPv4(setting.value)) throw invalid(setting, 'an IPv4 address such as 255.255.255.255 or 192.168.1.255');
  return setting.value;
}

/** One word, as it becomes argv[0] or an argument of a program, never a shell line. */
function word(setting: Setting): string | null {
  if (/\s/.test(setting.value)) throw invalid(setting, 'a single word without spaces (empty for none)');
  return optional(setting);
}

const MICROVERSION_MIN = 74;
const MICROVERSION_MAX = 87;

function microversion(setting: Setting): string {
  const match = /^2\.(\d{1,3})$/.exec(setting.value);
  const minor = match === null ? Number.NaN : Number(match[1]);
  if (!(minor >= MICROVERSION_MIN && minor <= MICROVERSION_MAX)) {
    throw invalid(setting, `a Nova microversion from 2.${MICROVERSION_MIN} to 2.${MICROVERSION_MAX}`);
  }
  return `2.${minor}`;
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$|^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/i;

function hostMacs(entries: ReadonlyMap<string, IniValue>, hosts: readonly string[]): Readonly<Record<string, string>> {
  const hostByLowerCase = new Map(hosts.map((host) => [host.toLowerCase(), host]));
  const hostByMac = new Map<string, string>();
  // No prototype: a host may be called `constructor`.
  const macs = Object.create(null) as Record<string, string>;
  for (const [name, entry] of entries) {
    const host = hostByLowerCase.get(name);
    if (host === undefined) {
      throw new ConfigError(entry.origin, `[${HOST_MACS_SECTION}] names host "${name}", which is not in compute_hosts ` +
        `(${hosts.join(', ')})`);
    }
    if (!MAC.test(entry.value)) {
      throw new ConfigError(entry.origin, `[${HOST_MACS_SECTION}] ${name} must be a MAC address such as ` +
        `aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff; got ${JSON.stringify(entry.value)}`);
    }
    const mac = entry.value.toLowerCase().replaceAll('-', ':');
    const other = hostByMac.get(mac);
    if (other !== undefined && other !== host) {
      throw new ConfigError(entry.origin, `[${HOST_MACS_SECTION}] ${name}: MAC ${mac} is already the MAC of ${other}`);
    }
    hostByMac.set(mac, host);
    macs[host] = mac;
  }
  return Object.freeze(macs);
}

// ---------------------------------------------------------------------------
// Algorithms: validated by creating them, so the registry alone says what is valid.

const ALGORITHM_KEYS = {
  underload: 'underload_detection',
  overload: 'overload_detection',
  selection: 'vm_selection',
  placement: 'vm_placement',
} as const satisfies Record<AlgorithmKind, string>;

const CREATE_ALGORITHM: Readonly<Record<AlgorithmKind, (choice: AlgorithmChoice, context: AlgorithmContext) => unknown>> = {
  underload: createUnderloadDetector,
  overload: createOverloadDetector,
  selection: createVmSelector,
  placement: createVmPlacer,
};

/** Not `instanceof Error`: errors from Node's own realm fail it under jest's VM contexts. */
function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') {
    return error.message;
  }
  return String(error);
}

function deepFreeze(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  for (const item of Object.values(value)) deepFreeze(item);
  return Object.freeze(value);
}

function parseJson(setting: Setting): unknown {
  try {
    return JSON.parse(setting.value) as unknown;
  } catch (error) {
    throw invalid(setting, `JSON, e.g. {} for no parameters (${messageOf(error)})`);
  }
}

function algorithm(kind: AlgorithmKind, settings: Settings, timeStepS: number): AlgorithmChoice {
  const factory = settings[`algorithm_${ALGORITHM_KEYS[kind]}_factory`];
  const parameters = settings[`algorithm_${ALGORITHM_KEYS[kind]}_parameters`];
  const choice: AlgorithmChoice = { name: factory.value, params: parseJson(parameters) };
  // The real migration time is only known per request; 1 s lets every
  // algorithm check its parameters.
  const context: AlgorithmContext = { timeStepS, migrationTimeS: 1 };
  try {
    CREATE_ALGORITHM[kind](choice, context);
  } catch (error) {
    if (error instanceof UnknownAlgorithmError) throw new ConfigError(factory.origin, `${factory.key}: ${error.message}`);
    if (error instanceof InvalidParameterError) {
      throw new ConfigError(parameters.origin, `${parameters.key} = ${parameters.value}: ${error.message}`);
    }
    throw error;
  }
  return deepFreeze(choice) as AlgorithmChoice;
}

function algorithms(settings: Settings, timeStepS: number): AlgorithmChoices {
  return Object.freeze({
    underload: algorithm('underload', settings, timeStepS),
    overload: algorithm('overload', settings, timeStepS),
    selection: algorithm('selection', settings, timeStepS),
    placement: algorithm('placement', settings, timeStepS),
  });
}

// ---------------------------------------------------------------------------
// Loading.

export interface LoadConfigOptions {
  /** Read in order; a later file overrides an earlier one, key by key. */
  readonly files: readonly string[];
  /** `NEAT_<KEY>` overrides a key (taken literally, without interpolation); HOME expands `~`. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

const KEY_NAMES: ReadonlySet<string> = new Set(CONFIG_KEYS.map((k) => k.key));
const SECTIONS = [DEFAULT_SECTION, HOST_MACS_SECTION];

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The closest candidate, when close enough to be the intended one. */
function nearest(name: string, candidates: readonly string[]): string | null {
  const lower = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(name.length / 4)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function readConfigFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, `cannot read the configuration file: ${messageOf(error)}`);
  }
}

function checkNames(ini: IniFile): void {
  for (const [name, section] of ini.sections) {
    if (SECTIONS.includes(name)) continue;
    const guess = nearest(name, SECTIONS);
    throw new ConfigError(section.origin, `unknown section [${name}]` +
      (guess === null ? '' : `; did you mean [${guess}]?`) + `; valid sections: ${SECTIONS.map((s) => `[${s}]`).join(', ')}`);
  }
  for (const [key, entry] of ini.sections.get(DEFAULT_SECTION)?.entries ?? []) {
    if (KEY_NAMES.has(key)) continue;
    const guess = nearest(key, [...KEY_NAMES]);
    throw new ConfigError(entry.origin, `unknown key "${key}" in [DEFAULT]` +
      (guess === null ? `; valid keys: ${[...KEY_NAMES].join(', ')}` : `; did you mean "${guess}"?`));
  }
}

const ENV_PREFIX = 'NEAT_';

function envVariable(key: string): string {
  return `${ENV_PREFIX}${key.toUpperCase()}`;
}

const ENV_NAMES: readonly string[] = CONFIG_KEYS.map((k) => envVariable(k.key));

/** The `NEAT_…` variables set in an environment, sorted. */
export function configVariables(env: LoadConfigOptions['env']): string[] {
  return Object.keys(env).filter((name) => name.startsWith(ENV_PREFIX) && env[name] !== undefined).sort();
}

/**
 * A `NEAT_` variable that names no key is refused, as an unknown key in a file
 * is: a misspelt override would otherwise be ignored in silence, and the
 * manager would run on the value the operator meant to replace.
 */
function checkEnvNames(env: LoadConfigOptions['env']): void {
  for (const name of configVariables(env)) {
    if (ENV_NAMES.includes(name)) continue;
    const guess = nearest(name, ENV_NAMES);
    throw new ConfigError(`environment variable ${name}`, 'names no configuration key' +
      (guess === null ? '; NEAT_<KEY> takes a key of [DEFAULT] in upper case (docs/configuration.md)' : `; did you mean ${guess}?`));
  }
}

function settingsFrom(ini: IniFile, env: LoadConfigOptions['env']): Settings {
  const fromFiles = ini.sections.get(DEFAULT_SECTION)?.entries;
  const settings = {} as Record<Key, Setting>;
  for (const { key, default: fallback } of CONFIG_KEYS) {
    const fromEnv = env[envVariable(key)];
    const fromFile = fromFiles?.get(key);
    settings[key] = fromEnv !== undefined ? { key, value: fromEnv, origin: `environment variable ${envVariable(key)}` }
      : fromFile !== undefined ? { key, value: fromFile.value, origin: fromFile.origin }
        : { key, value: fallback, origin: 'default' };
  }
  return settings;
}

function neatFields(s: Settings) {
  const dataCollectorIntervalS = intervalS(s.data_collector_interval);
  return {
    logDirectory: s.log_directory.value,
    logLevel: integer(s.log_level, 0, 3) as 0 | 1 | 2 | 3,
    vmInstanceDirectory: s.vm_instance_directory.value,
    sqlConnection: s.sql_connection.value,
    osAdminTenantName: s.os_admin_tenant_name.value,
    osAdminUser: s.os_admin_user.value,
    osAdminPassword: s.os_admin_password.value,
    osAuthUrl: authUrl(s.os_auth_url),
    computeHosts: computeHosts(s.compute_hosts),
    globalManagerHost: nonEmpty(s.global_manager_host),
    globalManagerPort: integer(s.global_manager_port, 1, PORT_MAX),
    dbCleanerIntervalS: intervalS(s.db_cleaner_interval),
    localDataDirectory: s.local_data_directory.value,
    localManagerIntervalS: intervalS(s.local_manager_interval),
    dataCollectorIntervalS,
    dataCollectorDataLength: integer(s.data_collector_data_length, 1, Number.MAX_SAFE_INTEGER),
    hostCpuOverloadThreshold: fraction(s.host_cpu_overload_threshold),
    hostCpuUsableByVms: fraction(s.host_cpu_usable_by_vms),
    computeUser: nonEmpty(s.compute_user),
    computePassword: s.compute_password.value,
    blockMigration: boolean(s.block_migration),
    networkMigrationBandwidthMbPerS: positive(s.network_migration_bandwidth),
    sleepCommand: s.sleep_command.value,
    etherWakeInterface: s.ether_wake_interface.value,
    algorithms: algorithms(s, dataCollectorIntervalS),
  };
}

function managerFields(s: Settings, env: LoadConfigOptions['env']) {
  return {
    eventLog: eventLog(s.event_log),
    automation: oneOf<Automation>(s.automation, AUTOMATION_LEVELS),
    requestStalenessS: seconds(s.request_staleness_s),
    requestQueueLimit: integer(s.request_queue_limit, 1, Number.MAX_SAFE_INTEGER),
    migrationConcurrency: integer(s.migration_concurrency, 1, Number.MAX_SAFE_INTEGER),
    migrationInitialWaitS: seconds(s.migration_initial_wait_s, true),
    migrationPollIntervalS: seconds(s.migration_poll_interval_s),
    migrationTimeoutS: seconds(s.migration_timeout_s),
    migrationMaxAttempts: integer(s.migration_max_attempts, 1, 100),
    wakeTimeoutS: seconds(s.wake_timeout_s),
    wakePollIntervalS: seconds(s.wake_poll_interval_s),
    apiTokensSha256: apiTokens(s.api_tokens_sha256),
    apiBodyLimitBytes: integer(s.api_body_limit_bytes, 1, Number.MAX_SAFE_INTEGER),
    sshKeyFile: expandHome(s.ssh_key_file, env),
    sshKnownHostsFile: expandHome(s.ssh_known_hosts_file, env),
    sshPort: integer(s.ssh_port, 1, PORT_MAX),
    sshStrictHostKeyChecking: boolean(s.ssh_strict_host_key_checking),
    sshConnectTimeoutS: seconds(s.ssh_connect_timeout_s),
    sshCommandTimeoutS: seconds(s.ssh_command_timeout_s),
    wolBroadcastAddress: ipv4(s.wol_broadcast_address),
    wolPort: integer(s.wol_port, 1, PORT_MAX),
    wolProgram: wolProgram(s),
    novaComputeMicroversion: microversion(s.nova_compute_microversion),
    novaInterface: oneOf<NovaInterface>(s.nova_interface, ['public', 'internal', 'admin']),
    novaRegion: optional(s.nova_region),
    novaCaBundle: s.nova_ca_bundle.value === '' ? null : expandHome(s.nova_ca_bundle, env),
    novaRequestTimeoutS: seconds(s.nova_request_timeout_s),
    novaMaxAttempts: integer(s.nova_max_attempts, 1, 10),
    novaRetryBackoffS: seconds(s.nova_retry_backoff_s, true),
    novaVcpuMhz: positive(s.nova_vcpu_mhz),
    osUserDomainName: nonEmpty(s.os_user_domain_name),
    osProjectDomainName: nonEmpty(s.os_project_domain_name),
  };
}

function wolProgram(s: Settings): string | null {
  const program = word(s.wol_program);
  if (program !== null && word(s.ether_wake_interface) === null) {
    throw invalid(s.ether_wake_interface, `an interface name, as wol_program (${program}) takes -i <interface>`);
  }
  return program;
}

/**
 * Reads the files in order, applies `NEAT_<KEY>` environment overrides and
 * returns the validated configuration; throws a ConfigError naming the key,
 * its origin, the bad value and what is valid.
 */
export function loadConfig(options: LoadConfigOptions): ManagerConfig {
  const raw = new Map<string, RawSection>();
  for (const file of options.files) readIniInto(raw, readConfigFile(file), file);
  const ini = interpolateIni(raw);
  checkNames(ini);
  checkEnvNames(options.env);
  const settings = settingsFrom(ini, options.env);
  const neat = neatFields(settings);
  const macs = hostMacs(ini.sections.get(HOST_MACS_SECTION)?.entries ?? new Map<string, IniValue>(), neat.computeHosts);
  const config: ManagerConfig = { ...neat, ...managerFields(settings, options.env), hostMacs: macs };
  return Object.freeze(config);
}

/** Every key at its default, `~` expanded to this user's home. */
export const DEFAULT_CONFIG: ManagerConfig = loadConfig({ files: [], env: { HOME: homedir() } });

/** What Neat's local managers send as `username` and `password`: SHA-1 hex of the admin credentials. */
export function neatCredentialHashes(
  config: Pick<ManagerConfig, 'osAdminUser' | 'osAdminPassword'>,
): { username: string; password: string } {
  const sha1 = (text: string): string => createHash('sha1').update(text, 'utf8').digest('hex');
  return { username: sha1(config.osAdminUser), password: sha1(config.osAdminPassword) };
}
