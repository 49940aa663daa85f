import type { Statement } from 'better-sqlite3';
import { ChainWalk, type RawEvent } from '../../chain/walk';

/**
 * A page of the rows with after < seq <= upTo, in seq order. Paging goes by the last seq read,
 * not by seq values, so a forged huge seq cannot make a walk step through empty ranges.
 */
export const SELECT_EVENTS_PAGE =
  'SELECT seq, at, actor, action, request_id, grant_id, details, prev_hash, hash FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?';
export const PAGE_ROWS = 5_000;

/**
 * Feeds the rows with after < seq <= upTo to `walk`, a page at a time (one `all()` per page is
 * cheaper than stepping an iterator row by row). False once a row is broken.
 */
export function walkRange(
  selectPage: Statement,
  walk: ChainWalk,
  after: number,
  upTo: number,
  onPage?: () => void,
): boolean {
  for (let from = after; ;) {
    const rows = selectPage.raw().all(from, upTo, PAGE_ROWS) as RawEvent[];
    if (rows.length === 0) return true;
    if (!walk.feed(rows)) return false;
    onPage?.();
    if (rows.length < PAGE_ROWS) return true;
    from = rows[rows.length - 1]![0];
  }
}
