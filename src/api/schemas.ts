import { z } from 'zod';
import { END_REASONS, GRANT_STATUSES, REQUEST_KINDS, REQUEST_STATUSES } from '../store';

/**
 * The API's bodies and answers. The handlers parse and build exactly these, and the OpenAPI
 * document is generated from them (see openapi.ts), so the two cannot drift apart.
 */

const time = z.iso.datetime().describe('An instant, ISO-8601 in UTC.');
const duration = z
  .string()
  .min(1)
  .max(20)
  .describe('A duration as people write it: 90s, 15m, 1h, 1h30m, 1d.');

export const NewRequestBody = z
  .strictObject({
    resource: z.string().min(1).max(100).describe('A resource id from `GET /api/v1/resources`.'),
    duration,
    reason: z.string().max(2000).describe('Why the pipeline needs the access; approvers read it.'),
    ticket: z
      .string()
      .max(200)
      .optional()
      .describe('A ticket reference, where the resource asks for one.'),
  })
  .meta({ id: 'NewRequest' });

export const ExtendBody = z
  .strictObject({
    duration: duration.describe('How much longer.'),
    reason: z.string().max(2000).describe('Why more time is needed.'),
  })
  .meta({ id: 'Extension' });

export const RevokeBody = z
  .strictObject({ reason: z.string().max(500).optional().describe('Recorded in the audit log.') })
  .meta({ id: 'Revocation' });

export const Resource = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    minDuration: duration,
    maxDuration: duration,
    defaultDuration: duration,
    requireTicket: z.boolean(),
    ticketPattern: z.string().nullable(),
    autoApprovedUpTo: duration
      .nullable()
      .describe(
        'The longest duration this caller gets without a human; null when a human always decides.',
      ),
  })
  .meta({ id: 'Resource' });

export const ResourceList = z.object({ resources: z.array(Resource) }).meta({ id: 'ResourceList' });

export const Grant = z
  .object({
    id: z.string(),
    requestId: z.string(),
    resource: z.string(),
    status: z.enum(GRANT_STATUSES),
    startsAt: time.nullable(),
    expiresAt: time.nullable(),
    endedAt: time.nullable(),
    endReason: z.enum(END_REASONS).nullable(),
    credentials: z
      .string()
      .optional()
      .describe(
        'What the provider issued for this grant (a password, a connection string), while it is active.',
      ),
  })
  .meta({ id: 'Grant' });

export const Request = z
  .object({
    id: z.string(),
    kind: z.enum(REQUEST_KINDS),
    resource: z.string(),
    requester: z.string().describe('The pipeline identity that filed it.'),
    status: z.enum(REQUEST_STATUSES),
    waiting: z
      .boolean()
      .describe('True while a decision is awaited or an approved grant is still being set up.'),
    duration,
    reason: z.string(),
    ticket: z.string().nullable(),
    createdAt: time,
    pendingUntil: time.describe('When it expires if nobody decides.'),
    decidedAt: time.nullable(),
    decidedBy: z.string().nullable(),
    decisionReason: z.string().nullable(),
    autoApproved: z.boolean(),
    approvals: z.object({ required: z.number().int(), approved: z.number().int() }),
    grant: Grant.nullable().describe(
      'The grant it produced, or for an extension the grant it extends.',
    ),
  })
  .meta({ id: 'Request' });

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().describe('What went wrong and what to do, as a person in Slack is told.'),
    code: z.string().describe('A stable name for the problem (not_allowed, bad_duration, …).'),
    field: z.string().optional().describe('The body field the problem is about.'),
    errors: z.array(z.string()).optional().describe('One line per invalid field.'),
  })
  .meta({ id: 'Problem' });

export type NewRequestBody = z.infer<typeof NewRequestBody>;
export type ResourceView = z.infer<typeof Resource>;
export type GrantView = z.infer<typeof Grant>;
export type RequestView = z.infer<typeof Request>;
