import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import { Sweeper } from '../src/jobs/sweeper';
import { logger } from '../src/log';
import type { Provider } from '../src/providers/types';
import { Sealer } from '../src/secrets/seal';
import type Database from 'better-sqlite3';
import type { Store } from '../src/store';
import { median, sideBySide, timed, timedAsync } from './measure';
import { fmt, type Row } from './report';
import { inTransaction, seedMostlyUnexpired, tempDb, template } from './seed';

export const BENCH_CONFIG = `
requests: { approverChannel: CBENCH }
sweeper: { concurrency: 16 }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value }
resources:
  - id: auto
    name: Auto
    provider: hook
    maxDuration: 4h
    approvalsRequired: 0
`;

export const NOW = Date.UTC(2026, 10, 2, 12);
export const CONCURRENCY = 16;

/** A provider that answers at once, so the sweeper's own cost is what gets measured. */
const instant: Provider = {
  guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'per-grant' },
  grant: async () => ({}),
  revoke: async () => undefined,
};

export function sweeperOn(store: Store): Sweeper {
  const core = new Core({
    store,
    clock: new ManualClock(NOW),
    config: parseConfig(BENCH_CONFIG, {}),
    directory: new StaticDirectory(),
  });
  return new Sweeper({
    core,
    providers: { get: () => ({ provider: instant, timeoutMs: 10_000 }) },
    directory: new StaticDirectory(),
    sealer: new Sealer('bench'),
    logger,
    timers: { setTimeout: () => 0, clearTimeout: () => undefined },
  });
}

function revokedCount(raw: Database.Database): number {
  return raw
    .prepare("SELECT count(*) FROM grants WHERE status = 'revoked'")
    .pluck()
    .get() as number;
}

/**
 * The statements of the revoke floor, in the SQL both databases take. Per due batch: one
 * transaction moving each grant to `revoking` with its audit row, then (once the provider calls
 * are done) one marking each `revoked` with its audit row and two outbox rows. The audit rows
 * carry ready-made hashes: no chain.
 */
export const REVOKE_FLOOR = {
  due: "SELECT * FROM grants WHERE status in ('activating', 'active', 'revoking') AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
  byId: 'SELECT * FROM grants WHERE id = ?',
  head: 'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
  expire:
    "UPDATE grants SET status = 'revoking', end_reason = 'expired', ended_by = 'hallpass', next_attempt_at = ?, attempts = 0 WHERE id = ?",
  end: "UPDATE grants SET status = 'revoked', ended_at = ?, next_attempt_at = NULL, last_error = NULL WHERE id = ?",
  audit: `INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, 'hallpass', ?, ?, ?, ?, ?, ?)`,
  outbox: `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT(key) DO NOTHING`,
  hash: 'f'.repeat(64),
  requestedDetails: '{"expiresAt":1,"lagMs":1000,"reason":"expired"}',
  revokedDetails:
    '{"attempts":1,"checked":false,"elapsedMs":0,"endedBy":"hallpass","overrunMs":1000,"providerCall":"revoke","reason":"expired"}',
} as const;

/** The outbox rows a confirmed revoke queues: the approver message's edit and the holder's DM. */
export function revokeFloorOutbox(
  requestId: string,
  grantId: string,
  userId: string,
): [key: string, subject: string, topic: string, payload: string][] {
  const approver = JSON.stringify({ topic: 'approver_message', requestId });
  const dm = JSON.stringify({
    topic: 'requester_dm',
    userId,
    event: 'grant.ended',
    requestId,
    grantId,
  });
  return [
    [`approver_message:${requestId}:x`, requestId, 'approver_message', approver],
    [`grant.ended:${grantId}:dm`, requestId, 'requester_dm', dm],
  ];
}

