import { and, desc, inArray, sql, type SQL } from 'drizzle-orm';
import type { GrantRow } from '../core/context';
import type { Db } from '../store/db';
import { grants } from '../store/schema';

/** Statuses in which a grant gives access, or is about to, or still has it until confirmed gone. */
export const LIVE_STATUSES = ['activating', 'active', 'revoking'] as const;

export interface GrantFilter {
  active?: boolean;
  users?: readonly string[];
  resources?: readonly string[];
  limit: number;
}

/** The newest grants matching `filter`, and how many match in all. */
export function listGrants(db: Db, filter: GrantFilter): { rows: GrantRow[]; total: number } {
  const conditions: SQL[] = [];
  if (filter.active) conditions.push(inArray(grants.status, [...LIVE_STATUSES]));
  if (filter.users?.length) conditions.push(inArray(grants.userId, [...filter.users]));
  if (filter.resources?.length) conditions.push(inArray(grants.resourceId, [...filter.resources]));
  const where = conditions.length > 0 ? and(...conditions) : undefined;
  const rows = db
    .select()
    .from(grants)
    .where(where)
    .orderBy(desc(grants.createdAt), desc(grants.id))
    .limit(filter.limit)
    .all();
  const total =
    rows.length < filter.limit
      ? rows.length
      : (db
          .select({ n: sql<number>`count(*)` })
          .from(grants)
          .where(where)
          .get()?.n ?? 0);
  return { rows, total };
}
