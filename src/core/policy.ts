import { followUpOf, type FollowUp } from '../config/follow-up';
import type { BreakGlass, Config, People, Resource } from '../config/schema';
import { DirectoryUnavailable, type Directory, type PersonStatus } from './directory';
import { DomainError } from './errors';
import { closestMatch } from './suggest';

export type Decision = 'approve' | 'deny';

/** Why someone may not decide a request, as the person is told. */
export type DecisionRight = { allowed: true } | { allowed: false; error: DomainError };

/** Answers the questions the rules ask of the configuration: who may request and decide what. */
export class Policy {
  private readonly byId: Map<string, Resource>;

  constructor(
    readonly config: Config,
    private readonly directory: Directory,
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

  async requestable(userId: string): Promise<Resource[]> {
    const allowed = await Promise.all(this.config.resources.map((r) => this.canRequest(userId, r)));
    return this.config.resources.filter((_, i) => allowed[i]);
  }

  /**
   * The one rule of who may decide a request: an approver of its resource (or, once the request
   * was escalated, a user or user group member of its escalation target), and never the
   * requester approving their own request unless the resource allows self-approval. Both a
   * click and "what waits for me" ask this.
   */
  async decisionRight(
    actor: string,
    resource: Resource,
    requester: string,
    decision: Decision,
    escalated = false,
  ): Promise<DecisionRight> {
    const target = escalated ? this.followUpOf(resource).escalateTo : undefined;
    const decider =
      (await this.isIn(actor, resource.approvers, 'approver rights')) ||
      (target !== undefined && (await this.isIn(actor, target, 'approver rights')));
    if (!decider) {
      return {
        allowed: false,
        error: new DomainError(
          'not_approver',
          `You are not an approver for ${resource.name} (${resource.id}), so your click changed nothing.`,
        ),
      };
    }
    if (actor === requester && decision === 'approve' && !resource.allowSelfApproval) {
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
  private async isIn(userId: string, people: People, what: string): Promise<boolean> {
    if (people.users.includes(userId)) return true;
    try {
      for (const group of people.usergroups) {
        if ((await this.directory.usergroupMembers(group)).includes(userId)) return true;
      }
    } catch (err) {
      if (!(err instanceof DirectoryUnavailable)) throw err;
      throw new DomainError(
        'unavailable',
        `Hallpass can't verify your ${what} right now (Slack did not answer); nothing changed. Try again in a minute.`,
      );
    }
    return false;
  }
}