/** What revoking must write (REVOKE_FLOOR), with bare prepared statements and nothing else. */
function revokeFloor(c: Database.Database, dueBatch: number): number {
  const due = c.prepare(REVOKE_FLOOR.due).raw();
  const byId = c.prepare(REVOKE_FLOOR.byId).raw();
  const head = c.prepare(REVOKE_FLOOR.head).raw();
  const expire = c.prepare(REVOKE_FLOOR.expire);
  const end = c.prepare(REVOKE_FLOOR.end);
  const audit = c.prepare(REVOKE_FLOOR.audit);
  const outbox = c.prepare(REVOKE_FLOOR.outbox);
  const hash = REVOKE_FLOOR.hash;
  const appendRow = (action: string, requestId: string, grantId: string, details: string) => {
    const last = head.get() as [number, string] | undefined;
    audit.run((last?.[0] ?? 0) + 1, NOW, action, requestId, grantId, details, hash, hash);
  };
  let revoked = 0;
  for (;;) {
    const batch = due.all(NOW, dueBatch) as string[][];
    if (batch.length === 0) return revoked;
    inTransaction(c, () => {
      for (const [id] of batch) {
        const row = byId.get(id) as string[];
        expire.run(NOW, id);
        appendRow('grant.revoke_requested', row[1]!, id!, REVOKE_FLOOR.requestedDetails);
      }
    });
    inTransaction(c, () => {
      for (const [id] of batch) {
        const row = byId.get(id) as string[];
        const requestId = row[1]!;
        end.run(NOW, id);
        appendRow('grant.revoked', requestId, id!, REVOKE_FLOOR.revokedDetails);
        for (const queued of revokeFloorOutbox(requestId, id!, row[2]!))
          outbox.run(...queued, NOW, NOW);
        revoked++;
      }
    });
  }
}

/** One round's database: a fresh copy of the seeded one, the store on it and the floor's way in. */
export interface SweepCopy {
  store: Store;
  revoked(): number | Promise<number>;
  /** Revokes every due grant as REVOKE_FLOOR does: how many, and how long it took (ms). */
  floor(
    dueBatch: number,
  ): { revoked: number; ms: number } | Promise<{ revoked: number; ms: number }>;
  cleanup(): Promise<void>;
}

/** Where the sweeper is measured, made from the seeded SQLite file. */
export interface SweepSide {
  bench: string;
  copy(): Promise<SweepCopy>;
  cleanup(): Promise<void>;
}

/** The embedded store: each round on a copy of the seeded SQLite file. */
async function sqliteSweep(seeded: string): Promise<SweepSide> {
  return {
    bench: 'sweeper',
    async copy() {
      const { store, raw, cleanup } = tempDb(seeded);
      return {
        store,
        revoked: () => revokedCount(raw),
        floor: (dueBatch) => {
          let revoked = 0;
          const ms = timed(() => (revoked = revokeFloor(raw, dueBatch)));
          return { revoked, ms };
        },
        cleanup,
      };
    },
    cleanup: async () => undefined,
  };
}

/**
 * `expired` of `active` grants past their end, revoked by one sweeper pass with an instant
 * provider, against the floor; each round on a fresh copy of the same seeded database, on the
 * store `on` makes of it (by default a SQLite file).
 */
export async function revokeRow(
  active: number,
  expired: number,
  rounds: number,
  on: (seeded: string) => Promise<SweepSide> = sqliteSweep,
): Promise<Row> {
  const seeded = await template((raw) => seedMostlyUnexpired(raw, active, expired, NOW));
  try {
    const side = await on(seeded.file);
    const onCopy = async <T>(run: (copy: SweepCopy) => Promise<T>): Promise<T> => {
      const copy = await side.copy();
      try {
        return await run(copy);
      } finally {
        await copy.cleanup();
      }
    };
    try {
      const { value, floor } = await sideBySide(
        rounds,
        () =>
          onCopy(async (copy) => {
            const ms = await timedAsync(() => sweeperOn(copy.store).tick());
            if ((await copy.revoked()) !== expired)
              throw new Error('every expired grant must be revoked');
            return ms;
          }),
        () =>
          onCopy(async (copy) => {
            const { revoked, ms } = await copy.floor(CONCURRENCY * 8);
            if (revoked !== expired) throw new Error('the floor must revoke every expired grant');
            return ms;
          }),
      );
      return {
        bench: side.bench,
        figure: `revoke ${fmt(expired)} expired of ${fmt(active)} active (concurrency ${CONCURRENCY}, instant provider)`,
        value: `${fmt(value)} ms (${fmt((expired / value) * 1000)} grants/s)`,
        floor: `${fmt(floor)} ms (the same rows and transactions, bare statements)`,
        ratio: `${fmt((floor / value) * 100)}%`,
        target: '—',
        met: null,
      };
    } finally {
      await side.cleanup();
    }
  } finally {
    seeded.cleanup();
  }
}

/**
 * The least an idle pass can do: the same indexed probes (stale requests, due grants, warnings,
 * syncs, and the three next-wake minimums), in the SQL both databases take, with their values.
 */
