import type { Config } from '../config/schema';
import type { Db } from '../store/db';
import type { Clock } from './clock';
import type { CoreContext } from './context';
import { decide, type DecisionInput } from './decisions';
import type { Directory } from './directory';
import { requestExtension, revokeGrant, type ExtensionInput, type RevokeInput } from './grants';
import { Policy } from './policy';
import { awaitingDecisionBy, overviewOf } from './queries';
import { cancelRequest, createRequest, expireStaleRequests, type NewRequest } from './requests';

export type { CoreContext, GrantRow, RequestRow, ApprovalRow } from './context';
export { DomainError } from './errors';

/** The domain core as the Slack layer, the CLI and the jobs see it. */
export class Core {
  readonly ctx: CoreContext;

  constructor(deps: { db: Db; clock: Clock; config: Config; directory: Directory }) {
    this.ctx = {
      onCommit: new Set(),
      db: deps.db,
      clock: deps.clock,
      config: deps.config,
      policy: new Policy(deps.config, deps.directory),
    };
  }

  get policy(): Policy {
    return this.ctx.policy;
  }

  /** Subscribes to committed changes; returns the unsubscribe function. */
  onCommit(listener: () => void): () => void {
    this.ctx.onCommit.add(listener);
    return () => this.ctx.onCommit.delete(listener);
  }

  createRequest(input: NewRequest) {
    return createRequest(this.ctx, input);
  }
  decide(input: DecisionInput) {
    return decide(this.ctx, input);
  }
  cancelRequest(requestId: string, actor: string) {
    return cancelRequest(this.ctx, requestId, actor);
  }
  revokeGrant(input: RevokeInput) {
    return revokeGrant(this.ctx, input);
  }
  requestExtension(input: ExtensionInput) {
    return requestExtension(this.ctx, input);
  }
  expireStaleRequests() {
    return expireStaleRequests(this.ctx);
  }
  overviewOf(userId: string) {
    return overviewOf(this.ctx, userId);
  }
  awaitingDecisionBy(userId: string) {
    return awaitingDecisionBy(this.ctx, userId);
  }
}
