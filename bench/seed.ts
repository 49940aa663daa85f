import { join } from 'node:path';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { appendAudit } from '../src/core/audit';
import { inTransaction, openDb, type Db } from '../src/store/db';

export interface TempDb {
  db: Db;
  file: string;
  cleanup: () => void;
}

/** A fresh database in a temp folder or, with `template`, a copy of that (closed) file. */
export function tempDb(template?: string): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'hallpass-bench-'));
  const file = join(dir, 'bench.db');
  if (template) copyFileSync(template, file);
  const db = openDb(file);
  return {
    db,
    file,
    cleanup: () => {
      if (db.$client.open) db.$client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Seeds a database once, to be copied for every round: folds the WAL in and closes it. */
export function template(seed: (db: Db) => void): { file: string; cleanup: () => void } {
  const { db, file, cleanup } = tempDb();
  seed(db);
  db.$client.pragma('wal_checkpoint(TRUNCATE)');
  db.$client.close();
  return { file, cleanup };
}

const ACTIONS = [
  'request.created',
  'approval.recorded',
  'request.approved',
  'grant.created',
  'grant.activated',
  'grant.revoke_requested',
  'grant.revoked',
] as const;

/** Appends `count` realistic events spread evenly over [from, to), 1,000 per transaction. */
export function seedAudit(db: Db, count: number, from: number, to: number): void {
  const step = (to - from) / count;
  for (let done = 0; done < count;) {
    const batch = Math.min(1000, count - done);
    inTransaction(db, () => {
      for (let i = 0; i < batch; i++) {
        const n = done + i;
        appendAudit(db, Math.floor(from + n * step), {
          actor: `U${String(n % 500).padStart(8, '0')}`,
          action: ACTIONS[n % ACTIONS.length]!,
          requestId: `req_${Math.floor(n / 7)}`,
          grantId: n % 7 >= 3 ? `gr_${Math.floor(n / 7)}` : null,
          details: {
            resourceId: `res-${n % 40}`,
            durationMs: 3_600_000,
            justification: 'investigating a production incident',
          },
        });
      }
    });
    done += batch;
  }
}

export interface GrantSeed {
  count: number;
  /** The time of seeding: grants started an hour before it. */
  now: number;
  expiresAt(i: number): number;
  /** Whether the holder was warned already (a warning is due 10 minutes before the end). */
  warned(i: number): boolean;
  resourceId?: string;
  provider?: string;
}

/**
 * Inserts active grants (and their approved requests) straight into the tables: the bench
 * measures the sweeper, not the request path.
 */
export function seedGrants(db: Db, seed: GrantSeed): void {
  const { count, now, resourceId = 'auto', provider = 'hook' } = seed;
  const insertRequest = db.$client.prepare(
    `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status, approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', ?, ?, 3600000, 'benchmark seed request', 'approved', 0, 1, ?, ?, ?, 'hallpass')`,
  );
  const insertGrant = db.$client.prepare(
    `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms, starts_at, expires_at, provider_expires_at, next_attempt_at, warned_at, attempts, created_at)
     VALUES (?, ?, ?, ?, ?, 'active', 3600000, ?, ?, ?, ?, ?, 0, ?)`,
  );
  inTransaction(db, () => {
    for (let i = 0; i < count; i++) {
      const expiresAt = seed.expiresAt(i);
      const user = `UB${String(i).padStart(9, '0')}`;
      insertRequest.run(`req_b${i}`, user, resourceId, now - 3_600_000, now, now - 3_600_000);
      insertGrant.run(
        `gr_b${i}`,
        `req_b${i}`,
        user,
        resourceId,
        provider,
        expiresAt - 3_600_000,
        expiresAt,
        expiresAt,
        expiresAt,
        seed.warned(i) ? now : null,
        now - 3_600_000,
      );
    }
  });
}

/** `count` active grants, the first `expired` of them past their end, the rest a day or more away. */
export function seedMostlyUnexpired(db: Db, count: number, expired: number, now: number): void {
  seedGrants(db, {
    count,
    now,
    expiresAt: (i) => (i < expired ? now - 1000 : now + 86_400_000 + i),
    warned: (i) => i < expired,
  });
}
