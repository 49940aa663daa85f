import type {
  ApprovalRow,
  AuditRow,
  ApiTokenRow,
  BreakGlassRow,
  DigestRow,
  FollowUpStep,
  GrantRow,
  OutboxRow,
  PersonRow,
  PostedMessage,
  RequestRow,
} from './rows';

/**
 * The store as everything outside src/store sees it: the same for SQLite and PostgreSQL. Reads
 * on the store itself see committed state; every state change runs in `change`, one transaction
 * serialised with every other change on the same database (one process or many), so a rule that
 * reads and then writes cannot interleave with another.
 */
export interface Store extends Queries {
  /**
   * Runs `work` as one transaction, serialised with every other `change` on this database, and
   * commits it, or rolls it back when `work` throws. `work` must not wait on anything but `tx`
   * (no provider, no Slack call), so the serialisation holds nothing up for long. `chain` reads
   * the audit chain's newest row as the change opened (undefined while the log is empty): the
   * events it appends follow it, since no other change appends meanwhile.
   */
  change<T>(work: (tx: Queries, chain: ChainHead) => Promise<T>): Promise<T>;
  /** Runs `work` on one consistent read-only view, for reads that must agree with each other. */
  snapshot<T>(work: (tx: Queries) => Promise<T>): Promise<T>;
  /**
   * Walks the audit chain after `from` up to the newest row, in one consistent view, calling
   * `onProgress` at every 100,000 rows verified. A row below seq 1 anywhere is the break found,
   * whatever `from`: no walk reads it, yet every other read of the log does.
   */
  verifyChain(
    from: ChainStart,
    onProgress?: (verified: number) => void,
    options?: ChainWalkOptions,
  ): Promise<ChainResult>;
  /** Who runs the jobs that must run once (the sweeper): every process on SQLite, one on PostgreSQL. */
  leadership(options?: LeadershipOptions): Leadership;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  /** This process's changes waiting for their turn now, and those refused since it opened. */
  changeQueue(): ChangeQueueCounts;
  close(): Promise<void>;
  /** For logs and errors: the kind of store and where, without credentials. */
  readonly description: string;
}

export interface ChangeQueueCounts {
  waiting: number;
  /** Refused before they began, past the queue's bound (PostgreSQL's `HALLPASS_DATABASE_QUEUE`). */
  refused: number;
}

/**
 * Reads the chain's newest row under a change's serialisation. On PostgreSQL the read goes in
 * the round trip of the change's first statement, so asking for it late costs nothing more.
 */
export type ChainHead = () => Promise<ChainStart | undefined>;

export interface ChainStart {
  seq: number;
  hash: string;
}

export interface ChainWalkOptions {
  /** Walks at most the rows with seq <= from.seq + maxRows: one step of a walk in steps. */
  maxRows?: number;
}

export interface ChainResult {
  checked: number;
  intact: boolean;
  firstBroken?: { seq: number; problem: string };
  /**
   * The newest row walked when the chain is intact (the start itself when nothing was new); with
   * `maxRows`, the last row of the step.
   */
  head?: ChainStart;
}

export interface LeadershipOptions {
  /** How often a follower tries to become the leader, and the leader checks its hold. */
  intervalMs?: number;
  /**
   * The clock this process writes its leases with (grant-call fences, outbox leases): a leader
   * must agree with the database server's clock, so that every leader reads another's leases
   * alike. Date.now by default.
   */
  now?: () => number;
}

/** Whether this process is the one that runs the once-only jobs right now. */
export interface Leadership {
  readonly isLeader: boolean;
  /** Starts campaigning; `onChange` is called with true when this process leads, false when it stops. */
  start(onChange: (leader: boolean) => void): Promise<void>;
  stop(): Promise<void>;
}

