import { dirname, join } from 'node:path';
import { closeSync, copyFileSync, fsyncSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { chainEvent, type AuditRow } from '../src/core/audit';
import { SqliteStore, type SqliteOptions } from '../src/store/sqlite/store';

/**
 * A migrated SQLite database in a temp folder: the store Hallpass uses, and a bare connection of
 * the bench's own for seeding and for the floors (the same work with bare statements).
 */
export interface TempDb {
  store: SqliteStore;
  raw: Database.Database;
  file: string;
  cleanup: () => Promise<void>;
}

/**
 * A fresh database in a temp folder or, with `template`, a copy of that (closed) file; the store
 * opened with `options`.
 */
export function tempDb(template?: string, options?: SqliteOptions): TempDb {
  const dir = mkdtempSync(join(tmpdir(), 'hallpass-bench-'));
  const file = join(dir, 'bench.db');
  if (template) copyDurably(template, file);
  const store = new SqliteStore(file, options);
  const raw = new Database(file);
  raw.pragma('busy_timeout = 5000');
  return {
    store,
    raw,
    file,
    cleanup: async () => {
      if (raw.open) raw.close();
      await store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Copies `from` to `to` and waits until the copy and its folder entry are on disk, as a deployed
 * database is. Left dirty, a large copy is written back inside the first fsync of the first
 * commit on it (ext4 flushes it with the new WAL's): 400 to 900 ms of a start-up at 3,000,000
 * events, and about 200 ms of the chain watch's first step at 1,000,000 (one-off observations in
 * docs/performance-journal.md), the bench's own copy rather than anything Hallpass does.
 */
export function copyDurably(from: string, to: string): void {
  copyFileSync(from, to);
  for (const path of [to, dirname(to)]) {
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
}

/** Runs `fn` in one `BEGIN IMMEDIATE` transaction on a bare connection. */
export function inTransaction<T>(raw: Database.Database, fn: () => T): T {
  return raw.transaction(fn).immediate();
}

/** Seeds a database once, to be copied for every round: folds the WAL in and closes it. */
export async function template(
  seed: (raw: Database.Database) => void,
): Promise<{ file: string; cleanup: () => void }> {
  const { raw, file, store } = tempDb();
  seed(raw);
  raw.pragma('wal_checkpoint(TRUNCATE)');
  raw.close();
  await store.close();
  const dir = join(file, '..');
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
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

/** The lifecycle (request, then its grant) that seeded event `n` belongs to: 7 events each. */
const lifecycleOf = (n: number) => Math.floor(n / ACTIONS.length);

/**
 * Appends `count` realistic events spread evenly over [from, to), chained as the core chains
 * them, 1,000 per transaction: lifecycles of a request filed, approved, its grant made, activated,
 * ended early by its holder and revoked. With `records`, each revoke's details say why and how it
 * ended, as the core records them, and every lifecycle's request and grant are in their tables
 * as it left them, so what reads the events beside those rows (the digest) finds them.
 */
export function seedAudit(
  raw: Database.Database,
  count: number,
  from: number,
  to: number,
  options: { records?: boolean } = {},
): void {
  const step = (to - from) / count;
  const atOf = (n: number) => Math.floor(from + n * step);
  const actorOf = (n: number) => `U${String(n % 500).padStart(8, '0')}`;
  const insert = raw.prepare(
    'INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  let head = raw.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as
    { seq: number; hash: string } | undefined;
  const append = (row: AuditRow) => {
    insert.run(
      row.seq,
      row.at,
      row.actor,
      row.action,
      row.requestId,
      row.grantId,
      row.details,
      row.prevHash,
      row.hash,
    );
    head = { seq: row.seq, hash: row.hash };
  };
  const requestDetails = (n: number) => ({
    resourceId: `res-${n % 40}`,
    durationMs: 3_600_000,
    justification: 'investigating a production incident',
  });
  const revoke = {
    reason: 'revoked_by_user',
    attempts: 1,
    providerCall: 'revoke',
    checked: true,
    elapsedMs: 40,
    overrunMs: 0,
  };
  for (let done = 0; done < count;) {
    const batch = Math.min(1000, count - done);
    inTransaction(raw, () => {
      for (let i = 0; i < batch; i++) {
        const n = done + i;
        const action = ACTIONS[n % ACTIONS.length]!;
        const k = lifecycleOf(n);
        append(
          chainEvent(head, atOf(n), {
            actor: actorOf(n),
            action,
            requestId: `req_${k}`,
            grantId: n % 7 >= 3 ? `gr_${k}` : null,
            details:
              options.records && action === 'grant.revoked'
                ? { ...revoke, endedBy: actorOf(n - 6) }
                : requestDetails(n),
          }),
        );
      }
    });
    done += batch;
  }
  if (options.records) seedLifecycleRecords(raw, count, atOf, actorOf);
}

/** The request, approval and grant rows of every lifecycle `seedAudit` began, as its events left them. */
function seedLifecycleRecords(
  raw: Database.Database,
  count: number,
  atOf: (n: number) => number,
  actorOf: (n: number) => string,
): void {
  const insertRequest = raw.prepare(
    `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status, approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', ?, ?, 3600000, 'investigating a production incident', 'approved', 1, 0, ?, ?, ?, ?)`,
  );
  const insertGrant = raw.prepare(
    `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms, starts_at, activated_at, expires_at, attempts, end_reason, ended_by, end_asked_at, ended_at, end_recorded_at, created_at)
     VALUES (?, ?, ?, ?, 'hook', 'revoked', 3600000, ?, ?, ?, 0, 'revoked_by_user', ?, ?, ?, ?, ?)`,
  );
  const insertApproval = raw.prepare(
    `INSERT INTO approvals (request_id, approver, decision, created_at) VALUES (?, ?, 'approve', ?)`,
  );
  const lifecycles = lifecycleOf(count - 1) + 1;
  for (let done = 0; done < lifecycles;) {
    const batch = Math.min(1000, lifecycles - done);
    inTransaction(raw, () => {
      for (let k = done; k < done + batch; k++) {
        const n = k * ACTIONS.length;
        const requester = actorOf(n);
        const resourceId = `res-${n % 40}`;
        const filed = atOf(n);
        insertRequest.run(
          `req_${k}`,
          requester,
          resourceId,
          filed,
          filed + 86_400_000,
          atOf(n + 2),
          actorOf(n + 1),
        );
        insertApproval.run(`req_${k}`, actorOf(n + 1), atOf(n + 1));
        // Lifecycles cut short by `count` still get their grant: its events are partly seeded.
        const activated = atOf(n + 4);
        insertGrant.run(
          `gr_${k}`,
          `req_${k}`,
          requester,
          resourceId,
          activated,
          activated,
          activated + 3_600_000,
          requester,
          atOf(n + 5),
          atOf(n + 6),
          atOf(n + 6),
          atOf(n + 3),
        );
      }
    });
    done += batch;
  }
}

/** The holder of seeded grant `i`, and the email the grant was given to. */
export const benchUser = (i: number) => `UB${String(i).padStart(9, '0')}`;
export const benchEmail = (i: number) => `ub${i}@example.com`;

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
export function seedGrants(raw: Database.Database, seed: GrantSeed): void {
  const { count, now, resourceId = 'auto', provider = 'hook' } = seed;
  const insertRequest = raw.prepare(
    `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status, approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', ?, ?, 3600000, 'benchmark seed request', 'approved', 0, 1, ?, ?, ?, 'hallpass')`,
  );
  const insertGrant = raw.prepare(
    `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms, starts_at, activated_at, expires_at, provider_expires_at, next_attempt_at, warned_at, attempts, created_at, snapshot, granted_email)
     VALUES (?, ?, ?, ?, ?, 'active', 3600000, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)`,
  );
  // The terms a grant records when it is made: every call on it reads them.
  const snapshot = JSON.stringify({
    provider,
    target: {},
    resourceName: resourceId,
    approverChannel: 'CBENCH',
    maxTotalDurationMs: 14_400_000,
    approvalsRequired: 0,
  });
  inTransaction(raw, () => {
    for (let i = 0; i < count; i++) {
      const expiresAt = seed.expiresAt(i);
      const user = benchUser(i);
      insertRequest.run(`req_b${i}`, user, resourceId, now - 3_600_000, now, now - 3_600_000);
      insertGrant.run(
        `gr_b${i}`,
        `req_b${i}`,
        user,
        resourceId,
        provider,
        expiresAt - 3_600_000,
        expiresAt - 3_600_000,
        expiresAt,
        expiresAt,
        expiresAt,
        seed.warned(i) ? now : null,
        now - 3_600_000,
        snapshot,
        benchEmail(i),
      );
    }
  });
}

/** `count` active grants, the first `expired` of them past their end, the rest a day or more away. */
export function seedMostlyUnexpired(
  raw: Database.Database,
  count: number,
  expired: number,
  now: number,
): void {
  seedGrants(raw, {
    count,
    now,
    expiresAt: (i) => (i < expired ? now - 1000 : now + 86_400_000 + i),
    warned: (i) => i < expired,
  });
}
