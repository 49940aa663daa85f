import { z } from 'zod';
import { safeForSecrets } from '../http/safe-transport';
import { serviceOrigin } from '../providers/service-url';
import { oktaGroupId } from '../okta/settings';
import { durationField } from './duration';

/**
 * The configuration of the rules that depend on when and on who is on call: time windows,
 * on-call sources and auto-approval rules. The rules themselves are applied in src/core/policy.ts.
 */

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'must match [A-Za-z0-9][A-Za-z0-9_-]*');
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');
/** An end may be the end of the day. */
const endClock = z
  .string()
  .regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, 'must be HH:MM (24-hour, or 24:00)');

/** One span of a week: on these days (0 = Sunday), from `start` to `end` (past midnight if end < start). */
const span = z
  .strictObject({
    days: z.array(z.number().int().min(0).max(6)).min(1).default([1, 2, 3, 4, 5]),
    start: clock,
    end: endClock,
  })
  .refine((s) => s.start !== s.end, {
    message: 'start and end are the same time; a window must be open for some of the day',
  });

/** A named window: one span, or a list of spans that are open together. */
export const windowSchema = z
  .union([span, z.array(span).min(1, 'list at least one span')])
  .transform((w) => (Array.isArray(w) ? w : [w]));

export type WindowSpan = z.infer<typeof span>;
export type TimeWindow = z.infer<typeof windowSchema>;

export const BUSINESS_HOURS: TimeWindow = [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }];

/** Named windows; `businessHours` is always there (Mon–Fri 08:00–18:00 unless configured). */
export const windowsSchema = z
  .record(name, windowSchema)
  .default({})
  .transform((w): Record<string, TimeWindow> => ({ businessHours: BUSINESS_HOURS, ...w }));

/** How every on-call source caches its answer, and how long one call may take. */
const cached = {
  /** How long an answer is trusted before the source is asked again. */
  ttl: durationField.default(60_000),
  /** How old an answer may be and still stand in while the source cannot answer. */
  maxStaleness: durationField.default(5 * 60_000),
  timeout: durationField.default(10_000),
};

/** https, or plain http to a loopback address: a bearer secret never crosses a network in the clear. */
const endpoint = z
  .url({ protocol: /^https?$/ })
  .refine(
    (text) => !URL.canParse(text) || safeForSecrets(new URL(text)),
    'must be https (plain http only to a loopback address)',
  );

const pagerduty = z
  .strictObject({
    type: z.literal('pagerduty'),
    /** A schedule id (`PABC123`): whoever that schedule puts on call now. */
    schedule: z.string().min(1).optional(),
    /** An escalation policy id: whoever is on call at its first `escalationLevel` levels now. */
    escalationPolicy: z.string().min(1).optional(),
    escalationLevel: z.number().int().min(1).max(20).default(1),
    /** A REST API key (read-only is enough), sent as `Authorization: Token token=…`. */
    token: z.string().min(1, 'must be set (a PagerDuty REST API key, e.g. ${PAGERDUTY_TOKEN})'),
    apiUrl: serviceOrigin('https://api.pagerduty.com').default('https://api.pagerduty.com'),
    ...cached,
  })
  .superRefine((s, ctx) => {
    if ((s.schedule === undefined) === (s.escalationPolicy === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['schedule'],
        message: 'give exactly one of schedule or escalationPolicy',
      });
    }
  });

const command = z.strictObject({
  type: z.literal('command'),
  /** Prints `{"users": ["U012…", "alice@example.com"]}`: Slack user ids or emails. */
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  ...cached,
});

const webhook = z.strictObject({
  type: z.literal('webhook'),
  /** Answers a GET with `{"users": [...]}`, like a command source. */
  url: endpoint,
  /** Sent as `Authorization: Bearer …` when set. */
  secret: z.string().min(8, 'must be at least 8 characters').optional(),
  ...cached,
});

export const oncallSourceSchema = z.discriminatedUnion('type', [pagerduty, command, webhook], {
  error: (issue) =>
    issue.code === 'invalid_union' ? 'type must be pagerduty, command or webhook' : undefined,
});

