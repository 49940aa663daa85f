import { followUpOf, type FollowUp } from '../config/follow-up';
import type { BreakGlass, Config, People, Resource } from '../config/schema';
import { DirectoryUnavailable, type Directory, type PersonStatus } from './directory';
import { DomainError } from './errors';
import { notAsked, OnCallUnavailable, type OnCall } from './oncall';
import { isPipelineId, ruleAutoApproves, ruleMatches, type PipelineCaller } from './pipelines';
import {
  autoApproval,
  namesGroups,
  requestRefusal,
  ruleSetOf,
  startsInWindow,
  windowText,
  type Answer,
  type Facts,
  type PeopleRule,
  type Refusal,
  type RuleSet,
} from './rules';
import { closestMatch } from './suggest';

export type Decision = 'approve' | 'deny';

/** Why someone may not decide a request, as the person is told. */
export type DecisionRight = { allowed: true } | { allowed: false; error: DomainError };

/** Whether a request may be filed, as the rules decided it. */
export interface Filing {
  /** The resource's rules the decision was made by, recorded on the request. */
  rules: RuleSet;
  /** Why it is approved at once, for its audit event; undefined when approvers decide. */
  approvedBecause?: { by: 'pipelines' } | { by: 'autoApprove'; autoApproveRule: number };
  /**
   * The same rules judged again for access starting at `startAt`, on the answers the directory
   * and the on-call sources gave: access that starts when its request is recorded is judged at
   * that moment, which waiting for those answers may have taken past a window's end. Throws as
   * `filing` does.
   */
  at(startAt: number): Filing;
}

/** Answers the questions the rules ask of the configuration: who may request and decide what. */
export class Policy {
  private readonly byId: Map<string, Resource>;

  constructor(
    readonly config: Config,
    private readonly directory: Directory,
    private readonly oncall: OnCall = notAsked,
  ) {
    this.byId = new Map(config.resources.map((r) => [r.id, r]));
  }

  resources(): readonly Resource[] {
    return this.config.resources;
  }

  /** The resource, or an error that suggests the closest id. */
  resource(id: string): Resource {
    const found = this.byId.get(id);
    if (found) return found;
    const hint = closestMatch(id, [...this.byId.keys()]);
    const suffix = hint
      ? ` Did you mean ${hint}?`
      : ' Try `/jit resources` to see what you can request.';
    throw new DomainError('unknown_resource', `Unknown resource "${id}".${suffix}`, 'resource');
  }

  /**
   * The resource a pipeline asks for. Anyone with an ID token of a trusted CI can call the API: to
   * such a caller a resource it may not request reads as one that does not exist, and the hint
   * names only resources it may request. (A token's own scope is its holder's to know.)
   */
  pipelineResource(caller: PipelineCaller, id: string): Resource {
    const found = this.byId.get(id);
    const refusal = found && this.pipelineRefusal(caller, found);
    if (found && !refusal) return found;
    if (refusal && caller.via === 'token') throw refusal;
    const usable = [...this.byId.values()].filter((r) => !this.pipelineRefusal(caller, r));
    const hint = closestMatch(
      id,
      usable.map((r) => r.id),
    );
    if (hint)
      throw new DomainError(
        'unknown_resource',
        `Unknown resource "${id}". Did you mean ${hint}?`,
        'resource',
      );
    throw new DomainError(
      'not_allowed',
      `${caller.id} may not request "${id}": no resource of that id has a \`pipelines\` rule that matches it.`,
      'resource',
    );
  }

  findResource(id: string): Resource | undefined {
    return this.byId.get(id);
  }

  isAdmin(userId: string): boolean {
    return this.config.admins.includes(userId);
  }

  approverChannel(resource: Resource): string {
    return resource.approverChannel ?? this.config.requests.approverChannel;
  }

  /** When the resource's undecided requests are reminded and escalated, and to whom. */
  followUpOf(resource: Resource): FollowUp {
    return followUpOf(resource, this.config.requests);
  }

  /** Where a resource's escalations are posted: the target's channel, else the approver channel. */
  escalationChannel(resource: Resource): string {
    return this.followUpOf(resource).escalateTo?.channel ?? this.approverChannel(resource);
  }

