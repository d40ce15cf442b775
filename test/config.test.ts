import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { ManagerConfig } from '../src/config';
import { ConfigError, CONFIG_KEYS, DEFAULT_CONFIG, iniGet, loadConfig, neatCredentialHashes, parseIni } from '../src/config';
import { PROJECT_ROOT } from './support/planetlab';

// Tests run from dist/test; the fixture stays in the source tree.
const NEAT_CONF = join(__dirname, '..', '..', 'test', 'fixtures', 'neat.conf');
const HOME = '/home/operator';
const V3 = 'http://controller:5000/v3';

let directory = '';
let files = 0;
beforeAll(() => { directory = mkdtempSync(join(tmpdir(), 'neat-config-')); });
afterAll(() => { rmSync(directory, { recursive: true, force: true }); });

function file(text: string): string {
  files += 1;
  const path = join(directory, `neat-${files}.conf`);
  writeFileSync(path, text);
  return path;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Loads `[DEFAULT]` followed by `lines`; line 2 of the file is the first of `lines`. */
function load(lines: string, env: Env = {}): ManagerConfig {
  return loadConfig({ files: [file(`[DEFAULT]\n${lines}\n`)], env: { HOME, ...env } });
}

function errorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** The error of loading `[DEFAULT]` + `lines`, and the file's name. */
function loadError(lines: string, env: Env = {}): { message: string; path: string } {
  const path = file(`[DEFAULT]\n${lines}\n`);
  const error = errorOf(() => loadConfig({ files: [path], env: { HOME, ...env } }));
  return { message: error.message, path };
}

describe('parseIni: Python 2 ConfigParser semantics', () => {
  test('sections, "=" and ":" separators, keys lower-cased and trimmed, values trimmed', () => {
    const ini = parseIni('[DEFAULT]\n  \nLog_Level = 2 \nOS_Auth_URL:http://h:5000/v3\n[host_macs]\nc1 =  aa:bb \n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'log_level')).toEqual({ value: '2', origin: 'x.conf:3' });
    // The key ends at the first ":" or "=", so a URL value keeps its colons.
    expect(iniGet(ini, 'DEFAULT', 'os_auth_url')?.value).toBe('http://h:5000/v3');
    expect(iniGet(ini, 'host_macs', 'C1')).toEqual({ value: 'aa:bb', origin: 'x.conf:6' });
    expect(ini.sections.get('host_macs')?.origin).toBe('x.conf:5');
  });

  test('DEFAULT values are visible in every section, own values win', () => {
    const ini = parseIni('[DEFAULT]\na = 1\nb = 2\n[s]\nb = 3\n', 'x.conf');
    expect(iniGet(ini, 's', 'a')?.value).toBe('1');
    expect(iniGet(ini, 's', 'b')?.value).toBe('3');
    expect(iniGet(ini, 'DEFAULT', 'b')?.value).toBe('2');
    expect([...(ini.sections.get('s')?.entries.keys() ?? [])]).toEqual(['b']);
    expect(iniGet(ini, 'missing', 'a')).toBeUndefined();
  });

  test('full-line comments start with # or ; in column 1; inline # is kept', () => {
    const ini = parseIni('# c\n[DEFAULT]\n; c\na = x # not a comment\n#b = 1\n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'a')?.value).toBe('x # not a comment');
    expect(iniGet(ini, 'DEFAULT', 'b')).toBeUndefined();
  });

  test('an inline comment starts at the first ";" when whitespace precedes it (Python 2 rule)', () => {
    const ini = parseIni('[DEFAULT]\na = x ; comment\nb = x;y\nc = x;y ;z\nd = ;x\ne = ""\n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'a')?.value).toBe('x');
    expect(iniGet(ini, 'DEFAULT', 'b')?.value).toBe('x;y');
    // Python looks only at the first ";".
    expect(iniGet(ini, 'DEFAULT', 'c')?.value).toBe('x;y ;z');
    expect(iniGet(ini, 'DEFAULT', 'd')?.value).toBe(';x');
    // ConfigParser turns "" into an empty value.
    expect(iniGet(ini, 'DEFAULT', 'e')?.value).toBe('');
  });

  test('continuation lines join with \\n, across blank lines, and an indented # line continues too', () => {
    const ini = parseIni('[DEFAULT]\nhosts = a,\n  b,\n\n\tc\n  # d\nnext = 1\n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'hosts')).toEqual({ value: 'a,\nb,\nc\n# d', origin: 'x.conf:2' });
    expect(iniGet(ini, 'DEFAULT', 'next')?.value).toBe('1');
  });

  test('a BOM is skipped and CRLF line ends are accepted', () => {
    const ini = parseIni('\uFEFF[DEFAULT]\r\na = 1\r\nb = 2\r\n  3\r\n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'a')?.value).toBe('1');
    expect(iniGet(ini, 'DEFAULT', 'b')?.value).toBe('2\n3');
  });

  test('a duplicate key: the last wins; a repeated section header merges', () => {
    const ini = parseIni('[DEFAULT]\na = 1\n[s]\nx = 1\n[DEFAULT]\na = 2\n[s]\ny = 2\n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'a')).toEqual({ value: '2', origin: 'x.conf:6' });
    expect([...(ini.sections.get('s')?.entries.keys() ?? [])]).toEqual(['x', 'y']);
  });

  test('%(name)s interpolates from the section and DEFAULT, recursively, names case-insensitive; %% is %', () => {
    const ini = parseIni(
      '[DEFAULT]\nhost = controller\nurl = http://%(HOST)s:%(port)s/v3\nport = 5000\nrate = 100%%\nlone = 50%off\n' +
      '[s]\nhost = other\nown = %(url)s\n', 'x.conf');
    expect(iniGet(ini, 'DEFAULT', 'url')?.value).toBe('http://controller:5000/v3');
    // Like ConfigParser, a DEFAULT value referenced from [s] sees [s]'s keys.
    expect(iniGet(ini, 's', 'own')?.value).toBe('http://other:5000/v3');
    expect(iniGet(ini, 'DEFAULT', 'rate')?.value).toBe('100%');
    expect(iniGet(ini, 'DEFAULT', 'lone')?.value).toBe('50%off');
  });

  test('interpolation errors: a missing reference, a loop, nesting deeper than 10, bad syntax', () => {
    expect(errorOf(() => parseIni('[DEFAULT]\na = 1\nb = %(nope)s\n', 'x.conf')).message)
      .toBe('x.conf:3: b = "%(nope)s": %(nope)s refers to "nope", which is not in [DEFAULT]');
    expect(errorOf(() => parseIni('[DEFAULT]\na = 1\n[s]\nb = %(c)s\n', 'x.conf')).message)
      .toBe('x.conf:4: b = "%(c)s": %(c)s refers to "c", which is not in [s] or [DEFAULT]');
    expect(errorOf(() => parseIni('[DEFAULT]\na = %(b)s\nb = %(a)s\n', 'x.conf')).message)
      .toMatch(/^x\.conf:3: b = "%\(a\)s": interpolation loop a -> b -> a$/);
    expect(errorOf(() => parseIni('[DEFAULT]\na = %(a)s\n', 'x.conf')).message)
      .toMatch(/^x\.conf:2: .*interpolation loop a -> a$/);
    const chain = Array.from({ length: 11 }, (_, i) => `k${i} = %(k${i + 1})s`).join('\n');
    expect(errorOf(() => parseIni(`[DEFAULT]\n${chain}\nk11 = end\n`, 'x.conf')).message)
      .toMatch(/^x\.conf:12: k10 = "%\(k11\)s": references nested deeper than 10$/);
    const ten = Array.from({ length: 10 }, (_, i) => `k${i} = %(k${i + 1})s`).join('\n');
    expect(iniGet(parseIni(`[DEFAULT]\n${ten}\nk10 = end\n`, 'x.conf'), 'DEFAULT', 'k0')?.value).toBe('end');
    expect(errorOf(() => parseIni('[DEFAULT]\na = %(b)d\nb = 1\n', 'x.conf')).message)
      .toMatch(/^x\.conf:2: a = "%\(b\)d": "%\(" must start a reference/);
  });

  test('a line that is neither section, option, comment nor continuation is an error naming source:line', () => {
    expect(errorOf(() => parseIni('[DEFAULT]\na = 1\nnot an option\n', 'x.conf')).message)
      .toMatch(/^x\.conf:3: cannot parse "not an option": expected a \[section\] header/);
    // Indented right after a header: there is no value to continue.
    expect(errorOf(() => parseIni('[DEFAULT]\n  a = 1\n', 'x.conf')).message).toMatch(/^x\.conf:2: cannot parse/);
  });

  test('a key before any section header is an error (MissingSectionHeaderError)', () => {
    expect(errorOf(() => parseIni('# neat\n\nlog_level = 3\n[DEFAULT]\n', 'x.conf')).message)
      .toBe('x.conf:3: "log_level = 3" comes before any [section] header; a neat.conf starts with [DEFAULT]');
  });

  test('property: written keys and values read back', () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,15}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9_.,:/@#=-]([A-Za-z0-9_.,:/@# =-]{0,20}[A-Za-z0-9_.,:/@#=-])?$/);
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 20 }), fc.constantFrom(' = ', '=', ': '), (entries, separator) => {
      const text = '[DEFAULT]\n' + Object.entries(entries).map(([k, v]) => `${k.toUpperCase()}${separator}${v}`).join('\n');
      const ini = parseIni(text, 'p.conf');
      for (const [k, v] of Object.entries(entries)) expect(iniGet(ini, 'DEFAULT', k)?.value).toBe(v);
    }));
  });
});

describe('loadConfig: files, environment, defaults', () => {
  test('an empty file, and no file at all, give every default', () => {
    const fromEmpty = loadConfig({ files: [file('')], env: { HOME } });
    const fromNothing = loadConfig({ files: [], env: { HOME } });
    expect(fromEmpty).toEqual(fromNothing);
    expect(loadConfig({ files: [file('[DEFAULT]\n')], env: { HOME: homedir() } })).toEqual(DEFAULT_CONFIG);
    expect(fromNothing.computeHosts).toEqual(['compute1', 'compute2', 'compute3', 'compute4']);
    expect(fromNothing.osAuthUrl).toBe(V3);
    expect(fromNothing.blockMigration).toBe(false);
    expect(fromNothing.eventLog).toEqual({ kind: 'sqlite', path: 'neat-events.sqlite' });
    expect(fromNothing.sshKeyFile).toBe('/home/operator/.ssh/id_ed25519');
    expect(fromNothing.sshKnownHostsFile).toBe('/home/operator/.ssh/known_hosts');
    expect(fromNothing.hostMacs).toEqual({});
  });

  test('DEFAULT_CONFIG holds every default', () => {
    const expected: Omit<ManagerConfig, 'sshKeyFile' | 'sshKnownHostsFile' | 'algorithms' | 'hostMacs'> = {
      logDirectory: '/var/log/neat', logLevel: 2, vmInstanceDirectory: '/var/lib/nova/instances',
      sqlConnection: 'mysql://neat:neatpassword@controller/neat', osAdminTenantName: 'admin', osAdminUser: 'admin',
      osAdminPassword: 'adminpassword', osAuthUrl: V3, computeHosts: ['compute1', 'compute2', 'compute3', 'compute4'],
      globalManagerHost: 'controller', globalManagerPort: 60080, dbCleanerIntervalS: 7200, localDataDirectory: '/var/lib/neat',
      localManagerIntervalS: 300, dataCollectorIntervalS: 300, dataCollectorDataLength: 100, hostCpuOverloadThreshold: 0.8,
      hostCpuUsableByVms: 1, computeUser: 'neat', computePassword: 'neatpassword', blockMigration: false,
      networkMigrationBandwidthMbPerS: 10, sleepCommand: 'pm-suspend', etherWakeInterface: 'eth0',
      eventLog: { kind: 'sqlite', path: 'neat-events.sqlite' }, automation: 'automatic', requestStalenessS: 5,
      snapshotIntervalEvents: 100_000, sampleRetentionS: 604_800, sampleArchive: 'beside-log', requestQueueLimit: 64, migrationConcurrency: 1, migrationInitialWaitS: 10, migrationPollIntervalS: 3,
      migrationTimeoutS: 300, migrationMaxAttempts: 3, wakeTimeoutS: 300, wakePollIntervalS: 5, apiTokensSha256: [],
      apiBodyLimitBytes: 65536, sshPort: 22, sshStrictHostKeyChecking: true, sshConnectTimeoutS: 10, sshCommandTimeoutS: 60,
      wolBroadcastAddress: '255.255.255.255', wolPort: 9, wolProgram: null, novaComputeMicroversion: '2.87',
      novaInterface: 'public', novaRegion: null, novaCaBundle: null, novaRequestTimeoutS: 30, novaMaxAttempts: 4, novaRetryBackoffS: 1,
      novaVcpuMhz: 2000, osUserDomainName: 'Default',
      osProjectDomainName: 'Default', samplesSource: 'agents', sampleMaxAgeS: 900,
      prometheusUrl: null, prometheusAuth: 'static', prometheusToken: null, prometheusUsername: null, prometheusPassword: null,
      prometheusTimeoutS: 10, prometheusVmLabel: 'uuid', prometheusHostLabel: 'instance', prometheusHostPattern: /^([^:]+)/,
      libvirtUri: 'qemu:///system', globalManagerUrl: 'http://controller:60080',
      agentApiToken: null, agentHostName: null, agentBufferLimit: 1000, agentRequestTimeoutS: 10,
      powerModel: 'neat-testbed-linear',
    };
    expect(DEFAULT_CONFIG).toMatchObject(expected);
    expect(DEFAULT_CONFIG.sshKeyFile).toBe(join(homedir(), '.ssh', 'id_ed25519'));
    expect(DEFAULT_CONFIG.algorithms.overload.name).toBe('neat.locals.overload.mhod.core.mhod_factory');
    expect(CONFIG_KEYS.length).toBe(32 + 53);
    expect(new Set(CONFIG_KEYS.map((k) => k.key)).size).toBe(CONFIG_KEYS.length);
  });

  test("Neat's default neat.conf loads unchanged, except its Keystone v2.0 URL, which gets a v3 hint; its log_level is 3, ours 2", () => {
    const error = errorOf(() => loadConfig({ files: [NEAT_CONF], env: { HOME } }));
    expect(error.message).toBe(`${NEAT_CONF}:49: os_auth_url must be a Keystone v3 URL (Keystone v2.0 is gone from OpenStack): ` +
      'use the v3 endpoint, e.g. http://controller:5000/v3; got "http://controller:5000/v2.0/"');
    const config = loadConfig({ files: [NEAT_CONF], env: { HOME, NEAT_OS_AUTH_URL: V3 } });
    const fromNothing = loadConfig({ files: [], env: { HOME } });
    // Every Neat default in the file equals ours, but log_level: Neat's 3 prints every event, ours is 2.
    expect(config).toEqual({ ...fromNothing, logLevel: 3 });
    expect(config.algorithms.underload).toEqual({
      name: 'neat.locals.underload.trivial.last_n_average_threshold_factory', params: { threshold: 0.5, n: 2 },
    });
    expect(config.algorithms.placement.params).toEqual({ cpu_threshold: 0.8, ram_threshold: 0.95, last_n_vm_cpu: 2 });
  });

  test('files are read in order, a later one overriding an earlier one key by key', () => {
    const packaged = file('[DEFAULT]\nlog_level = 1\nglobal_manager_port = 7000\n');
    const etc = file('[DEFAULT]\nlog_level = 2\n');
    const config = loadConfig({ files: [packaged, etc], env: { HOME } });
    expect(config.logLevel).toBe(2);
    expect(config.globalManagerPort).toBe(7000);
  });

  test('interpolation sees keys of later files, as one ConfigParser reading both does', () => {
    const first = file('[DEFAULT]\nglobal_manager_host = %(compute_user)s-gm\n');
    const second = file('[DEFAULT]\ncompute_user = ops\n');
    expect(loadConfig({ files: [first, second], env: { HOME } }).globalManagerHost).toBe('ops-gm');
  });

  test('NEAT_<KEY> environment variables override every file, literally', () => {
    const config = load('os_admin_password = fromfile\nevent_log = sqlite:/var/lib/neat/a.sqlite\nglobal_manager_port = 7000', {
      NEAT_OS_ADMIN_PASSWORD: 's3cret%(x)s 100%',
      NEAT_EVENT_LOG: 'kurrentdb://localhost:2113?tls=false',
    });
    expect(config.osAdminPassword).toBe('s3cret%(x)s 100%');
    expect(config.eventLog).toEqual({ kind: 'kurrentdb', connectionString: 'kurrentdb://localhost:2113?tls=false' });
    expect(config.globalManagerPort).toBe(7000);
    expect(load('', { NEAT_COMPUTE_HOSTS: '' }).computeHosts).toEqual([]);
  });

  test('a bad environment value names the variable', () => {
    expect(loadError('global_manager_port = 7000', { NEAT_GLOBAL_MANAGER_PORT: 'http' }).message)
      .toBe('environment variable NEAT_GLOBAL_MANAGER_PORT: global_manager_port must be an integer from 1 to 65535; got "http"');
  });

  test('an unknown key in [DEFAULT] is an error naming it, with the nearest valid key when close', () => {
    const { message, path } = loadError('log_level = 2\ncompute_host = c1, c2');
    expect(message).toBe(`${path}:3: unknown key "compute_host" in [DEFAULT]; did you mean "compute_hosts"?`);
    expect(loadError('OS_AUTH_URI = http://k:5000/v3').message).toMatch(/unknown key "os_auth_uri" in \[DEFAULT\]; did you mean "os_auth_url"\?$/);
    const far = loadError('colour = blue');
    expect(far.message).toMatch(new RegExp(`^${far.path}:2: unknown key "colour" in \\[DEFAULT\\]; valid keys: log_directory, log_level, .*, agent_request_timeout_s, power_model$`));
  });

  test('an unknown section is an error naming it; [DEFAULT] and [host_macs] are the valid ones', () => {
    const path = file('[DEFAULT]\nlog_level = 1\n\n[default]\nlog_level = 2\n');
    expect(errorOf(() => loadConfig({ files: [path], env: { HOME } })).message)
      .toBe(`${path}:4: unknown section [default]; did you mean [DEFAULT]?; valid sections: [DEFAULT], [host_macs]`);
    const other = file('[global]\n');
    expect(errorOf(() => loadConfig({ files: [other], env: { HOME } })).message)
      .toBe(`${other}:1: unknown section [global]; valid sections: [DEFAULT], [host_macs]`);
  });

  test('a file that cannot be read is an error naming it', () => {
    const missing = join(directory, 'absent.conf');
    const error = errorOf(() => loadConfig({ files: [missing], env: { HOME } }));
    expect(error.message).toMatch(new RegExp(`^${missing}: cannot read the configuration file: ENOENT`));
    expect(error.origin).toBe(missing);
    expect(errorOf(() => loadConfig({ files: [directory], env: { HOME } })).message)
      .toMatch(new RegExp(`^${directory}: cannot read the configuration file: EISDIR`));
  });

  test('the configuration is deeply frozen', () => {
    const config = load('');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.computeHosts)).toBe(true);
    expect(Object.isFrozen(config.algorithms)).toBe(true);
    expect(Object.isFrozen(config.algorithms.overload)).toBe(true);
    expect(Object.isFrozen(config.algorithms.overload.params)).toBe(true);
    expect(Object.isFrozen((config.algorithms.overload.params as { window_sizes: number[] }).window_sizes)).toBe(true);
    expect(Object.isFrozen(config.hostMacs)).toBe(true);
    expect(Object.isFrozen(config.eventLog)).toBe(true);
    expect(Object.isFrozen(config.apiTokensSha256)).toBe(true);
  });
});

