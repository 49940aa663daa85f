import { activitySummary } from '../audit/activity';
import { buildDigest, type Digest } from '../audit/digest';
import { weekEndingAt, periodKey, type Period } from '../audit/period';
import { grantStory, requestStory, type GrantStory, type RequestStory } from '../audit/story';
import { auditEvents, type ExportRange } from '../audit/export';
import {
  digestAnchors,
  verifyAll,
  verifySince,
  withRecordedBreak,
  type ChainCheck,
  type RecordedAnchor,
} from '../audit/chain';
import { readCheckpoint, type CheckpointReading } from '../audit/checkpoint';
import type { CheckpointSeal } from '../audit/checkpoint-seal';
import type { Config } from '../config/schema';
import type {
  DueGrant,
  DuePlace,
  GrantFilter,
  MessageQueries,
  RequestStanding,
  Store,
} from '../store';
import type { Clock } from './clock';
import { resetCheckpoint, verifyChainStep, type ResetOptions } from './chain-watch';
import { checkLiveGrants, closeByHand, type LiveGrantProblems } from './config-drift';
import { change, type AuditRow, type CoreContext, type GrantRow, type RequestRow } from './context';
import { decide, type DecisionInput } from './decisions';
import type { Directory, PersonStatus } from './directory';
import {
  beginExpiries,
  recordActivated,
  recordActivationHeld,
  recordRepairRevoke,
  recordAttemptFailed,
  recordGrantCall,
  endForRemovedResource,
  recordRevocations,
  recordSynced,
  recordWarned,
  type Activation,
  type FailedCall,
  type RetryPolicy,
  type Revoked,
  TAKE_AHEAD_MS,
} from './grant-transitions';
import {
  findGrant,
  requestExtension,
  revokeGrant,
  type ExtensionInput,
  type RevokeInput,
} from './grants';
import { recordPersonStatus, type OffboardingSource } from './offboarding';
import type { OnCall } from './oncall';
import {
  breakGlass,
  checkReviewRight,
  findBreakGlass,
  mayBeBreakGlass,
  reviewBreakGlass,
  type BreakGlassInput,
  type ReviewInput,
} from './break-glass';
import { coveringEach, endingAlongside, type Covers } from './covering';
import { nextFollowUpAt, sendDueFollowUps } from './follow-ups';
import { OutboxBook } from './outbox';
import {
  recordDrift,
  recordRechecked,
  recordVerified,
  type Drift,
  type Recheck,
} from './verification';
import { configuredTarget, type ProviderPlaces, type TargetResolver } from './terms';
import { Pipelines } from './pipeline-face';
import { withPipelines } from './pipelines';
import { Policy } from './policy';
import { explainNow, explainThen } from './policy-explain';
import { awaitingDecisionBy, overviewOf } from './queries';
import {
  cancelRequest,
  createRequest,
  expireStaleRequests,
  requestProblems,
  type NewRequest,
} from './requests';

export type {
  ApprovalRow,
  AuditRow,
  CoreContext,
  GrantRow,
  OutboxRow,
  RequestRow,
} from './context';
export type { Awaiting, UserOverview } from './queries';
export { OVERVIEW_LIMIT } from './queries';
export type { Activation, FailedCall, RetryPolicy, Revocation, Revoked } from './grant-transitions';
export { TAKE_AHEAD_MS } from './grant-transitions';
export type { Covers } from './covering';
export type { DecisionOutcome } from './decisions';
export type { BreakGlassUse, ReviewOutcome, Verdict } from './break-glass';
export type { FollowUpsSent } from './follow-ups';
export type { BreakGlassRow } from '../store/rows';
export type { ClaimedOutboxRow, DueGrant, DuePlace, RequestStanding } from '../store';
export { DomainError } from './errors';
export { ticketExample } from './ticket-example';
export { extensionCeiling } from './extension-ceiling';
export { parseNotification, type Accepted } from './outbox';
export {
  movedSettings,
  termsOf,
  type GrantTerms,
  type ProviderPlace,
  type ProviderPlaces,
} from './terms';
export type { Explanation } from './explain';
export { explanationLines } from './explain-text';
export { notAsked, OnCallUnavailable, type OnCall } from './oncall';
export { expectedOf, type Drift, type Expected } from './verification';
export type { LiveGrantProblems } from './config-drift';
export type { BrokenRow, ChainStep, CheckpointReset } from './chain-watch';
export type { Policy } from './policy';
export type { Pipelines } from './pipeline-face';
export type { TokenInfo, TokenRevocation } from './api-tokens';
export {
  callerOf,
  isPipelineId,
  oidcIdentity,
  withPipelines,
  type PipelineCaller,
} from './pipelines';

