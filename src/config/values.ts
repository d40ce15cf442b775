/** Value parsers: each returns the typed value or throws naming the setting. */
import { isIPv4 } from 'node:net';
import { InvalidParameterError } from '../engine/params';
import type { AlgorithmChoice, AlgorithmKind } from '../engine/registry';
import {
  createOverloadDetector, createUnderloadDetector, createVmPlacer, createVmSelector, UnknownAlgorithmError,
} from '../engine/registry';
import type { AlgorithmContext } from '../engine/types';
import type { AlgorithmChoices, EventLogLocation, LoadConfigOptions } from './index';
import { ConfigError } from './ini';
import type { IniValue } from './ini';
import { HOST_MACS_SECTION } from './keys';
import type { Setting, Settings } from './keys';
// Node's timers fire at once for delays above 2^31 - 1 ms; every duration
// becomes a timer somewhere, so none may exceed it.
const MAX_DURATION_S = Math.floor((2 ** 31 - 1) / 1000);
export const PORT_MAX = 65535;
const INTEGER = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export function invalid(setting: Setting, expected: string): ConfigError {
  return new ConfigError(setting.origin, `${setting.key} must be ${expected}; got ${JSON.stringify(setting.value)}`);
}

export function integer(setting: Setting, min: number, max: number): number {
  const expected = max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const value = Number(setting.value);
  if (!INTEGER.test(setting.value) || value < min || value > max) throw invalid(setting, expected);
  return value === 0 ? 0 : value; // Python's int("-0") is 0, Number("-0") is -0.
}

/** Seconds: a number > 0 (>= 0 when `zeroAllowed`), bounded by MAX_DURATION_S. */
export function seconds(setting: Setting, zeroAllowed = false): number {
  const value = Number(setting.value);
  const tooSmall = zeroAllowed ? value < 0 : value <= 0;
  if (!FLOAT.test(setting.value) || tooSmall || value > MAX_DURATION_S) {
    throw invalid(setting, `a number of seconds ${zeroAllowed ? '>= 0' : '> 0'} and <= ${MAX_DURATION_S}`);
  }
  return value;
}

/** Neat's intervals are Python int()s. */
export function intervalS(setting: Setting): number {
  return integer(setting, 1, MAX_DURATION_S);
}

export function fraction(setting: Setting): number {
  const value = Number(setting.value);
  if (!FLOAT.test(setting.value) || value <= 0 || value > 1) throw invalid(setting, 'a number > 0 and <= 1');
  return value;
}

export function positive(setting: Setting): number {
  const value = Number(setting.value);
  if (!FLOAT.test(setting.value) || value <= 0 || !Number.isFinite(value)) throw invalid(setting, 'a number > 0');
  return value;
}

// Python's ConfigParser.getboolean set. Neat used bool(str) instead, so that
// block_migration = False meant true (reference §9.1).
const BOOLEANS: Readonly<Record<string, boolean>> = {
  '1': true, yes: true, true: true, on: true, '0': false, no: false, false: false, off: false,
};

export function boolean(setting: Setting): boolean {
  const value = setting.value.toLowerCase();
  if (!Object.hasOwn(BOOLEANS, value)) throw invalid(setting, 'a boolean: true/false, yes/no, on/off or 1/0');
  return BOOLEANS[value];
}

export function oneOf<T extends string>(setting: Setting, valid: readonly T[]): T {
  const found = valid.find((v) => v === setting.value);
  if (found === undefined) throw invalid(setting, `one of ${valid.join(', ')}`);
  return found;
}

/** An http(s) URL without credentials, query or fragment; returned without a trailing slash. */
export function httpUrl(setting: Setting): string {
  let url: URL;
  try {
    url = new URL(setting.value);
  } catch {
    throw invalid(setting, 'an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(setting, 'an http:// or https:// URL');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw invalid(setting, 'a URL without credentials, query or fragment');
  }
  return url.href.replace(/\/+$/, '');
}

/** Prometheus' label names: `[a-zA-Z_][a-zA-Z0-9_]*`. */
export function labelName(setting: Setting): string {
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(setting.value)) throw invalid(setting, 'a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)');
  return setting.value;
}

