/**
 * The end of what a command printed, bounded: it goes into an event
 * (`HostSuspendFailed.stderr`) and a message, and a command that prints
 * without end must not grow either. The end is kept because a failing
 * command says why last.
 */
import { assert } from '../engine/assert';

/** What a driver keeps of a command's standard error. */
export const STDERR_LIMIT_BYTES = 4096;

export class OutputTail {
  private kept: Buffer = Buffer.alloc(0);
  private droppedBytes = 0;

  constructor(private readonly limitBytes: number = STDERR_LIMIT_BYTES) {
    assert(Number.isInteger(limitBytes) && limitBytes > 0, 'an output tail keeps at least one byte');
  }

  push(chunk: Buffer): void {
    const joined = Buffer.concat([this.kept, chunk]);
    const excess = Math.max(0, joined.length - this.limitBytes);
    // A copy, so that the kept bytes do not pin a large chunk in memory.
    this.kept = Buffer.from(joined.subarray(excess));
    this.droppedBytes += excess;
    assert(this.kept.length <= this.limitBytes, 'the tail stays within its limit');
  }

  /** The kept text, saying how much came before it; null when nothing was printed. */
  text(): string | null {
    if (this.kept.length === 0 && this.droppedBytes === 0) return null;
    const omitted = this.droppedBytes > 0 ? `[${this.droppedBytes} earlier bytes omitted]\n` : '';
    return omitted + this.kept.toString('utf8');
  }
}
