/**
 * PostgreSQL advisory locks Hallpass takes, as (namespace, key) pairs so they cannot collide
 * with another application's locks in the same database.
 */
const NAMESPACE = 0x48504153; // "HPAS"

export const LOCKS = {
  /** Held for the length of every state change: one change at a time, one audit chain. */
  change: [NAMESPACE, 1],
  /** Held by the one replica that runs the sweeper, for as long as its connection lives. */
  leader: [NAMESPACE, 2],
  /** Held while migrations run, so replicas starting together migrate once. */
  migrate: [NAMESPACE, 3],
} as const;