/** Every query the domain, the jobs and the reports make, grouped by table. */
export interface Queries {
  readonly requests: RequestQueries;
  readonly approvals: ApprovalQueries;
  readonly grants: GrantQueries;
  readonly audit: AuditQueries;
  readonly outbox: OutboxQueries;
  readonly messages: MessageQueries;
  readonly digests: DigestQueries;
  readonly reports: ReportQueries;
  readonly people: PeopleQueries;
  readonly meta: MetaQueries;
  readonly checkpoint: CheckpointQueries;
  readonly gauges: GaugeQueries;
  readonly tokens: TokenQueries;
  readonly pipelineCredentials: PipelineCredentialQueries;
  readonly breakGlass: BreakGlassQueries;
  readonly followUps: FollowUpQueries;
}

/** The state /metrics shows, read on every scrape: counts over partial indexes only. */
export interface OperationalGauges {
  /** Grants not over yet, by status. */
  inFlight: { activating: number; active: number; revoking: number };
  /** Grants still active or revoking after their expiry, and the earliest such expiry. */
  overdue: { count: number; oldestExpiresAt: number | null };
  /** Grants whose last provider call failed and that wait for a retry. */
  retrying: number;
  /** Notifications waiting for delivery (the oldest's queue time), and those given up on. */
  outbox: { pending: number; oldestPendingAt: number | null; dead: number };
}

export interface GaugeQueries {
  read(now: number): Promise<OperationalGauges>;
}

export interface TokenQueries {
  byId(id: string): Promise<ApiTokenRow | undefined>;
  insert(row: ApiTokenRow): Promise<void>;
  /** Every token, newest first (revoked ones too, for the record). */
  list(): Promise<ApiTokenRow[]>;
  /** Marks a live token revoked; false when it was revoked already or does not exist. */
  revoke(id: string, at: number, by: string): Promise<boolean>;
}

/** Sealed credentials of pipelines' grants, kept until the grant ends. */
export interface PipelineCredentialQueries {
  /** Keeps `sealed` for the grant, replacing what was kept (a re-grant issues new ones). */
  put(grantId: string, sealed: string, at: number): Promise<void>;
  get(grantId: string): Promise<string | undefined>;
  /** Forgets what was kept for these grants, in one statement (a batch of revokes ends many). */
  drop(grantIds: readonly string[]): Promise<void>;
}

export interface BreakGlassQueries {
  byRequest(requestId: string): Promise<BreakGlassRow | undefined>;
  insert(row: BreakGlassRow): Promise<void>;
  /** Records the review of a use not reviewed yet; false when someone reviewed it first. */
  review(
    requestId: string,
    review: Pick<BreakGlassRow, 'reviewedAt' | 'reviewedBy' | 'verdict' | 'note'>,
  ): Promise<boolean>;
  /** Unreviewed uses whose review was due by `now` and not chased yet, oldest first. */
  overdue(now: number, limit: number): Promise<BreakGlassRow[]>;
  /** When the next unreviewed, unchased use falls due. */
  nextOverdueAt(): Promise<number | null>;
  /** Uses within `range`, oldest first, and how many there are in all. */
  usedIn(range: Range, limit: number): Promise<Listed<BreakGlassRow>>;
}

/** Pending requests on some resources filed by `filedBy`, without the follow-up `step` yet. */
export interface FollowUpDue {
  resourceIds: readonly string[];
  step: FollowUpStep;
  filedBy: number;
  limit: number;
}

export interface FollowUpQueries {
  /** Records that `step` was sent for a request; false when it was recorded before (by anyone). */
  insertIfNew(requestId: string, step: FollowUpStep, at: number): Promise<boolean>;
  /** When `step` was sent for a request, or null when it was not. */
  sentAt(requestId: string, step: FollowUpStep): Promise<number | null>;
  /** Pending requests of `resourceIds` filed at or before `filedBy` without `step`, oldest first. */
  pendingWithout(due: FollowUpDue): Promise<RequestRow[]>;
  /** The earliest filing time among pending requests of `resourceIds` still without `step`. */
  oldestPendingWithout(resourceIds: readonly string[], step: FollowUpStep): Promise<number | null>;
}

