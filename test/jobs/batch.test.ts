import { Batch } from '../../src/jobs/batch';

describe('Batch', () => {
  it('hands items that come in together to one flush, and each caller its own result', async () => {
    const flushes: number[][] = [];
    const batch = new Batch<number, string>(
      async (items) => {
        flushes.push(items);
        return items.map((n) => `#${n}`);
      },
      { windowMs: 5, maxItems: 100 },
    );
    const results = await Promise.all([1, 2, 3].map((n) => batch.add(n)));
    expect(results).toEqual(['#1', '#2', '#3']);
    expect(flushes).toEqual([[1, 2, 3]]);
  });

  it('flushes at once when full, without waiting for the window', async () => {
    const flushes: number[][] = [];
    const batch = new Batch<number, number>(async (items) => (flushes.push(items), items), {
      windowMs: 60_000,
      maxItems: 2,
    });
    const first = [batch.add(1), batch.add(2)];
    expect(flushes).toEqual([[1, 2]]);
    await Promise.all(first);
    const third = batch.add(3);
    batch.drain();
    await third;
    expect(flushes).toEqual([[1, 2], [3]]);
  });

  it('flushes after the window when not full, and starts a new window after', async () => {
    const flushes: number[][] = [];
    const batch = new Batch<number, number>(async (items) => (flushes.push(items), items), {
      windowMs: 2,
      maxItems: 100,
    });
    const first = [batch.add(1), batch.add(2)];
    expect(flushes).toEqual([]);
    await Promise.all(first);
    await batch.add(3);
    expect(flushes).toEqual([[1, 2], [3]]);
  });

  it('settles each caller only once its flush has finished, and gathers a new batch meanwhile', async () => {
    const flushes: { items: number[]; finish: () => void }[] = [];
    const batch = new Batch<number, number>(
      (items) =>
        new Promise((resolve) =>
          flushes.push({ items, finish: () => resolve(items.map((n) => n * 10)) }),
        ),
      { windowMs: 60_000, maxItems: 2 },
    );
    const settled: number[] = [];
    const first = [batch.add(1), batch.add(2)].map((p) => p.then((r) => settled.push(r)));
    const later = batch.add(3).then((r) => settled.push(r));
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushes.map((f) => f.items)).toEqual([[1, 2]]);
    expect(settled).toEqual([]);
    batch.drain();
    expect(flushes.map((f) => f.items)).toEqual([[1, 2], [3]]);
    flushes[1]!.finish();
    await later;
    expect(settled).toEqual([30]);
    flushes[0]!.finish();
    await Promise.all(first);
    expect(settled).toEqual([30, 10, 20]);
  });

  it('rejects every caller of a flush that failed, and keeps working', async () => {
    let fail = true;
    const batch = new Batch<number, number>(
      async (items) => {
        if (fail) throw new Error('database is locked');
        return items;
      },
      { windowMs: 1, maxItems: 100 },
    );
    const failed = await Promise.allSettled([batch.add(1), batch.add(2)]);
    expect(failed).toEqual([
      { status: 'rejected', reason: new Error('database is locked') },
      { status: 'rejected', reason: new Error('database is locked') },
    ]);
    fail = false;
    await expect(batch.add(3)).resolves.toBe(3);
  });

  it('flushes a big batch in pieces, one after another, with the loop let run between them', async () => {
    const events: string[] = [];
    const batch = new Batch<number, number>(
      async (items) => {
        events.push(`flush ${items.join(',')}`);
        if (items.includes(3)) throw new Error('database is locked');
        return items;
      },
      { windowMs: 60_000, maxItems: 100, maxFlush: 2 },
    );
    const added = [1, 2, 3, 4, 5].map((n) => batch.add(n));
    batch.drain();
    setImmediate(() => events.push('other work'));
    const settled = await Promise.allSettled(added);
    expect(events).toEqual(['flush 1,2', 'other work', 'flush 3,4', 'flush 5']);
    // A piece that failed fails only its own items.
    expect(settled.map((s) => s.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
  });

  it('does nothing on drain when nothing waits', () => {
    const flush = jest.fn(async (items: number[]) => items);
    new Batch(flush, { windowMs: 1, maxItems: 10 }).drain();
    expect(flush).not.toHaveBeenCalled();
  });

  describe('held while other work comes first', () => {
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('keeps the window open while told to, and flushes at the first window after', async () => {
      const flushes: number[][] = [];
      let busy = true;
      const batch = new Batch<number, number>(async (items) => (flushes.push(items), items), {
        windowMs: 10,
        maxItems: 100,
        holdWhile: () => busy,
        maxHoldMs: 60_000,
      });
      const first = batch.add(1);
      await jest.advanceTimersByTimeAsync(5_000);
      void batch.add(2);
      expect(flushes).toEqual([]);
      busy = false;
      await jest.advanceTimersByTimeAsync(10);
      expect(flushes).toEqual([[1, 2]]);
      await expect(first).resolves.toBe(1);
    });

    it('holds no longer than maxHoldMs after the first item came in, nor past maxItems', async () => {
      const flushes: number[][] = [];
      const batch = new Batch<number, number>(async (items) => (flushes.push(items), items), {
        windowMs: 10,
        maxItems: 3,
        holdWhile: () => true,
        maxHoldMs: 1_000,
      });
      void batch.add(1);
      await jest.advanceTimersByTimeAsync(990);
      expect(flushes).toEqual([]);
      await jest.advanceTimersByTimeAsync(20);
      expect(flushes).toEqual([[1]]);
      void batch.add(2);
      void batch.add(3);
      void batch.add(4);
      expect(flushes).toEqual([[1], [2, 3, 4]]);
    });
  });
});
