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

const NOW = Date.UTC(2026, 10, 2, 12);
const CONCURRENCY = 16;

/** A provider that answers at once, so the sweeper's own cost is what gets measured. */
const instant: Provider = {
  guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'per-grant' },
  grant: async () => ({}),
  revoke: async () => undefined,
};

function sweeperOn(store: Store): Sweeper {
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
 * What revoking must write, with bare prepared statements and nothing else, in the transactions
 * the sweeper uses: per due batch, one transaction moving each grant to `revoking` with its audit
 * row, then (once the provider calls are done) one marking each `revoked` with its audit row and
 * two outbox rows. The audit rows carry ready-made hashes: no chain.
 */
function revokeFloor(c: Database.Database, dueBatch: number): number {
  const due = c
    .prepare(
      "SELECT * FROM grants WHERE status in ('activating', 'active', 'revoking') AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
    )
    .raw();
  const byId = c.prepare('SELECT * FROM grants WHERE id = ?').raw();
  const head = c.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').raw();
  const expire = c.prepare(
    "UPDATE grants SET status = 'revoking', end_reason = 'expired', ended_by = 'hallpass', next_attempt_at = ?, attempts = 0 WHERE id = ?",
  );
  const end = c.prepare(
    "UPDATE grants SET status = 'revoked', ended_at = ?, next_attempt_at = NULL, last_error = NULL WHERE id = ?",
  );
  const audit = c.prepare(
    `INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, 'hallpass', ?, ?, ?, ?, ?, ?)`,
  );
  const outbox = c.prepare(
    `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT(key) DO NOTHING`,
  );
  const hash = 'f'.repeat(64);
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
        appendRow(
          'grant.revoke_requested',
          row[1]!,
          id!,
          '{"expiresAt":1,"lagMs":1000,"reason":"expired"}',
        );
      }
    });
    inTransaction(c, () => {
      for (const [id] of batch) {
        const row = byId.get(id) as string[];
        const requestId = row[1]!;
        end.run(NOW, id);
        appendRow(
          'grant.revoked',
          requestId,
          id!,
          '{"attempts":1,"checked":false,"elapsedMs":0,"endedBy":"hallpass","overrunMs":1000,"providerCall":"revoke","reason":"expired"}',
        );
        const approver = JSON.stringify({ topic: 'approver_message', requestId });
        outbox.run(
          `approver_message:${requestId}:x`,
          requestId,
          'approver_message',
          approver,
          NOW,
          NOW,
        );
        const dm = JSON.stringify({
          topic: 'requester_dm',
          userId: row[2],
          event: 'grant.ended',
          requestId,
          grantId: id,
        });
        outbox.run(`grant.ended:${id}:dm`, requestId, 'requester_dm', dm, NOW, NOW);
        revoked++;
      }
    });
  }
}

async function revokeRow(active: number, expired: number, rounds: number): Promise<Row> {
  const seeded = await template((raw) => seedMostlyUnexpired(raw, active, expired, NOW));
  try {
    const onCopy = async <T>(
      run: (copy: ReturnType<typeof tempDb>) => T | Promise<T>,
    ): Promise<T> => {
      const copy = tempDb(seeded.file);
      try {
        return await run(copy);
      } finally {
        await copy.cleanup();
      }
    };
    const { value, floor } = await sideBySide(
      rounds,
      () =>
        onCopy(async ({ store, raw }) => {
          const ms = await timedAsync(() => sweeperOn(store).tick());
          if (revokedCount(raw) !== expired) throw new Error('every expired grant must be revoked');
          return ms;
        }),
      () =>
        onCopy(({ raw }) => {
          let revoked = 0;
          const ms = timed(() => (revoked = revokeFloor(raw, CONCURRENCY * 8)));
          if (revoked !== expired) throw new Error('the floor must revoke every expired grant');
          return ms;
        }),
    );
    return {
      bench: 'sweeper',
      figure: `revoke ${fmt(expired)} expired of ${fmt(active)} active (concurrency ${CONCURRENCY}, instant provider)`,
      value: `${fmt(value)} ms (${fmt((expired / value) * 1000)} grants/s)`,
      floor: `${fmt(floor)} ms (the same rows and transactions, bare statements)`,
      ratio: `${fmt((floor / value) * 100)}%`,
      target: '—',
      met: null,
    };
  } finally {
    seeded.cleanup();
  }
}

/**
 * The least an idle pass can do: the same indexed probes (stale requests, due grants, warnings,
 * syncs, and the three next-wake minimums) as bare prepared statements.
 */
function idleProbes(raw: Database.Database): () => void {
  const probes = [
    "SELECT id FROM requests WHERE status = 'pending' AND pending_until <= ? LIMIT 500",
    "SELECT * FROM grants WHERE status in ('activating', 'active', 'revoking') AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 128",
    "SELECT * FROM grants WHERE status = 'active' AND warned_at IS NULL AND expires_at <= ? + 600000 AND expires_at > ? LIMIT 500",
    "SELECT * FROM grants WHERE status = 'active' AND provider_expires_at < expires_at LIMIT 100",
    "SELECT min(next_attempt_at) FROM grants WHERE status in ('activating', 'active', 'revoking')",
    "SELECT min(expires_at) FROM grants WHERE status = 'active' AND warned_at IS NULL",
    "SELECT min(pending_until) FROM requests WHERE status = 'pending'",
  ].map((sql) => {
    const statement = raw.prepare(sql);
    const params = (sql.match(/\?/g) ?? []).map(() => NOW);
    return () => statement.all(...params);
  });
  return () => probes.forEach((probe) => probe());
}

async function idleRow(active: number, ticks: number): Promise<Row> {
  const { store, raw, cleanup } = tempDb();
  try {
    seedMostlyUnexpired(raw, active, 0, NOW);
    const sweeper = sweeperOn(store);
    await sweeper.start();
    try {
      const probes = idleProbes(raw);
      const values: number[] = [];
      const floors: number[] = [];
      for (let i = 0; i < ticks; i++) {
        values.push(await timedAsync(() => sweeper.tick()));
        floors.push(timed(probes));
      }
      const value = median(values);
      const floor = median(floors);
      return {
        bench: 'sweeper',
        figure: `idle tick, ${fmt(active)} active unexpired grants (median of ${ticks})`,
        value: `${fmt(value, 2)} ms`,
        floor: `${fmt(floor, 2)} ms (the same 7 indexed probes, bare statements)`,
        ratio: `${fmt((floor / value) * 100)}%`,
        target: '< 5 ms',
        met: value < 5,
      };
    } finally {
      await sweeper.stop();
    }
  } finally {
    await cleanup();
  }
}

export async function sweeperBench(options: {
  active: number;
  expired: number;
  rounds: number;
  /** Active grants of each idle-tick row: how an idle pass grows with the grants it watches. */
  idleSizes: readonly number[];
}): Promise<Row[]> {
  const rows = [await revokeRow(options.active, options.expired, options.rounds)];
  for (const active of options.idleSizes) rows.push(await idleRow(active, 50));
  return rows;
}
