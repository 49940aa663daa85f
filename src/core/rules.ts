import { z } from 'zod';
import type { TimeWindow } from '../config/rules';
import type { Config, Resource } from '../config/schema';
import { formatDuration } from '../config/duration';
import type { PersonStatus } from './directory';
import { describeWindow, inWindow } from './windows';

/**
 * The rules of one resource as they decide who may ask, what is approved at once and who
 * decides: what the live configuration says now, and what each request records when it is
 * filed, so an auditor can ask what the rules were then (`policy explain --as-of`). Pure: the
 * answers of the directory and the on-call sources come in as facts.
 */

const peopleSchema = z.object({
  users: z.array(z.string()).default([]),
  usergroups: z.array(z.string()).default([]),
  ldapGroups: z.array(z.string()).default([]),
  oktaGroups: z.array(z.string()).default([]),
  oncall: z.array(z.string()).default([]),
});

const spanSchema = z.object({
  days: z.array(z.number().int()),
  start: z.string(),
  end: z.string(),
});

export const ruleSetSchema = z.object({
  timezone: z.string(),
  approverChannel: z.string(),
  /** The windows the resource names, as they were defined. */
  windows: z.record(z.string(), z.array(spanSchema)).default({}),
  resource: z.object({
    id: z.string(),
    name: z.string(),
    minDuration: z.number(),
    maxDuration: z.number(),
    defaultDuration: z.number(),
    maxTotalDuration: z.number(),
    approvalsRequired: z.number().int(),
    approvers: peopleSchema,
    requesters: peopleSchema.optional(),
    allowSelfApproval: z.boolean(),
    requireTicket: z.boolean(),
    ticketPattern: z.string().optional(),
    requestWindow: z.string().optional(),
    autoApprove: z
      .array(
        peopleSchema.extend({
          window: z.string().optional(),
          maxDuration: z.number().optional(),
        }),
      )
      .default([]),
    /** Who may take access at once without approval (`breakGlass`), and for how long. */
    breakGlass: peopleSchema
      .extend({ maxDuration: z.number(), reviewWithin: z.number() })
      .optional(),
  }),
});

export type RuleSet = z.infer<typeof ruleSetSchema>;
export type PeopleRule = z.infer<typeof peopleSchema>;
export type AutoApproveRule = RuleSet['resource']['autoApprove'][number];

/** The rules of `resource` under `config`, in the form a request records. */
export function ruleSetOf(config: Config, resource: Resource): RuleSet {
  const named = [resource.requestWindow, ...resource.autoApprove.map((r) => r.window)].filter(
    (w): w is string => w !== undefined,
  );
  return {
    timezone: config.timezone,
    approverChannel: resource.approverChannel ?? config.requests.approverChannel,
    windows: Object.fromEntries(named.map((n) => [n, config.windows[n]!])),
    resource: {
      id: resource.id,
      name: resource.name,
      minDuration: resource.minDuration,
      maxDuration: resource.maxDuration,
      defaultDuration: resource.defaultDuration,
      maxTotalDuration: resource.maxTotalDuration,
      approvalsRequired: resource.approvalsRequired,
      approvers: resource.approvers,
      ...(resource.requesters ? { requesters: resource.requesters } : {}),
      allowSelfApproval: resource.allowSelfApproval,
      requireTicket: resource.requireTicket,
      ...(resource.ticketPattern ? { ticketPattern: resource.ticketPattern } : {}),
      ...(resource.requestWindow ? { requestWindow: resource.requestWindow } : {}),
      autoApprove: resource.autoApprove,
      ...(resource.breakGlass ? { breakGlass: resource.breakGlass } : {}),
    },
  };
}

/** Whether `people` names anyone by a group or an on-call source, which a lookup must answer. */
export function namesGroups(people: PeopleRule): boolean {
  return (
    people.usergroups.length +
      people.ldapGroups.length +
      people.oktaGroups.length +
      people.oncall.length >
    0
  );
}

/** Whether a person is one of a set of people, and how Hallpass knows. */
export type Answer =
  | { is: true; via: string }
  | { is: false }
  /** A directory or on-call source could not say; rules that need the answer fail closed. */
  | { is: 'unknown'; why: string };

/** What the directory and the on-call sources said of the person, gathered before the rules run. */
export interface Facts {
  /** The person asked about. */
  person: string;
  /** What the directory says of the person; undefined when it cannot say now. */
  status: PersonStatus | undefined;
  /** Whether they are among the resource's requesters; undefined when anyone may request. */
  requester: Answer | undefined;
  /** Per auto-approval rule, whether they are among its people; undefined when it names none. */
  autoApprove: (Answer | undefined)[];
}

/** The rule that stops a person from requesting, and what they are told. */
export interface Refusal {
  rule: 'deactivated' | 'requesters' | 'requestWindow' | 'unverifiable' | 'pipelines' | 'token';
  message: string;
}

function window(rules: RuleSet, name: string): TimeWindow {
  const found = rules.windows[name];
  if (!found) throw new Error(`window ${name} is not in the rule set`);
  return found;
}

