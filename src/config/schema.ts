import { validate as validateCron } from 'node-cron';
import { z } from 'zod';
import { ldapDirectorySettings } from '../directory/ldap-groups';
import { apiSchema, pipelineRuleProblems, pipelineRuleSchema } from './api';
import { oktaDirectorySettings } from '../directory/okta-groups';
import { oktaGroupId } from '../okta/settings';
import { durationField } from './duration';
import { autoApproveRule, checkRuleReferences, oncallSchema, windowsSchema } from './rules';
import { followUpIssues } from './follow-up';

const duration = durationField;

const userId = z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'must be a Slack user id like U012ABCDEF');
const usergroupId = z
  .string()
  .regex(/^S[A-Z0-9]{2,}$/, 'must be a Slack user group id like S012ABCDEF');
const channelId = z
  .string()
  .regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id like C012ABCDEF');

const cron = z.string().refine((expr) => validateCron(expr), 'is not a valid cron expression');

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'is not an IANA time zone (e.g. UTC, Europe/Berlin)');

const regex = z.string().refine((pattern) => {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}, 'is not a valid regular expression');

const people = z.strictObject({
  users: z.array(userId).default([]),
  usergroups: z.array(usergroupId).default([]),
  /** Groups in the LDAP directory (`directory.ldap`), by DN; members matched to Slack by email. */
  ldapGroups: z.array(z.string().min(1)).default([]),
  /** Groups in the Okta org (`directory.okta`), by id; members matched to Slack by email. */
  oktaGroups: z.array(oktaGroupId).default([]),
  /** Whoever these on-call sources (`oncall.<name>`) put on call now. */
  oncall: z.array(z.string()).default([]),
});

const NOBODY = { users: [], usergroups: [], ldapGroups: [], oktaGroups: [], oncall: [] };

const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');

/** Who else is asked when nobody decided a request in time: they may decide it then as well. */
const escalateTo = z
  .strictObject({
    users: z.array(userId).default([]),
    usergroups: z.array(usergroupId).default([]),
    /** Where the escalation is posted; the resource's approver channel without it. */
    channel: channelId.optional(),
  })
  .refine(
    (t) => t.channel !== undefined || t.users.length + t.usergroups.length > 0,
    'must name at least one user, user group or channel',
  );

/**
 * Access at once without approval, for emergencies; every use is reviewed afterwards. Who may
 * use it is named as approvers are: often whoever is on call.
 */
const breakGlass = z.strictObject({
  ...people.shape,
  maxDuration: duration,
  reviewWithin: duration.default(24 * 3_600_000),
});

/** When a pending request is re-pinged and escalated; per resource, defaulting to `requests`. */
const followUp = {
  remindAfter: duration.optional(),
  escalateAfter: duration.optional(),
  escalateTo: escalateTo.optional(),
};

export const resourceSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must match [a-z0-9][a-z0-9-]{1,62}'),
    name: z.string().min(1).max(75),
    description: z.string().max(1000).optional(),
    provider: z.string().min(1),
    target: z.record(z.string(), z.unknown()).default({}),
    defaultDuration: duration.optional(),
    minDuration: duration.default(5 * 60_000),
    maxDuration: duration,
    maxTotalDuration: duration.optional(),
    approvalsRequired: z.number().int().min(0).max(10).default(1),
    approvers: people.default(NOBODY),
    approverChannel: channelId.optional(),
    requesters: people.optional(),
    allowSelfApproval: z.boolean().default(false),
    requireTicket: z.boolean().default(false),
    ticketPattern: regex.optional(),
    /** A ticket reference people are shown as an example; it must match ticketPattern. */
    ticketExample: z.string().min(1).max(100).optional(),
    /** Which pipelines (API tokens, CI ID tokens) may request it; see docs/api.md. */
    pipelines: z.array(pipelineRuleSchema).default([]),
    /** Requests are accepted only for access that starts inside this window (`windows.<name>`). */
    requestWindow: z.string().optional(),
    /** Requests approved at once when every condition of one rule holds. */
    autoApprove: z.array(autoApproveRule).default([]),
    breakGlass: breakGlass.optional(),
    ...followUp,
  })
  .transform((r) => ({
    ...r,
    defaultDuration:
      r.defaultDuration ?? Math.min(Math.max(3_600_000, r.minDuration), r.maxDuration),
    maxTotalDuration: r.maxTotalDuration ?? r.maxDuration,
  }));

const providerInstance = z.looseObject({ type: z.string().min(1) });

