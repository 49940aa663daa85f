import type { webApi } from '@slack/bolt';
import type { ClaimedOutboxRow, Core, OutboxRow } from '../../core';
import { backoffDelay } from '../../core/backoff';
import { Batch } from '../../jobs/batch';
import type { Clock } from '../../core/clock';
import { parseNotification, type Accepted } from '../../core';
import type { Logger } from '../../log';
import type { GuaranteeLookup } from '../../providers/types';
import type { Sealer } from '../../secrets/seal';
import { publishHome } from '../listeners/home';
import { MessagesStore } from '../messages-store';
import { persist } from '../persist';
import { zoneOf, type ReaderZones } from '../reader-zones';
import { deliverAlert } from './alert';
import { deliverChainBroken } from './chain-broken';
import { deliverBreakGlassAlert, deliverReviewOverdue } from './break-glass';
import { deliverEscalation, deliverReminder } from './follow-ups';
import { HomeAsks } from './home-asks';
import { HomeDraws } from './home-draws';
import { deliverApproverMessage } from './approver-message';
import { deliverCredentials } from './credentials';
import { deliverDigest } from './digest';
import { deliverDrift } from './drift';
import { deliverOffboarded } from './offboarded';
import { classify, LeaseLost, Undeliverable } from './failures';
import { deliverRequesterDm } from './requester-dm';
import { RowLease } from './row-lease';
import { SlackOut } from './slack-out';
import type {
  DeliveryContext,
  NotificationOf,
  Topic,
  TopicHandler,
  TopicHandlers,
} from './topic-handler';

export interface DispatcherOptions {
  /** How often the loop looks for due rows when nothing kicked it. */
  pollIntervalMs: number;
  /** Rows (each of another subject) claimed and delivered at once; a subject's rows go one at a time. */
  concurrency: number;
  /** Failed tries before a row is given up (`dead`); a 429 is not a failed try. */
  maxAttempts: number;
  /** A Slack call that has not answered by then counts as failed. */
  callTimeoutMs: number;
  /** How long a taken row stays invisible to other workers; a crashed try is retried after it. */
  leaseMs: number;
  /** How long a row Slack accepted waits for others of its round to be marked sent with it. */
  markWindowMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  random: () => number;
  /**
   * While more than this many of the process's changes wait for the database, the loop starts
   * no round: a burst's filings and decisions are recorded first, and their messages follow.
   */
  giveWayAtChanges: number;
  /**
   * The longest the loop gives way since it started or last started a round, so messages go on
   * in a long burst.
   */
  giveWayMaxMs: number;
}

export const DEFAULT_DISPATCHER_OPTIONS: DispatcherOptions = {
  pollIntervalMs: 250,
  // Each round costs a claim and a sent mark, one commit each, whatever its size: under load,
  // rounds of 8 cost the thread less per row than rounds of 4, and rounds of 16 made acks wait
  // behind the sends (docs/performance-journal.md, "Rounds of 8").
  concurrency: 8,
  maxAttempts: 10,
  callTimeoutMs: 10_000,
  // Longer than a Slack call (callTimeoutMs) and the writes that follow it (PERSIST_WITHIN_MS)
  // may take together; a delivery of several calls holds its row again before each
  // (leaseKeeper): a live worker never loses its claim.
  leaseMs: 45_000,
  markWindowMs: 2,
  retryBaseMs: 2_000,
  retryMaxMs: 5 * 60_000,
  random: Math.random,
  // Every round's reads, sends and marks take turns on the thread that also sends each change's
  // round trip: on PostgreSQL, under a burst of filings, the changes fell behind the rounds until
  // the change queue refused them (docs/performance-journal.md, "Deliveries give way to changes").
  giveWayAtChanges: 50,
  giveWayMaxMs: 1_000,
};

/** How soon the loop looks again while it gives way to changes. */
const GIVE_WAY_RECHECK_MS = 10;