export interface PeopleQueries {
  get(userId: string): Promise<PersonRow | undefined>;
  upsert(row: PersonRow): Promise<void>;
  /**
   * Everyone holding a grant that is not over, or waiting on a request (who must not be
   * forgotten), and everyone doubted (`doubt`), in user id order: the first `limit` after `after`.
   */
  withAccessOrAsking(limit: number, after: string): Promise<string[]>;
  /**
   * Marks a person recorded as gone as owed a look (Slack said they are back, the directory could
   * not confirm it): withAccessOrAsking lists them until a check records what the directory says.
   */
  doubt(userId: string): Promise<void>;
}

export interface MetaQueries {
  get(key: string): Promise<string | undefined>;
  /** Sets `key` unless it is set already; resolves with the value it has now. */
  setOnce(key: string, value: string): Promise<string>;
}

/**
 * What a recorded break is, which decides whether it clears: `row`, a row the walk found not to
 * match, stands until an admin resets the checkpoint; `checkpoint`, the checkpoint itself (forged,
 * moved back, gone, or its row rewritten; the number may be no row at all), clears once a walk
 * from where the watch starts again finds the chain intact.
 */
export type BreakKind = 'row' | 'checkpoint';

/** The audit chain's verified head, as the chain watch last recorded it, and its seal. */
export interface ChainCheckpoint extends ChainStart {
  verifiedAt: number;
  /**
   * The break last alerted: the walk stops there until the chain is repaired, or, for a row,
   * until the checkpoint is reset. No `kind` in a checkpoint sealed before kinds were recorded.
   */
  broken: { seq: number; problem: string; kind?: BreakKind } | null;
  /** HMAC over the other fields (see src/audit/checkpoint-seal.ts). */
  seal: string;
}

export interface CheckpointQueries {
  get(): Promise<ChainCheckpoint | undefined>;
  /** Replaces the checkpoint. */
  put(checkpoint: ChainCheckpoint): Promise<void>;
}

export type Patch<T> = Partial<Omit<T, 'id'>>;

/** Where a request stands: what a message about it draws. */
export interface RequestStanding {
  request: RequestRow;
  grant: GrantRow | undefined;
  approvals: ApprovalRow[];
}

export interface FilingFacts {
  /** Requests of the kind the person filed since the moment asked about, in any status. */
  filed: number;
  /** Requests of the kind the person has waiting for a decision. */
  pending: number;
  /** The person's state as the directory last told it, when it has. */
  personState: PersonRow['state'] | undefined;
  /** Whether a request was filed with the client key already (read it with byClientKey). */
  clientKeyUsed: boolean;
}

/** What deciding a request must know, read at once (one statement on PostgreSQL). */
export interface DecisionFacts {
  request: RequestRow;
  /** Its decisions so far, in the order they were recorded. */
  approvals: ApprovalRow[];
  /**
   * The state the directory last told of each person the decision concerns (the one deciding,
   * the requester, and everyone who decided before), for those it has told of.
   */
  people: Map<string, PersonRow['state']>;
  /** Its escalation follow-up was sent: the escalation target may decide as well. */
  escalated: boolean;
}

