/** Starts `serviceProcess.ts` in a child process and waits for its READY line (and the LOG line before it). */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface StartedService {
  readonly child: ChildProcess;
  readonly url: string;
  /** The options the child opened its log with. */
  readonly logOptions: unknown;
  readonly recovery: { events: number; resumed: number; requeued: number };
}

/**
 * `mode` as serviceProcess.ts takes it: 'group-commit' opens the log as `neat serve` does; null commits each append
 * on the event loop. `onSpawn` gets the child at once, for a test to kill it even if it never gets ready.
 */
export function startServiceProcess(path: string, seed: string, mode: 'group-commit' | null, onSpawn: (child: ChildProcess) => void = () => undefined): Promise<StartedService> {
  const child = spawn(process.execPath, [join(__dirname, 'serviceProcess.js'), path, seed, ...(mode === null ? [] : [mode])], { stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn(child);
  return new Promise((resolve, reject) => {
    let output = '';
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => { errors += chunk.toString(); });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /READY (\S+) (\{.*\})\n/.exec(output);
      const log = /^LOG (\{.*\})$/m.exec(output);
      if (ready !== null && log !== null) {
        resolve({ child, url: ready[1], logOptions: JSON.parse(log[1]), recovery: JSON.parse(ready[2]) as StartedService['recovery'] });
      }
    });
    child.on('exit', (code, signal) => {
      reject(new Error(`the service ended (code ${String(code)}, signal ${String(signal)}) before it was ready: ${errors}`));
    });
  });
}
