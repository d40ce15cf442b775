/**
 * From what the user named to a report document: each input told apart
 * (a simulation run's log, a manager's log, a sweep's JSON lines), analysed,
 * and drawn as its kind of report, or two logs compared.
 *
 * Two logs are compared through the production analysis when both hold a
 * manager's events (a production log, or a simulation in mode `neat`, whose
 * manager is production's), with buckets of one width; otherwise, two
 * simulations, through the simulation's analysis.
 */
import { basename } from 'node:path';
import { SqliteEventLog } from '../log/sqlite';
import type { RecordedEvent } from '../events/envelope';
import { compareDocument, productionCompared, simulationCompared } from './compareReport';
import type { ComparedRun } from './compareReport';
import type { ReportDocument } from './document';
import { fileSha256, inputKind, ReportError } from './input';
import type { Provenance } from './model';
import { analyseProductionLog, defaultBucketS, isProductionLog, readFirstPage } from './production';
import { productionDocument } from './productionReport';
import { analyseSimulationLog, simulationStart } from './simulation';
import { simulationDocument } from './simulationReport';
import { analyseSweepFile, sweepDocument } from './sweep';
import { CODE_VERSION } from '../version';

export interface ReportRequest {
  /** One input, or the two runs of `--compare`. */
  readonly inputs: readonly string[];
  readonly compare: boolean;
  /** The power model a manager's log is estimated with (`power_model`): asked for only when there is one. */
  readonly powerModel: () => string;
  /** Progress of reading the inputs, 0..1. */
  readonly onProgress?: (fraction: number) => void;
}

export type ReportKind = 'simulation' | 'sweep' | 'production' | 'compare';

export interface BuiltReport {
  readonly kind: ReportKind;
  readonly document: ReportDocument;
}

/** A log opened read-only, its first page read, and what that page says it is. */
interface OpenedLog {
  readonly input: string;
  readonly log: SqliteEventLog;
  readonly firstPage: readonly RecordedEvent[];
  readonly inputSha256: string;
  /** `production`: a manager's log; else a simulation in this mode. */
  readonly kind: 'production' | { readonly simulationMode: string };
}

async function openLog(input: string): Promise<OpenedLog> {
  const inputSha256 = fileSha256(input);
  const log = SqliteEventLog.openExisting(input);
  try {
    const firstPage = await readFirstPage(log);
    if (firstPage.length === 0) throw new ReportError(`${input}: the event log is empty`);
    const start = simulationStart(firstPage);
    if (start !== null) return { input, log, firstPage, inputSha256, kind: { simulationMode: start.data.mode } };
    if (isProductionLog(firstPage)) return { input, log, firstPage, inputSha256, kind: 'production' };
    throw new ReportError(`${input}: neither a simulation run's log (no SimulationStarted) nor a manager's (no event a manager writes) among its first ${firstPage.length} events`);
  } catch (error) {
    await log.close();
    throw error;
  }
}

async function withLog<T>(input: string, use: (opened: OpenedLog) => Promise<T>): Promise<T> {
  const opened = await openLog(input);
  try {
    return await use(opened);
  } finally {
    await opened.log.close();
  }
}

function holdsManagerEvents(opened: OpenedLog): boolean {
  return opened.kind === 'production' || opened.kind.simulationMode === 'neat';
}

async function productionProvenance(opened: OpenedLog): Promise<Provenance> {
  const logVersion = simulationStart(opened.firstPage)?.data.codeVersion ?? null;
  return { input: opened.input, inputSha256: opened.inputSha256, reportVersion: CODE_VERSION, logVersion, events: await opened.log.headPosition() };
}

/** What wrote a log with a manager's events: production, or a mode-neat simulation (its manager's events read as production's). */
function origin(opened: OpenedLog): string {
  const start = simulationStart(opened.firstPage);
  return start === null ? 'production' : `${start.data.policy === '' ? 'neat.conf' : start.data.policy} simulated in mode neat, seed ${start.data.seed}`;
}

async function singleReport(request: ReportRequest, onProgress: (fraction: number) => void): Promise<BuiltReport> {
  const [input] = request.inputs;
  if (inputKind(input) === 'sweep') return { kind: 'sweep', document: sweepDocument(analyseSweepFile(input, input)) };
  return withLog(input, async (opened) => {
    const { log, firstPage, inputSha256 } = opened;
    if (opened.kind === 'production') {
      const analysis = await analyseProductionLog(log, { powerModel: request.powerModel(), onProgress });
      return { kind: 'production', document: productionDocument(analysis, await productionProvenance(opened)) };
    }
    return { kind: 'simulation', document: simulationDocument(await analyseSimulationLog(log, { input, inputSha256, firstPage, onProgress })) };
  });
}

/** From the log's first event to its last, s. */
async function spanS(opened: OpenedLog): Promise<number> {
  const [last] = await opened.log.readAll(await opened.log.headPosition(), 1);
  return Math.max(0, (last.metadata.timeMs - opened.firstPage[0].metadata.timeMs) / 1000);
}

async function compareReport(request: ReportRequest, progress: (fraction: number) => void): Promise<BuiltReport> {
  for (const input of request.inputs) {
    if (inputKind(input) !== 'log') throw new ReportError(`${input}: --compare takes two event logs; this is a sweep's JSON lines`);
  }
  const [pathA, pathB] = request.inputs;
  const labels = [`a: ${basename(pathA)}`, `b: ${basename(pathB)}`];
  const a = await openLog(pathA);
  try {
    return await withLog(pathB, async (b) => {
      const runs = [a, b];
      const share = (index: number) => (fraction: number): void => { progress((index + fraction) / 2); };
      let compared: ComparedRun[];
      if (runs.every(holdsManagerEvents)) {
        // One bucket width for both, so that their intervals line up.
        const bucketS = defaultBucketS(Math.max(await spanS(a), await spanS(b)));
        const powerModel = request.powerModel();
        compared = [];
        for (const [index, run] of runs.entries()) {
          const analysis = await analyseProductionLog(run.log, { powerModel, bucketS, onProgress: share(index) });
          compared.push(productionCompared(labels[index], origin(run), analysis, await productionProvenance(run)));
        }
      } else if (runs.every((run) => run.kind !== 'production')) {
        compared = [];
        for (const [index, run] of runs.entries()) {
          const analysis = await analyseSimulationLog(run.log, { input: run.input, inputSha256: run.inputSha256, firstPage: run.firstPage, onProgress: share(index) });
          compared.push(simulationCompared(labels[index], analysis));
        }
      } else {
        const simulation = runs.find((run) => run.kind !== 'production')!;
        throw new ReportError(`${simulation.input} is a simulation in mode cloudsim, which has no manager's events to compare with a manager's log: `
          + 'replay the manager\'s load with neat sim --mode neat (see neat trace export)');
      }
      return { kind: 'compare', document: compareDocument(compared[0], compared[1]) };
    });
  } finally {
    await a.log.close();
  }
}

export async function buildReport(request: ReportRequest): Promise<BuiltReport> {
  const progress = request.onProgress ?? ((): void => undefined);
  const expected = request.compare ? 2 : 1;
  if (request.inputs.length !== expected) throw new ReportError(`${request.compare ? '--compare takes two event logs' : 'a report takes one input'}; got ${request.inputs.length}`);
  return request.compare ? compareReport(request, progress) : singleReport(request, progress);
}