describe('Neat keys', () => {
  test("compute_hosts follows Neat's parse_compute_hosts (§2.1 cases)", () => {
    expect(load('compute_hosts = test1, test2').computeHosts).toEqual(['test1', 'test2']);
    expect(load('compute_hosts = test-1, test_2').computeHosts).toEqual(['test-1', 'test_2']);
    expect(load('compute_hosts = t1,,  t2 , t3').computeHosts).toEqual(['t1', 't2', 't3']);
    expect(load('compute_hosts =').computeHosts).toEqual([]);
    expect(load('compute_hosts = a\n  b;c\tD').computeHosts).toEqual(['a', 'b', 'c', 'D']);
  });

  test('property: any list of distinct host names joined by any separators parses back', () => {
    const name = fc.stringMatching(/^[a-zA-Z0-9_-]{1,12}$/);
    const separator = fc.stringMatching(/^[ ,|/\t]{1,4}$/);
    fc.assert(fc.property(fc.uniqueArray(name, { maxLength: 10, selector: (h) => h.toLowerCase() }), separator, (hosts, sep) => {
      expect(load(`compute_hosts = ${hosts.join(sep)}`).computeHosts).toEqual(hosts);
    }), { numRuns: 50 });
  });

  test('a repeated compute host is an error, case-insensitively', () => {
    const { message, path } = loadError('compute_hosts = c1, c2, C1');
    expect(message).toBe(`${path}:2: compute_hosts must be a list of distinct host names; "C1" is repeated; got "c1, c2, C1"`);
  });

  test('Neat bug §9.1 fixed: block_migration = False means false (Neat: bool("False") is True)', () => {
    expect(load('block_migration = False').blockMigration).toBe(false);
    for (const yes of ['true', 'True', 'YES', 'on', '1']) expect(load(`block_migration = ${yes}`).blockMigration).toBe(true);
    for (const no of ['false', 'no', 'Off', '0', 'NO']) expect(load(`block_migration = ${no}`).blockMigration).toBe(false);
    const { message, path } = loadError('block_migration = maybe');
    expect(message).toBe(`${path}:2: block_migration must be a boolean: true/false, yes/no, on/off or 1/0; got "maybe"`);
    expect(loadError('block_migration =').message).toMatch(/block_migration must be a boolean.*got ""$/);
  });

  test('integers where Neat uses int(): ports, intervals, lengths, log_level 0..3', () => {
    const config = load('global_manager_port = 8080\nlocal_manager_interval = 60\ndata_collector_interval = 30\n' +
      'data_collector_data_length = 10\nlog_level = 0\ndb_cleaner_interval = 600');
    expect(config).toMatchObject({ globalManagerPort: 8080, localManagerIntervalS: 60, dataCollectorIntervalS: 30,
      dataCollectorDataLength: 10, logLevel: 0, dbCleanerIntervalS: 600 });
    // Python's int() takes a sign; "-0" is 0, never -0.
    expect(load('log_level = -0\nglobal_manager_port = +8080')).toMatchObject({ logLevel: 0, globalManagerPort: 8080 });
    const cases: [string, string][] = [
      ['global_manager_port = 0', 'global_manager_port must be an integer from 1 to 65535; got "0"'],
      ['global_manager_port = 65536', 'global_manager_port must be an integer from 1 to 65535; got "65536"'],
      ['global_manager_port = 80.5', 'global_manager_port must be an integer from 1 to 65535; got "80.5"'],
      ['log_level = 4', 'log_level must be an integer from 0 to 3; got "4"'],
      ['local_manager_interval = 0', 'local_manager_interval must be an integer from 1 to 2147483; got "0"'],
      ['data_collector_interval = 300.5', 'data_collector_interval must be an integer from 1 to 2147483; got "300.5"'],
      ['db_cleaner_interval = 1e3', 'db_cleaner_interval must be an integer from 1 to 2147483; got "1e3"'],
      ['data_collector_data_length = 0', 'data_collector_data_length must be an integer >= 1; got "0"'],
    ];
    for (const [line, problem] of cases) {
      const { message, path } = loadError(line);
      expect(message).toBe(`${path}:2: ${problem}`);
    }
  });

  test('floats where Neat uses float(): thresholds in (0, 1], bandwidth > 0', () => {
    const config = load('host_cpu_overload_threshold = .9\nhost_cpu_usable_by_vms = 1\nnetwork_migration_bandwidth = 12.5');
    expect(config).toMatchObject({ hostCpuOverloadThreshold: 0.9, hostCpuUsableByVms: 1, networkMigrationBandwidthMbPerS: 12.5 });
    expect(loadError('host_cpu_usable_by_vms = 0').message).toMatch(/:2: host_cpu_usable_by_vms must be a number > 0 and <= 1; got "0"$/);
    expect(loadError('host_cpu_overload_threshold = 1.1').message).toMatch(/host_cpu_overload_threshold must be a number > 0 and <= 1; got "1.1"$/);
    expect(loadError('host_cpu_overload_threshold = 80%').message).toMatch(/host_cpu_overload_threshold must be a number > 0 and <= 1; got "80%"$/);
    expect(loadError('network_migration_bandwidth = 0').message).toMatch(/network_migration_bandwidth must be a number > 0; got "0"$/);
    expect(loadError('network_migration_bandwidth = inf').message).toMatch(/network_migration_bandwidth must be a number > 0; got "inf"$/);
  });

  test('strings that must not be empty', () => {
    expect(loadError('global_manager_host =').message).toMatch(/:2: global_manager_host must be non-empty; got ""$/);
    expect(loadError('compute_user =').message).toMatch(/:2: compute_user must be non-empty; got ""$/);
    expect(load('sleep_command =').sleepCommand).toBe('');
  });

  test('keys Neat needed and we ignore still parse and are kept', () => {
    const config = load('vm_instance_directory = /srv/i\nsql_connection = sqlite://\nlog_directory = /l\n' +
      'local_data_directory = /d\ncompute_password = pw');
    expect(config).toMatchObject({ vmInstanceDirectory: '/srv/i', sqlConnection: 'sqlite://', logDirectory: '/l',
      localDataDirectory: '/d', computePassword: 'pw' });
  });

  test('os_auth_url: Keystone v2.0 refused with a v3 hint; http(s) only; the trailing slash dropped', () => {
    expect(load('os_auth_url = https://keystone.example:5000/v3/').osAuthUrl).toBe('https://keystone.example:5000/v3');
    expect(load('os_auth_url = http://keystone').osAuthUrl).toBe('http://keystone');
    const { message, path } = loadError('os_auth_url = https://k:5000/v2.0');
    expect(message).toBe(`${path}:2: os_auth_url must be a Keystone v3 URL (Keystone v2.0 is gone from OpenStack): ` +
      'use the v3 endpoint, e.g. https://k:5000/v3; got "https://k:5000/v2.0"');
    expect(loadError('os_auth_url = ftp://k/v3').message).toMatch(/:2: os_auth_url must be an http:\/\/ or https:\/\/ URL/);
    expect(loadError('os_auth_url = controller:5000').message).toMatch(/os_auth_url must be an http:\/\/ or https:\/\/ URL/);
  });

  test('neatCredentialHashes: the SHA-1 hex digests Neat local managers send', () => {
    expect(neatCredentialHashes(load('os_admin_user = admin\nos_admin_password = adminpassword'))).toEqual({
      username: 'd033e22ae348aeb5660fc2140aec35850c4da997',
      password: createHash('sha1').update('adminpassword').digest('hex'),
    });
  });
});