export interface RequestQueries {
  byId(id: string): Promise<RequestRow | undefined>;
  byClientKey(clientKey: string): Promise<RequestRow | undefined>;
  /** The request with its grant (GrantQueries.ofRequest) and its approvals, read together. */
  standing(id: string): Promise<RequestStanding | undefined>;
  /** What `actor` deciding request `id` must know (DecisionFacts); undefined for no request. */
  beforeDecision(id: string, actor: string): Promise<DecisionFacts | undefined>;
  insert(row: RequestRow): Promise<void>;
  /** Applies `patch`; with `onlyIf`, only while the request still has that status. True when changed. */
  update(id: string, patch: Patch<RequestRow>, onlyIf?: RequestRow['status']): Promise<boolean>;
  /**
   * Applies `patch` to a request the change has read, without asking how many rows changed: on
   * PostgreSQL it goes with the change's next statement, a round trip less on the one connection
   * a replica's changes take turns on.
   */
  set(id: string, patch: Patch<RequestRow>): Promise<void>;
  /** A person's pending requests, newest first. */
  pendingOf(requester: string): Promise<RequestRow[]>;
  /** A person's `limit` newest pending requests (of every kind). */
  newestPendingOf(requester: string, limit: number): Promise<RequestRow[]>;
  /** How many requests of a person are pending (of every kind). */
  pendingCountOf(requester: string): Promise<number>;
  /** What filing a request of `kind` for `requester` must know, read at once (FilingFacts). */
  beforeFiling(q: {
    requester: string;
    kind: RequestRow['kind'];
    since: number;
    clientKey: string | null;
  }): Promise<FilingFacts>;
  /** The pending extension request of a grant, if any. */
  pendingExtensionOf(grantId: string): Promise<RequestRow | undefined>;
  /** Ids of pending requests whose time ran out by `now`, oldest first. */
  stale(now: number, limit: number): Promise<string[]>;
  /**
   * Pending requests on `resourceIds` that `userId` has not decided yet, oldest first; the
   * person's own requests only on the resources in `selfApproval`.
   */
  awaitingDecision(q: {
    userId: string;
    resourceIds: readonly string[];
    selfApproval: readonly string[];
    limit: number;
  }): Promise<RequestRow[]>;
  /**
   * The last request on `resourceId` filed at or before `at` that recorded its rules, and the
   * first one filed after it: what the rules were then, and whether they still were later.
   */
  recordedPolicy(resourceId: string, at: number): Promise<RecordedPolicies>;
}

/** A request's recorded rules (JSON, src/core/rules.ts) and when it was filed. */
export interface RecordedPolicy {
  requestId: string;
  at: number;
  policy: string;
}
export interface RecordedPolicies {
  before?: RecordedPolicy;
  after?: RecordedPolicy;
}

export interface ApprovalQueries {
  /** A request's decisions, in the order they were made. */
  of(requestId: string): Promise<ApprovalRow[]>;
  /** Counts approvals per request. */
  approvingCounts(requestIds: readonly string[]): Promise<Map<string, number>>;
  insert(row: Omit<ApprovalRow, 'id'>): Promise<void>;
}

/** A place in the order of due grants: a grant's `next_attempt_at` and id. */
export interface DuePlace {
  at: number;
  id: string;
}

/**
 * A grant with provider work due, as the listing gives it: enough to page on and to tell an
 * expiry from a retry. The sweeper reads the whole row only for the grants it takes.
 */
export type DueGrant = Pick<GrantRow, 'id' | 'status'> & { nextAttemptAt: number };

