/** Every configuration key, its default and its meaning: what `neat.conf` may say. */

export const HOST_MACS_SECTION = 'host_macs';

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
 * its meaning (docs/configuration.md's key table mirrors this list). Neat's 32
 * keys come first, with Neat's defaults except `os_auth_url` and `log_level`.
 */
export const CONFIG_KEYS = [
  // Ignored: each Neat service writes its own log; we log to stdout/stderr.
  { key: 'log_directory', default: '/var/log/neat', meaning: "Neat's log directory; parsed and ignored (we log to standard output)" },
  { key: 'log_level', default: '2', meaning: "0 none, 1 warnings and errors, 2 plus info (one line per request or action), 3 plus debug (every event); `--quiet`/`--verbose` override it (Neat's default was 3)" },
  // Ignored: Neat chowns this directory on the manager host before each
  // migration, which is only right with storage shared by every host.
  { key: 'vm_instance_directory', default: '/var/lib/nova/instances', meaning: "Neat chowns it before each migration; parsed and ignored (wrong without shared storage; Nova handles it)" },
  // Ignored: our state is the event log (`event_log`), not Neat's database.
  { key: 'sql_connection', default: 'mysql://neat:neatpassword@controller/neat', meaning: "Neat's database (SQLAlchemy URL): where samples are read with samples_source = neat-db; otherwise ignored (our state is the event log)" },
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
  { key: 'local_data_directory', default: '/var/lib/neat', meaning: "the agent's state directory on each compute host: its VM histories and detector states survive a restart (`agent-state.json`)" },
  { key: 'local_manager_interval', default: '300', meaning: 'local manager period, s (integer > 0)' },
  { key: 'data_collector_interval', default: '300', meaning: "data collector period, s (integer > 0); every algorithm's time step" },
  { key: 'data_collector_data_length', default: '100', meaning: 'utilisation history length, values (integer >= 1)' },
  { key: 'host_cpu_overload_threshold', default: '0.8', meaning: "the agent's host-overload gauge (Neat's collector log): overloaded when VMs plus hypervisor use more than this × usable CPU, in (0, 1]" },
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

  { key: 'event_log', default: 'sqlite:neat-events.sqlite', meaning: 'event log: `sqlite:<path>`, a KurrentDB connection string (`kurrentdb://…`, `esdb://…`, with or without `+discover`), or a PostgreSQL one (`postgresql://user[:password]@host[:port]/database`; the tables go in schema `neat`; several `neat serve` may share it, one leading: docs/ha.md)' },
  { key: 'automation', default: 'automatic', meaning: 'automatic (act on requests), manual (decide, wait for approval) or off (record only)' },
  { key: 'request_staleness_s', default: '5', meaning: "requests older than this are refused with 412 (Neat's window), s" },
  { key: 'snapshot_interval_events', default: '100000', meaning: 'events folded between two snapshots of the state (a file beside a SQLite log, a row beside a PostgreSQL one, so that a restart or a standby folds only what follows); 0: none' },
  { key: 'sample_retention_s', default: '604800', meaning: 'samples, refused requests and requests that moved nothing older than this are compacted out of a SQLite or PostgreSQL log, hourly (at least data_collector_data_length × data_collector_interval; the counters of /metrics keep counting them); 0: keep all' },
  { key: 'sample_archive', default: '', meaning: 'SQLite file the compacted samples and refusals are moved to: empty, `<event log>.archive` (on PostgreSQL: table `events_archive` beside the log, the only choice besides `none`); `none`: dropped' },
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
  { key: 'samples_source', default: 'agents', meaning: 'where utilisation comes from: agents (POST /v1/samples), neat-db (Neat\'s collectors\' tables at sql_connection) or prometheus (the libvirt exporter\'s series at prometheus_url)' },
  { key: 'sample_max_age_s', default: '900', meaning: 'decisions ignore utilisation samples older than this, and a host up this long without one is stale, s (>= data_collector_interval)' },
  { key: 'prometheus_url', default: '', meaning: 'Prometheus (or Aetos in front of it) whose /api/v1/query is polled with samples_source = prometheus, e.g. http://prometheus:9090; required then' },
  { key: 'prometheus_auth', default: 'static', meaning: 'how to authenticate to prometheus_url: static (prometheus_token, or prometheus_username and prometheus_password, or nothing) or keystone (an X-Auth-Token from the os_* credentials, for Aetos)' },
  { key: 'prometheus_token', default: '', meaning: 'bearer token sent to Prometheus; empty = none; not with prometheus_username; better set as NEAT_PROMETHEUS_TOKEN' },
  { key: 'prometheus_username', default: '', meaning: 'basic-auth user for Prometheus; empty = none; needs prometheus_password' },
  { key: 'prometheus_password', default: '', meaning: 'basic-auth password for Prometheus; better set as NEAT_PROMETHEUS_PASSWORD' },
  { key: 'prometheus_timeout_s', default: '10', meaning: 'timeout of one Prometheus query, s' },
  { key: 'prometheus_vm_label', default: 'uuid', meaning: "label carrying the Nova server UUID: the libvirt exporter (Debian's prometheus-libvirt-exporter) labels each domain uuid (its libvirt UUID, which Nova sets to the server's) and domain (instance-0000…)" },
  { key: 'prometheus_host_label', default: 'instance', meaning: 'label naming the compute host that runs the VM: instance, the scrape target (host:port), unless relabelled' },
  { key: 'prometheus_host_pattern', default: '^([^:]+)', meaning: 'regular expression whose one group extracts the compute host name from prometheus_host_label; the default strips the port' },
  { key: 'libvirt_uri', default: 'qemu:///system', meaning: 'libvirt connection URI of the agent (`virsh -r -c <uri>`)' },
  { key: 'global_manager_url', default: '', meaning: 'where agents reach the global manager, e.g. https://neat.example:443 behind a TLS proxy; empty = http://<global_manager_host>:<global_manager_port>' },
  { key: 'agent_api_token', default: '', meaning: 'bearer token the agent sends with its samples (its SHA-256 is in the manager\'s api_tokens_sha256); better set as NEAT_AGENT_API_TOKEN' },
  { key: 'agent_host_name', default: '', meaning: "the compute host the agent reports as (Nova's hypervisor host name); empty = this machine's host name" },
  { key: 'agent_buffer_limit', default: '1000', meaning: 'samples an agent keeps while the global manager cannot be reached; the oldest are dropped (integer >= 1)' },
  { key: 'agent_request_timeout_s', default: '10', meaning: "the agent's timeout for one call to the global manager, s" },
  { key: 'power_model', default: 'neat-testbed-linear', meaning: "hosts' power model, by which `neat replay` and `neat report` estimate a production log's energy from its samples: neat-testbed-linear (Neat's testbed: 270 W idle, 450 W full, linear), hp-proliant-ml110-g4 or hp-proliant-ml110-g5 (SPECpower tables)" },
] as const satisfies readonly { readonly key: string; readonly default: string; readonly meaning: string }[];

export type Key = (typeof CONFIG_KEYS)[number]['key'];

export interface Setting {
  readonly key: Key;
  readonly value: string;
  /** `file:line`, `environment variable NEAT_…` or `default`. */
  readonly origin: string;
}

export type Settings = Readonly<Record<Key, Setting>>;