export type OnCallSourceConfig = z.infer<typeof oncallSourceSchema>;
export type PagerDutySourceConfig = z.infer<typeof pagerduty>;
export type CommandSourceConfig = z.infer<typeof command>;
export type WebhookSourceConfig = z.infer<typeof webhook>;

export const oncallSchema = z.record(name, oncallSourceSchema).default({});

const userId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id like U012ABCDEF');
const usergroupId = z
  .string()
  .regex(/^S[A-Z0-9]{2,}$/, 'must be a Slack user group id like S012ABCDEF');

/**
 * A request is approved at once when its requester is one of `users`, `usergroups`,
 * `ldapGroups`, `oktaGroups` or on call for one of `oncall` (anyone who may request it when none is given), its access starts inside
 * `window`, and it asks for at most `maxDuration`. Every condition given must hold.
 */
export const autoApproveRule = z
  .strictObject({
    users: z.array(userId).default([]),
    usergroups: z.array(usergroupId).default([]),
    /** Groups in the LDAP directory (`directory.ldap`), by DN. */
    ldapGroups: z.array(z.string().min(1)).default([]),
    /** Groups in the Okta org (`directory.okta`), by id. */
    oktaGroups: z.array(oktaGroupId).default([]),
    oncall: z.array(name).default([]),
    window: name.optional(),
    maxDuration: durationField.optional(),
  })
  .refine(
    (r) =>
      r.users.length +
        r.usergroups.length +
        r.ldapGroups.length +
        r.oktaGroups.length +
        r.oncall.length >
        0 ||
      r.window !== undefined ||
      r.maxDuration !== undefined,
    'give at least one condition (users, usergroups, ldapGroups, oktaGroups, oncall, window or maxDuration); approvalsRequired: 0 approves everything',
  );

export type AutoApproveRule = z.infer<typeof autoApproveRule>;

/** What the reference checks need of a resource. */
interface ReferringResource {
  approvers: { oncall: string[] };
  requesters?: { oncall: string[] };
  breakGlass?: { oncall: string[] };
  requestWindow?: string;
  autoApprove: AutoApproveRule[];
  maxDuration: number;
}

/** Names of on-call sources and windows that a resource uses must exist. */
export function checkRuleReferences(
  cfg: {
    oncall: Record<string, unknown>;
    windows: Record<string, unknown>;
    resources: ReferringResource[];
  },
  ctx: z.RefinementCtx,
): void {
  const known = (kind: string, names: string[]) =>
    names.length > 0 ? names.join(', ') : `none defined under ${kind}`;
  const oncallNames = Object.keys(cfg.oncall);
  const windowNames = Object.keys(cfg.windows);
  const oncall = (path: PropertyKey[], names: string[]) =>
    names.forEach((n, i) => {
      if (!(n in cfg.oncall))
        ctx.addIssue({
          code: 'custom',
          path: [...path, i],
          message: `unknown on-call source "${n}" (known: ${known('oncall', oncallNames)})`,
        });
    });
  const window = (path: PropertyKey[], n: string | undefined) => {
    if (n !== undefined && !(n in cfg.windows))
      ctx.addIssue({
        code: 'custom',
        path,
        message: `unknown window "${n}" (known: ${known('windows', windowNames)})`,
      });
  };
  cfg.resources.forEach((r, i) => {
    const at = (...rest: PropertyKey[]) => ['resources', i, ...rest];
    oncall(at('approvers', 'oncall'), r.approvers.oncall);
    if (r.requesters) oncall(at('requesters', 'oncall'), r.requesters.oncall);
    if (r.breakGlass) oncall(at('breakGlass', 'oncall'), r.breakGlass.oncall);
    window(at('requestWindow'), r.requestWindow);
    r.autoApprove.forEach((rule, j) => {
      oncall(at('autoApprove', j, 'oncall'), rule.oncall);
      window(at('autoApprove', j, 'window'), rule.window);
      if (rule.maxDuration !== undefined && rule.maxDuration > r.maxDuration) {
        ctx.addIssue({
          code: 'custom',
          path: at('autoApprove', j, 'maxDuration'),
          message: "must be <= the resource's maxDuration",
        });
      }
    });
  });
}
