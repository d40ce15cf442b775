/** `neat trace export`: a trace, with its data centre, from the samples a manager's log recorded. */
import { basename, extname } from 'node:path';
import { SqliteEventLog } from '../log/sqlite';
import { exportTrace } from '../../sim/export';
import { writeCsvTrace } from '../../traces/csv';
import { EXIT_OK, requiredOption, stringOption, UsageError } from './command';
import type { Command } from './command';
import { loadCommandConfig } from './config';
import { progressBar } from './progress';

const USAGE = 'neat trace export <log.sqlite> --out <trace.csv> [--step <seconds>] [--config <neat.conf>]';

/** CloudSim's migration model: a migrating VM gets 90 % of its CPU, so its samples show 10 % less than it asked for. */
const MIGRATION_DEGRADATION = 0.1;

function stepOption(text: string | undefined): number | null {
  if (text === undefined) return null;
  const stepS = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(stepS > 0)) throw new UsageError(`--step must be a positive number of seconds; got "${text}"`);
  return stepS;
}

export const traceCommand: Command = {
  summary: "export a manager's recorded samples as a trace (CSV, with hosts, capacities and placement) to replay under another policy",
  usage: USAGE,
  options: { out: { type: 'string' }, step: { type: 'string' }, config: { type: 'string' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    if (positionals[0] !== 'export') throw new UsageError(`expected the subcommand "export"; got ${JSON.stringify(positionals[0] ?? '')}\nUsage: ${USAGE}`);
    if (positionals.length !== 2) throw new UsageError(`expected one event log file after "export"; got ${positionals.length - 1}\nUsage: ${USAGE}`);
    const path = positionals[1];
    const out = requiredOption(values, 'out', USAGE);
    const stepS = stepOption(stringOption(values, 'step'));
    const config = loadCommandConfig({ configPath: stringOption(values, 'config'), env: process.env });
    const log = SqliteEventLog.openExisting(path);
    const startMs = Date.now();
    const progress = progressBar({ label: `export ${basename(path)}`, stream: process.stderr, nowMs: Date.now });
    try {
      const exported = await exportTrace(log, basename(out, extname(out)), {
        stepS, vcpuMhz: config.novaVcpuMhz, powerModel: () => config.powerModel, migrationDegradation: MIGRATION_DEGRADATION,
        onProgress: (fraction) => { progress.update(fraction); },
      });
      progress.finish();
      const comments = [`exported by neat trace export from ${basename(path)}`, ...exported.notes];
      // Formatted whole before the file is opened: a trace that cannot be written leaves no half-written file.
      writeCsvTrace(out, exported.trace, comments);
      const { trace } = exported;
      for (const note of exported.notes.slice(1)) io.err(`note: ${note}`);
      io.out(`wrote ${out}: ${trace.vms.length} VMs on ${trace.dataCentre?.hosts.length ?? 0} hosts, ${trace.vms[0].utilization.length} points of ${trace.stepS} s `
        + `(${exported.samples} samples, ${((Date.now() - startMs) / 1000).toFixed(1)} s)`);
      return EXIT_OK;
    } finally {
      progress.finish();
      await log.close();
    }
  },
};
