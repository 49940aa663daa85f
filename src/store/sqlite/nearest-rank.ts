import type Database from 'better-sqlite3';

/**
 * The nearest-rank percentile of ascending `sorted` values: the smallest value with at least
 * `p` percent of the values at or below it, i.e. the value at rank ceil(p/100 × n). It is always
 * one of the observed values (no interpolation); the median of an even count is the lower middle.
 * PostgreSQL's percentile_disc takes the same value.
 */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('no values');
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

interface Gathered {
  values: number[];
  percent: number;
}

/**
 * `nearest_rank(value, percent)`, the aggregate SQLite lacks (Dialect.nearestRank): the values
 * are gathered and sorted once, in this process, as PostgreSQL sorts them for percentile_disc.
 */
export function registerNearestRank(client: Database.Database): void {
  client.aggregate<Gathered>('nearest_rank', {
    // (value, percent): the typings allow one argument after the total, so the arity is not
    // read from `step` but left open.
    varargs: true,
    deterministic: true,
    start: () => ({ values: [], percent: 0 }),
    step: (total, ...[value, percent]: unknown[]) => {
      if (value === null) return;
      total.values.push(Number(value));
      total.percent = Number(percent);
    },
    result: (total) =>
      total.values.length === 0
        ? null
        : nearestRank(Float64Array.from(total.values).sort(), total.percent),
  });
}
