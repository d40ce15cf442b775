/**
 * `neat report`: one self-contained HTML file from a simulation run's log, a
 * manager's log (its energy by `power_model` of `--config`) or a sweep's JSON
 * lines, or from two logs compared. The file
 * is written whole to a temporary name beside `--out` and renamed, so that
 * `--out` is either the complete report or untouched.
 */
import { existsSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { buildReport } from '../report/build';
import { renderHtml } from '../report/html';
import { ReportError } from '../report/input';
import { EXIT_OK, stringOption, UsageError } from './command';
import { loadCommandConfig } from './config';
import type { Command } from './command';
import { progressBar } from './progress';

const USAGE = 'neat report <log.sqlite|sweep.jsonl> [--out <report.html>] [--config <neat.conf>]\n'
  + '       neat report --compare <a.sqlite> <b.sqlite> [--out <report.html>] [--config <neat.conf>]';

const DEFAULT_OUT = 'report.html';

function checkOut(out: string, inputs: readonly string[]): void {
  if (inputs.some((input) => resolve(input) === resolve(out))) throw new ReportError(`--out ${out} is an input: the report would replace it`);
  const directory = dirname(out);
  if (!existsSync(directory)) throw new ReportError(`--out ${out}: no such directory ${directory}`);
  if (!statSync(directory).isDirectory()) throw new ReportError(`--out ${out}: ${directory} is not a directory`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new ReportError(`--out ${out}: a directory; name the HTML file to write`);
}

/** Written beside the target, then renamed over it: a reader never sees half a report. */
function writeWhole(out: string, html: string): void {
  const temporary = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, html);
    renameSync(temporary, out);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw new ReportError(`--out ${out}: cannot write it (${(error as Error).message})`);
  }
}

export const reportCommand: Command = {
  summary: 'write a self-contained HTML report (charts, metrics, provenance) of a simulation, a sweep or a manager\'s log, or compare two runs',
  usage: USAGE,
  options: { out: { type: 'string' }, compare: { type: 'boolean' }, config: { type: 'string' } },
  allowPositionals: true,
  async run(values, positionals, io) {
    const compare = values.compare === true;
    const expected = compare ? 2 : 1;
    if (positionals.length !== expected) {
      throw new UsageError(`expected ${compare ? 'two event logs after --compare' : 'one input (an event log or a sweep\'s JSON lines)'}; got ${positionals.length}\nUsage: ${USAGE}`);
    }
    const out = stringOption(values, 'out') ?? DEFAULT_OUT;
    if (out === '') throw new UsageError(`--out must name a file\nUsage: ${USAGE}`);
    checkOut(out, positionals);
    const startMs = Date.now();
    const progress = progressBar({ label: `report ${positionals.map((p) => basename(p)).join(' vs ')}`, stream: process.stderr, nowMs: Date.now });
    try {
      const configPath = stringOption(values, 'config');
      let configRead = false as boolean;
      // A manager's log is estimated with the configured power model; the other inputs need no configuration.
      const powerModel = (): string => {
        configRead = true;
        return loadCommandConfig({ configPath, env: process.env }).powerModel;
      };
      const built = await buildReport({ inputs: positionals, compare, powerModel, onProgress: (fraction) => { progress.update(fraction); } });
      if (configPath !== undefined && !configRead) io.err(`neat report: --config ignored: a ${built.kind} report reads no configuration`);
      const rendered = renderHtml(built.document);
      progress.finish();
      writeWhole(out, rendered.html);
      const megabytes = Buffer.byteLength(rendered.html) / 1_000_000;
      io.out(`wrote ${out} (${megabytes.toFixed(1)} MB, ${built.kind} report, ${rendered.charts} charts) in ${((Date.now() - startMs) / 1000).toFixed(1)} s`);
      return EXIT_OK;
    } finally {
      progress.finish();
    }
  },
};
