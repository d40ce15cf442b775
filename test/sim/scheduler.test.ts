import fc from 'fast-check';
import { Scheduler } from '../../sim/scheduler';

describe('the simulation scheduler', () => {
  test('runs events by time, then by the order they were scheduled, and moves the clock', () => {
    const scheduler = new Scheduler();
    const seen: string[] = [];
    scheduler.at(300.1, () => seen.push(`a@${scheduler.timeS}`));
    scheduler.at(10, () => {
      seen.push(`b@${scheduler.timeS}`);
      scheduler.after(0, () => seen.push(`c@${scheduler.timeS}`));
      scheduler.after(290.1, () => seen.push(`d@${scheduler.timeS}`));
    });
    scheduler.at(10, () => seen.push(`e@${scheduler.timeS}`));
    expect(scheduler.run(Infinity, 100)).toBe(5);
    expect(seen).toEqual(['b@10', 'e@10', 'c@10', 'a@300.1', 'd@300.1']);
    expect(scheduler.nowMs()).toBe(300100);
  });

  test('stops at the time limit and at the event limit', () => {
    const scheduler = new Scheduler();
    for (let i = 1; i <= 10; i++) scheduler.at(i, () => undefined);
    expect(scheduler.run(5, 100)).toBe(5);
    expect(scheduler.timeS).toBe(5);
    expect(scheduler.run(100, 2)).toBe(2);
    expect(scheduler.pending).toBe(3);
  });

  test('refuses to schedule in the past', () => {
    const scheduler = new Scheduler();
    scheduler.at(5, () => undefined);
    scheduler.run(10, 10);
    expect(() => { scheduler.at(4, () => undefined); }).toThrow('cannot schedule at 4 s, the clock is at 5 s');
  });

  test('any set of events comes out sorted by (time, sequence)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
      const scheduler = new Scheduler();
      const order: [number, number][] = [];
      times.forEach((t, i) => { scheduler.at(t, () => order.push([t, i])); });
      scheduler.run(Infinity, 1000);
      const expected = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      expect(order).toEqual(expected);
    }));
  });
});
