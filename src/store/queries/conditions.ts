/**
 * Conditions written with literal values, matching the WHERE clauses of the partial indexes in
 * the schemas. SQLite only uses a partial index when it can prove the query implies the index's
 * condition, which it cannot do through a bound parameter; PostgreSQL plans them the same way.
 */
export const GRANT_IN_FLIGHT = "status in ('activating', 'active', 'revoking')";
export const GRANT_ACTIVE_UNWARNED = "status = 'active' and warned_at is null";
export const GRANT_ACTIVE_UNSYNCED = "status = 'active' and provider_expires_at < expires_at";
export const REQUEST_PENDING = "status = 'pending'";
export const OUTBOX_PENDING = "status = 'pending'";
export const OUTBOX_DEAD = "status = 'dead'";
