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
import { homedir } from 'node:os';
import { POWER_MODELS } from '../engine/power';
import type { AlgorithmChoice } from '../engine/registry';
import { AUTOMATION_LEVELS } from '../events/catalogue';
import { ConfigError, DEFAULT_SECTION, interpolateIni, readIniInto } from './ini';
import type { IniFile, IniValue, RawSection } from './ini';
import { CONFIG_KEYS, HOST_MACS_SECTION } from './keys';
import type { Key, Setting, Settings } from './keys';
import {
  PORT_MAX, invalid, integer, seconds, intervalS, fraction, positive, boolean, oneOf, nonEmpty, optional, expandHome, computeHosts, authUrl, eventLog, apiTokens, ipv4, word, microversion, hostMacs, httpUrl, messageOf, algorithms, labelName, oneGroupPattern,
} from './values';

export { ConfigError, iniGet, parseIni } from './ini';
export type { IniFile, IniSection, IniValue } from './ini';
export { CONFIG_KEYS } from './keys';

// ---------------------------------------------------------------------------
// The typed configuration.

export type Automation = (typeof AUTOMATION_LEVELS)[number];
export type NovaInterface = 'public' | 'internal' | 'admin';
export const SAMPLES_SOURCES = ['agents', 'neat-db', 'prometheus'] as const;
export type SamplesSource = (typeof SAMPLES_SOURCES)[number];
export const PROMETHEUS_AUTH = ['static', 'keystone'] as const;
export type PrometheusAuth = (typeof PROMETHEUS_AUTH)[number];
export type EventLogLocation =
  | { readonly kind: 'sqlite'; readonly path: string }
  | { readonly kind: 'kurrentdb'; readonly connectionString: string }
  | { readonly kind: 'postgresql'; readonly connectionString: string };

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
  /** Events between two snapshots of the manager's state; 0: none. */
  readonly snapshotIntervalEvents: number;
  /** Samples older than this are compacted out of a SQLite log; 0: kept. */
  readonly sampleRetentionS: number;
  /** Where compacted samples go: `beside-log` (`<event log>.archive`), a path, or null (dropped). */
  readonly sampleArchive: string | null;
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
  /** A key of POWER_MODELS: how a production log's energy is estimated. */
  readonly powerModel: string;
  readonly samplesSource: SamplesSource;
  readonly sampleMaxAgeS: number;
  /** Without a trailing slash; null: not configured (samples_source is not prometheus). */
  readonly prometheusUrl: string | null;
  readonly prometheusAuth: PrometheusAuth;
  readonly prometheusToken: string | null;
  /** Basic auth, both set or neither. */
  readonly prometheusUsername: string | null;
  readonly prometheusPassword: string | null;
  readonly prometheusTimeoutS: number;
  readonly prometheusVmLabel: string;
  readonly prometheusHostLabel: string;
  /** Has exactly one capturing group: the host name. */
  readonly prometheusHostPattern: RegExp;
  readonly libvirtUri: string;
  /** Without a trailing slash. */
  readonly globalManagerUrl: string;
  readonly agentApiToken: string | null;
  /** Null: this machine's host name. */
  readonly agentHostName: string | null;
  readonly agentBufferLimit: number;
  readonly agentRequestTimeoutS: number;
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
    snapshotIntervalEvents: integer(s.snapshot_interval_events, 0, Number.MAX_SAFE_INTEGER),
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
    powerModel: oneOf(s.power_model, Object.keys(POWER_MODELS)),
  };
}