export interface DispatcherDeps {
  clock: Clock;
  /** Bolt's `app.client`; the outbox retries, so the client's own retries are best turned off. */
  client: webApi.WebClient;
  sealer: Sealer;
  core: Core;
  logger: Logger;
  guarantees?: GuaranteeLookup;
  /** The zone each person reads times in; DMs are written in it. */
  zones?: ReaderZones;
  options?: Partial<DispatcherOptions>;
}

/**
 * Topics whose handler renders the current state, so one successful send also covers the rows
 * of the same subject queued before it started (up to the last one pending when it was claimed,
 * before the render read that state): a burst of changes becomes one edit.
 */
const RENDERS_CURRENT_STATE: ReadonlySet<string> = new Set<Topic>(['approver_message']);

const ERROR_MAX = 500;
/** How many rows queued after one a delivery may look at (DeliveryContext.queuedAfter). */
const QUEUED_AFTER_LIMIT = 8;

/**
 * Delivers the outbox to Slack: the oldest due row of each subject, a few subjects at a time,
 * claimed with a lease so that several processes share the work without doing a row twice,
 * marking a row sent only once Slack answered ok. Failures wait (429: as long as Slack asks;
 * otherwise exponential backoff with jitter) and are given up after `maxAttempts` or at once
 * when Slack says the message itself is wrong; a given-up row is audited.
 * No database transaction is open while Slack is called.
 */
export class OutboxDispatcher {
  private readonly options: DispatcherOptions;
  private readonly handlers: TopicHandlers = {};
  private readonly slack: SlackOut;
  private readonly inFlight = new Set<Promise<number>>();
  private started = false;
  /** Set by stop(): rounds in progress finish the row they are on but take no new ones. */
  private stopping = false;
  private ticking = false;
  private kickedDuringTick = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the loop started or last started a round: performance.now(), this process's own pace. */
  private lastRoundAt = 0;
  /**
   * Rows Slack accepted within `markWindowMs` of each other are marked sent in one transaction:
   * under load a round's sends finish close together, and each commit costs the thread that also
   * answers Slack more than the rows in it.
   */
  private readonly accepted: Batch<Accepted, boolean>;
  private readonly homes: HomeDraws;
  private readonly homeAsks: HomeAsks;

  constructor(private readonly deps: DispatcherDeps) {
    this.options = { ...DEFAULT_DISPATCHER_OPTIONS, ...deps.options };
    const { client, core, logger, zones } = deps;
    this.homes = new HomeDraws((userId) => publishHome(client, { core, logger, zones }, userId));
    this.homeAsks = new HomeAsks((userIds) => core.messages.openedHomes(userIds), logger);
    this.accepted = new Batch((rows) => persist(() => deps.core.outbox.sent(rows)), {
      windowMs: this.options.markWindowMs,
      maxItems: this.options.concurrency,
    });
    this.slack = new SlackOut(
      deps.client,
      new MessagesStore(deps.core.messages),
      deps.clock,
      this.options.callTimeoutMs,
    );
    this.register('approver_message', deliverApproverMessage)
      .register('requester_dm', deliverRequesterDm)
      .register('credentials', deliverCredentials)
      .register('alert', deliverAlert)
      .register('drift', deliverDrift)
      .register('offboarded', deliverOffboarded)
      .register('digest', deliverDigest)
      .register('chain_broken', deliverChainBroken)
      .register('reminder', deliverReminder)
      .register('escalation', deliverEscalation)
      .register('breakglass_alert', deliverBreakGlassAlert)
      .register('review_overdue', deliverReviewOverdue);
  }

  /** Sets the handler of a topic (replacing any earlier one). */
  register<T extends Topic>(topic: T, handler: TopicHandler<T>): this {
    this.handlers[topic] = handler as TopicHandlers[T];
    return this;
  }

  /** Homes asked for and not yet drawn again: work the process has queued beside the outbox. */
  get homesUnfinished(): number {
    return this.homeAsks.unfinished + this.homes.unfinished;
  }

