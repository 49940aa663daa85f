import { InOrder } from '../../src/jobs/in-order';

/** A promise and the function that settles it, for work the test finishes by hand. */
function gate(): { done: Promise<void>; open: () => void; fail: (err: Error) => void } {
  let open!: () => void;
  let fail!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { done, open, fail };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('InOrder', () => {
  it('runs work of one key one after another in the order handed in, and other keys at once', async () => {
    const line = new InOrder();
    const started: string[] = [];
    const first = gate();
    const a1 = line.run('a', async () => {
      started.push('a1');
      await first.done;
    });
    const a2 = line.run('a', async () => void started.push('a2'));
    const b1 = line.run('b', async () => void started.push('b1'));
    await settle();
    expect(started).toEqual(['a1', 'b1']);
    first.open();
    await Promise.all([a1, a2, b1]);
    expect(started).toEqual(['a1', 'b1', 'a2']);
    expect(line.size).toBe(0);
  });

  it('goes on with the next in line when one fails, and hands the failure to its caller only', async () => {
    const line = new InOrder();
    const first = gate();
    const failing = line.run('a', () => first.done);
    const next = line.run('a', async () => 'ran');
    first.fail(new Error('provider said no'));
    await expect(failing).rejects.toThrow('provider said no');
    await expect(next).resolves.toBe('ran');
  });
});
