import type { Core } from '../../core';
import type { Notification } from '../../core/notifications';
import type { Logger } from '../../log';
import type { GuaranteeLookup } from '../../providers/types';
import type { Sealer } from '../../secrets/seal';
import type { SlackMessage } from '../ui/blocks';
import type { SlackOut } from './slack-out';

export type Topic = Notification['topic'];
export type NotificationOf<T extends Topic> = Extract<Notification, { topic: T }>;

/** What a topic handler gets for one delivery. */
export interface DeliveryContext {
  core: Core;
  sealer: Sealer;
  guarantees?: GuaranteeLookup;
  logger: Logger;
  slack: SlackOut;
  /** The time the delivery started, from the injected clock: render times relative to it. */
  now: number;
  /** The zone `userId` reads times in: their own from Slack, else the configured one. */
  zoneOf(userId: string): Promise<string>;
  /**
   * The next few rows queued after this one for the same subject, each going out after it:
   * enough to see what follows closely, without reading a long backlog on every delivery. Rows
   * queued after this one was claimed may be missing; each draws what it shows when it goes.
   */
  queuedAfter(): Promise<Notification[]>;
  /**
   * Asks for the Home tab of those of these people who have opened it to be drawn again, now
   * that what it shows changed: the dispatcher's next round tells who opened it (HomeAsks) and
   * draws theirs in a coming round (HomeDraws), after this delivery.
   */
  refreshHome(userIds: readonly string[]): void;
  /** Posts once for this outbox row: a retry after a partial success skips channels already done. */
  post(channel: string, message: SlackMessage): Promise<void>;
  /**
   * Replies once for this outbox row in the thread of the message remembered as `parent`; false
   * when there is none.
   */
  reply(parent: { subject: string; purpose: string }, message: SlackMessage): Promise<boolean>;
}

/**
 * Renders one notification from the current state and sends it. Throwing fails the try: the
 * dispatcher retries or gives up depending on the error (see failures.ts).
 */
export type TopicHandler<T extends Topic> = (
  notification: NotificationOf<T>,
  ctx: DeliveryContext,
) => Promise<void>;

export type TopicHandlers = { [T in Topic]?: TopicHandler<T> };
