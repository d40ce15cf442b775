/**
 * From what the user named to a report document: each input told apart
 * (a simulation run's log, a manager's log, a sweep's JSON lines), analysed,
 * and drawn as its kind of report, or two logs compared.
 */
import { basename } from 'node:path';
import { SqliteEventLog } from '../log/sqlite';
import type { EventLog } from '../log/port';
import { compareDocument, simulationCompared } from './compareReport';
import type { ComparedRun } from './compareReport';
import type { ReportDocument } from './document';
import { fileSha256, inputKind, ReportError } from './input';
import { analyseSimulationLog, findSimulationStart } from './simulation';
import { simulationDocument } from './simulationReport';
import { analyseSweepFile, sweepDocument } from './sweep';

export interface ReportRequest {
  /** One input, or the two runs of `--compare`. */
  readonly inputs: readonly string[];
  readonly compare: boolean;
  /** Progress of reading the inputs, 0..1. */
  readonly onProgress?: (fraction: number) => void;
}

export type ReportKind = 'simulation' | 'sweep' | 'production' | 'compare';

export interface BuiltReport {
  readonly kind: ReportKind;
  readonly document: ReportDocument;
}

async function withLog<T>(path: string, use: (log: EventLog) => Promise<T>): Promise<T> {
  const log = new SqliteEventLog(path);
  try {
    if (await log.headPosition() === 0) throw new ReportError(`${path}: the event log is empty`);
    return await use(log);
  } finally {
    await log.close();
  }
}

async function singleReport(input: string, onProgress: (fraction: number) => void): Promise<BuiltReport> {
  if (inputKind(input) === 'sweep') return { kind: 'sweep', document: sweepDocument(analyseSweepFile(input, input)) };
  const inputSha256 = fileSha256(input);
  return withLog(input, async (log) => {
    if (await findSimulationStart(log) === null) {
      throw new ReportError(`${input} is a manager's log (no SimulationStarted): production reports need the production analysis, which this build does not have`);
    }
    return { kind: 'simulation', document: simulationDocument(await analyseSimulationLog(log, { input, inputSha256, onProgress })) };
  });
}

async function comparedRun(input: string, label: string, onProgress: (fraction: number) => void): Promise<ComparedRun> {
  if (inputKind(input) !== 'log') throw new ReportError(`${input}: --compare takes two event logs; this is a sweep's JSON lines`);
  const inputSha256 = fileSha256(input);
  return withLog(input, async (log) => {
    if (await findSimulationStart(log) === null) {
      throw new ReportError(`${input} is a manager's log (no SimulationStarted): comparing it needs the production analysis, which this build does not have`);
    }
    return simulationCompared(label, await analyseSimulationLog(log, { input, inputSha256, onProgress }));
  });
}

export async function buildReport(request: ReportRequest): Promise<BuiltReport> {
  const progress = request.onProgress ?? ((): void => undefined);
  if (!request.compare) {
    if (request.inputs.length !== 1) throw new ReportError(`a report takes one input; got ${request.inputs.length}`);
    return singleReport(request.inputs[0], progress);
  }
  if (request.inputs.length !== 2) throw new ReportError(`--compare takes two event logs; got ${request.inputs.length}`);
  const [pathA, pathB] = request.inputs;
  const a = await comparedRun(pathA, `a: ${basename(pathA)}`, (f) => { progress(f / 2); });
  const b = await comparedRun(pathB, `b: ${basename(pathB)}`, (f) => { progress(0.5 + f / 2); });
  return { kind: 'compare', document: compareDocument(a, b) };
}