  /** Starts the poll loop. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.lastRoundAt = performance.now();
    this.schedule(0);
  }

  /** Looks for due rows soon, e.g. right after a change was committed. Safe to call any time. */
  kick(): void {
    if (!this.started) return;
    if (this.ticking) this.kickedDuringTick = true;
    else this.schedule(0);
  }

  /**
   * Stops the loop: rounds in progress take no new rows, and it resolves once the sends in
   * flight have finished (each is bounded by the call timeout). start() resumes.
   */
  async stop(): Promise<void> {
    this.started = false;
    this.stopping = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  /**
   * One round: tries the due oldest row of each subject, and draws the Homes waiting that fit
   * beside them. Returns how many rows it tried and Homes it drew.
   */
  async deliverDue(): Promise<number> {
    const round = this.round();
    this.inFlight.add(round);
    try {
      return await round;
    } finally {
      this.inFlight.delete(round);
    }
  }

  /**
   * Rounds until nothing is due and no Home waits (rows scheduled for later stay). Returns how
   * many rows it tried and Homes it drew.
   */
  async drain(maxRounds = 1000): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxRounds; i++) {
      const tried = await this.deliverDue();
      if (tried === 0) break;
      total += tried;
    }
    return total;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (!this.started) return;
    if (this.givesWay()) {
      this.schedule(GIVE_WAY_RECHECK_MS);
      return;
    }
    this.lastRoundAt = performance.now();
    this.ticking = true;
    this.kickedDuringTick = false;
    let tried = 0;
    try {
      tried = await this.deliverDue();
    } catch (err) {
      this.deps.logger.error('outbox round failed', { error: errorText(err) });
    } finally {
      this.ticking = false;
    }
    if (this.started)
      this.schedule(tried > 0 || this.kickedDuringTick ? 0 : this.options.pollIntervalMs);
  }

  /** Whether the loop waits a moment before its next round (DispatcherOptions.giveWayAtChanges). */
  private givesWay(): boolean {
    const { giveWayAtChanges, giveWayMaxMs } = this.options;
    return (
      this.deps.core.outbox.changesWaiting() > giveWayAtChanges &&
      performance.now() - this.lastRoundAt < giveWayMaxMs
    );
  }

  private async round(): Promise<number> {
    if (this.stopping) return 0;
    const { concurrency, leaseMs } = this.options;
    // Sorted beside the claim; asked for even when the claim fails (takeOpened never throws).
    const sorted = this.homeAsks.takeOpened().then((opened) => {
      for (const userId of opened) this.homes.ask(userId);
    });
    const rows = await this.deps.core.outbox.claim(leaseMs, concurrency);
    await sorted;
    // Homes are drawn in the places the due rows leave, and in one place of a full round, so a
    // backlog of deliveries goes first without holding every Home back for its whole length.
    const draws = this.homes.take(Math.max(1, concurrency - rows.length));
    await Promise.all([...rows.map((row) => this.attempt(row)), ...draws]);
    return rows.length + draws.length;
  }

  private async attempt(row: ClaimedOutboxRow): Promise<void> {
    const { clock, core, logger } = this.deps;
    const coveredUpTo = RENDERS_CURRENT_STATE.has(row.topic) ? row.lastPendingId : row.id;
    const lease = new RowLease(row, core.outbox, clock, this.options.leaseMs);
    try {
      await this.send(row, lease);
    } catch (err) {
      if (err instanceof LeaseLost) {
        logger.warn('outbox row claimed elsewhere mid-delivery; left to that process', {
          topic: row.topic,
          key: row.key,
        });
        return;
      }
      await this.recordFailure(row, lease.until, err);
      return;
    }
    // Slack has it: the row must be marked sent, or another replica would send it again.
    if (await this.accepted.add({ row, leasedUntil: lease.until, coveredUpTo }))
      logger.debug('notification delivered', { topic: row.topic, key: row.key });
    else this.takenOver(row, 'sent');
  }

  private async send(row: ClaimedOutboxRow, lease: RowLease): Promise<void> {
    const notification = parseNotification(row);
    if (!notification) throw new Undeliverable('the payload is not a notification Hallpass knows');
    await this.handle(notification.topic, notification, this.contextFor(row, lease));
  }

  /**
   * This worker paused past its lease and another claimed the row meanwhile, so the outcome of
   * this try was not recorded: the row is that worker's to finish. A post this try made is
   * remembered in slack_messages, so that worker does not make it again.
   */
  private takenOver(row: OutboxRow, outcome: 'sent' | 'retry' | 'dead'): void {
    const message =
      'outbox row claimed elsewhere before its outcome was recorded; left to that process';
    this.deps.logger.warn(message, { topic: row.topic, key: row.key, outcome });
  }

  private async handle<T extends Topic>(
    topic: T,
    notification: NotificationOf<T>,
    ctx: DeliveryContext,
  ): Promise<void> {
    const handler = this.handlers[topic] as TopicHandler<T> | undefined;
    if (!handler) throw new Undeliverable(`no handler is registered for topic ${topic}`);
    await handler(notification, ctx);
  }

  private contextFor(row: ClaimedOutboxRow, lease: RowLease): DeliveryContext {
    const keepLease = () => lease.keep();
    const slack = this.slack.withBeforeCall(keepLease);
    return {
      core: this.deps.core,
      sealer: this.deps.sealer,
      guarantees: this.deps.guarantees,
      logger: this.deps.logger,
      slack,
      now: this.deps.clock.now(),
      zoneOf: (userId) => zoneOf(this.deps.zones, userId, this.deps.core.config.timezone),
      // The claim read the subject's last pending row: with none after this one, there is
      // nothing to read. A row queued since the claim is not seen, and draws what it shows.
      queuedAfter: async () =>
        row.lastPendingId > row.id
          ? this.deps.core.outbox.queuedAfter(row, QUEUED_AFTER_LIMIT)
          : [],
      // Asked during a round: the tick after it starts at once, as the round delivered a row.
      refreshHome: (userIds) => this.homeAsks.ask(userIds),
      post: (channel, message) => slack.postOnce(`outbox:${row.key}`, channel, message),
      reply: (parent, message) => slack.replyOnce(`outbox:${row.key}`, parent, message),
    };
  }

  /** Records a failed try as a retry or a row given up, while `leasedUntil` still holds it. */
  private async recordFailure(row: OutboxRow, leasedUntil: number, err: unknown): Promise<void> {
    const { clock, logger } = this.deps;
    const outbox = this.deps.core.outbox;
    const failure = classify(err);
    const error = failure.error.slice(0, ERROR_MAX);
    const now = clock.now();
    const about = { topic: row.topic, key: row.key, error };
    if (failure.kind === 'rate_limited') {
      const wait = Math.max(1000, failure.retryAfterMs);
      if (!(await outbox.retry(row, leasedUntil, row.attempts, now + wait, error)))
        return this.takenOver(row, 'retry');
      logger.warn('slack rate-limited a notification; waiting as asked', { ...about, wait });
      return;
    }
    const attempts = row.attempts + 1;
    if (failure.kind === 'permanent' || attempts >= this.options.maxAttempts) {
      const final =
        failure.kind === 'permanent' ? error : `gave up after ${attempts} tries: ${error}`;
      if (!(await outbox.dead(row, leasedUntil, attempts, final)))
        return this.takenOver(row, 'dead');
      logger.error('notification given up', { ...about, error: final, attempts });
      return;
    }
    const { retryBaseMs, retryMaxMs, random } = this.options;
    const nextAttemptAt = now + backoffDelay(attempts, retryBaseMs, retryMaxMs, random);
    if (!(await outbox.retry(row, leasedUntil, attempts, nextAttemptAt, error)))
      return this.takenOver(row, 'retry');
    logger.warn('notification failed; retrying', { ...about, attempts, nextAttemptAt });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
