import type { ResolvedPeople } from './policy';
import {
  checkAutoApproval,
  describePeople,
  describeRule,
  requestRefusal,
  windowText,
  type Answer,
  type Facts,
  type Refusal,
  type RuleCheck,
  type RuleSet,
} from './rules';
import { inWindow } from './windows';

/**
 * What the rules of one resource say to one person at one moment: whether they may request it
 * and, when not, which rule stops them; who decides; the bounds; what is approved at once. Built
 * by the same functions that decide a request (src/core/rules.ts), so it cannot disagree.
 */
export interface Explanation {
  person: string;
  resource: { id: string; name: string };
  at: number;
  timezone: string;
  /** Answered from the rules a request recorded, rather than today's configuration. */
  recorded?: RecordedRules;
  refusal?: Refusal;
  /** Who may request it, said to people; undefined when anyone in the workspace may. */
  requesters?: string;
  requestWindow?: { text: string; open: boolean };
  duration: { min: number; max: number; default: number; maxTotal: number };
  ticket: { required: boolean; pattern?: string };
  decides: {
    quorum: number;
    channel: string;
    /** The approvers as the rules name them. */
    named: string;
    /** Each of them resolved now; undefined when answering for another time. */
    resolved?: ResolvedPeople;
    /** Whether the person is an approver, and whether they may approve their own request. */
    person: Answer;
    selfApproval: boolean;
  };
  autoApproval: (RuleCheck & { conditions: string })[];
  /** Break-glass on the resource, told only to a person it names. */
  breakGlass?: { maxDuration: number; reviewWithin: number };
  /** For a pipeline's identity: the resource's `pipelines` rules answer, not the people rules. */
  pipeline?: PipelineExplanation;
}

export interface PipelineExplanation {
  /** Each `pipelines` rule of the resource, said to people, and whether it names the identity. */
  rules: {
    index: number;
    names: string;
    /** What it approves at once, when anything; and whether that applies to this identity. */
    autoApprove?: { text: string; applies: Answer };
    matches: Answer;
  }[];
  /** For an API token's identity: its live tokens, bound to the resource or not. */
  tokens?: { bound: string[]; unbound: string[] };
}

/** The parts of an explanation that are the same for people and pipelines. */
export function resourceParts(
  rules: RuleSet,
  at: number,
): Pick<Explanation, 'resource' | 'at' | 'timezone' | 'requestWindow' | 'duration' | 'ticket'> {
  const { resource } = rules;
  return {
    resource: { id: resource.id, name: resource.name },
    at,
    timezone: rules.timezone,
    ...(resource.requestWindow
      ? {
          requestWindow: {
            text: windowText(rules, resource.requestWindow),
            open: inWindow(rules.windows[resource.requestWindow]!, at, rules.timezone),
          },
        }
      : {}),
    duration: {
      min: resource.minDuration,
      max: resource.maxDuration,
      default: resource.defaultDuration,
      maxTotal: resource.maxTotalDuration,
    },
    ticket: {
      required: resource.requireTicket,
      ...(resource.ticketPattern ? { pattern: resource.ticketPattern } : {}),
    },
  };
}

/** The request whose recorded rules answered, and how long they are known to have held. */
export interface RecordedRules {
  requestId: string;
  recordedAt: number;
  /** The next recording after `at`: the same rules, or different ones from then. */
  next?: { requestId: string; recordedAt: number; same: boolean };
}

export function explain(
  rules: RuleSet,
  facts: Facts,
  at: number,
  extra: {
    /** Whether the person is an approver of the resource (filing never asks; explain does). */
    approver: Answer;
    /** Whether the person is one of those the resource's `breakGlass` names, when it has one. */
    breakGlass?: Answer;
    resolved?: ResolvedPeople;
    recorded?: RecordedRules;
  },
): Explanation {
  const { resource } = rules;
  return {
    person: facts.person,
    ...resourceParts(rules, at),
    ...(extra.recorded ? { recorded: extra.recorded } : {}),
    refusal: requestRefusal(rules, facts, at),
    requesters: resource.requesters ? describePeople(resource.requesters) : undefined,
    decides: {
      quorum: resource.approvalsRequired,
      channel: rules.approverChannel,
      named: describePeople(resource.approvers),
      ...(extra.resolved ? { resolved: extra.resolved } : {}),
      person: extra.approver,
      selfApproval: resource.allowSelfApproval,
    },
    autoApproval: checkAutoApproval(rules, facts, at, undefined).map((check) => ({
      ...check,
      conditions: describeRule(rules, check.rule),
    })),
    ...(resource.breakGlass && extra.breakGlass?.is === true
      ? {
          breakGlass: {
            maxDuration: resource.breakGlass.maxDuration,
            reviewWithin: resource.breakGlass.reviewWithin,
          },
        }
      : {}),
  };
}
