import { StaticDirectory } from '../../src/core/directory';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { PgRunner } from '../../src/store/postgres/runner';
import type { Param, Sql } from '../../src/store/sql';
import { SqliteRunner } from '../../src/store/sqlite/runner';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';

/** Every statement the store runs, with the values it ran with, from the moment this is called. */
function recordStatements(): { seen: Map<string, readonly Param[]>; stop(): void } {
  const seen = new Map<string, readonly Param[]>();
  const spies = [SqliteRunner.prototype, PgRunner.prototype].flatMap((runner) =>
    (['rows', 'arrays', 'run'] as const).map((method) => {
      const original = runner[method];
      return jest.spyOn(runner, method).mockImplementation(function (
        this: unknown,
        sql: Sql,
        params: readonly Param[] = [],
      ) {
        if (!seen.has(sql.text)) seen.set(sql.text, params);
        return (original as (sql: Sql, params?: readonly Param[]) => Promise<never>).call(
          this,
          sql,
          params,
        );
      });
    }),
  );
  return { seen, stop: () => spies.forEach((spy) => spy.mockRestore()) };
}

/** The steps of the plan `sql` gets, in each database's own words. */
async function plan(h: CoreHarness, kind: StoreKind, sql: string, params: readonly Param[]) {
  if (kind === 'sqlite') {
    const steps = await h.sql.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ...params);
    return steps.map((s) => s.detail);
  }
  const steps = await h.sql.all<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, ...params);
  return steps.map((s) => s['QUERY PLAN'].trim());
}

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
