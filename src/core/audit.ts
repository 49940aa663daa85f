import { canonicalJson } from '../chain/canonical-json';
import { GENESIS_HASH, hashContent, type ChainAnchor, type ChainReport } from '../chain/walk';
import { scrub } from '../secrets/scrub';
import type { AuditRow } from '../store/rows';

export { GENESIS_HASH, type AuditRow, type ChainAnchor, type ChainReport };

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
  'grant.drift',
  'user.offboarded',
  'grant.closed_by_hand',
  'grant.rechecked',
  'notification.failed',
  'digest.queued',
  'audit.chain_broken',
  'audit.checkpoint_reset',
  'token.created',
  'token.revoked',
  'breakglass.used',
  'breakglass.reviewed',
  'breakglass.flagged',
  'breakglass.review_overdue',
  'request.reminded',
  'request.escalated',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditInput {
  actor: string;
  action: AuditAction;
  requestId?: string | null;
  grantId?: string | null;
  details?: Record<string, unknown>;
}

// Keys that hold secrets; `credentialsIssued` (a flag) is not one of them.
const SECRET_KEY_RE = /passw(or)?d|secret|token|^credentials?$|private.?key|api.?key/i;

/**
 * Audit details never carry secrets, whatever a caller passes in: values under secret-like keys
 * are dropped, and every string is scrubbed of known secrets and token shapes. The log is
 * append-only: what lands in it can never be taken out.
 */
export function scrubSecrets(value: unknown): unknown {
  if (typeof value === 'string') return scrub(value);
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

/**
 * The next row of the chain after `head` (the genesis for an empty log), hashed. Call only from
 * a change, which holds the chain's head still until it commits.
 */
export function chainEvent(head: ChainAnchor | undefined, at: number, input: AuditInput): AuditRow {
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? GENESIS_HASH;
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