  /**
   * The one rule of who may break the glass on a resource: the people its `breakGlass` names,
   * and nobody on a resource without it. The error says which applies.
   */
  async breakGlassRight(userId: string, resource: Resource): Promise<BreakGlass> {
    const glass = resource.breakGlass;
    if (!glass) {
      throw new DomainError(
        'not_allowed',
        `${resource.id} has no break-glass access; ask for it with \`/jit request ${resource.id}\`.`,
        'resource',
      );
    }
    if (!(await this.isIn(userId, glass, 'break-glass rights'))) {
      throw new DomainError(
        'not_allowed',
        `You may not break the glass on ${resource.id}; ask for it with \`/jit request ${resource.id}\`.`,
        'resource',
      );
    }
    return glass;
  }

  /** Whether the person may break the glass on the resource, for forms that offer it. */
  async mayBreakGlass(userId: string, resource: Resource): Promise<boolean> {
    try {
      await this.breakGlassRight(userId, resource);
      return true;
    } catch (err) {
      if (err instanceof DomainError) return false;
      throw err;
    }
  }

  /**
   * The one rule of who may review a use of break-glass: an approver of its resource, never the
   * person who used it (even when they are an approver).
   */
  async reviewRight(actor: string, resource: Resource, user: string): Promise<DecisionRight> {
    const gone = await this.goneRefusal(actor);
    if (gone) return { allowed: false, error: gone };
    if (!(await this.isIn(actor, resource.approvers, 'approver rights'))) {
      return {
        allowed: false,
        error: new DomainError(
          'not_approver',
          `You are not an approver for ${resource.name} (${resource.id}), so you cannot review its break-glass use; nothing changed.`,
        ),
      };
    }
    if (actor === user) {
      return {
        allowed: false,
        error: new DomainError(
          'self_review',
          `You broke the glass yourself, so another approver of ${resource.id} has to review it.`,
        ),
      };
    }
    return { allowed: true };
  }

  async canRequest(userId: string, resource: Resource): Promise<boolean> {
    return resource.requesters
      ? this.isIn(userId, resource.requesters, 'permission to request it')
      : true;
  }

  /** The resource's rules under today's configuration, in the form a request records. */
  rulesOf(resource: Resource): RuleSet {
    return ruleSetOf(this.config, resource);
  }

  /**
   * The one rule of who may file a request for `resource` whose access starts at `startAt`, and
   * whether it is approved at once. A pipeline is let in and auto-approved only by the resource's
   * `pipelines` rules, never by the people rules; the deactivated check and the request window
   * hold for everyone. Throws what the requester is told when a rule stops them.
   */
  async filing(
    requester: string,
    caller: PipelineCaller | undefined,
    resource: Resource,
    startAt: number,
    durationMs: number,
  ): Promise<Filing> {
    const rules = this.rulesOf(resource);
    if (caller) {
      if (caller.id !== requester) throw new Error('a pipeline files as its own identity');
      const refusal = this.pipelineRefusal(caller, resource);
      if (refusal) throw refusal;
      const facts: Facts = {
        person: requester,
        status: await this.statusOf(requester),
        requester: undefined,
        autoApprove: [],
      };
      const auto = this.pipelineAutoApproves(caller, resource, durationMs);
      const judge = (at: number): Filing => {
        const stop = requestRefusal(rules, facts, at);
        if (stop) throw refusalError(stop);
        return auto
          ? { rules, approvedBecause: { by: 'pipelines' }, at: judge }
          : { rules, at: judge };
      };
      return judge(startAt);
    }
    const facts = await this.factsOf(requester, rules);
    const judge = (at: number): Filing => {
      const stop = requestRefusal(rules, facts, at);
      if (stop) throw refusalError(stop);
      const auto = autoApproval(rules, facts, at, durationMs);
      return auto
        ? { rules, approvedBecause: { by: 'autoApprove', autoApproveRule: auto.index }, at: judge }
        : { rules, at: judge };
    };
    return judge(startAt);
  }

  /**
   * Why access to `resource` that starts at `at` is not let in by its request window (the
   * approval of a request without a start comes after the window closed), or undefined.
   */
  lateForWindow(resource: Resource, at: number): string | undefined {
    const rules = this.rulesOf(resource);
    if (startsInWindow(rules, at)) return undefined;
    return `${resource.id} gives only access that starts within ${windowText(rules, resource.requestWindow!)}, and this request was approved after it closed. Ask again inside it, or with a start inside it (\`from HH:MM\`).`;
  }

