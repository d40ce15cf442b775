import { randomIds, seededIds, UUID_PATTERN } from '../src/ids';
import { createRng } from '../src/rng';

describe('ids', () => {
  test('are RFC 9562 version-7 UUIDs that sort in the order they were made', () => {
    const ids = Array.from({ length: 5000 }, () => randomIds.next());
    for (const id of ids) {
      expect(id).toMatch(UUID_PATTERN);
      expect(id[14]).toBe('7');
    }
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('begin with the clock time in milliseconds', () => {
    const ids = seededIds(createRng(1), { nowMs: () => 0x0123456789ab });
    expect(ids.next().slice(0, 13)).toBe('01234567-89ab');
  });

  test('stay ordered when the clock stands still or steps back, past 4096 in one millisecond', () => {
    let nowMs = 1000;
    const ids = seededIds(createRng(2), { nowMs: () => nowMs });
    const made: string[] = [];
    for (let i = 0; i < 5000; i++) made.push(ids.next());
    nowMs = 10;
    made.push(ids.next());
    expect([...made].sort()).toEqual(made);
    expect(new Set(made).size).toBe(made.length);
  });

  test('from a seed, the same sequence every time', () => {
    const clock = { nowMs: () => 42 };
    const a = seededIds(createRng('s'), clock);
    const b = seededIds(createRng('s'), clock);
    const c = seededIds(createRng('t'), clock);
    const first = [a.next(), a.next()];
    expect([b.next(), b.next()]).toEqual(first);
    expect(c.next()).not.toBe(first[0]);
  });
});
