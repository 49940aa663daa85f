import type { Resource } from '../config/schema';
import {
  authenticateToken,
  createToken,
  listTokens,
  revokeToken,
  type NewToken,
  type TokenInfo,
  type TokenRevocation,
} from './api-tokens';
import type { CoreContext } from './context';
import type { PipelineCaller } from './pipelines';

/** What the API and `hallpass tokens` need of the core besides the rules every requester meets. */
export class Pipelines {
  constructor(private readonly ctx: CoreContext) {}

  createToken(input: NewToken): Promise<{ token: string; info: TokenInfo }> {
    return createToken(this.ctx, input);
  }
  listTokens(): Promise<TokenInfo[]> {
    return listTokens(this.ctx);
  }
  revokeToken(
    tokenId: string,
    actor: string,
    options: { endGrants?: boolean } = {},
  ): Promise<TokenRevocation> {
    return revokeToken(this.ctx, tokenId, actor, options);
  }
  authenticate(token: string): Promise<PipelineCaller | undefined> {
    return authenticateToken(this.ctx, token);
  }

  /** The resources this pipeline may request. */
  requestable(caller: PipelineCaller): Resource[] {
    return this.ctx.policy.pipelineRequestable(caller);
  }

  /** Whether asking for `durationMs` of `resource` would be approved without a human. */
  autoApproves(caller: PipelineCaller, resource: Resource, durationMs: number): boolean {
    return this.ctx.policy.pipelineAutoApproves(caller, resource, durationMs);
  }

  /** The sealed credentials a provider issued for a pipeline's grant, while the grant lasts. */
  credentials(grantId: string): Promise<string | undefined> {
    return this.ctx.store.pipelineCredentials.get(grantId);
  }
}
