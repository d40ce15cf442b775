/**
 * A subscription for logs that can be read by position: page through what is
 * stored, then wait for an append in this process (or poll, for appends by
 * another process) and read again. Memory is bounded by one page.
 */
import type { RecordedEvent } from '../events/envelope';
import type { Subscription } from './port';

const PAGE_EVENTS = 1_000;

/** Wakes waiting subscriptions when this process appends. */
export class AppendSignal {
  private waiters: (() => void)[] = [];

  notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves on the next append or after `timeoutMs`, whichever comes first. */
  wait(timeoutMs: number): { promise: Promise<void>; cancel: () => void } {
    let wake: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      wake = done;
      this.waiters.push(done);
    });
    return {
      promise,
      cancel: () => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        wake();
      },
    };
  }
}

export type PageReader = (fromPosition: number, limit: number) => Promise<readonly RecordedEvent[]>;

/** Ends quietly when the log is closed under it, rather than failing the reader. */
export function pollingSubscription(
  read: PageReader,
  signal: AppendSignal,
  logClosed: () => boolean,
  fromPosition: number,
  pollIntervalMs: number,
): Subscription {
  let nextPosition = fromPosition;
  let page: readonly RecordedEvent[] = [];
  let index = 0;
  let closed = false;
  let cancelWait: (() => void) | null = null;
  // Read through a function: `closed` changes while `next` awaits.
  const isClosed = (): boolean => closed;

  async function next(): Promise<IteratorResult<RecordedEvent>> {
    while (!closed) {
      if (index < page.length) {
        const event = page[index];
        index += 1;
        return { value: event, done: false };
      }
      if (logClosed()) break;
      page = await read(nextPosition, PAGE_EVENTS);
      index = 0;
      if (page.length > 0) {
        nextPosition = page[page.length - 1].position + 1;
        continue;
      }
      if (isClosed()) break;
      const waiting = signal.wait(pollIntervalMs);
      cancelWait = waiting.cancel;
      await waiting.promise;
      cancelWait = null;
    }
    return { value: undefined, done: true };
  }

  async function close(): Promise<void> {
    closed = true;
    cancelWait?.();
    return Promise.resolve();
  }

  const iterator: AsyncIterator<RecordedEvent> = {
    next,
    return: async () => {
      await close();
      return { value: undefined, done: true };
    },
  };
  return { close, [Symbol.asyncIterator]: () => iterator };
}
