import type { Config, People, Resource } from '../config/schema';
import { DirectoryUnavailable, type Directory, type PersonStatus } from './directory';
import { DomainError } from './errors';
import { isPipelineId, ruleAutoApproves, ruleMatches, type PipelineCaller } from './pipelines';
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

  async canRequest(userId: string, resource: Resource): Promise<boolean> {
    return resource.requesters
      ? this.isIn(userId, resource.requesters, 'permission to request it')
      : true;
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
   * The one rule of who may decide a request: an approver of its resource, and never the
   * requester approving their own request unless the resource allows self-approval. Both a
   * click and "what waits for me" ask this.
   */
  async decisionRight(
    actor: string,
    resource: Resource,
    requester: string,
    decision: Decision,
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
    if (!(await this.isIn(actor, resource.approvers, 'approver rights'))) {
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
      for (const group of people.ldapGroups) {
        if ((await this.directory.ldapGroupMembers(group)).includes(userId)) return true;
      }
      for (const group of people.oktaGroups) {
        if ((await this.directory.oktaGroupMembers(group)).includes(userId)) return true;
      }
    } catch (err) {
      if (!(err instanceof DirectoryUnavailable)) throw err;
      throw new DomainError(
        'unavailable',
        `Hallpass can't verify your ${what} right now (${err.source} did not answer); nothing changed. Try again in a minute.`,
      );
    }
    return false;
  }
}