export interface GrantQueries {
  byId(id: string): Promise<GrantRow | undefined>;
  /** The grants among `ids` that exist, in no particular order: one statement for a batch. */
  byIds(ids: readonly string[]): Promise<GrantRow[]>;
  byRequest(requestId: string): Promise<GrantRow | undefined>;
  /** The grant a request made, or for an extension, the grant it extends. */
  ofRequest(requestId: string): Promise<GrantRow | undefined>;
  insert(row: GrantRow): Promise<void>;
  /** Applies `patch`; with `onlyIf`, only while the grant still has that status. True when changed. */
  update(id: string, patch: Patch<GrantRow>, onlyIf?: GrantRow['status']): Promise<boolean>;
  /** As RequestQueries.set: `patch` on a grant the change has read, its row count not asked. */
  set(id: string, patch: Patch<GrantRow>): Promise<void>;
  /** Applies the same `patch` to every grant of `ids` (with `onlyIf`, those in that status) in one statement; resolves with how many changed. */
  updateMany(
    ids: readonly string[],
    patch: Patch<GrantRow>,
    onlyIf?: GrantRow['status'],
  ): Promise<number>;
  /**
   * Applies `patch` to each grant of `ids` that is still active and has expired by `now`, in one
   * statement; resolves with those grants as they are now, in no particular order.
   */
  expire(ids: readonly string[], now: number, patch: Patch<GrantRow>): Promise<GrantRow[]>;
  /**
   * Grants with provider work due by `now` (activation, expiry, a revoke), soonest first and then
   * by id; with `after`, only those past that place, so a pass pages through what is due without
   * reading again the grants it took.
   */
  due(now: number, limit: number, after?: DuePlace): Promise<DueGrant[]>;
  /**
   * The next moments the sweeper has work, in one statement (it reads them after every pass and
   * change): grant work falling due, an unwarned holder's expiry, a pending request running out.
   */
  nextMoments(): Promise<NextMoments>;
  /**
   * The grants of these grants' holders at their providers that give access now or may soon, in
   * one statement: active and unexpired at `now`, or activating (whenever its attempt is due).
   */
  liveAlongside(grants: readonly GrantRow[], now: number): Promise<GrantRow[]>;
  /**
   * The other grants of `grant`'s holder at its provider that are being revoked, or ended with
   * a fence (`fence_until`) still ahead of `now` or at `endedSince` or later: a revoke of theirs
   * may still be out.
   */
  endingAlongside(grant: GrantRow, now: number, endedSince: number): Promise<GrantRow[]>;
  /** Active, unwarned grants expiring in (now, until]. */
  toWarn(now: number, until: number, limit: number): Promise<GrantRow[]>;
  /** Active grants whose expiry moved since the provider was told. */
  toSync(limit: number): Promise<GrantRow[]>;
  /** A person's grants that are not over yet, soonest ending first. */
  liveOf(userId: string): Promise<GrantRow[]>;
  /** The first `limit` of liveOf, read without the rest: a person may hold many. */
  soonestLiveOf(userId: string, limit: number): Promise<GrantRow[]>;
  /** How many grants of a person are not over yet. */
  liveCountOf(userId: string): Promise<number>;
  /**
   * How many grants are not over yet (activating, active, revoking) per provider, resource and
   * recorded terms (the grants of a resource share a few): counted in the database, so a check at
   * start-up holds no grant in memory.
   */
  liveTargets(): Promise<
    { provider: string; resourceId: string; snapshot: string | null; count: number }[]
  >;
  /** The grants not over yet of one provider instance and resource. */
  liveOn(provider: string, resourceId: string): Promise<GrantRow[]>;
  /** Grants whose read-back falls due by `now` (ended ones checked again), soonest first. */
  toRecheck(now: number, limit: number): Promise<GrantRow[]>;
  /** Active grants read back longest ago (never first). */
  leastRecentlyVerified(limit: number): Promise<GrantRow[]>;
  /** The newest grants matching `filter`, and how many match in all. */
  list(filter: GrantFilter): Promise<{ rows: GrantRow[]; total: number }>;
}

export interface GrantFilter {
  live?: boolean;
  users?: readonly string[];
  resources?: readonly string[];
  limit: number;
}

export interface AuditQueries {
  /** The newest row's seq and hash; undefined for an empty log. */
  head(): Promise<ChainStart | undefined>;
  /** Appends rows already chained by the caller, in seq order. */
  append(rows: readonly AuditRow[]): Promise<void>;
  bySeq(seq: number): Promise<AuditRow | undefined>;
  /** The newest row written before `at`. */
  lastBefore(at: number): Promise<ChainStart | undefined>;
  /** Rows with since <= at < until, in seq order, a page at a time. */
  between(since: number, until: number): AsyncIterable<AuditRow[]>;
  /** Every row about a grant: its own, its request's and its extension requests', in seq order. */
  aboutGrant(grantId: string, requestId: string): Promise<AuditRow[]>;
  /** Every row of one request (a denied, cancelled or expired one has no grant), in seq order. */
  aboutRequest(requestId: string): Promise<AuditRow[]>;
}

export interface NewOutboxRow {
  key: string;
  subject: string;
  topic: string;
  payload: string;
}

