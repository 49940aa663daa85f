import { z } from 'zod';

/** What a requester is told, and when. */
export const DM_EVENTS = [
  'request.received',
  'request.approved',
  'request.denied',
  'request.cancelled',
  'request.expired',
  'extension.approved',
  'extension.denied',
  'grant.active',
  'grant.expiring',
  'grant.ended',
  'grant.failed',
  'breakglass.granted',
] as const;
export type DmEvent = (typeof DM_EVENTS)[number];

/**
 * Notifications the core queues for delivery. They name what happened, not how it looks: the
 * delivery side renders them from the current state when it sends.
 */
export const notificationSchema = z.discriminatedUnion('topic', [
  z.object({ topic: z.literal('approver_message'), requestId: z.string() }),
  z.object({
    topic: z.literal('requester_dm'),
    userId: z.string(),
    event: z.enum(DM_EVENTS),
    requestId: z.string(),
    grantId: z.string().optional(),
  }),
  z.object({
    topic: z.literal('credentials'),
    userId: z.string(),
    grantId: z.string(),
    sealed: z.string(),
    /** Issued after the activation (a re-grant): a DM of their own, never an edit of its DM. */
    later: z.literal(true).optional(),
  }),
  z.object({
    topic: z.literal('alert'),
    grantId: z.string(),
    channel: z.string(),
    admins: z.array(z.string()),
    /** The call that keeps failing, or `close`: an admin closed a grant Hallpass cannot revoke. */
    action: z.enum(['grant', 'revoke', 'close']),
    attempts: z.number(),
    error: z.string(),
  }),
  z.object({
    topic: z.literal('drift'),
    grantId: z.string(),
    channel: z.string(),
    admins: z.array(z.string()),
    /** What the record says the target system should hold, and what a read-back found. */
    expected: z.enum(['present', 'absent']),
    repaired: z.boolean(),
    error: z.string().optional(),
  }),
  z.object({
    topic: z.literal('offboarded'),
    userId: z.string(),
    channel: z.string(),
    status: z.enum(['deactivated', 'guest']),
    grants: z.array(z.string()),
    requests: z.array(z.string()),
  }),
  /** Re-pings a pending request's approvers in the thread of its approver message. */
  z.object({ topic: z.literal('reminder'), requestId: z.string() }),
  /** Asks a pending request's escalation target, who may then decide it too. */
  z.object({ topic: z.literal('escalation'), requestId: z.string() }),
  /** Tells the admins that someone broke the glass, or that a use was flagged on review. */
  z.object({
    topic: z.literal('breakglass_alert'),
    requestId: z.string(),
    admins: z.array(z.string()),
    event: z.enum(['used', 'flagged']),
  }),
  /** Chases the review of a break-glass use past its `reviewWithin`. */
  z.object({ topic: z.literal('review_overdue'), requestId: z.string() }),
  z.object({
    topic: z.literal('chain_broken'),
    channel: z.string(),
    admins: z.array(z.string()),
    /** The row where the audit chain stops matching, and what is wrong with it. */
    seq: z.number(),
    problem: z.string(),
    /** The last row known intact (the verified head kept). */
    verifiedHead: z.number(),
    row: z
      .object({
        seq: z.number(),
        at: z.number(),
        actor: z.string(),
        action: z.string(),
        requestId: z.string().nullable(),
        grantId: z.string().nullable(),
        prevHash: z.string(),
        hash: z.string(),
      })
      .optional(),
  }),
  z.object({
    topic: z.literal('digest'),
    channel: z.string(),
    periodStart: z.number(),
    periodEnd: z.number(),
  }),
]);
export type Notification = z.infer<typeof notificationSchema>;

/** Rows of the same subject are delivered one after another, in the order they were queued. */
export function subjectOf(n: Notification): string {
  switch (n.topic) {
    // Follow-ups share the request's subject: they go out after its approver message, their thread.
    case 'approver_message':
    case 'reminder':
    case 'escalation':
    case 'review_overdue':
      return `request:${n.requestId}`;
    case 'breakglass_alert':
      return `breakglass:${n.requestId}`;
    case 'requester_dm':
    case 'credentials':
      return `user:${n.userId}`;
    case 'alert':
    case 'drift':
      return `alert:${n.grantId}`;
    case 'digest':
      return `digest:${n.channel}`;
    case 'chain_broken':
      return 'chain:audit';
    case 'offboarded':
      return `offboarded:${n.channel}`;
  }
}
