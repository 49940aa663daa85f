import { ChangeQueue, ChangeQueueFull } from '../../src/store/change-queue';

describe('ChangeQueue', () => {
  it('runs one change at a time, in order, and refuses the one past the bound without running it', async () => {
    const queue = new ChangeQueue(2);
    const order: string[] = [];
    let release!: () => void;
    const first = queue.run(async () => {
      order.push('first');
      await new Promise<void>((resolve) => (release = resolve));
    });
    const second = queue.run(async () => void order.push('second'));
    const third = queue.run(async () => void order.push('third'));
    expect(queue.waiting).toBe(2);
    expect(queue.refused).toBe(0);
    await expect(queue.run(async () => void order.push('fourth'))).rejects.toEqual(
      new ChangeQueueFull(2),
    );
    expect(queue.refused).toBe(1);
    release();
    await Promise.all([first, second, third]);
    expect(order).toEqual(['first', 'second', 'third']);
    await queue.run(async () => void order.push('later'));
    expect(order.at(-1)).toBe('later');
  });

  it('refuses a bound below 1', () => {
    expect(() => new ChangeQueue(0)).toThrow('a change queue lets at least 1 change wait, not 0');
  });
});