/**
 * The grant transitions and reads the sweeper drives. Provider calls happen between them, never
 * inside one.
 */
export class GrantLifecycle {
  constructor(private readonly ctx: CoreContext) {}

  /**
   * Grants with work due within TAKE_AHEAD_MS: activation to try, expiry reached, or a revoke to
   * retry; the sweeper acts on each at its moment. With `after`, the next page past that grant.
   */
  due(limit: number, after?: DuePlace): Promise<DueGrant[]> {
    return this.ctx.store.grants.due(this.ctx.clock.now() + TAKE_AHEAD_MS, limit, after);
  }

  /** The grants among `ids` as they are now, in no particular order. */
  getMany(ids: readonly string[]): Promise<GrantRow[]> {
    return this.ctx.store.grants.byIds(ids);
  }

  /**
   * The next moment the sweeper has work: grant work (TAKE_AHEAD_MS before it is due), a warning,
   * a stale request.
   */
  async nextWakeAt(warnBefore: number): Promise<number | null> {
    const { grantWork, unwarnedExpiry, pendingUntil } = await this.ctx.store.grants.nextMoments();
    const candidates = [
      grantWork === null ? null : grantWork - TAKE_AHEAD_MS,
      unwarnedExpiry === null ? null : unwarnedExpiry - warnBefore,
      pendingUntil,
    ].filter((t): t is number => t !== null);
    return candidates.length > 0 ? Math.min(...candidates) : null;
  }

  get(id: string): Promise<GrantRow | undefined> {
    return this.ctx.store.grants.byId(id);
  }

  /** Another grant that still gives its holder the same access, so revoking must not take it. */
  async covering(
    grant: GrantRow,
    oneAccess: (ending: GrantRow, cover: GrantRow) => Promise<boolean>,
  ): Promise<GrantRow | undefined> {
    return (await coveringEach(this.ctx, [grant], oneAccess)).by.get(grant.id);
  }

  /** `covering` for several grants in one read, and which of them must ask again later. */
  coveringEach(
    grants: readonly GrantRow[],
    oneAccess: (ending: GrantRow, cover: GrantRow) => Promise<boolean>,
  ): Promise<Covers> {
    return coveringEach(this.ctx, grants, oneAccess);
  }

  /** Other grants of the same access whose revoke may still be out (`endingAlongside`). */
  endingAlongside(
    grant: GrantRow,
    oneAccess: (ending: GrantRow, activating: GrantRow) => Promise<boolean>,
    endedSince?: number,
  ): Promise<GrantRow[]> {
    return endingAlongside(this.ctx, grant, oneAccess, endedSince);
  }

  /** Active grants that end within `warnBefore` and whose holder was not warned yet. */
  toWarn(warnBefore: number, limit = 500): Promise<GrantRow[]> {
    const now = this.ctx.clock.now();
    return this.ctx.store.grants.toWarn(now, now + warnBefore, limit);
  }

  /** Active grants whose expiry moved (an extension) since the provider was last told. */
  toSync(limit = 100): Promise<GrantRow[]> {
    return this.ctx.store.grants.toSync(limit);
  }

  expire(grantIds: readonly string[]) {
    return beginExpiries(this.ctx, grantIds);
  }
  grantCall(grantId: string, email: string | undefined, timeoutMs: number) {
    return recordGrantCall(this.ctx, grantId, email, timeoutMs);
  }
  activationHeld(grantId: string, until: number) {
    return recordActivationHeld(this.ctx, grantId, until);
  }
  repairRevoke(grantId: string, until: number) {
    return recordRepairRevoke(this.ctx, grantId, until);
  }
  resourceRemoved(grantId: string) {
    return endForRemovedResource(this.ctx, grantId);
  }
  activated(grantId: string, activation: Activation) {
    return recordActivated(this.ctx, grantId, activation);
  }
  failed(
    grantId: string,
    call: 'grant' | 'revoke',
    error: string,
    retry: RetryPolicy,
    how?: FailedCall,
  ) {
    return recordAttemptFailed(this.ctx, grantId, call, error, retry, how);
  }
  revoked(done: readonly Revoked[]) {
    return recordRevocations(this.ctx, done);
  }
  warned(grantId: string, expiresAt: number | null) {
    return recordWarned(this.ctx, grantId, expiresAt);
  }
  synced(
    grantId: string,
    expiresAt: number,
    state: unknown,
    sealedCredentials?: string,
    lease?: number,
  ) {
    return recordSynced(this.ctx, grantId, expiresAt, state, sealedCredentials, lease);
  }