  /**
   * The rule of a person's extension of a grant that started at `startedAt`: refused as a
   * request would be today (no longer among `requesters`, deactivated, outside the request
   * window of the grant's start, or not verifiable now), and approved at once when an
   * `autoApprove` rule would have approved the whole grant in one request (its start, its length
   * with the extension), as for pipelines. Throws what the person is told when a rule stops them.
   */
  async extensionApproval(
    requester: string,
    resource: Resource,
    startedAt: number,
    wholeMs: number,
  ): Promise<Filing['approvedBecause']> {
    const rules = this.rulesOf(resource);
    const facts = await this.factsOf(requester, rules);
    const stop = requestRefusal(rules, facts, startedAt);
    if (stop) throw refusalError(stop);
    const auto = autoApproval(rules, facts, startedAt, wholeMs);
    return auto ? { by: 'autoApprove', autoApproveRule: auto.index } : undefined;
  }

  /**
   * What the directory and the on-call sources say of `userId` for the questions `rules` ask.
   * Nothing is refused here: an answer that cannot be had is recorded as unknown, and the
   * rules (src/core/rules.ts) fail closed on it.
   */
  async factsOf(userId: string, rules: RuleSet): Promise<Facts> {
    return this.gather(
      userId,
      rules,
      (people) => this.membership(userId, people),
      () => this.statusOf(userId),
    );
  }

  /**
   * The facts for a past moment: only the users listed by name are known. Who was in a user
   * group or on call then was not recorded, so those answers are unknown and rules fail closed.
   */
  factsThen(userId: string, rules: RuleSet, at: number): Promise<Facts> {
    return this.gather(
      userId,
      rules,
      async (people) => this.membershipThen(userId, people, at),
      async () => undefined,
    );
  }

  /** Whether `userId` was one of `people` at `at`, as far as the records can say (see factsThen). */
  membershipThen(userId: string, people: PeopleRule, at: number): Answer {
    if (people.users.includes(userId)) return { is: true, via: 'listed by name' };
    const day = new Date(at).toISOString().slice(0, 10);
    return namesGroups(people)
      ? { is: 'unknown', why: `group members and on-call on ${day} are not recorded` }
      : { is: false };
  }

  private async gather(
    userId: string,
    rules: RuleSet,
    among: (people: PeopleRule) => Promise<Answer>,
    statusOf: () => Promise<PersonStatus | undefined>,
  ): Promise<Facts> {
    const { resource } = rules;
    const [status, requester, ...autoApprove] = await Promise.all([
      statusOf(),
      resource.requesters ? among(resource.requesters) : undefined,
      ...resource.autoApprove.map((rule) =>
        rule.users.length > 0 || namesGroups(rule) ? among(rule) : undefined,
      ),
    ]);
    return { person: userId, status, requester, autoApprove };
  }

  /**
   * Everyone `people` names, resolved now: the users listed, each group's members (Slack user
   * groups, LDAP and Okta groups) and whoever each on-call source has on call (or why that
   * cannot be known).
   */
  async resolvePeople(people: PeopleRule): Promise<ResolvedPeople> {
    const settle = async (lookup: () => Promise<readonly string[]>) => {
      try {
        return { members: [...(await lookup())] };
      } catch (err) {
        return { unknown: unavailableWhy(err) };
      }
    };
    return {
      users: people.users,
      usergroups: await Promise.all(
        people.usergroups.map(async (id) => ({
          id,
          ...(await settle(() => this.directory.usergroupMembers(id))),
        })),
      ),
      ldapGroups: await Promise.all(
        people.ldapGroups.map(async (id) => ({
          id,
          ...(await settle(() => this.directory.ldapGroupMembers(id))),
        })),
      ),
      oktaGroups: await Promise.all(
        people.oktaGroups.map(async (id) => ({
          id,
          ...(await settle(() => this.directory.oktaGroupMembers(id))),
        })),
      ),
      oncall: await Promise.all(
        people.oncall.map(async (name) => ({
          name,
          ...(await settle(() => this.oncall.onCallNow(name))),
        })),
      ),
    };
  }

