import { formatDuration } from './duration';
import type { BreakGlass, EscalationTarget } from './schema';

/**
 * What happens to undecided requests: the keys a resource may set, and `requests` sets for all.
 */
export interface FollowUp {
  remindAfter?: number;
  escalateAfter?: number;
  escalateTo?: EscalationTarget;
}

/** A resource's own follow-up keys, each falling back to the `requests` default. */
export function followUpOf(resource: FollowUp, defaults: FollowUp): FollowUp {
  return {
    remindAfter: resource.remindAfter ?? defaults.remindAfter,
    escalateAfter: resource.escalateAfter ?? defaults.escalateAfter,
    escalateTo: resource.escalateTo ?? defaults.escalateTo,
  };
}

export interface ConfigIssue {
  /** The key of the resource the problem is under. */
  key: string;
  message: string;
}

/**
 * Problems with a resource's break-glass and follow-up settings, given the `requests` defaults:
 * each says what to change.
 */
export function followUpIssues(
  resource: FollowUp & {
    minDuration: number;
    maxDuration: number;
    breakGlass?: BreakGlass;
  },
  requests: FollowUp & { pendingTimeout: number },
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const timeout = formatDuration(requests.pendingTimeout);
  const { remindAfter, escalateAfter, escalateTo } = followUpOf(resource, requests);
  if (remindAfter !== undefined && remindAfter >= requests.pendingTimeout) {
    issues.push({
      key: 'remindAfter',
      message: `must be shorter than requests.pendingTimeout (${timeout}), or requests expire before anyone is reminded`,
    });
  }
  if (escalateAfter !== undefined && escalateAfter >= requests.pendingTimeout) {
    issues.push({
      key: 'escalateAfter',
      message: `must be shorter than requests.pendingTimeout (${timeout}), or requests expire before they are escalated`,
    });
  }
  if (escalateAfter !== undefined && !escalateTo) {
    issues.push({
      key: 'escalateTo',
      message: 'is required with escalateAfter (here or under requests): say who is asked next',
    });
  }
  const glass = resource.breakGlass;
  if (glass) {
    const named =
      glass.users.length +
      glass.usergroups.length +
      glass.ldapGroups.length +
      glass.oktaGroups.length +
      glass.oncall.length;
    if (named === 0) {
      issues.push({
        key: 'breakGlass',
        message: 'must name at least one user, group or on-call source who may break the glass',
      });
    }
    if (glass.maxDuration < resource.minDuration || glass.maxDuration > resource.maxDuration) {
      issues.push({
        key: 'breakGlass',
        message: `maxDuration must be between the resource's minDuration (${formatDuration(resource.minDuration)}) and maxDuration (${formatDuration(resource.maxDuration)})`,
      });
    }
  }
  return issues;
}
