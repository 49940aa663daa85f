import { Writable } from 'node:stream';
import { webApi } from '@slack/bolt';
import winston from 'winston';
import type { Core } from '../../../src/core';
import { subjectOf, type Notification } from '../../../src/core/notifications';
import type { ProviderGuarantees } from '../../../src/providers/types';
import { Sealer } from '../../../src/secrets/seal';
import { SlackDirectory } from '../../../src/slack/directory';
import { OutboxDispatcher, type DispatcherOptions } from '../../../src/slack/delivery/dispatcher';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../../support/core';
import { FakeSlack } from '../../support/fake-slack';
import type { StoreKind } from '../../support/stores';

export const JUST = 'investigating INC-42 slow queries';

/** The bot token of the harness's own dispatcher; each `another()` has a token of its own. */
export const BOT_TOKEN = 'xoxb-test';

export interface OutboxRowView {
  id: number;
  key: string;
  subject: string;
  topic: string;
  payload: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
}

/** A dispatcher of another process (or replica): its own store connection, core and client. */
export interface Replica {
  core: Core;
  dispatcher: OutboxDispatcher;
  /** The bot token its Slack client sends, to tell its calls from the harness's. */
  token: string;
}

export interface DeliveryHarness extends Omit<CoreHarness, 'another'> {
  fake: FakeSlack;
  client: webApi.WebClient;
  sealer: Sealer;
  dispatcher: OutboxDispatcher;
  /** Every log line the dispatchers wrote, as JSON text. */
  logs: string[];
  guarantees: ProviderGuarantees;
  /** Another dispatcher on a store of its own on the same database, as after a restart or on a replica. */
  another(options?: Partial<DispatcherOptions>): Promise<Replica>;
  dispatcherFor(
    core: Core,
    options?: Partial<DispatcherOptions>,
    client?: webApi.WebClient,
  ): OutboxDispatcher;
  rows(where?: string): Promise<OutboxRowView[]>;
  /** Queues a notification as a change of the core would (a key queued before is skipped). */
  enqueue(key: string, notification: Notification): Promise<void>;
  /** Moves a grant to active (as the sweeper would after the provider said yes). */
  activate(grantId: string, credentials?: string): Promise<void>;
  stop(): Promise<void>;
}

/** A call to the fake Slack that is meant to hang is given this long before it counts as failed. */
export const HANG_TIMEOUT_MS = 300;

export const TEST_OPTIONS: Partial<DispatcherOptions> = {
  // Generous, so a loaded CI machine never turns a call that answers into a timed-out try; the
  // tests that make Slack hang pass HANG_TIMEOUT_MS to a dispatcher of their own.
  callTimeoutMs: 5_000,
  random: () => 0.5,
};

function slackClient(url: string, token: string): webApi.WebClient {
  return new webApi.WebClient(token, {
    slackApiUrl: url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: webApi.LogLevel.ERROR,
  });
}

/** A core on a fresh `kind` store, its outbox dispatcher, and FakeSlack on loopback. */
export async function deliveryHarness(
  kind: StoreKind = 'sqlite',
  options: Partial<DispatcherOptions> = {},
  yaml: string = BASE_CONFIG,
): Promise<DeliveryHarness> {
  const h = await coreHarness(yaml, undefined, kind);
  const fake = await new FakeSlack().start();
  const client = slackClient(fake.url, BOT_TOKEN);
  const sealer = new Sealer('test-sealing-secret');
  const logs: string[] = [];
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk, _encoding, done) {
            logs.push(String(chunk));
            done();
          },
        }),
      }),
    ],
  });
  const guarantees: ProviderGuarantees = {
    enforcesExpiry: false,
    endsOpenSessions: false,
    isolation: 'shared',
  };
  const started: OutboxDispatcher[] = [];
  const dispatcherFor = (
    core: Core,
    more: Partial<DispatcherOptions> = {},
    through: webApi.WebClient = client,
  ) => {
    const d = new OutboxDispatcher({
      clock: h.clock,
      client: through,
      sealer,
      core,
      logger,
      guarantees: { guaranteesFor: () => guarantees },
      // People's zones come from users.info on the fake, as the bot reads them from Slack.
      zones: new SlackDirectory(through, { clock: h.clock }),
      options: { ...TEST_OPTIONS, ...options, ...more },
    });
    started.push(d);
    return d;
  };
  const dispatcher = dispatcherFor(h.core);
  let replicas = 0;
  return {
    ...h,
    fake,
    client,
    sealer,
    dispatcher,
    logs,
    guarantees,
    dispatcherFor,
    another: async (more) => {
      const core = await h.another();
      const token = `xoxb-replica-${++replicas}`;
      return { core, token, dispatcher: dispatcherFor(core, more, slackClient(fake.url, token)) };
    },
    rows: (where = '1 = 1') =>
      h.sql.all<OutboxRowView>(`SELECT * FROM outbox WHERE ${where} ORDER BY id`),
    enqueue: (key, notification) =>
      h.store.outbox.enqueue(
        [
          {
            key,
            subject: subjectOf(notification),
            topic: notification.topic,
            payload: JSON.stringify(notification),
          },
        ],
        h.clock.now(),
      ),
    activate: async (grantId, credentials) => {
      const now = h.clock.now();
      const activated = await h.core.lifecycle.activated(grantId, {
        startsAt: now,
        expiresAt: now + 3_600_000,
        state: undefined,
        sealedCredentials:
          credentials === undefined
            ? undefined
            : sealer.seal(JSON.stringify({ text: credentials })),
        elapsedMs: 5,
      });
      if (!activated) throw new Error(`grant ${grantId} was not activating`);
    },
    stop: async () => {
      await Promise.all(started.map((d) => d.stop()));
      await fake.stop();
      await h.close();
    },
  };
}

/** The blocks and text a recorded call sent, flattened to one string for wording checks. */
export function sentText(args: Record<string, unknown>): string {
  return JSON.stringify([args.text, args.blocks]);
}