  /**
   * Whether `userId` is one of `people`: listed, in one of the groups (Slack user groups, LDAP
   * and Okta groups), or on call for one of the sources. A yes from any of them is enough; without one, a source that could not
   * answer makes the answer unknown.
   */
  async membership(userId: string, people: PeopleRule): Promise<Answer> {
    if (people.users.includes(userId)) return { is: true, via: 'listed by name' };
    const unknown: string[] = [];
    for (const group of people.usergroups) {
      try {
        if ((await this.directory.usergroupMembers(group)).includes(userId))
          return { is: true, via: `a member of <!subteam^${group}>` };
      } catch (err) {
        unknown.push(unavailableWhy(err));
      }
    }
    for (const group of people.ldapGroups) {
      try {
        if ((await this.directory.ldapGroupMembers(group)).includes(userId))
          return { is: true, via: `a member of LDAP group ${group}` };
      } catch (err) {
        unknown.push(unavailableWhy(err));
      }
    }
    for (const group of people.oktaGroups) {
      try {
        if ((await this.directory.oktaGroupMembers(group)).includes(userId))
          return { is: true, via: `a member of Okta group ${group}` };
      } catch (err) {
        unknown.push(unavailableWhy(err));
      }
    }
    for (const source of people.oncall) {
      try {
        if ((await this.oncall.onCallNow(source)).includes(userId))
          return { is: true, via: `on call for ${source}` };
      } catch (err) {
        unknown.push(unavailableWhy(err));
      }
    }
    return unknown.length > 0 ? { is: 'unknown', why: unknown.join('; ') } : { is: false };
  }

  /**
   * Why a pipeline may not request `resource`, or undefined when it may: an API token must be
   * bound to the resource, and a `pipelines` rule of the resource must name the caller. People's
   * `requesters` lists never let a pipeline in.
   */
  pipelineRefusal(caller: PipelineCaller, resource: Resource): DomainError | undefined {
    if (caller.via === 'token' && !caller.scope.includes(resource.id)) {
      return new DomainError(
        'not_allowed',
        `API token ${caller.tokenId} is not bound to ${resource.id} (it may request: ${caller.scope.join(', ') || 'nothing'}). Create a token for it with \`hallpass tokens create\`.`,
        'resource',
      );
    }
    if (!resource.pipelines.some((rule) => ruleMatches(rule, caller))) {
      return new DomainError(
        'not_allowed',
        `${caller.id} may not request ${resource.id}: no \`pipelines\` rule of the resource matches it. An admin can add one in hallpass.yml.`,
        'resource',
      );
    }
    return undefined;
  }

  /** Whether a pipeline's ask for `durationMs` of `resource` is approved without a human. */
  pipelineAutoApproves(caller: PipelineCaller, resource: Resource, durationMs: number): boolean {
    if (this.pipelineRefusal(caller, resource)) return false;
    return resource.pipelines.some(
      (rule) => ruleMatches(rule, caller) && ruleAutoApproves(rule, caller, durationMs),
    );
  }

  /** The resources a pipeline may request. */
  pipelineRequestable(caller: PipelineCaller): Resource[] {
    return this.config.resources.filter((r) => !this.pipelineRefusal(caller, r));
  }

  /**
   * Someone deactivated in Slack, or turned into a guest, decides nothing, and what they
   * approved before no longer counts (standingOf asks this of each earlier approval). When the
   * directory cannot say, the state offboarding recorded decides, in the decision's transaction.
   */
  private async goneRefusal(actor: string): Promise<DomainError | undefined> {
    const status = await this.statusOf(actor);
    if (status !== 'deactivated' && status !== 'guest') return undefined;
    return new DomainError(
      'not_approver',
      `You are ${status === 'guest' ? 'a guest' : 'deactivated'} in Slack, so you decide nothing in Hallpass; nothing changed.`,
    );
  }

  /**
   * Whether the directory says this person still belongs to the workspace; undefined when it
   * cannot say now (the people Hallpass recorded as gone stay refused regardless).
   */
  async statusOf(userId: string): Promise<PersonStatus | undefined> {
    try {
      return await this.directory.statusOf(userId);
    } catch (err) {
      if (err instanceof DirectoryUnavailable) return undefined;
      throw err;
    }
  }

  /** What the directory, asked afresh rather than from its cache, says; undefined if it cannot. */
  async freshStatusOf(userId: string): Promise<PersonStatus | undefined> {
    try {
      return await this.directory.statusOf(userId, { fresh: true });
    } catch (err) {
      if (err instanceof DirectoryUnavailable) return undefined;
      throw err;
    }
  }

  async requestable(userId: string): Promise<Resource[]> {
    const allowed = await Promise.all(this.config.resources.map((r) => this.canRequest(userId, r)));
    return this.config.resources.filter((_, i) => allowed[i]);
  }