/** A window's name and hours, as people read them. */
export function windowText(rules: RuleSet, name: string): string {
  return `${name} (${describeWindow(window(rules, name), rules.timezone)})`;
}

/** Whether access starting at `startAt` starts inside the resource's request window, if any. */
export function startsInWindow(rules: RuleSet, startAt: number): boolean {
  const name = rules.resource.requestWindow;
  return !name || inWindow(window(rules, name), startAt, rules.timezone);
}

/**
 * Why the person may not request the resource for access starting at `startAt`, or undefined
 * when they may. The directory's "deactivated" comes first, then who may ask, then when.
 */
export function requestRefusal(rules: RuleSet, facts: Facts, startAt: number): Refusal | undefined {
  const { resource } = rules;
  if (facts.status === 'deactivated' || facts.status === 'guest') {
    return {
      rule: 'deactivated',
      message: `${facts.person} is ${facts.status === 'guest' ? 'a guest' : 'deactivated'} in Slack, so Hallpass accepts no requests from them.`,
    };
  }
  if (facts.requester?.is === 'unknown') {
    return {
      rule: 'unverifiable',
      message: `Hallpass can't verify your permission to request ${resource.id} right now (${facts.requester.why}); nothing changed. Try again in a minute.`,
    };
  }
  if (facts.requester?.is === false) {
    return {
      rule: 'requesters',
      message: `You are not allowed to request ${resource.id} (only ${describePeople(resource.requesters!)} may). Ask in <#${rules.approverChannel}> if you think you should be.`,
    };
  }
  if (!startsInWindow(rules, startAt)) {
    return {
      rule: 'requestWindow',
      message: `${resource.id} can be requested only for access that starts within ${windowText(rules, resource.requestWindow!)}. Ask for a start inside it (\`from HH:MM\`).`,
    };
  }
  return undefined;
}

/** One auto-approval rule checked for one request: whether it holds, and what fails. */
export interface RuleCheck {
  index: number;
  rule: AutoApproveRule;
  holds: boolean | 'unknown';
  /** The conditions that do not hold (or cannot be verified), said to people. */
  failing: string[];
}

/**
 * Each auto-approval rule against the person, the start and, when known, the duration asked
 * for. A rule whose people cannot be verified does not hold (fail closed: a person decides).
 */
export function checkAutoApproval(
  rules: RuleSet,
  facts: Facts,
  startAt: number,
  durationMs: number | undefined,
): RuleCheck[] {
  return rules.resource.autoApprove.map((rule, index) => {
    const failing: string[] = [];
    let unknown = false;
    const who = facts.autoApprove[index];
    if (who?.is === false) failing.push(`you are not one of ${describePeople(rule)}`);
    if (who?.is === 'unknown') {
      unknown = true;
      failing.push(
        `whether you are one of ${describePeople(rule)} cannot be verified (${who.why})`,
      );
    }
    if (rule.window && !inWindow(window(rules, rule.window), startAt, rules.timezone))
      failing.push(`the access would not start within ${windowText(rules, rule.window)}`);
    if (rule.maxDuration !== undefined && durationMs !== undefined && durationMs > rule.maxDuration)
      failing.push(
        `${formatDuration(durationMs)} is longer than ${formatDuration(rule.maxDuration)}`,
      );
    const holds = failing.length === 0 ? true : unknown && failing.length === 1 ? 'unknown' : false;
    return { index, rule, holds, failing };
  });
}

/** The auto-approval rule that approves this request at once, if any. */
export function autoApproval(
  rules: RuleSet,
  facts: Facts,
  startAt: number,
  durationMs: number,
): RuleCheck | undefined {
  return checkAutoApproval(rules, facts, startAt, durationMs).find((c) => c.holds === true);
}

/** The conditions of an auto-approval rule, as people read them. */
export function describeRule(rules: RuleSet, rule: AutoApproveRule): string {
  const parts: string[] = [];
  if (rule.users.length > 0 || namesGroups(rule))
    parts.push(`requested by ${describePeople(rule)}`);
  if (rule.maxDuration !== undefined) parts.push(`for at most ${formatDuration(rule.maxDuration)}`);
  if (rule.window) parts.push(`starting within ${windowText(rules, rule.window)}`);
  return parts.join(', ');
}

/** `<@U1>, members of <!subteam^S1>, members of LDAP group cn=…, whoever is on call for payments` */
export function describePeople(people: PeopleRule): string {
  const parts = [
    ...people.users.map((u) => `<@${u}>`),
    ...people.usergroups.map((g) => `members of <!subteam^${g}>`),
    ...people.ldapGroups.map((g) => `members of LDAP group ${g}`),
    ...people.oktaGroups.map((g) => `members of Okta group ${g}`),
    ...people.oncall.map((n) => `whoever is on call for ${n}`),
  ];
  if (parts.length === 0) return 'nobody';
  if (parts.length === 1) return parts[0]!;
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1]}`;
}
