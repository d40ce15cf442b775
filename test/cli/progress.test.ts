import { clockDuration, progressBar } from '../../src/cli/progress';

/** A terminal (or a pipe) that records what is written, and a clock the test moves. */
function fakeStream(isTTY: boolean): { isTTY: boolean; written: string[]; write(text: string): boolean } {
  const written: string[] = [];
  return { isTTY, written, write: (text) => { written.push(text); return true; } };
}

describe('the progress line', () => {
  test('on a terminal: nothing in the first second, then the share, the detail, the time taken and the time left', () => {
    const stream = fakeStream(true);
    let nowMs = 10_000;
    const progress = progressBar({ label: 'sweep days', stream, nowMs: () => nowMs });
    nowMs += 999;
    progress.update(0.1, '1/10 runs');
    expect(stream.written).toEqual([]);
    nowMs = 12_000;
    progress.update(0.25, '2/10 runs');
    // Two seconds for a quarter: six more for the rest.
    expect(stream.written).toEqual([`\r\x1b[2Ksweep days [${'#'.repeat(8)}${'-'.repeat(22)}]  25% 2/10 runs 0:02 ETA 0:06`]);
  });

  test('redraws at most ten times a second, says nothing of the time left before any work is done, and clears its line at the end', () => {
    const stream = fakeStream(true);
    let nowMs = 0;
    const progress = progressBar({ label: 'sim', stream, nowMs: () => nowMs });
    nowMs = 1500;
    progress.update(0);
    nowMs = 1550;
    progress.update(0.5);
    expect(stream.written).toHaveLength(1);
    expect(stream.written[0]).toMatch(/ {2}0% 0:02 ETA -$/);
    nowMs = 1600;
    progress.update(0.5);
    expect(stream.written).toHaveLength(2);
    expect(stream.written[1]).toMatch(/ 50% 0:02 ETA 0:02$/);
    progress.finish();
    expect(stream.written[2]).toBe('\r\x1b[2K');
  });

  test('piped (not a TTY): never writes, not even to clear', () => {
    const stream = fakeStream(false);
    let nowMs = 0;
    const progress = progressBar({ label: 'sim', stream, nowMs: () => nowMs });
    for (let step = 1; step <= 100; step++) {
      nowMs = step * 1000;
      progress.update(step / 100, `${step}/100 runs`);
    }
    progress.finish();
    expect(stream.written).toEqual([]);
  });

  test('a share outside 0..1 is a bug in the caller', () => {
    const progress = progressBar({ label: 'sim', stream: fakeStream(true), nowMs: () => 0 });
    expect(() => { progress.update(1.01); }).toThrow(/progress must be a fraction from 0 to 1; got 1.01/);
    expect(() => { progress.update(-0.5); }).toThrow(/got -0.5/);
  });

  test('durations read as m:ss, and h:mm:ss from an hour', () => {
    expect(clockDuration(0)).toBe('0:00');
    expect(clockDuration(59_400)).toBe('0:59');
    expect(clockDuration(245_000)).toBe('4:05');
    expect(clockDuration(3_725_000)).toBe('1:02:05');
  });
});