/** A row Slack accepted: what stays of its payload, and the rows its send also showed. */
export interface SentMark {
  row: OutboxRow;
  /** The end of the lease its worker claimed or last held the row with. */
  leasedUntil: number;
  restingPayload: string;
  coveredUpTo: number;
}

/**
 * A claimed row, with the largest id pending for its subject when it was claimed: a delivery
 * that renders the subject as it is now also shows every row queued up to it.
 */
export type ClaimedOutboxRow = OutboxRow & { lastPendingId: number };

/** The next moment of each kind of sweeper work; null where there is none. */
export interface NextMoments {
  /** The next moment grant work (activation, expiry, a revoke to retry) falls due. */
  grantWork: number | null;
  /** The earliest expiry among active grants whose holder was not warned yet. */
  unwarnedExpiry: number | null;
  /** The earliest moment a pending request runs out. */
  pendingUntil: number | null;
}

export interface OutboxQueries {
  /** Queues rows due at `now`; a key queued before is skipped. */
  enqueue(rows: readonly NewOutboxRow[], now: number): Promise<void>;
  /**
   * Claims up to `limit` rows for one try each: the oldest pending row of each subject, where
   * that row is due, leased until `now + leaseMs`. A row claimed by another process is not.
   */
  claimHeads(now: number, leaseMs: number, limit: number): Promise<ClaimedOutboxRow[]>;
  /**
   * Holds a claimed row, still pending, until `until`: its delivery is still under way. Only
   * while its lease still ends at `from` (no other process claimed it meanwhile): false if not.
   */
  extendLease(id: number, from: number, until: number): Promise<boolean>;
  /** The first `limit` pending rows of a subject queued after `afterId`, oldest first. */
  pendingAfter(subject: string, afterId: number, limit: number): Promise<OutboxRow[]>;
  /**
   * Marks each row sent, and the later rows of its subject and topic up to its `coveredUpTo`,
   * all in one transaction. Each mark only while its row is still pending with its lease ending
   * at `leasedUntil`; the result says, mark by mark, whether it was (false: another process holds
   * the row by now, or finished it).
   */
  markSent(marks: readonly SentMark[], now: number): Promise<boolean[]>;
  /**
   * Schedules a row's next try; the rows queued behind it in its subject are held until then too,
   * as they cannot go before it: a claim never walks rows that wait on a head. Only while the row
   * is still pending with its lease ending at `leasedUntil`: false if not.
   */
  markRetry(
    row: OutboxRow,
    leasedUntil: number,
    attempts: number,
    nextAttemptAt: number,
    error: string,
  ): Promise<boolean>;
  /**
   * Gives a row up, only while it is still pending with its lease ending at `leasedUntil`: false
   * if not.
   */
  markDead(
    id: number,
    leasedUntil: number,
    attempts: number,
    error: string,
    restingPayload: string,
  ): Promise<boolean>;
  counts(): Promise<{ pending: number; dead: number }>;
}

/** Where a posted message is remembered: what it is about, and what it is for. */
export interface MessageRef {
  subject: string;
  purpose: string;
}

export interface MessageQueries {
  find(subject: string, purpose: string): Promise<PostedMessage | undefined>;
  /** The messages remembered under each of `refs` (subject and purpose), in one statement. */
  findEach(refs: readonly MessageRef[]): Promise<PostedMessage[]>;
  remember(message: PostedMessage): Promise<void>;
  /** Records that a person opened the Home tab; the first time is kept. */
  homeOpened(userId: string, at: number): Promise<void>;
  /** Whether a person has ever opened the Home tab. */
  openedHome(userId: string): Promise<boolean>;
  /** Those of `userIds` who have ever opened the Home tab, in one statement. */
  openedHomes(userIds: readonly string[]): Promise<string[]>;
}

export interface DigestQueries {
  /** Records a period; false when it was recorded before (by any process). */
  insertIfNew(row: Omit<DigestRow, 'postedAt' | 'chainSeq' | 'chainHash'>): Promise<boolean>;
  markPosted(periodKey: string, postedAt: number, head: ChainStart | undefined): Promise<void>;
  /** Every chain head a posted digest recorded, oldest first. */
  anchors(): Promise<(ChainStart & { periodKey: string; postedAt: number | null })[]>;
}