describe('algorithms, validated through the registry', () => {
  test('short names and Neat factory names are stored as { name, params }', () => {
    const config = load('algorithm_overload_detection_factory = otf\n' +
      'algorithm_overload_detection_parameters = {"otf": 0.2, "threshold": 0.8, "limit": 10}\n' +
      'algorithm_vm_selection_factory = neat.locals.vm_selection.algorithms.minimum_migration_time_factory\n' +
      'algorithm_vm_selection_parameters = {}');
    expect(config.algorithms.overload).toEqual({ name: 'otf', params: { otf: 0.2, threshold: 0.8, limit: 10 } });
    expect(config.algorithms.selection).toEqual({
      name: 'neat.locals.vm_selection.algorithms.minimum_migration_time_factory', params: {},
    });
  });

  test('parameters may continue over several lines', () => {
    const config = load('algorithm_vm_placement_parameters = {"cpu_threshold": 0.7,\n    "ram_threshold": 0.9,\n    "last_n_vm_cpu": 3}');
    expect(config.algorithms.placement.params).toEqual({ cpu_threshold: 0.7, ram_threshold: 0.9, last_n_vm_cpu: 3 });
  });

  test('an invalid parameter names the _parameters key and carries the registry message', () => {
    const { message, path } = loadError('algorithm_underload_detection_factory = threshold\n' +
      'algorithm_underload_detection_parameters = {"threshold": 2}');
    expect(message).toBe(`${path}:3: algorithm_underload_detection_parameters = {"threshold": 2}: ` +
      'underload detection "threshold": parameter "threshold" must be a number >= 0 and <= 1, got 2');
    expect(loadError('algorithm_vm_placement_parameters = {"cpu_threshold": 0.8, "colour": 1}').message)
      .toMatch(/:2: algorithm_vm_placement_parameters = .*unknown parameter "colour"; valid parameters: cpu_threshold/);
  });

  test('an unknown algorithm names the _factory key and lists the valid ones', () => {
    const { message, path } = loadError('algorithm_overload_detection_factory = neat.locals.overload.magic_factory');
    expect(message).toBe(`${path}:2: algorithm_overload_detection_factory: unknown overload detection algorithm ` +
      '"neat.locals.overload.magic_factory"; valid: never_overloaded, threshold, last_n_average_threshold, loess, ' +
      'loess_robust, mad_threshold, iqr_threshold, otf, mhod, cloudsim_thr, cloudsim_iqr, cloudsim_mad, cloudsim_lr, ' +
      "cloudsim_lrr (or Neat's dotted factory names)");
  });

  test('parameters that are not JSON name the key and the JSON problem', () => {
    const { message, path } = loadError("algorithm_vm_selection_parameters = {'last_n': 2}");
    expect(message).toMatch(new RegExp(`^${path}:2: algorithm_vm_selection_parameters must be JSON, e\\.g\\. \\{\\} for no parameters \\(.*JSON.*\\); got "\\{'last_n': 2\\}"$`));
    expect(loadError('algorithm_vm_selection_parameters =').message).toMatch(/algorithm_vm_selection_parameters must be JSON/);
  });

  test('an algorithm error from the environment names the variable', () => {
    expect(loadError('', { NEAT_ALGORITHM_UNDERLOAD_DETECTION_PARAMETERS: '{"threshold": -1, "n": 2}' }).message)
      .toMatch(/^environment variable NEAT_ALGORITHM_UNDERLOAD_DETECTION_PARAMETERS: algorithm_underload_detection_parameters = .*"threshold" must be/);
  });
});

