import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { Core } from '../../src/core';
import { ManualClock } from '../../src/core/clock';
import { logger } from '../../src/log';
import { createSlackApp, createSlackClient, type SlackApp } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import type { Store } from '../../src/store';
import { BASE_CONFIG, T0 } from '../support/core';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { SlackSender } from '../support/slack-requests';
import type { SqlInspector } from '../support/sql-inspector';
import { freshStore } from '../support/stores';

export const BOT_TOKEN = 'xoxb-test-bot-token';
export const SIGNING_SECRET = 'test-signing-secret-0123456789';

export interface SlackHarness {
  core: Core;
  store: Store;
  /** Plain SQL on the same database, on a connection of its own. */
  sql: SqlInspector;
  clock: ManualClock;
  config: Config;
  fake: FakeSlack;
  slack: SlackApp;
  send: SlackSender;
  port: number;
  health: { ok: boolean };
  /** A fresh response_url on the fake; what the app posts there is recorded as a call. */
  responseUrl(): string;
  /** What the app posted to `url`, waiting for it to arrive. */
  responseTo(url: string): Promise<Record<string, unknown>>;
  count(table: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * The Slack app on 127.0.0.1 with an ephemeral port, its Web API pointed at FakeSlack, and a
 * core on a real, migrated SQLite store whose Directory is the Slack one (user groups come from
 * the fake).
 */
export async function slackHarness(
  options: { yaml?: string; usergroups?: Record<string, string[]> } = {},
): Promise<SlackHarness> {
  const fake = await new FakeSlack().start();
  fake.usergroups = options.usergroups ?? { SDBA: ['UDBA'], SENG: ['UENG'] };
  const test = await freshStore('sqlite');
  const clock = new ManualClock(T0);
  const config = parseConfig(options.yaml ?? BASE_CONFIG, {});
  const directory = new SlackDirectory(
    createSlackClient({ botToken: BOT_TOKEN, apiUrl: fake.url, logger }),
    { clock, logger },
  );
  const core = new Core({ store: test.store, clock, config, directory });
  const health = { ok: true };
  const slack = createSlackApp({
    core,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    apiUrl: fake.url,
    logger,
    health: async () => ({ ready: health.ok, database: true, leader: true }),
    zones: directory,
  });
  await slack.start(0, '127.0.0.1');
  const port = slack.port!;
  let responses = 0;
  return {
    core,
    store: test.store,
    sql: test.sql,
    clock,
    config,
    fake,
    slack,
    send: new SlackSender(`http://127.0.0.1:${port}/slack/events`, SIGNING_SECRET),
    port,
    health,
    responseUrl: () => `${fake.url}response/${++responses}`,
    responseTo: async (url) => {
      const method = url.slice(fake.url.length);
      const call = await fake.waitFor((calls) => calls.find((c) => c.method === method));
      return call.args;
    },
    count: (table) => test.sql.value<number>(`SELECT count(*) FROM ${table}`),
    close: async () => {
      await slack.stop();
      await fake.stop();
      await test.close();
    },
  };
}

/** The calls made after the first `skip` ones, e.g. after start-up's auth.test. */
export function callsAfter(fake: FakeSlack, skip: number): RecordedCall[] {
  return fake.calls.slice(skip);
}

/** Text of every section and context in some blocks, joined, for assertions on meaning. */
export function textOf(blocks: unknown): string {
  const out: string[] = [];
  const walk = (value: unknown) => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    if (typeof record.text === 'string') out.push(record.text);
    Object.values(record).forEach(walk);
  };
  walk(blocks);
  return out.join('\n');
}

/** Polls `check` (which may read the database) until it gives a truthy value. */
export async function waitUntil<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
