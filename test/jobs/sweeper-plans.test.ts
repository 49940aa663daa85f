import { StaticDirectory } from '../../src/core/directory';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

/**
 * Every query a sweeper pass and its wake-up make must find its rows through an index: with
 * 100,000 active grants a scan of the table costs more than the whole idle pass may.
 */
describe('sweeper queries', () => {
  it('read grants and requests through indexes only, never by scanning the table', async () => {
    const h = coreHarness();
    const seen = new Set<string>();
    const prepare = h.db.$client.prepare.bind(h.db.$client);
    h.db.$client.prepare = ((source: string) => {
      seen.add(source);
      return prepare(source);
    }) as typeof h.db.$client.prepare;
    const sweeper = new Sweeper({
      core: h.core,
      providers: lookupOf({ hook: new RecordingProvider() }),
      directory: new StaticDirectory(),
      sealer: new Sealer('test-sealing-secret'),
      logger,
      timers: { setTimeout: () => 0, clearTimeout: () => undefined },
    });
    try {
      for (const user of ['UA', 'UB'])
        await h.core.createRequest({
          requester: user,
          resourceId: 'auto',
          duration: '30m',
          justification: 'investigating INC-42 slow queries',
        });
      await sweeper.start();
      h.clock.advance(25 * 60_000);
      await sweeper.tick();
      h.clock.advance(5 * 60_000);
      await sweeper.tick();

      const reads = [...seen].filter(
        (sql) => /^\s*select\b/i.test(sql) && /\b(grants|requests)\b/.test(sql),
      );
      expect(reads.length).toBeGreaterThanOrEqual(8);
      for (const sql of reads) {
        const params = Array.from(sql.matchAll(/\?/g), () => 0);
        const plan = (
          prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]
        ).map((step) => step.detail);
        const scans = plan.filter((step) => /^SCAN (grants|requests)$/.test(step));
        expect({ sql, scans }).toEqual({ sql, scans: [] });
      }
    } finally {
      await sweeper.stop();
      h.close();
    }
  });
});
