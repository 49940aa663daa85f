import { Writable } from 'node:stream';
import { webApi } from '@slack/bolt';
import winston from 'winston';
import { Core } from '../../../src/core';
import { StaticDirectory } from '../../../src/core/directory';
import { recordActivated } from '../../../src/core/grant-progress';
import type { ProviderGuarantees } from '../../../src/providers/types';
import { Sealer } from '../../../src/secrets/seal';
import { OutboxDispatcher, type DispatcherOptions } from '../../../src/slack/delivery/dispatcher';
import { openDb, type Db } from '../../../src/store/db';
import { coreHarness, type CoreHarness } from '../../support/core';
import { FakeSlack } from '../../support/fake-slack';

export const JUST = 'investigating INC-42 slow queries';

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

export interface DeliveryHarness extends CoreHarness {
  fake: FakeSlack;
  client: webApi.WebClient;
  sealer: Sealer;
  dispatcher: OutboxDispatcher;
  /** Every log line the dispatchers wrote, as JSON text. */
  logs: string[];
  guarantees: ProviderGuarantees;
  /** Another dispatcher, on its own connection to the same file, as after a restart. */
  another(options?: Partial<DispatcherOptions>): { dispatcher: OutboxDispatcher; db: Db };
  dispatcherFor(core: Core, db: Db, options?: Partial<DispatcherOptions>): OutboxDispatcher;
  rows(where?: string): OutboxRowView[];
  /** Moves a grant to active (as the sweeper would after the provider said yes). */
  activate(grantId: string, credentials?: string): void;
  stop(): Promise<void>;
}

export const TEST_OPTIONS: Partial<DispatcherOptions> = {
  callTimeoutMs: 300,
  random: () => 0.5,
};

export async function deliveryHarness(
  options: Partial<DispatcherOptions> = {},
): Promise<DeliveryHarness> {
  const h = coreHarness();
  const fake = await new FakeSlack().start();
  const client = new webApi.WebClient('xoxb-test', {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    logLevel: webApi.LogLevel.ERROR,
  });
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
  const extraDbs: Db[] = [];
  const dispatcherFor = (core: Core, db: Db, more: Partial<DispatcherOptions> = {}) => {
    const d = new OutboxDispatcher({
      db,
      clock: h.clock,
      client,
      sealer,
      core,
      logger,
      guarantees: { guaranteesFor: () => guarantees },
      options: { ...TEST_OPTIONS, ...options, ...more },
    });
    started.push(d);
    return d;
  };
  const dispatcher = dispatcherFor(h.core, h.db);
  return {
    ...h,
    fake,
    client,
    sealer,
    dispatcher,
    logs,
    guarantees,
    dispatcherFor,
    another: (more) => {
      const db = openDb(h.file);
      extraDbs.push(db);
      const core = new Core({
        db,
        clock: h.clock,
        config: h.config,
        directory: new StaticDirectory({ SDBA: ['UDBA'], SENG: ['UENG'] }),
      });
      return { dispatcher: dispatcherFor(core, db, more), db };
    },
    rows: (where = '1 = 1') =>
      h.db.$client
        .prepare(`SELECT * FROM outbox WHERE ${where} ORDER BY id`)
        .all() as OutboxRowView[],
    activate: (grantId, credentials) => {
      const now = h.clock.now();
      recordActivated(h.core.ctx, grantId, {
        startsAt: now,
        expiresAt: now + 3_600_000,
        state: undefined,
        sealedCredentials:
          credentials === undefined
            ? undefined
            : sealer.seal(JSON.stringify({ text: credentials })),
        elapsedMs: 5,
      });
    },
    stop: async () => {
      await Promise.all(started.map((d) => d.stop()));
      await fake.stop();
      for (const db of extraDbs) db.$client.close();
      h.close();
    },
  };
}

/** The blocks and text a recorded call sent, flattened to one string for wording checks. */
export function sentText(args: Record<string, unknown>): string {
  return JSON.stringify([args.text, args.blocks]);
}