export const configSchema = z
  .strictObject({
    timezone: timezone.default('UTC'),
    admins: z.array(userId).default([]),
    requests: z.strictObject({
      pendingTimeout: duration.default(24 * 3_600_000),
      approverChannel: channelId,
      minJustification: z.number().int().min(0).max(500).default(10),
      /** How far ahead a request may ask its access to start (`from 14:00`). */
      maxStartDelay: duration.default(7 * 86_400_000),
      /** Requests one person may have waiting for a decision at once. */
      maxPendingPerUser: z.number().int().min(1).max(1000).default(3),
      /** Requests one person may file within `per`, whatever became of them. */
      filingLimit: z
        .strictObject({
          requests: z.number().int().min(1).max(10_000).default(10),
          per: duration.default(10 * 60_000),
        })
        .default({ requests: 10, per: 10 * 60_000 }),
      ...followUp,
    }),
    sweeper: z
      .strictObject({
        schedule: cron.default('*/30 * * * * *'),
        concurrency: z.number().int().min(1).max(256).default(16),
        warnBefore: duration.default(10 * 60_000),
        retryBase: duration.default(5_000),
        retryMax: duration.default(10 * 60_000),
        alertAfterAttempts: z.number().int().min(1).max(100).default(5),
      })
      .default({
        schedule: '*/30 * * * * *',
        concurrency: 16,
        warnBefore: 10 * 60_000,
        retryBase: 5_000,
        retryMax: 10 * 60_000,
        alertAfterAttempts: 5,
      }),
    directory: z
      .strictObject({
        /** How long a user group's members are trusted before Slack is asked again. */
        groupTtl: duration.default(60_000),
        /** How long a person's email and status are trusted. */
        userTtl: duration.default(3_600_000),
        /** How old a cached answer may be and still stand in while Slack cannot answer. */
        maxStaleness: duration.default(5 * 60_000),
        /** The LDAP or Active Directory server that answers `ldapGroups` in approver rules. */
        ldap: ldapDirectorySettings.optional(),
        /** The Okta org that answers `oktaGroups` in approver rules. */
        okta: oktaDirectorySettings.optional(),
      })
      .default({ groupTtl: 60_000, userTtl: 3_600_000, maxStaleness: 5 * 60_000 }),
    offboarding: z
      .strictObject({
        /** How often holders of grants are looked up again, in case a `user_change` was missed. */
        schedule: cron.default('0 */15 * * * *'),
      })
      .default({ schedule: '0 */15 * * * *' }),
    reconcile: z
      .strictObject({
        schedule: cron.default('0 */5 * * * *'),
        concurrency: z.number().int().min(1).max(64).default(4),
        /** Active grants read back per run, the least recently verified first. */
        batch: z.number().int().min(1).max(10_000).default(200),
        /** After a grant ends, read it back this long after the end (once each). */
        recheckAfter: z
          .array(duration)
          .max(10)
          .default([2 * 60_000, 15 * 60_000]),
      })
      .default({
        schedule: '0 */5 * * * *',
        concurrency: 4,
        batch: 200,
        recheckAfter: [2 * 60_000, 15 * 60_000],
      }),
    audit: z
      .strictObject({
        /**
         * How often the chain watch verifies the audit rows appended since its last pass: at most
         * a day, which a timer can wait (Node waits no longer than about 24.8 days in one go).
         */
        verifyEvery: duration
          .refine((ms) => ms <= 86_400_000, 'at most 1d: a break must be found within a day')
          .default(60_000),
        /** Rows verified at a time; the process serves requests between two steps. */
        verifyStep: z.number().int().min(100).max(1_000_000).default(10_000),
      })
      .default({ verifyEvery: 60_000, verifyStep: 10_000 }),
    digest: z
      .strictObject({
        channel: channelId,
        schedule: cron.default('0 9 * * 1'),
        businessHours: z
          .strictObject({
            days: z.array(z.number().int().min(0).max(6)).min(1).default([1, 2, 3, 4, 5]),
            start: clock.default('08:00'),
            end: clock.default('18:00'),
          })
          .default({ days: [1, 2, 3, 4, 5], start: '08:00', end: '18:00' }),
      })
      .optional(),
    api: apiSchema.prefault({}),
    /** Who is on call now, by name: PagerDuty, a command or a webhook. */
    oncall: oncallSchema,
    /** Named weekly windows in `timezone`; `businessHours` is always defined. */
    windows: windowsSchema,
    providers: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'bad provider name'),
      providerInstance,
    ),
    resources: z.array(resourceSchema).min(1, 'at least one resource is required'),
  })
  .superRefine((cfg, ctx) => {
    const seen = new Map<string, number>();
    cfg.resources.forEach((r, i) => {
      const at = (...path: PropertyKey[]) => ['resources', i, ...path];
      const first = seen.get(r.id);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: at('id'),
          message: `duplicate id (also resources[${first}])`,
        });
      } else {
        seen.set(r.id, i);
      }
      if (!(r.provider in cfg.providers)) {
        const known = Object.keys(cfg.providers).join(', ') || 'none defined';
        ctx.addIssue({
          code: 'custom',
          path: at('provider'),
          message: `unknown provider "${r.provider}" (known: ${known})`,
        });
      }
      if (r.maxDuration < r.minDuration) {
        ctx.addIssue({
          code: 'custom',
          path: at('maxDuration'),
          message: 'must be >= minDuration',
        });
      }
      if (r.defaultDuration < r.minDuration || r.defaultDuration > r.maxDuration) {
        ctx.addIssue({
          code: 'custom',
          path: at('defaultDuration'),
          message: 'must be between minDuration and maxDuration',
        });
      }
      if (r.maxTotalDuration < r.maxDuration) {
        ctx.addIssue({
          code: 'custom',
          path: at('maxTotalDuration'),
          message: 'must be >= maxDuration',
        });
      }
      if (
        r.ticketExample &&
        r.ticketPattern &&
        !new RegExp(r.ticketPattern).test(r.ticketExample)
      ) {
        ctx.addIssue({
          code: 'custom',
          path: at('ticketExample'),
          message: `"${r.ticketExample}" does not match ticketPattern ${r.ticketPattern}`,
        });
      }
      const { users, usergroups, ldapGroups, oktaGroups, oncall } = r.approvers;
      const approverCount =
        users.length + usergroups.length + ldapGroups.length + oktaGroups.length + oncall.length;
      if (r.approvalsRequired > 0 && approverCount === 0) {
        ctx.addIssue({
          code: 'custom',
          path: at('approvers'),
          message:
            'must name at least one user, group or on-call source when approvalsRequired > 0',
        });
      }
      type GroupRule = [PropertyKey[], { ldapGroups: string[]; oktaGroups: string[] } | undefined];
      const groupRules: GroupRule[] = [
        [['approvers'], r.approvers],
        [['requesters'], r.requesters],
        ...r.autoApprove.map((rule, j): GroupRule => [['autoApprove', j], rule]),
        [['breakGlass'], r.breakGlass],
      ];
      for (const [rule, named] of groupRules) {
        if (named?.ldapGroups.length && !cfg.directory.ldap) {
          ctx.addIssue({
            code: 'custom',
            path: [...at(...rule), 'ldapGroups'],
            message: 'needs directory.ldap: the LDAP server that says who is in these groups',
          });
        }
        if (named?.oktaGroups.length && !cfg.directory.okta) {
          ctx.addIssue({
            code: 'custom',
            path: [...at(...rule), 'oktaGroups'],
            message: 'needs directory.okta: the Okta org that says who is in these groups',
          });
        }
      }
      if (
        r.approvers.usergroups.length === 0 &&
        r.approvers.ldapGroups.length === 0 &&
        r.approvers.oktaGroups.length === 0 &&
        r.approvers.oncall.length === 0 &&
        r.approvers.users.length > 0 &&
        r.approvalsRequired > r.approvers.users.length
      ) {
        ctx.addIssue({
          code: 'custom',
          path: at('approvalsRequired'),
          message: `needs ${r.approvalsRequired} approvers but only ${r.approvers.users.length} are listed`,
        });
      }
      for (const problem of pipelineRuleProblems(r.pipelines, cfg.api, r.maxDuration)) {
        ctx.addIssue({
          code: 'custom',
          path: [...at('pipelines'), ...problem.path],
          message: problem.message,
        });
      }
      for (const issue of followUpIssues(r, cfg.requests)) {
        ctx.addIssue({ code: 'custom', path: at(issue.key), message: issue.message });
      }
    });
    checkRuleReferences(cfg, ctx);
  });

export type Config = z.infer<typeof configSchema>;
export type EscalationTarget = z.infer<typeof escalateTo>;
export type BreakGlass = z.infer<typeof breakGlass>;
export type Resource = Config['resources'][number];
export type ProviderInstanceConfig = z.infer<typeof providerInstance>;
export type People = z.infer<typeof people>;