export const IDLE_PROBES: readonly { sql: string; params: readonly number[] }[] = [
  {
    sql: "SELECT id FROM requests WHERE status = 'pending' AND pending_until <= ? LIMIT 500",
    params: [NOW],
  },
  {
    sql: "SELECT * FROM grants WHERE status in ('activating', 'active', 'revoking') AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 128",
    params: [NOW],
  },
  {
    // A warning is due 10 minutes before the end. The bound is passed computed, as the sweeper
    // passes it: PostgreSQL would type `? + 600000` as an integer, too small for a time in ms.
    sql: "SELECT * FROM grants WHERE status = 'active' AND warned_at IS NULL AND expires_at <= ? AND expires_at > ? LIMIT 500",
    params: [NOW + 600_000, NOW],
  },
  {
    sql: "SELECT * FROM grants WHERE status = 'active' AND provider_expires_at < expires_at ORDER BY id LIMIT 100",
    params: [],
  },
  {
    sql: "SELECT min(next_attempt_at) FROM grants WHERE status in ('activating', 'active', 'revoking')",
    params: [],
  },
  {
    sql: "SELECT min(expires_at) FROM grants WHERE status = 'active' AND warned_at IS NULL",
    params: [],
  },
  { sql: "SELECT min(pending_until) FROM requests WHERE status = 'pending'", params: [] },
];

/** The idle-tick rows' sizes, in the SQLite step and on PostgreSQL alike. */
export const IDLE_SIZES = (quick: boolean): readonly number[] =>
  quick ? [1_000, 10_000, 100_000] : [10_000, 100_000, 1_000_000];

/** Ticks of each idle-tick row, each followed by the floor's probes. */
const IDLE_TICKS = 50;

/** An idle pass's database: the store on it, and the floor (IDLE_PROBES once each, in ms). */
export interface IdleDb {
  store: Store;
  probesMs(): number | Promise<number>;
  cleanup(): Promise<void>;
}

/** Where idle passes are measured: a database made by `seed` on a bare SQLite connection. */
export interface IdleSide {
  bench: string;
  open(seed: (raw: Database.Database) => void): Promise<IdleDb>;
}

/** The embedded store: the probes as bare prepared statements on the seeded file. */
const sqliteIdle: IdleSide = {
  bench: 'sweeper',
  async open(seed) {
    const { store, raw, cleanup } = tempDb();
    try {
      seed(raw);
    } catch (err) {
      await cleanup();
      throw err;
    }
    const probes = IDLE_PROBES.map(({ sql, params }) => {
      const statement = raw.prepare(sql);
      return () => statement.all(...params);
    });
    return { store, probesMs: () => timed(() => probes.forEach((probe) => probe())), cleanup };
  },
};

/**
 * An idle pass over `active` unexpired grants, against the floor's probes: interleaved in a
 * fixed order, IDLE_TICKS times (medians), on the store `on` opens (by default a SQLite file).
 */
async function idleRow(active: number, on: IdleSide): Promise<Row> {
  const db = await on.open((raw) => seedMostlyUnexpired(raw, active, 0, NOW));
  try {
    const sweeper = sweeperOn(db.store);
    await sweeper.start();
    try {
      const values: number[] = [];
      const floors: number[] = [];
      for (let i = 0; i < IDLE_TICKS; i++) {
        values.push(await timedAsync(() => sweeper.tick()));
        floors.push(await db.probesMs());
      }
      const value = median(values);
      const floor = median(floors);
      return {
        bench: on.bench,
        figure: `idle tick, ${fmt(active)} active unexpired grants (median of ${IDLE_TICKS})`,
        value: `${fmt(value, 2)} ms`,
        floor: `${fmt(floor, 2)} ms (the same ${IDLE_PROBES.length} indexed probes, bare statements)`,
        ratio: `${fmt((floor / value) * 100)}%`,
        target: '< 5 ms',
        met: value < 5,
      };
    } finally {
      await sweeper.stop();
    }
  } finally {
    await db.cleanup();
  }
}

/** One idle-tick row for each size in `sizes`, in turn. */
export async function idleRows(
  sizes: readonly number[],
  on: IdleSide = sqliteIdle,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const active of sizes) rows.push(await idleRow(active, on));
  return rows;
}

export async function sweeperBench(options: {
  active: number;
  expired: number;
  rounds: number;
  /** Active grants of each idle-tick row: how an idle pass grows with the grants it watches. */
  idleSizes: readonly number[];
}): Promise<Row[]> {
  return [
    await revokeRow(options.active, options.expired, options.rounds),
    ...(await idleRows(options.idleSizes)),
  ];
}
