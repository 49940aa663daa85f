import { PgRunner } from '../../src/store/postgres/runner';
import type { Param, Sql } from '../../src/store/sql';
import { SqliteRunner } from '../../src/store/sqlite/runner';
import type { CoreHarness } from './core';
import type { StoreKind } from './stores';

/** Every statement the store runs, with the values it ran with, from the moment this is called. */
export function recordStatements(): { seen: Map<string, readonly Param[]>; stop(): void } {
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
export async function plan(h: CoreHarness, kind: StoreKind, sql: string, params: readonly Param[]) {
  if (kind === 'sqlite') {
    const steps = await h.sql.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ...params);
    return steps.map((s) => s.detail);
  }
  const steps = await h.sql.all<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, ...params);
  return steps.map((s) => s['QUERY PLAN'].trim());
}
