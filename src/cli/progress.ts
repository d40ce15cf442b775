/**
 * A progress line on a terminal: the share done, what is done of what (e.g.
 * `3/10 runs`), the time taken and an estimate of the time left. Drawn only
 * when the stream is a TTY, so that piped output and logs never hold it, once
 * the work has taken a second, and at most ten times a second.
 */
import { assert } from '../engine/assert';

export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export interface Progress {
  /** `fraction` (0..1) of the work is done; `detail` is shown beside it. */
  update(fraction: number, detail?: string): void;
  /** Clears the line, so that what follows starts on a clean one. */
  finish(): void;
}

export interface ProgressOptions {
  readonly label: string;
  readonly stream: ProgressStream;
  /** Wall-clock milliseconds (a test passes its own clock). */
  readonly nowMs: () => number;
}

const SHOW_AFTER_MS = 1000;
const REDRAW_EVERY_MS = 100;
const WIDTH = 30;
const CLEAR_LINE = '\r\x1b[2K';

/** `m:ss`, or `h:mm:ss` from an hour. */
export function clockDuration(durationMs: number): string {
  assert(durationMs >= 0 && Number.isFinite(durationMs), () => `a duration must be finite and not negative; got ${durationMs}`);
  const totalS = Math.round(durationMs / 1000);
  const hours = Math.floor(totalS / 3600);
  const minutes = Math.floor((totalS % 3600) / 60);
  const seconds = String(totalS % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

export function progressBar(options: ProgressOptions): Progress {
  const { stream, nowMs } = options;
  const startMs = nowMs();
  let lastDrawMs = -Infinity;
  let drawn = false;
  return {
    update(fraction: number, detail?: string): void {
      assert(fraction >= 0 && fraction <= 1, () => `progress must be a fraction from 0 to 1; got ${fraction}`);
      if (stream.isTTY !== true) return;
      const now = nowMs();
      const elapsedMs = now - startMs;
      if (elapsedMs < SHOW_AFTER_MS || now - lastDrawMs < REDRAW_EVERY_MS) return;
      lastDrawMs = now;
      const filled = Math.round(fraction * WIDTH);
      // The rate so far, extrapolated: nothing to extrapolate before the first bit of work is done.
      const eta = fraction > 0 ? `ETA ${clockDuration((elapsedMs * (1 - fraction)) / fraction)}` : 'ETA -';
      const parts = [`[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}]`, `${(fraction * 100).toFixed(0).padStart(3)}%`,
        ...(detail === undefined ? [] : [detail]), clockDuration(elapsedMs), eta];
      stream.write(`${CLEAR_LINE}${options.label} ${parts.join(' ')}`);
      drawn = true;
    },
    finish(): void {
      if (drawn) stream.write(CLEAR_LINE);
      drawn = false;
    },
  };
}