/** A regular expression with exactly one capturing group, the part that is kept. */
export function oneGroupPattern(setting: Setting): RegExp {
  let pattern: RegExp;
  try {
    pattern = new RegExp(setting.value);
  } catch (error) {
    throw invalid(setting, `a regular expression (${messageOf(error)})`);
  }
  // An alternation with the empty string always matches: its match's group count is the pattern's.
  const groups = new RegExp(`${setting.value}|`).exec('')!.length - 1;
  if (groups !== 1) throw invalid(setting, `a regular expression with exactly one capturing group; it has ${groups}`);
  return pattern;
}

export function nonEmpty(setting: Setting): string {
  if (setting.value === '') throw invalid(setting, 'non-empty');
  return setting.value;
}

export function optional(setting: Setting): string | null {
  return setting.value === '' ? null : setting.value;
}

export function expandHome(setting: Setting, env: LoadConfigOptions['env']): string {
  const value = setting.value;
  if (value !== '~' && !value.startsWith('~/')) return value;
  const home = env.HOME;
  if (home === undefined || home === '') throw invalid(setting, 'a path; it starts with ~ but HOME is not set');
  return home + value.slice(1);
}

/** Neat's `parse_compute_hosts`, plus a duplicate check. */
export function computeHosts(setting: Setting): readonly string[] {
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

export function authUrl(setting: Setting): string {
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

const POSTGRESQL_SCHEME = 'postgresql://';

export function eventLog(setting: Setting): EventLogLocation {
  const value = setting.value;
  if (value.startsWith('sqlite:') && value.length > 'sqlite:'.length) {
    return Object.freeze({ kind: 'sqlite', path: value.slice('sqlite:'.length) });
  }
  if (KURRENTDB_SCHEMES.some((scheme) => value.startsWith(scheme) && value.length > scheme.length)) {
    return Object.freeze({ kind: 'kurrentdb', connectionString: value });
  }
  // One spelling, the one PostgreSQL's own documentation leads with; `postgres://` is refused, not guessed at.
  if (value.startsWith(POSTGRESQL_SCHEME) && value.length > POSTGRESQL_SCHEME.length && URL.canParse(value)) {
    return Object.freeze({ kind: 'postgresql', connectionString: value });
  }
  throw invalid(setting, `sqlite:<path> or a KurrentDB connection string (${KURRENTDB_SCHEMES.join('…, ')}…) or a PostgreSQL one (${POSTGRESQL_SCHEME}user[:password]@host[:port]/database)`);
}

export function apiTokens(setting: Setting): readonly string[] {
  if (setting.value === '') return Object.freeze([]);
  const digests = setting.value.split(',').map((digest) => digest.trim());
  const bad = digests.find((digest) => !/^[0-9a-fA-F]{64}$/.test(digest));
  if (bad !== undefined) {
    throw invalid(setting, `comma-separated SHA-256 digests of 64 hex characters each; ${JSON.stringify(bad)} is not one`);
  }
  return Object.freeze(digests.map((digest) => digest.toLowerCase()));
}

export function ipv4(setting: Setting): string {
  if (!isIPv4(setting.value)) throw invalid(setting, 'an IPv4 address such as 255.255.255.255 or 192.168.1.255');
  return setting.value;
}

/** One word, as it becomes argv[0] or an argument of a program, never a shell line. */
export function word(setting: Setting): string | null {
  if (/\s/.test(setting.value)) throw invalid(setting, 'a single word without spaces (empty for none)');
  return optional(setting);
}

const MICROVERSION_MIN = 74;
const MICROVERSION_MAX = 87;

export function microversion(setting: Setting): string {
  const match = /^2\.(\d{1,3})$/.exec(setting.value);
  const minor = match === null ? Number.NaN : Number(match[1]);
  if (!(minor >= MICROVERSION_MIN && minor <= MICROVERSION_MAX)) {
    throw invalid(setting, `a Nova microversion from 2.${MICROVERSION_MIN} to 2.${MICROVERSION_MAX}`);
  }
  return `2.${minor}`;
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$|^[0-9a-f]{2}(?:-[0-9a-f]{2}){5}$/i;

export function hostMacs(entries: ReadonlyMap<string, IniValue>, hosts: readonly string[]): Readonly<Record<string, string>> {
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
export function messageOf(error: unknown): string {
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

export function algorithms(settings: Settings, timeStepS: number): AlgorithmChoices {
  return Object.freeze({
    underload: algorithm('underload', settings, timeStepS),
    overload: algorithm('overload', settings, timeStepS),
    selection: algorithm('selection', settings, timeStepS),
    placement: algorithm('placement', settings, timeStepS),
  });
}