/** How long samples stay in the log: at least the longest history the algorithms are given, so that compaction takes none they use. */
function retentionFields(s: Settings, neat: ReturnType<typeof neatFields>, eventLogKind: EventLogLocation['kind']) {
  const sampleRetentionS = seconds(s.sample_retention_s, true);
  const historyS = neat.dataCollectorDataLength * neat.dataCollectorIntervalS;
  if (sampleRetentionS > 0 && sampleRetentionS < historyS) {
    throw invalid(s.sample_retention_s, `0 or at least data_collector_data_length × data_collector_interval (${historyS} s): the histories hold samples that old`);
  }
  const archive = s.sample_archive.value;
  if (eventLogKind === 'postgresql' && archive !== '' && archive !== 'none') {
    throw invalid(s.sample_archive, 'empty (table events_archive beside the log) or none with a PostgreSQL event_log: an archive file is for a SQLite one');
  }
  return { sampleRetentionS, sampleArchive: archive === 'none' ? null : archive === '' ? 'beside-log' : archive };
}

/** The agent's keys, and the age past which the manager's decisions ignore a sample. */
function agentFields(s: Settings, neat: ReturnType<typeof neatFields>) {
  const sampleMaxAgeS = seconds(s.sample_max_age_s);
  if (sampleMaxAgeS < neat.dataCollectorIntervalS) {
    throw invalid(s.sample_max_age_s, `at least data_collector_interval (${neat.dataCollectorIntervalS} s): every sample would be too old before the next one comes`);
  }
  const samplesSource = oneOf<SamplesSource>(s.samples_source, SAMPLES_SOURCES);
  return {
    samplesSource,
    sampleMaxAgeS,
    ...prometheusFields(s, samplesSource),
    libvirtUri: nonEmpty(s.libvirt_uri),
    globalManagerUrl: s.global_manager_url.value === ''
      ? `http://${neat.globalManagerHost.includes(':') ? `[${neat.globalManagerHost}]` : neat.globalManagerHost}:${neat.globalManagerPort}`
      : httpUrl(s.global_manager_url),
    agentApiToken: optional(s.agent_api_token),
    agentHostName: optional(s.agent_host_name),
    agentBufferLimit: integer(s.agent_buffer_limit, 1, 1_000_000),
    agentRequestTimeoutS: seconds(s.agent_request_timeout_s),
  };
}

/** Prometheus' URL is required only when it is the source; its credentials are one kind at a time. */
function prometheusFields(s: Settings, samplesSource: SamplesSource) {
  if (samplesSource === 'prometheus' && s.prometheus_url.value === '') {
    throw invalid(s.prometheus_url, 'the URL of Prometheus (or Aetos), as samples_source = prometheus');
  }
  const prometheusAuth = oneOf<PrometheusAuth>(s.prometheus_auth, PROMETHEUS_AUTH);
  const token = optional(s.prometheus_token);
  const username = optional(s.prometheus_username);
  const password = optional(s.prometheus_password);
  if ((username === null) !== (password === null)) {
    throw invalid(username === null ? s.prometheus_username : s.prometheus_password, 'set with prometheus_username and prometheus_password both, for basic auth');
  }
  if (token !== null && username !== null) throw invalid(s.prometheus_username, 'empty when prometheus_token is set: one kind of credentials at a time');
  if (prometheusAuth === 'keystone' && (token !== null || username !== null)) {
    throw invalid(s.prometheus_auth, 'static when prometheus_token or prometheus_username is set: keystone sends its own token');
  }
  return {
    prometheusUrl: s.prometheus_url.value === '' ? null : httpUrl(s.prometheus_url),
    prometheusAuth,
    prometheusToken: token,
    prometheusUsername: username,
    prometheusPassword: password,
    prometheusTimeoutS: seconds(s.prometheus_timeout_s),
    prometheusVmLabel: labelName(s.prometheus_vm_label),
    prometheusHostLabel: labelName(s.prometheus_host_label),
    prometheusHostPattern: oneGroupPattern(s.prometheus_host_pattern),
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
  const manager = managerFields(settings, options.env);
  const config: ManagerConfig = { ...neat, ...manager, ...agentFields(settings, neat), ...retentionFields(settings, neat, manager.eventLog.kind), hostMacs: macs };
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