describe('our keys', () => {
  test('event_log: sqlite:<path> or a KurrentDB connection string', () => {
    expect(load('event_log = sqlite:/var/lib/neat/events.sqlite').eventLog).toEqual({ kind: 'sqlite', path: '/var/lib/neat/events.sqlite' });
    expect(load('event_log = esdb://node1:2113,node2:2113?tls=false').eventLog)
      .toEqual({ kind: 'kurrentdb', connectionString: 'esdb://node1:2113,node2:2113?tls=false' });
    expect(load('event_log = kurrentdb+discover://cluster:2113').eventLog.kind).toBe('kurrentdb');
    for (const bad of ['sqlite:', 'postgres://db/neat', 'events.sqlite', 'kurrentdb://']) {
      const { message, path } = loadError(`event_log = ${bad}`);
      expect(message).toMatch(new RegExp(`^${path}:2: event_log must be sqlite:<path> or a KurrentDB connection string \\(kurrentdb://…, .*; got "${bad}"$`));
    }
  });

  test('sample_archive: a file for a SQLite log; beside the log (empty) or none for a PostgreSQL one', () => {
    expect(load('sample_archive = /var/lib/neat/old.sqlite').sampleArchive).toBe('/var/lib/neat/old.sqlite');
    const postgres = 'event_log = postgresql://neat@db:5432/neat';
    expect(load(postgres).sampleArchive).toBe('beside-log');
    expect(load(`${postgres}\nsample_archive = none`).sampleArchive).toBeNull();
    const { message, path } = loadError(`${postgres}\nsample_archive = /var/lib/neat/old.sqlite`);
    expect(message).toBe(`${path}:3: sample_archive must be empty (table events_archive beside the log) or none with a PostgreSQL event_log: `
      + 'an archive file is for a SQLite one; got "/var/lib/neat/old.sqlite"');
  });

  test('automation is automatic, manual or off', () => {
    expect(load('automation = manual').automation).toBe('manual');
    expect(loadError('automation = auto').message).toMatch(/:2: automation must be one of automatic, manual, off; got "auto"$/);
  });

  test('request and migration limits', () => {
    const config = load('request_staleness_s = 2.5\nrequest_queue_limit = 8\nmigration_concurrency = 4\n' +
      'migration_initial_wait_s = 0\nmigration_poll_interval_s = 0.5\nmigration_timeout_s = 600\nmigration_max_attempts = 100\n' +
      'wake_timeout_s = 120\nwake_poll_interval_s = 2');
    expect(config).toMatchObject({ requestStalenessS: 2.5, requestQueueLimit: 8, migrationConcurrency: 4, migrationInitialWaitS: 0,
      migrationPollIntervalS: 0.5, migrationTimeoutS: 600, migrationMaxAttempts: 100, wakeTimeoutS: 120, wakePollIntervalS: 2 });
    const cases: [string, string][] = [
      ['request_queue_limit = 0', 'request_queue_limit must be an integer >= 1; got "0"'],
      ['migration_concurrency = 0', 'migration_concurrency must be an integer >= 1; got "0"'],
      ['migration_max_attempts = 101', 'migration_max_attempts must be an integer from 1 to 100; got "101"'],
      ['migration_max_attempts = 0', 'migration_max_attempts must be an integer from 1 to 100; got "0"'],
      ['request_staleness_s = 0', 'request_staleness_s must be a number of seconds > 0 and <= 2147483; got "0"'],
      ['migration_initial_wait_s = -1', 'migration_initial_wait_s must be a number of seconds >= 0 and <= 2147483; got "-1"'],
      ['migration_timeout_s = 3000000', 'migration_timeout_s must be a number of seconds > 0 and <= 2147483; got "3000000"'],
      ['wake_poll_interval_s = soon', 'wake_poll_interval_s must be a number of seconds > 0 and <= 2147483; got "soon"'],
    ];
    for (const [line, problem] of cases) {
      const { message, path } = loadError(line);
      expect(message).toBe(`${path}:2: ${problem}`);
    }
  });

  test('api_tokens_sha256: 64 hex characters each, normalised to lower case', () => {
    const a = createHash('sha256').update('token-a').digest('hex');
    const b = createHash('sha256').update('token-b').digest('hex');
    expect(load(`api_tokens_sha256 = ${a}, ${b.toUpperCase()}`).apiTokensSha256).toEqual([a, b]);
    expect(load(`api_tokens_sha256 = ${a},\n  ${b}`).apiTokensSha256).toEqual([a, b]);
    const { message, path } = loadError(`api_tokens_sha256 = ${a}, ${b.slice(1)}`);
    expect(message).toBe(`${path}:2: api_tokens_sha256 must be comma-separated SHA-256 digests of 64 hex characters each; ` +
      `"${b.slice(1)}" is not one; got "${a}, ${b.slice(1)}"`);
    expect(loadError(`api_tokens_sha256 = ${a},`).message).toMatch(/"" is not one/);
    expect(load('api_body_limit_bytes = 1024').apiBodyLimitBytes).toBe(1024);
    expect(loadError('api_body_limit_bytes = 0').message).toMatch(/:2: api_body_limit_bytes must be an integer >= 1; got "0"$/);
  });

  test('ssh: ~ expands from HOME; a missing HOME is an error; booleans and numbers checked', () => {
    const config = load('ssh_key_file = ~/keys/neat\nssh_known_hosts_file = /etc/neat/known_hosts\nssh_port = 2222\n' +
      'ssh_strict_host_key_checking = no\nssh_connect_timeout_s = 3\nssh_command_timeout_s = 30\ncompute_user = root');
    expect(config).toMatchObject({ sshKeyFile: '/home/operator/keys/neat', sshKnownHostsFile: '/etc/neat/known_hosts', sshPort: 2222,
      sshStrictHostKeyChecking: false, sshConnectTimeoutS: 3, sshCommandTimeoutS: 30, computeUser: 'root' });
    expect(errorOf(() => loadConfig({ files: [], env: {} })).message)
      .toBe('default: ssh_key_file must be a path; it starts with ~ but HOME is not set; got "~/.ssh/id_ed25519"');
    expect(loadError('ssh_port = 0').message).toMatch(/:2: ssh_port must be an integer from 1 to 65535; got "0"$/);
    expect(loadError('ssh_strict_host_key_checking = strict').message).toMatch(/:2: ssh_strict_host_key_checking must be a boolean/);
  });

  test('wake-on-LAN: broadcast address, port, program', () => {
    const config = load('wol_broadcast_address = 192.168.1.255\nwol_port = 7\nwol_program = ether-wake\nether_wake_interface = eno1');
    expect(config).toMatchObject({ wolBroadcastAddress: '192.168.1.255', wolPort: 7, wolProgram: 'ether-wake', etherWakeInterface: 'eno1' });
    expect(load('wol_program = /usr/sbin/etherwake').wolProgram).toBe('/usr/sbin/etherwake');
    expect(loadError('wol_broadcast_address = 192.168.1').message)
      .toMatch(/:2: wol_broadcast_address must be an IPv4 address such as 255\.255\.255\.255 or 192\.168\.1\.255; got "192\.168\.1"$/);
    expect(loadError('wol_port = 65536').message).toMatch(/:2: wol_port must be an integer from 1 to 65535/);
    expect(loadError('wol_program = ether-wake -i eth0').message)
      .toMatch(/:2: wol_program must be a single word without spaces \(empty for none\); got "ether-wake -i eth0"$/);
    const { message, path } = loadError('wol_program = etherwake\nether_wake_interface =');
    expect(message).toBe(`${path}:3: ether_wake_interface must be an interface name, as wol_program (etherwake) takes -i <interface>; got ""`);
  });

  test('[host_macs]: MACs normalised to lower-case colon form, hosts matched to compute_hosts', () => {
    const config = load('compute_hosts = compute1, Compute2\n\n[host_macs]\ncompute1 = AA-BB-CC-DD-EE-01\ncompute2 = aa:bb:cc:dd:ee:02');
    expect(config.hostMacs).toEqual({ compute1: 'aa:bb:cc:dd:ee:01', Compute2: 'aa:bb:cc:dd:ee:02' });
    expect(Object.getPrototypeOf(config.hostMacs)).toBeNull();
  });

  test('[host_macs] errors: a host not in compute_hosts, a bad MAC, a MAC used twice', () => {
    const unknown = loadError('compute_hosts = c1, c2\n[host_macs]\nc1 = aa:bb:cc:dd:ee:01\nc3 = aa:bb:cc:dd:ee:03');
    expect(unknown.message).toBe(`${unknown.path}:5: [host_macs] names host "c3", which is not in compute_hosts (c1, c2)`);
    const bad = loadError('compute_hosts = c1\n[host_macs]\nc1 = aa:bb:cc:dd:ee');
    expect(bad.message).toBe(`${bad.path}:4: [host_macs] c1 must be a MAC address such as aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff; got "aa:bb:cc:dd:ee"`);
    expect(loadError('compute_hosts = c1\n[host_macs]\nc1 = aa:bb-cc:dd:ee:ff').message).toMatch(/c1 must be a MAC address/);
    const twice = loadError('compute_hosts = c1, c2\n[host_macs]\nc1 = aa:bb:cc:dd:ee:01\nc2 = AA:BB:CC:DD:EE:01');
    expect(twice.message).toBe(`${twice.path}:5: [host_macs] c2: MAC aa:bb:cc:dd:ee:01 is already the MAC of c1`);
  });

  test('power_model: a power model the simulator knows, named by the error with every valid one', () => {
    expect(load('power_model = hp-proliant-ml110-g5').powerModel).toBe('hp-proliant-ml110-g5');
    expect(loadError('power_model = linear').message)
      .toMatch(/:2: power_model must be one of hp-proliant-ml110-g4, hp-proliant-ml110-g5, neat-testbed-linear; got "linear"$/);
  });

  test('nova: microversion 2.74..2.87, interface, optional region and CA bundle, domains', () => {
    const config = load('nova_compute_microversion = 2.74\nnova_interface = internal\nnova_region = RegionTwo\n' +
      'nova_ca_bundle = ~/ca.pem\nnova_request_timeout_s = 12\nos_user_domain_name = users\nos_project_domain_name = projects');
    expect(config).toMatchObject({ novaComputeMicroversion: '2.74', novaInterface: 'internal', novaRegion: 'RegionTwo',
      novaCaBundle: '/home/operator/ca.pem', novaRequestTimeoutS: 12, osUserDomainName: 'users', osProjectDomainName: 'projects' });
    for (const bad of ['2.73', '2.88', '2.8', '3.80', 'latest']) {
      const { message, path } = loadError(`nova_compute_microversion = ${bad}`);
      expect(message).toBe(`${path}:2: nova_compute_microversion must be a Nova microversion from 2.74 to 2.87; got "${bad}"`);
    }
    expect(loadError('nova_interface = private').message).toMatch(/:2: nova_interface must be one of public, internal, admin; got "private"$/);
    expect(loadError('os_user_domain_name =').message).toMatch(/:2: os_user_domain_name must be non-empty/);
    expect(loadError('sample_max_age_s = 60').message).toMatch(/:2: sample_max_age_s must be at least data_collector_interval \(300 s\)/);
    expect(loadError('global_manager_url = ftp://gm').message).toMatch(/:2: global_manager_url must be an http:\/\/ or https:\/\/ URL; got "ftp:\/\/gm"$/);
    expect(loadError('global_manager_url = https://u:p@gm').message).toMatch(/global_manager_url must be a URL without credentials/);
    expect(loadError('agent_buffer_limit = 0').message).toMatch(/:2: agent_buffer_limit must be an integer from 1 to 1000000; got "0"$/);
  });

  test('global_manager_url: empty means the manager\'s own address, over http; a URL loses its trailing slash', () => {
    expect(loadConfig({ files: [], env: { HOME, NEAT_GLOBAL_MANAGER_HOST: '::1', NEAT_GLOBAL_MANAGER_PORT: '8080' } }).globalManagerUrl).toBe('http://[::1]:8080');
    expect(loadConfig({ files: [], env: { HOME, NEAT_GLOBAL_MANAGER_URL: 'https://neat.example/base/' } }).globalManagerUrl).toBe('https://neat.example/base');
  });
});

