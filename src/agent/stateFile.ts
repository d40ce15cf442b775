/**
 * The agent's state file, `<local_data_directory>/agent-state.json`: the VM
 * and hypervisor histories (Neat's local files) and the detectors' states, so
 * that a restarted agent neither starts cold nor resets OTF's or MHOD's
 * counts. Written whole to a temporary file, synced and renamed, so a crash
 * leaves the old state or the new one, never half of one.
 *
 * A state is used only when it is this format's version, of this host, and
 * no older than the manager's sample age limit: the histories of a host left
 * alone for longer describe a load that may be gone. Anything else is
 * reported and the agent starts afresh, as Neat's collector always did.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomically } from '../atomicFile';
import type { AgentMemory } from './loop';
import { EMPTY_MEMORY } from './loop';

export const STATE_FILE_NAME = 'agent-state.json';
const FORMAT = 'neat-agent-state';
const VERSION = 1;
/** A state file larger than this is not ours: 100 VMs × 100 values is about 100 kB. */
const MAX_STATE_BYTES = 64 * 1024 * 1024;

interface StateDocument {
  readonly format: typeof FORMAT;
  readonly version: number;
  readonly host: string;
  readonly savedAtMs: number;
  readonly memory: AgentMemory;
}

export type LoadedState =
  | { readonly status: 'loaded'; readonly memory: AgentMemory; readonly ageS: number }
  | { readonly status: 'absent' | 'discarded'; readonly memory: AgentMemory; readonly reason: string };

export function statePath(localDataDirectory: string): string {
  return join(localDataDirectory, STATE_FILE_NAME);
}

function isHistory(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0);
}

function isRecordOf<T>(value: unknown, check: (item: unknown) => item is T): value is Record<string, T> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every(check);
}

function isPositive(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** Why a parsed document is not a usable memory, or null when it is. */
function memoryProblem(memory: unknown): string | null {
  if (typeof memory !== 'object' || memory === null) return 'no memory';
  const m = memory as Record<string, unknown>;
  if (!isRecordOf(m.vmsCpuMhz, isHistory)) return 'vmsCpuMhz is not a map of MHz histories';
  if (!isRecordOf(m.vmsRamMb, isPositive)) return 'vmsRamMb is not a map of positive MB';
  if (!isHistory(m.hypervisorCpuMhz)) return 'hypervisorCpuMhz is not a MHz history';
  if (m.hostCpuMhz !== null && !isPositive(m.hostCpuMhz)) return 'hostCpuMhz is not a positive number or null';
  if (m.localManager !== null && (typeof m.localManager !== 'object' || Array.isArray(m.localManager))) return 'localManager is not an object or null';
  return null;
}

export function loadState(path: string, host: string, nowMs: number, maxAgeS: number): LoadedState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'absent', memory: EMPTY_MEMORY, reason: `no state file at ${path}` };
    return { status: 'discarded', memory: EMPTY_MEMORY, reason: `cannot read ${path}: ${(error as Error).message}` };
  }
  const discard = (reason: string): LoadedState => ({ status: 'discarded', memory: EMPTY_MEMORY, reason: `${path}: ${reason}` });
  if (text.length > MAX_STATE_BYTES) return discard(`larger than ${MAX_STATE_BYTES} bytes`);
  let document: Partial<StateDocument>;
  try {
    document = JSON.parse(text) as Partial<StateDocument>;
  } catch (error) {
    return discard(`not JSON (${(error as Error).message})`);
  }
  if (document.format !== FORMAT || document.version !== VERSION) return discard(`not a ${FORMAT} file of version ${VERSION}`);
  if (document.host !== host) return discard(`the state of host "${String(document.host)}", not of "${host}"`);
  if (typeof document.savedAtMs !== 'number' || !Number.isFinite(document.savedAtMs)) return discard('no savedAtMs');
  const ageS = (nowMs - document.savedAtMs) / 1000;
  if (ageS < 0) return discard(`saved ${(-ageS).toFixed(0)} s in the future: the clock went backwards, so its age is unknown`);
  if (ageS > maxAgeS) return discard(`saved ${ageS.toFixed(0)} s ago, longer than sample_max_age_s (${maxAgeS} s)`);
  const problem = memoryProblem(document.memory);
  if (problem !== null) return discard(problem);
  return { status: 'loaded', memory: document.memory as AgentMemory, ageS };
}

/** JSON of the document; null when a value would not survive the trip (NaN and ±Infinity become null in JSON). */
function exactJson(document: StateDocument): string | null {
  const found = { nonFinite: false };
  const text = JSON.stringify(document, (_key, value: unknown) => {
    if (typeof value === 'number' && !Number.isFinite(value)) found.nonFinite = true;
    return value;
  });
  return found.nonFinite ? null : text;
}

/**
 * Writes the state atomically, and says whether the detectors' states are in
 * it: one holding a non-finite number is left out (they start afresh after a
 * restart) rather than restored wrong. Throws on an I/O error.
 */
export function saveState(path: string, host: string, nowMs: number, memory: AgentMemory): { readonly detectorsSaved: boolean } {
  const document: StateDocument = { format: FORMAT, version: VERSION, host, savedAtMs: nowMs, memory };
  const full = exactJson(document);
  const text = full ?? JSON.stringify({ ...document, memory: { ...memory, localManager: null } });
  writeFileAtomically(path, text);
  return { detectorsSaved: full !== null };
}
