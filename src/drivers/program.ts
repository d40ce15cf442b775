/**
 * A program run with a deadline and bounded output, as the drivers run
 * them (`wol_program`, `virsh`): no shell, and a child that hangs is killed
 * rather than waited for.
 */
import { execFile } from 'node:child_process';
import type { ExecFileException } from 'node:child_process';

export interface ProgramOptions {
  readonly timeoutMs: number;
  /** Output past this on stdout or stderr kills the program (`too-much-output`). */
  readonly maxOutputBytes: number;
  readonly env?: NodeJS.ProcessEnv;
}

export type ProgramFailure =
  | { readonly kind: 'timeout' }
  | { readonly kind: 'too-much-output' }
  /** Node could not run it: not found (`ENOENT`), not executable (`EACCES`)… */
  | { readonly kind: 'cannot-run'; readonly code: string; readonly message: string }
  | { readonly kind: 'exited'; readonly exitCode: number | null; readonly signal: string | null };

export interface ProgramRun {
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Null when it exited 0. */
  readonly failure: ProgramFailure | null;
}

export function runProgram(program: string, args: readonly string[], options: ProgramOptions): Promise<ProgramRun> {
  return new Promise((resolve) => {
    let timedOut = false;
    const child = execFile(program, args, { encoding: 'buffer', maxBuffer: options.maxOutputBytes, env: options.env }, (error, stdout, stderr) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, failure: error === null ? null : failureOf(error, timedOut) });
    });
    // Not execFile's `timeout`: after the kill it still waits for the output
    // to close, which a child the program left running may hold open for ever.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      child.stdout?.destroy();
      child.stderr?.destroy();
    }, options.timeoutMs);
  });
}

function failureOf(error: ExecFileException, timedOut: boolean): ProgramFailure {
  if (timedOut) return { kind: 'timeout' };
  if (error.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') return { kind: 'too-much-output' };
  // A string code is Node's own: the program could not be run.
  if (typeof error.code === 'string') return { kind: 'cannot-run', code: error.code, message: error.message };
  return { kind: 'exited', exitCode: typeof error.code === 'number' ? error.code : null, signal: error.signal ?? null };
}
