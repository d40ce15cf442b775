/**
 * The world as the orchestration sees it. Production wires Nova (Cloud), SSH
 * and Wake-on-LAN (Power); the simulator wires its simulated data centre.
 */

export interface CloudHost {
  readonly name: string;
  /** CPU capacity the VMs may use, in MHz (or MIPS in a simulation). */
  readonly cpuMhz: number;
  readonly ramMb: number;
  /** Whether the cloud reports the host's compute service up. */
  readonly state: 'up' | 'down';
}

export type VmStatus = 'ACTIVE' | 'MIGRATING' | 'ERROR' | 'OTHER';

export interface CloudVm {
  readonly id: string;
  readonly host: string | null;
  readonly ramMb: number;
  readonly vcpus: number;
  readonly status: VmStatus;
}

export type MigrationState = 'running' | 'completed' | 'failed';

export interface MigrationStatus {
  readonly state: MigrationState;
  /** Why it failed, when it did. */
  readonly error: string | null;
}

export interface Cloud {
  listHosts(): Promise<readonly CloudHost[]>;
  listVms(): Promise<readonly CloudVm[]>;
  /** The VM as the cloud reports it now, or null when it no longer exists. */
  getVm(vmId: string): Promise<CloudVm | null>;
  /** Starts a live migration; resolves once the cloud has accepted it, with a handle to follow it. */
  startLiveMigration(vmId: string, targetHost: string): Promise<string>;
  migrationStatus(handle: string): Promise<MigrationStatus>;
}

export interface Power {
  /** Resolves once the host has been told to suspend; rejects with the reason when it could not be. */
  suspend(host: string): Promise<void>;
  /** Resolves once the wake-up has been sent; whether the host came up is the Cloud's to say. */
  wake(host: string): Promise<void>;
}
