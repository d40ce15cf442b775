/**
 * The world as the orchestration sees it. Production wires Nova (Cloud), SSH
 * and Wake-on-LAN (Power); the simulator wires its simulated data centre.
 */
import { assert } from '../engine/assert';

export interface CloudHost {
  readonly name: string;
  /** CPU capacity the VMs may use, in MHz (or MIPS in a simulation). */
  readonly cpuMhz: number;
  readonly ramMb: number;
  /** CPU cores (Nova: the hypervisor's vCPUs), when the cloud says: a recorded trace needs them to rebuild the host. */
  readonly cores?: number;
  /** Whether the cloud reports the host's compute service up. */
  readonly state: 'up' | 'down';
  /**
   * Whether the cloud schedules VMs onto the host (Nova: the compute service
   * is enabled). A disabled host, in maintenance, is never a target and never
   * suspended; its VMs may still be moved away.
   */
  readonly enabled: boolean;
}

export type VmStatus = 'ACTIVE' | 'MIGRATING' | 'ERROR' | 'OTHER';

export interface CloudVm {
  readonly id: string;
  readonly host: string | null;
  readonly ramMb: number;
  readonly vcpus: number;
  /** The VM's CPU capacity in MHz (Nova: vcpus × `nova_vcpu_mhz`), when the cloud says: what a sample's MHz is a share of. */
  readonly cpuMhz?: number;
  readonly status: VmStatus;
}

export type MigrationState = 'running' | 'completed' | 'failed';

export interface MigrationStatus {
  readonly state: MigrationState;
  /** Why it failed, when it did. */
  readonly error: string | null;
}

/**
 * What the cloud answered instead of doing what was asked, by kind, so that the
 * orchestration decides without parsing messages: `not-found` (the VM or host
 * is gone), `conflict` (not now: busy, wrong state; worth retrying later),
 * `bad-request` (never valid, e.g. a migration to the VM's own host),
 * `unavailable` (the cloud could not be reached or failed, and did not act;
 * transient), `ambiguous` (an action's answer was lost after the request may
 * have reached the cloud: it may have been carried out, so it must be
 * reconciled against the cloud, never sent again).
 */
export type CloudErrorKind = 'not-found' | 'conflict' | 'bad-request' | 'unavailable' | 'ambiguous';

export class CloudError extends Error {
  override name = 'CloudError';
  /**
   * @param handle for an ambiguous start of a live migration: the handle it
   * would have answered, to follow the migration the cloud may have begun.
   */
  constructor(readonly kind: CloudErrorKind, message: string, readonly handle: string | null = null) {
    super(message);
    assert(handle === null || kind === 'ambiguous', 'only an ambiguous failure carries a handle');
  }
}

export interface Cloud {
  listHosts(): Promise<readonly CloudHost[]>;
  listVms(): Promise<readonly CloudVm[]>;
  /** The VM as the cloud reports it now, or null when it no longer exists. */
  getVm(vmId: string): Promise<CloudVm | null>;
  /**
   * Starts a live migration; resolves once the cloud has accepted it, with a
   * handle to follow it. When the answer is lost, rejects with an `ambiguous`
   * CloudError that carries the handle.
   */
  startLiveMigration(vmId: string, targetHost: string): Promise<string>;
  migrationStatus(handle: string): Promise<MigrationStatus>;
  /**
   * A number that changes whenever `listHosts` or `listVms` would answer
   * differently, for a cloud that can tell (the simulated one): the manager
   * then reads the inventory only when it may have changed. Absent (Nova):
   * every observation reads it.
   */
  revision?(): number;
}

/** A suspend or wake that did not happen; `stderr` is what the host's command printed, when there was one. */
export class PowerError extends Error {
  override name = 'PowerError';
  constructor(message: string, readonly stderr: string | null = null) {
    super(message);
  }
}

export interface Power {
  /** Resolves once the host has accepted the suspend command; rejects (PowerError) when it did not. */
  suspend(host: string): Promise<void>;
  /** Resolves once the wake-up has been sent; whether the host came up is the Cloud's to say. */
  wake(host: string): Promise<void>;
}


/** Where the global manager keeps a snapshot of its state (a file beside a SQLite log, a row beside a PostgreSQL one); the log stays the truth. */
export interface SnapshotStore {
  readonly description: string;
  /** The stored snapshot, or null when there is none. */
  read(): Promise<Buffer | null>;
  /** Replaces the stored snapshot atomically: after a crash the old one or the new one is there, whole. */
  write(text: string): Promise<void>;
}
