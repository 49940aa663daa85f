import { hash } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/db';
import { canonicalJson } from './canonical-json';

export const GENESIS_HASH = '0'.repeat(64);

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

const SECRET_KEY_RE = /pass(word)?|secret|token|credential|private.?key/i;

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
  const content = JSON.stringify([
    row.seq,
    row.at,
    row.actor,
    row.action,
    row.requestId,
    row.grantId,
    row.details,
  ]);
  return hash('sha256', `${prevHash}\n${content}`, 'hex');
}

interface AuditStatements {
  last: Statement<[], { seq: number; hash: string } | undefined>;
  insert: Statement<[AuditRow]>;
}
const statements = new WeakMap<Db, AuditStatements>();

function prepared(db: Db): AuditStatements {
  let found = statements.get(db);
  if (!found) {
    found = {
      last: db.$client.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1'),
      insert: db.$client.prepare(
        `INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash)
         VALUES (@seq, @at, @actor, @action, @requestId, @grantId, @details, @prevHash, @hash)`,
      ),
    };
    statements.set(db, found);
  }
  return found;
}

/** Appends one event to the chain. Call inside the transaction of the change it records. */
export function appendAudit(db: Db, at: number, input: AuditInput): AuditRow {
  const { last, insert } = prepared(db);
  const prev = last.get();
  const base = {
    seq: (prev?.seq ?? 0) + 1,
    at,
    actor: input.actor,
    action: input.action,
    requestId: input.requestId ?? null,
    grantId: input.grantId ?? null,
    details: canonicalJson(scrubSecrets(input.details ?? {})),
  };
  const prevHash = prev?.hash ?? GENESIS_HASH;
  const row: AuditRow = { ...base, prevHash, hash: hashEvent(prevHash, base) };
  insert.run(row);
  return row;
}

export interface ChainReport {
  checked: number;
  intact: boolean;
  firstBroken?: { seq: number; problem: string };
}

/** A row verified before: a walk may start after it instead of at the genesis. */
export interface ChainAnchor {
  seq: number;
  hash: string;
}

/**
 * Walks the chain in order and names the first row that does not match: the whole chain, or the
 * rows after `from` (which the caller has checked is still there with that hash).
 */
export function verifyChain(
  db: Db,
  onProgress?: (checked: number) => void,
  from?: ChainAnchor,
): ChainReport {
  const rows = db.$client
    .prepare(
      'SELECT seq, at, actor, action, request_id, grant_id, details, prev_hash, hash FROM audit_events WHERE seq > ? ORDER BY seq',
    )
    .raw()
    .iterate(from?.seq ?? 0) as IterableIterator<
    [number, number, string, string, string | null, string | null, string, string, string]
  >;
  let expectedPrev = from?.hash ?? GENESIS_HASH;
  let expectedSeq = (from?.seq ?? 0) + 1;
  let checked = 0;
  for (const [seq, at, actor, action, requestId, grantId, details, prevHash, hash] of rows) {
    const broken = (problem: string): ChainReport => ({
      checked,
      intact: false,
      firstBroken: { seq, problem },
    });
    if (seq !== expectedSeq)
      return broken(`expected seq ${expectedSeq}: rows ${expectedSeq}..${seq - 1} are missing`);
    if (prevHash !== expectedPrev) return broken('prev_hash does not match the previous row');
    if (hashEvent(prevHash, { seq, at, actor, action, requestId, grantId, details }) !== hash) {
      return broken('content does not match its hash (the row was edited)');
    }
    checked++;
    if (onProgress && checked % 100_000 === 0) onProgress(checked);
    expectedPrev = hash;
    expectedSeq = seq + 1;
  }
  return { checked, intact: true };
}
