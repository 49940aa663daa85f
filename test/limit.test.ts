import { forEachLimited } from '../src/limit';

describe('forEachLimited', () => {
  it('keeps at most `concurrency` in flight and runs every item', async () => {
    let inFlight = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimited([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      done.push(n);
    });
    expect(most).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts nothing after a failure, and rejects only once what it started has settled', async () => {
    const started: number[] = [];
    let running = 0;
    const outcome = await forEachLimited([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n);
      running++;
      try {
        if (n === 1) throw new Error('item 1 failed');
        await new Promise((resolve) => setTimeout(resolve, 30));
      } finally {
        running--;
      }
    }).catch((err: Error) => ({ error: err.message, running }));
    expect(outcome).toEqual({ error: 'item 1 failed', running: 0 });
    expect(started).toEqual([1, 2]);
  });
});