/** Half-open time range, milliseconds. */
export interface Range {
  start: number;
  end: number;
}

export interface Ranked {
  key: string;
  count: number;
}

export interface Listed<T> {
  items: T[];
  total: number;
}

/** A grant (or the request that made or extended it) a report points at. */
export interface GrantRef {
  grantId: string | null;
  requestId: string;
  userId: string;
  resourceId: string;
  at: number;
  kind: 'access' | 'extension';
}

/** A revoke whose provider reported what was done with the access (in `details.activity`). */
export interface ActivityRow {
  grantId: string;
  userId: string;
  resourceId: string;
  /** When the revoke was recorded. */
  at: number;
  /** The revoke's audit event details, as stored. */
  details: string;
}

export interface LongGrant {
  grantId: string;
  userId: string;
  resourceId: string;
  startsAt: number;
  heldMs: number;
  status: string;
}

export interface RevocationProblem {
  grantId: string;
  userId: string;
  resourceId: string;
  /** `stuck`: still not confirmed gone; `late`: confirmed gone, but late or after retries. */
  kind: 'stuck' | 'late';
  status: string;
  attempts: number;
  lastError: string | null;
  /** When the access should have been gone: its expiry, or when an early end was asked for. */
  dueAt: number;
  /** How long past `dueAt` it was confirmed gone (late) or is still there (stuck, as of `asOf`). */
  overrunMs: number;
}

/** The period's `grant.revoked` events: how many by recorded reason, and what was reported. */
export interface RevokedInPeriod {
  endsByReason: Map<string | null, number>;
  /** Grants revoked in the period whose provider reported what was done, the latest first. */
  activity: Listed<ActivityRow>;
}

/** How long human decisions took: nearest-rank percentiles (the value at rank ceil(p/100 × n)). */
export interface DecisionTimes {
  decisions: number;
  medianMs: number;
  p90Ms: number;
}

/** The grants activated in a period: how many, and those activated outside business hours. */
export interface Activations {
  count: number;
  outside: Listed<GrantRef>;
}

/** The requests decided in a period: how many by the outcome each was left with, and how long. */
export interface Decided {
  outcomes: { approved: number; denied: number; cancelled: number; expired: number };
  /** The human decisions among them (auto-approvals and break-glass left out); null if none. */
  times: DecisionTimes | null;
}

/** The aggregate reads of the weekly digest, each over one period. */
export interface ReportQueries {
  countsByAction(range: Range, actions: readonly string[]): Promise<Map<string, number>>;
  /**
   * The period's revokes (grants whose revoke was recorded in it) by reason, and the latest that
   * reported activity.
   */
  revoked(range: Range, top: number): Promise<RevokedInPeriod>;
  requestsFiled(range: Range): Promise<number>;
  /**
   * The requests decided in the period by outcome, and how long (decided - filed) the human
   * decisions among them took: one pass over the period's decisions.
   */
  decided(range: Range): Promise<Decided>;
  topApprovers(range: Range, top: number): Promise<Listed<Ranked>>;
  topResources(range: Range, top: number): Promise<Listed<Ranked>>;
  topRequesters(range: Range, top: number): Promise<Listed<Ranked>>;
  selfApproved(range: Range, top: number): Promise<Listed<GrantRef>>;
  autoApproved(range: Range, top: number): Promise<Listed<GrantRef>>;
  /**
   * The grants activated in the period: how many, and those activated outside every interval of
   * `inside`, in one pass.
   */
  activations(range: Range, inside: readonly Range[], top: number): Promise<Activations>;
  longestGrants(range: Range, top: number): Promise<LongGrant[]>;
  revocationProblems(
    range: Range,
    asOf: number,
    lateAfterMs: number,
    top: number,
  ): Promise<Listed<RevocationProblem>>;
}