describe('prometheus_*', () => {
  test('prometheus_url is required with samples_source = prometheus, and named when missing', () => {
    expect(loadError('samples_source = prometheus').message).toMatch(/prometheus_url must be the URL of Prometheus \(or Aetos\), as samples_source = prometheus; got ""$/);
    expect(load('samples_source = prometheus\nprometheus_url = http://prom:9090/').prometheusUrl).toBe('http://prom:9090');
  });

  test('a token and basic auth are not both; basic auth needs both halves; keystone takes neither', () => {
    expect(loadError('prometheus_token = t\nprometheus_username = u\nprometheus_password = p').message).toMatch(/prometheus_username must be empty when prometheus_token is set/);
    expect(loadError('prometheus_username = u').message).toMatch(/prometheus_password must be set with prometheus_username and prometheus_password both/);
    expect(loadError('prometheus_auth = keystone\nprometheus_token = t').message).toMatch(/prometheus_auth must be static when prometheus_token/);
    expect(load('prometheus_auth = keystone').prometheusAuth).toBe('keystone');
  });

  test('labels are label names; the host pattern has exactly one group', () => {
    expect(loadError('prometheus_vm_label = 1uuid').message).toMatch(/prometheus_vm_label must be a Prometheus label name/);
    expect(loadError('prometheus_host_pattern = ^[^:]+').message).toMatch(/exactly one capturing group; it has 0/);
    expect(loadError('prometheus_host_pattern = ^(a)(b)').message).toMatch(/it has 2/);
    expect(loadError('prometheus_host_pattern = ^(').message).toMatch(/prometheus_host_pattern must be a regular expression/);
    expect(load('prometheus_host_pattern = ^(?:node-)?([^.:]+)').prometheusHostPattern.exec('node-c1.example:9177')?.[1]).toBe('c1');
  });
});

describe('docs/configuration.md', () => {
  test('documents every key with its default', () => {
    const text = readFileSync(join(PROJECT_ROOT, 'docs', 'configuration.md'), 'utf8');
    for (const { key, default: fallback } of CONFIG_KEYS) {
      const row = text.split('\n').find((line) => line.startsWith(`| \`${key}\` |`));
      expect(row).toBeDefined();
      expect(row).toContain(fallback === '' ? '(empty)' : `\`${fallback}\``);
    }
  });
});

describe('docs/neat.conf.example', () => {
  test('loads as it is, with the values it shows', () => {
    const config = loadConfig({ files: [join(PROJECT_ROOT, 'docs', 'neat.conf.example')], env: { HOME: '/root' } });
    expect(config).toMatchObject({
      automation: 'manual', migrationPollIntervalS: 1, blockMigration: false, computeUser: 'neat',
      eventLog: { kind: 'sqlite', path: '/var/lib/neat/events.sqlite' }, hostMacs: { compute3: '52:54:00:00:00:03' },
    });
  });
});
