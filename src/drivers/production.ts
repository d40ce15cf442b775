/**
 * The production ports from the configuration: Nova behind Keystone for the
 * Cloud, SSH suspend and Wake-on-LAN for Power. `neat serve --config` and the
 * real-server tests build them the same way.
 */
import { readFileSync } from 'node:fs';
import type { Clock, Timer } from '../clock';
import type { ManagerConfig } from '../config';
import { ConfigError } from '../config';
import { KeystoneSession } from './keystone';
import { NovaCloud } from './nova';

/** Renew a token this long before Keystone's expiry, so that no call carries a token about to lapse. */
const TOKEN_RENEW_BEFORE_MS = 5 * 60_000;

export interface DriverEnvironment {
  readonly clock: Clock;
  readonly timer: Timer;
  readonly warn: (message: string) => void;
}

/** `nova_ca_bundle`: the CAs of Keystone, Nova and what sits behind the same CAs (Aetos). */
export function caBundle(config: ManagerConfig): Buffer | null {
  if (config.novaCaBundle === null) return null;
  try {
    return readFileSync(config.novaCaBundle);
  } catch (error) {
    throw new ConfigError('nova_ca_bundle', `cannot read the CA bundle ${config.novaCaBundle}: ${(error as Error).message}`);
  }
}

/** Nova behind a Keystone session; the session is returned too, for its authentication count. */
export function novaCloud(config: ManagerConfig, environment: DriverEnvironment): { readonly cloud: NovaCloud; readonly session: KeystoneSession } {
  const ca = caBundle(config);
  const timeoutMs = config.novaRequestTimeoutS * 1000;
  const session = new KeystoneSession({
    authUrl: config.osAuthUrl, user: config.osAdminUser, password: config.osAdminPassword, userDomainName: config.osUserDomainName,
    project: config.osAdminTenantName, projectDomainName: config.osProjectDomainName, interface: config.novaInterface,
    region: config.novaRegion, timeoutMs, ca, clock: environment.clock, renewBeforeMs: TOKEN_RENEW_BEFORE_MS,
  });
  const cloud = new NovaCloud({
    session, microversion: config.novaComputeMicroversion, computeHosts: config.computeHosts, vcpuMhz: config.novaVcpuMhz,
    blockMigration: config.blockMigration, timeoutMs, ca, maxAttempts: config.novaMaxAttempts,
    backoffMs: config.novaRetryBackoffS * 1000, timer: environment.timer, warn: environment.warn,
  });
  return { cloud, session };
}