  /**
   * The one rule of who may decide a request: an approver of its resource (or, once the request
   * was escalated, a user or user group member of its escalation target), and never the
   * requester approving their own request, unless they are an approver and the resource allows
   * self-approval. Both a click and "what waits for me" ask this.
   */
  async decisionRight(
    actor: string,
    resource: Resource,
    requester: string,
    decision: Decision,
    escalated = false,
  ): Promise<DecisionRight> {
    if (isPipelineId(actor)) {
      return {
        allowed: false,
        error: new DomainError(
          'not_approver',
          `${actor} is a pipeline; only people decide requests, so nothing changed.`,
        ),
      };
    }
    const target = escalated ? this.followUpOf(resource).escalateTo : undefined;
    const approver = await this.isIn(actor, resource.approvers, 'approver rights');
    const decider =
      approver || (target !== undefined && (await this.isIn(actor, target, 'approver rights')));
    if (!decider) {
      return {
        allowed: false,
        error: new DomainError(
          'not_approver',
          `You are not an approver for ${resource.name} (${resource.id}), so your click changed nothing.`,
        ),
      };
    }
    const gone = await this.goneRefusal(actor);
    if (gone) return { allowed: false, error: gone };
    // Self-approval is an approver's, where the resource allows it; someone who decides only as
    // the escalation target never approves their own request.
    if (
      actor === requester &&
      decision === 'approve' &&
      !(approver && resource.allowSelfApproval)
    ) {
      return {
        allowed: false,
        error: new DomainError(
          'self_approval',
          `You cannot approve your own request for ${resource.id}; another approver has to.`,
        ),
      };
    }
    return { allowed: true };
  }

  /**
   * Where `userId` may approve: the resources whose requests by others they may approve, and
   * those where they may approve their own as well, both by `decisionRight`.
   */
  async approvable(userId: string): Promise<{ others: string[]; own: string[] }> {
    const others: string[] = [];
    const own: string[] = [];
    for (const resource of this.config.resources) {
      try {
        const someoneElse = await this.decisionRight(userId, resource, '', 'approve');
        if (!someoneElse.allowed) continue;
        others.push(resource.id);
        if ((await this.decisionRight(userId, resource, userId, 'approve')).allowed)
          own.push(resource.id);
      } catch (err) {
        // A list shows what can be verified now; a click on the rest is refused with the reason.
        if (!(err instanceof DomainError && err.code === 'unavailable')) throw err;
      }
    }
    return { others, own };
  }

  /**
   * Whether `userId` is one of `people`. Fails closed: when the directory cannot say (Slack out
   * of reach past the cache's bound), the rule refuses with a DomainError rather than guess.
   */
  private async isIn(userId: string, people: SomePeople, what: string): Promise<boolean> {
    const answer = await this.membership(userId, {
      ldapGroups: [],
      oktaGroups: [],
      oncall: [],
      ...people,
    });
    if (answer.is === 'unknown') {
      throw new DomainError(
        'unavailable',
        `Hallpass can't verify your ${what} right now (${answer.why}); nothing changed. Try again in a minute.`,
      );
    }
    return answer.is;
  }
}

/**
 * People as a rule names them: `escalateTo` names only users and user groups, the other rules
 * any kind.
 */
type SomePeople = Pick<People, 'users' | 'usergroups'> & Partial<People>;

/** Everyone a set of people names, resolved now. */
export interface ResolvedPeople {
  users: readonly string[];
  usergroups: ({ id: string } & Resolved)[];
  ldapGroups: ({ id: string } & Resolved)[];
  oktaGroups: ({ id: string } & Resolved)[];
  oncall: ({ name: string } & Resolved)[];
}
type Resolved = { members: string[] } | { unknown: string };

const REFUSAL_CODES = {
  deactivated: 'deactivated',
  requesters: 'not_allowed',
  requestWindow: 'outside_window',
  unverifiable: 'unavailable',
  pipelines: 'not_allowed',
  token: 'not_allowed',
} as const;

/** A rule's refusal as the error the requester is told, on the form field it is about. */
function refusalError(refusal: Refusal): DomainError {
  const field =
    refusal.rule === 'requesters' || refusal.rule === 'pipelines' || refusal.rule === 'token'
      ? 'resource'
      : refusal.rule === 'requestWindow'
        ? 'start'
        : undefined;
  return new DomainError(REFUSAL_CODES[refusal.rule], refusal.message, field);
}

/** Why a lookup had no answer, as a person reads it; anything but an outage is a bug and thrown. */
function unavailableWhy(err: unknown): string {
  if (err instanceof DirectoryUnavailable) return err.why;
  if (err instanceof OnCallUnavailable) return `on-call source ${err.source} did not answer`;
  throw err;
}
