/**
 * A progress bar on a terminal: shown only when stderr is a TTY and the work
 * has taken more than a second, redrawn at most ten times a second.
 */
export interface Progress {
  update(done: number, total: number): void;
  finish(): void;
}

const SHOW_AFTER_MS = 1000;
const REDRAW_EVERY_MS = 100;
const WIDTH = 30;

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const startMs = Date.now();
  let lastDrawMs = 0;
  let drawn = false;
  return {
    update(done: number, total: number): void {
      if (!stream.isTTY) return;
      const nowMs = Date.now();
      if (nowMs - startMs < SHOW_AFTER_MS || nowMs - lastDrawMs < REDRAW_EVERY_MS) return;
      lastDrawMs = nowMs;
      const fraction = total > 0 ? Math.min(1, done / total) : 0;
      const filled = Math.round(fraction * WIDTH);
      const elapsedS = ((nowMs - startMs) / 1000).toFixed(1);
      stream.write(`\r${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${elapsedS} s`);
      drawn = true;
    },
    finish(): void {
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}
