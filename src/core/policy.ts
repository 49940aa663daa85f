import type { Config, People, Resource } from '../config/schema';
import type { Directory } from './directory';
import { DomainError } from './errors';
import { closestMatch } from './suggest';

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
    return resource.requesters ? this.isIn(userId, resource.requesters) : true;
  }

  async isApprover(userId: string, resource: Resource): Promise<boolean> {
    return this.isIn(userId, resource.approvers);
  }

  async requestable(userId: string): Promise<Resource[]> {
    const allowed = await Promise.all(this.config.resources.map((r) => this.canRequest(userId, r)));
    return this.config.resources.filter((_, i) => allowed[i]);
  }

  private async isIn(userId: string, people: People): Promise<boolean> {
    if (people.users.includes(userId)) return true;
    for (const group of people.usergroups) {
      if ((await this.directory.usergroupMembers(group)).includes(userId)) return true;
    }
    return false;
  }
}
