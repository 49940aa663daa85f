import { StaticDirectory } from '../../src/core/directory';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness } from '../support/core';
import { plan, recordStatements } from '../support/plans';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';

/** A step that reads the whole table rather than finding rows through an index. */
const TABLE_SCAN: Record<StoreKind, RegExp> = {
  sqlite: /^SCAN (grants|requests)$/,
  postgres: /Seq Scan on (grants|requests)\b/,
};

/**
 * Every query a sweeper pass and its wake-up make must find its rows through an index: with
 * 100,000 active grants a scan of the table costs more than the whole idle pass may.
 */
describe.each(STORE_KINDS)('sweeper queries (%s)', (kind) => {
  it('read grants and requests through indexes only, never by scanning the table', async () => {
    const h = await coreHarness(BASE_CONFIG, undefined, kind);
    // PostgreSQL scans a table this small whatever its indexes; forbidding scans shows whether
    // an index could serve the query at all (it scans anyway when none can).
    if (kind === 'postgres') await h.sql.run('SET enable_seqscan = off');
    const sweeper = new Sweeper({
      core: h.core,
      providers: lookupOf({ hook: new RecordingProvider() }),
      directory: new StaticDirectory(),
      sealer: new Sealer('test-sealing-secret'),
      logger,
      timers: { setTimeout: () => 0, clearTimeout: () => undefined },
    });
    const statements = recordStatements();
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
      statements.stop();

      const reads = [...statements.seen].filter(
        ([sql]) => /^\s*select\b/i.test(sql) && /\b(grants|requests)\b/.test(sql),
      );
      expect(reads.length).toBeGreaterThanOrEqual(8);
      for (const [sql, params] of reads) {
        const scans = (await plan(h, kind, sql, params)).filter((step) =>
          TABLE_SCAN[kind].test(step),
        );
        expect({ sql, scans }).toEqual({ sql, scans: [] });
      }
    } finally {
      statements.stop();
      await sweeper.stop();
      await h.close();
    }
  });
});
