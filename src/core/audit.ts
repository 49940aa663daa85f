import { availableParallelism } from 'node:os';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db';
import { verifyInParallel } from './audit-parallel';
import {
  ChainWalk,
  GENESIS_HASH,
  hashContent,
  SELECT_EVENTS_PAGE,
  walkRange,
  type ChainAnchor,
  type ChainReport,
} from './audit-walk';
import { canonicalJson } from './canonical-json';

export { GENESIS_HASH, type ChainAnchor, type ChainReport };

/** Every action the audit log knows; a new one is added here first. */
export const AUDIT_ACTIONS = [
  'request.created',
  'approval.recorded',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'grant.created',
  'grant.activation_failed_attempt',
  'grant.activated',
  'grant.failed',
  'grant.extended',
  'grant.synced',
  'grant.expiry_warned',
  'grant.revoke_requested',
  'grant.revoke_failed_attempt',
  'grant.revoke_alerted',
  'grant.revoked',
  'provider.called',
  'notification.failed',
  'digest.queued',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditInput {
  actor: string;
  action: AuditAction;
  requestId?: string | null;
  grantId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  requestId: string | null;
  grantId: string | null;
  details: string;
  prevHash: string;
  hash: string;
}

// Keys that hold secrets; `credentialsIssued` (a flag) is not one of them.
const SECRET_KEY_RE = /passw(or)?d|secret|token|^credentials?$|private.?key|api.?key/i;

/** Audit details never carry secrets, whatever a caller passes in. */
export function scrubSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(scrubSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SECRET_KEY_RE.test(k) ? '[redacted]' : scrubSecrets(v),
      ]),
    );
  }
  return value;
}

/**
 * SHA-256 over the previous hash and the row's content as a JSON array in a fixed field order
 * (details is already canonical JSON), so the same content always hashes the same.
 */
export function hashEvent(prevHash: string, row: Omit<AuditRow, 'prevHash' | 'hash'>): string {
  return hashContent(
    prevHash,
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.requestId,
    row.grantId,
    row.details,
  );
}

interface AuditStatements {
  head: Statement<[], [seq: number, hash: string] | undefined>;
  insert: Statement<
    [number, number, string, string, string | null, string | null, string, string, string]
  >;
}
const statements = new WeakMap<Db, AuditStatements>();

function prepared(db: Db): AuditStatements {
  let found = statements.get(db);
  if (!found) {
    found = {
      head: db.$client
        .prepare<[], [number, string]>(
          'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
        )
        .raw(),
      insert: db.$client.prepare(
        `INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
    statements.set(db, found);
  }
  return found;
}

/**
 * Appends one event to the chain. Call inside the transaction of the change it records. The head
 * is read each time, never cached: another process (the CLI) may append between transactions.
 */
export function appendAudit(db: Db, at: number, input: AuditInput): AuditRow {
  const { head, insert } = prepared(db);
  const [lastSeq, prevHash] = head.get() ?? [0, GENESIS_HASH];
  const seq = lastSeq + 1;
  const requestId = input.requestId ?? null;
  const grantId = input.grantId ?? null;
  const details = canonicalJson(scrubSecrets(input.details ?? {}));
  const hash = hashContent(
    prevHash,
    seq,
    at,
    input.actor,
    input.action,
    requestId,
    grantId,
    details,
  );
  insert.run(seq, at, input.actor, input.action, requestId, grantId, details, prevHash, hash);
  return {
    seq,
    at,
    actor: input.actor,
    action: input.action,
    requestId,
    grantId,
    details,
    prevHash,
    hash,
  };
}

/** How a verification may use worker threads; the defaults suit a real chain. */
export interface VerifyOptions {
  /** Threads walking ranges at once; 1 walks in order on this thread. Default: the cores, up to 4. */
  workers?: number;
  /** Rows below which the walk stays on this thread (starting workers costs ~50 ms). */
  parallelFromRows?: number;
  /** Rows per range handed to a worker. */
  rangeRows?: number;
}

const PROGRESS_EVERY = 100_000;
const DEFAULTS: Required<VerifyOptions> = {
  workers: Math.min(4, availableParallelism()),
  parallelFromRows: 200_000,
  rangeRows: 50_000,
};

/** Calls `onProgress` with each multiple of PROGRESS_EVERY rows verified, once each, in order. */
function progressTo(onProgress?: (checked: number) => void): (verified: number) => void {
  let next = PROGRESS_EVERY;
  return (verified) => {
    for (; onProgress && next <= verified; next += PROGRESS_EVERY) onProgress(next);
  };
}

/**
 * Walks the chain in order and names the first row that does not match: the whole chain, or the
 * rows after `from` (which the caller has checked is still there with that hash). A long chain
 * is walked by worker threads over seq ranges, joined in order here: the report is the same.
 * Reads from one snapshot (inside the caller's transaction, if there is one). The workers read
 * what is committed; when the caller's own transaction appended rows (the only change the app
 * makes to audit_events) they see fewer rows, and the walk is made here instead.
 */
export function verifyChain(
  db: Db,
  onProgress?: (checked: number) => void,
  from?: ChainAnchor,
  options: VerifyOptions = {},
): ChainReport {
  const { workers, parallelFromRows, rangeRows } = { ...DEFAULTS, ...options };
  const start = from ?? { seq: 0, hash: GENESIS_HASH };
  const progress = progressTo(onProgress);
  return db.$client
    .transaction((): ChainReport => {
      const head = db.$client.prepare('SELECT max(seq) FROM audit_events').pluck().get() as
        number | null;
      if (head === null || head <= start.seq) return { checked: 0, intact: true };
      if (workers > 1 && head - start.seq >= parallelFromRows && !db.$client.memory) {
        const plan = { file: db.$client.name, start, head, workers, rangeRows };
        const report = verifyInParallel(plan, progress);
        if (report) return report;
      }
      const walk = new ChainWalk(start);
      walkRange(db.$client.prepare(SELECT_EVENTS_PAGE), walk, start.seq, head, () =>
        progress(walk.checked),
      );
      return walk.report();
    })
    .deferred();
}
