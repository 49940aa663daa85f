import { sql } from 'drizzle-orm';
import { grants, requests } from './schema';

/**
 * Conditions written with literal values, matching the WHERE clauses of the partial indexes in
 * the schema. SQLite only uses a partial index when it can prove the query implies the index's
 * condition, which it cannot do through a bound parameter.
 */
export const grantInFlight = sql`${grants.status} in ('activating', 'active', 'revoking')`;
export const grantActiveUnwarned = sql`${grants.status} = 'active' and ${grants.warnedAt} is null`;
export const grantActiveUnsynced = sql`${grants.status} = 'active' and ${grants.providerExpiresAt} < ${grants.expiresAt}`;
export const requestPending = sql`${requests.status} = 'pending'`;
