/** The global manager's settings from the configuration: one mapping, used by the service and the simulator. */
import type { ManagerConfig } from '../config';
import type { ManagerSettings } from './globalManager';

export function managerSettings(config: ManagerConfig): ManagerSettings {
  return {
    placement: config.algorithms.placement,
    timeStepS: config.dataCollectorIntervalS,
    migrationBandwidthMbPerS: config.networkMigrationBandwidthMbPerS,
    hostCpuUsableByVms: config.hostCpuUsableByVms,
    automation: config.automation,
    sampleMaxAgeMs: config.sampleMaxAgeS * 1000,
    migrationConcurrency: config.migrationConcurrency,
    migrationInitialWaitMs: config.migrationInitialWaitS * 1000,
    migrationPollIntervalMs: config.migrationPollIntervalS * 1000,
    migrationTimeoutMs: config.migrationTimeoutS * 1000,
    migrationMaxAttempts: config.migrationMaxAttempts,
    wakeTimeoutMs: config.wakeTimeoutS * 1000,
    wakePollIntervalMs: config.wakePollIntervalS * 1000,
    computeHosts: config.computeHosts,
    queueLimit: config.requestQueueLimit,
    historyLength: config.dataCollectorDataLength,
  };
}