  /** Ended grants due to be read back again, soonest first. */
  toRecheck(limit: number): Promise<GrantRow[]> {
    return this.ctx.store.grants.toRecheck(this.ctx.clock.now(), limit);
  }
  /** Active grants read back longest ago, never-verified first. */
  leastRecentlyVerified(limit: number): Promise<GrantRow[]> {
    return this.ctx.store.grants.leastRecentlyVerified(limit);
  }
  verified(grantId: string) {
    return recordVerified(this.ctx, grantId);
  }
  rechecked(grantId: string, recheck: Recheck, by?: string) {
    return recordRechecked(this.ctx, grantId, recheck, by);
  }
  drift(grantId: string, drift: Drift, attempt: number) {
    return recordDrift(this.ctx, grantId, drift, attempt);
  }
}

/**
 * What the audit log and its reports answer, for the CLI, Slack and the digest. Needs only the
 * store: the CLI's read commands work without a configuration.
 */
export class AuditReads {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    /** Without it the verified-head checkpoint is not trusted, so the digest does not use it. */
    private readonly seal?: CheckpointSeal,
  ) {}

  /** The whole chain, then every recorded digest anchor and the `extra` ones given. */
  async verifyAll(
    extra: readonly RecordedAnchor[],
    onProgress?: (checked: number) => void,
  ): Promise<{ report: ChainCheck; anchors: number }> {
    const anchors = [...(await digestAnchors(this.store)), ...extra];
    return { report: await verifyAll(this.store, anchors, onProgress), anchors: anchors.length };
  }

  /**
   * The rows after the verified head the chain watch recorded (all rows before it recorded one),
   * after every recorded digest anchor and the `extra` ones given. A checkpoint whose seal does
   * not verify under `seal` is reported as broken, and so is a row break it recorded, which
   * stands until the checkpoint is reset.
   */
  async verifySinceVerified(
    seal: CheckpointSeal,
    extra: readonly RecordedAnchor[],
    onProgress?: (checked: number) => void,
  ): Promise<{ report: ChainCheck; anchors: number; reading: CheckpointReading }> {
    const reading = await readCheckpoint(this.store, seal);
    const anchors = [...(await digestAnchors(this.store)), ...extra];
    if (reading.kind === 'forged') {
      const firstBroken = { seq: reading.checkpoint.seq, problem: reading.problem };
      return { report: { checked: 0, intact: false, firstBroken }, anchors: 0, reading };
    }
    const from = reading.kind === 'trusted' && reading.anchor.seq > 0 ? reading.anchor : undefined;
    const walked = await verifySince(this.store, from, onProgress, anchors);
    const checkpoint = reading.kind === 'trusted' ? reading.checkpoint : undefined;
    return { report: withRecordedBreak(walked, checkpoint), anchors: anchors.length, reading };
  }

  verifySince(from?: RecordedAnchor, onProgress?: (checked: number) => void): Promise<ChainCheck> {
    return verifySince(this.store, from, onProgress);
  }

  events(range: ExportRange): AsyncIterable<AuditRow> {
    return auditEvents(this.store, range);
  }

  story(grantId: string): Promise<GrantStory | undefined> {
    return grantStory(this.store, grantId);
  }

  requestStory(requestId: string): Promise<GrantStory | RequestStory | undefined> {
    return requestStory(this.store, requestId);
  }

  grants(filter: GrantFilter): Promise<{ rows: GrantRow[]; total: number }> {
    return this.store.grants.list(filter);
  }

  /** The digest of `period` (by default the 7 days ending now) as of now. */
  digest(config: Config, period?: Period, onProgress?: (checked: number) => void): Promise<Digest> {
    const now = this.clock.now();
    return buildDigest(this.store, config, period ?? weekEndingAt(now, config.timezone), now, {
      onProgress,
      seal: this.seal,
    });
  }
}

/**
 * The domain core as the Slack layer, the API, the CLI and the jobs see it: every rule and
 * every read they need goes through here. Nothing here knows Slack, HTTP, a provider or a
 * database dialect.
 */
export class Core {
  private readonly ctx: CoreContext;
  readonly lifecycle: GrantLifecycle;
  readonly outbox: OutboxBook;
  readonly audit: AuditReads;
  readonly pipelines: Pipelines;

  constructor(deps: {
    store: Store;
    clock: Clock;
    config: Config;
    directory: Directory;
    /** Who is on call now (`oncall` in the config); without it, on-call rules cannot be verified. */
    oncall?: OnCall;
    /** The provider layer's reading of a resource's target; the configured target without it. */
    resolveTarget?: TargetResolver;
    /** Where each provider instance points today (the provider layer's reading of its settings). */
    providerPlaces?: ProviderPlaces;
    /** Seals the audit chain's verified head; without it the chain watch cannot run. */
    checkpointSeal?: CheckpointSeal;
  }) {
    this.ctx = {
      onCommit: new Set(),
      store: deps.store,
      clock: deps.clock,
      config: deps.config,
      policy: new Policy(deps.config, withPipelines(deps.directory), deps.oncall),
      resolveTarget: deps.resolveTarget ?? configuredTarget,
      providerPlaces: deps.providerPlaces,
    };
    this.lifecycle = new GrantLifecycle(this.ctx);
    this.outbox = new OutboxBook(this.ctx);
    this.audit = new AuditReads(deps.store, deps.clock, deps.checkpointSeal);
    this.seal = deps.checkpointSeal;
    this.pipelines = new Pipelines(this.ctx);
  }

  private readonly seal?: CheckpointSeal;

  /**
   * Verifies up to `maxRows` new audit rows after the verified head and moves it on; a break is
   * alerted once (see chain-watch.ts). `notBelow` is the head this process last saw recorded.
   */
  verifyChainStep(maxRows: number, notBelow = 0) {
    if (!this.seal) throw new Error('the chain watch needs a checkpoint seal (checkpointSeal)');
    return verifyChainStep(this.ctx, this.seal, maxRows, notBelow);
  }

  /**
   * After a full walk finds the chain intact, a fresh verified head with no break, audited as
   * `actor`: how an admin clears a standing row break (see chain-watch.ts).
   */
  resetChainCheckpoint(actor: string, options: ResetOptions = {}) {
    if (!this.seal) throw new Error('a checkpoint reset needs a checkpoint seal (checkpointSeal)');
    return resetCheckpoint(this.ctx, this.seal, actor, options);
  }

  get policy(): Policy {
    return this.ctx.policy;
  }

  get config(): Config {
    return this.ctx.config;
  }

  /** The core's time (the injected clock). */
  now(): number {
    return this.ctx.clock.now();
  }

  /** The digest of `period` (by default the 7 days ending now), as of now. */
  digest(period?: Period): Promise<Digest> {
    return this.audit.digest(this.ctx.config, period);
  }

  /**
   * When Hallpass first ran on this database: recorded the first time it is asked (an older
   * database counts from its first audit event).
   */
  async firstStartedAt(): Promise<number> {
    const { store, clock } = this.ctx;
    const first = (await store.audit.bySeq(1))?.at ?? clock.now();
    return Number(
      await store.meta.setOnce('first_started_at', String(Math.min(first, clock.now()))),
    );
  }

  /** Where Slack messages were posted, so later changes edit them in place. */
  get messages(): MessageQueries {
    return this.ctx.store.messages;
  }

  /** Subscribes to committed changes; returns the unsubscribe function. */
  onCommit(listener: (events: readonly AuditRow[]) => void): () => void {
    this.ctx.onCommit.add(listener);
    return () => this.ctx.onCommit.delete(listener);
  }

  /**
   * What the rules of a resource say to `person`: now, or with `asOf`, as the requests filed
   * by then recorded them (for an auditor's question).
   */
  explain(person: string, resourceId: string, asOf?: number) {
    return asOf === undefined
      ? explainNow(this.ctx, person, resourceId)
      : explainThen(this.ctx, person, resourceId, asOf);
  }

  createRequest(input: NewRequest) {
    return createRequest(this.ctx, input);
  }
  /** Every problem of a request's fields at once, for a form to show them together. */
  requestProblems(input: Pick<NewRequest, 'resourceId' | 'duration' | 'justification' | 'ticket'>) {
    return requestProblems(this.ctx, input);
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

  /** Access at once without approval, audited and alerted, for those a resource allows. */
  breakGlass(input: BreakGlassInput) {
    return breakGlass(this.ctx, input);
  }
  /** An approver of the resource marks a break-glass use Reviewed or Flagged. */
  reviewBreakGlass(input: ReviewInput) {
    return reviewBreakGlass(this.ctx, input);
  }
  /** The break-glass use a request was, or undefined for an ordinary request. */
  breakGlassOf(requestId: string) {
    return this.ctx.store.breakGlass.byRequest(requestId);
  }
  /** The same for a request already read: one that needed approvers is never looked up. */
  async breakGlassUseOf(request: RequestRow) {
    return mayBeBreakGlass(request) ? this.breakGlassOf(request.id) : undefined;
  }
  /** Throws the refusal the person is told when they may not review the use; a form asks first. */
  async checkReviewRight(requestId: string, actor: string): Promise<void> {
    await checkReviewRight(this.ctx, await findBreakGlass(this.ctx, requestId), actor);
  }
  /** Sends the reminders, escalations and review chases due now, each once. */
  sendDueFollowUps() {
    return sendDueFollowUps(this.ctx);
  }
  /** The next moment a reminder, an escalation or a review chase falls due. */
  nextFollowUpAt() {
    return nextFollowUpAt(this.ctx);
  }
  /** When a request was escalated (its escalation target may decide it since), or null. */
  escalatedAt(requestId: string) {
    return this.ctx.store.followUps.sentAt(requestId, 'escalate');
  }

  /**
   * Records what the directory says of a person; someone deactivated or made a guest is
   * offboarded (grants revoked, requests cancelled, approvers told). Undefined when nothing
   * had to change.
   */
  recordPersonStatus(userId: string, status: PersonStatus, source: OffboardingSource) {
    return recordPersonStatus(this.ctx, userId, status, source);
  }

  /**
   * Live grants the configuration no longer covers, given where each configured provider instance
   * points: one line each, saying what to do.
   */
  checkLiveGrants(places: ProviderPlaces): Promise<LiveGrantProblems> {
    return checkLiveGrants(this.ctx, places);
  }

  /**
   * An admin closes a grant whose provider is gone or points elsewhere now (`providerPlaces`);
   * the access must be removed by hand.
   */
  closeByHand(grantId: string, actor: string, reason: string) {
    return closeByHand(this.ctx, grantId, actor, reason);
  }

  /** Everyone holding a grant or waiting on a request, for the offboarding safety net: a page. */
  peopleWithAccess(limit: number, after = ''): Promise<string[]> {
    return this.ctx.store.people.withAccessOrAsking(limit, after);
  }

  request(id: string): Promise<RequestRow | undefined> {
    return this.ctx.store.requests.byId(id);
  }
  grant(id: string): Promise<GrantRow | undefined> {
    return this.ctx.store.grants.byId(id);
  }
  /** The grant, or a DomainError the person can read. */
  findGrant(id: string): Promise<GrantRow> {
    return findGrant(this.ctx, id);
  }
  /** The grant a request made, or for an extension, the grant it extends. */
  grantOf(request: RequestRow): Promise<GrantRow | undefined> {
    return this.ctx.store.grants.ofRequest(request.id);
  }
  /** The request with its grant (as grantOf) and its approvals, read together. */
  standingOf(requestId: string): Promise<RequestStanding | undefined> {
    return this.ctx.store.requests.standing(requestId);
  }
  /** What the provider reported was done with an ended grant's access, in one line. */
  async activityOf(grant: GrantRow): Promise<string | undefined> {
    const events = await this.ctx.store.audit.aboutGrant(grant.id, grant.requestId);
    const revoked = [...events]
      .reverse()
      .find((e) => e.action === 'grant.revoked' && e.grantId === grant.id);
    return revoked && activitySummary(revoked.details);
  }

  approvalsOf(requestId: string) {
    return this.ctx.store.approvals.of(requestId);
  }
  overviewOf(userId: string) {
    return overviewOf(this.ctx, userId);
  }
  awaitingDecisionBy(userId: string, limit?: number) {
    return awaitingDecisionBy(this.ctx, userId, limit);
  }

  /**
   * Records the 7 days ending at `periodEnd` and queues their digest to `channel`, unless that
   * period was queued before (by this process, an earlier one, or another replica). True when
   * queued now.
   */
  queueDigest(period: Period, channel: string): Promise<boolean> {
    const key = periodKey(period);
    return change(this.ctx, async (c) => {
      const inserted = await c.tx.digests.insertIfNew({
        periodKey: key,
        periodStart: period.start,
        periodEnd: period.end,
        channel,
        queuedAt: c.now,
      });
      if (!inserted) return false;
      c.audit({
        actor: 'hallpass',
        action: 'digest.queued',
        details: { periodStart: period.start, periodEnd: period.end, channel },
      });
      c.notify(`digest:${key}`, {
        topic: 'digest',
        channel,
        periodStart: period.start,
        periodEnd: period.end,
      });
      return true;
    });
  }

  /** A digest was posted: record when, and the chain head it verified (the next starts there). */
  digestPosted(period: Period, head: { seq: number; hash: string } | undefined): Promise<void> {
    return this.ctx.store.digests.markPosted(periodKey(period), this.ctx.clock.now(), head);
  }
}
