import { join } from 'node:path';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { Core } from '../../src/core';
import { ManualClock } from '../../src/core/clock';
import { logger } from '../../src/log';
import { createSlackApp, createSlackClient, type SlackApp } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { openDb, type Db } from '../../src/store/db';
import { BASE_CONFIG, T0 } from '../support/core';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { SlackSender } from '../support/slack-requests';
import { tempDir } from '../support/tmp';

export const BOT_TOKEN = 'xoxb-test-bot-token';
export const SIGNING_SECRET = 'test-signing-secret-0123456789';

export interface SlackHarness {
  core: Core;
  db: Db;
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
  count(table: string): number;
  close(): Promise<void>;
}

/**
 * The Slack app on 127.0.0.1 with an ephemeral port, its Web API pointed at FakeSlack, and a
 * core on a real, migrated SQLite file whose Directory is the Slack one (user groups come from
 * the fake).
 */
export async function slackHarness(
  options: { yaml?: string; usergroups?: Record<string, string[]> } = {},
): Promise<SlackHarness> {
  const fake = await new FakeSlack().start();
  fake.usergroups = options.usergroups ?? { SDBA: ['UDBA'], SENG: ['UENG'] };
  const tmp = tempDir();
  const db = openDb(join(tmp.dir, 'hallpass.db'));
  const clock = new ManualClock(T0);
  const config = parseConfig(options.yaml ?? BASE_CONFIG, {});
  const directory = new SlackDirectory(
    createSlackClient({ botToken: BOT_TOKEN, apiUrl: fake.url, logger }),
    { clock, logger },
  );
  const core = new Core({ db, clock, config, directory });
  const health = { ok: true };
  const slack = createSlackApp({
    core,
    botToken: BOT_TOKEN,
    signingSecret: SIGNING_SECRET,
    apiUrl: fake.url,
    logger,
    isHealthy: () => health.ok,
  });
  await slack.start(0, '127.0.0.1');
  const port = slack.port!;
  let responses = 0;
  return {
    core,
    db,
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
    count: (table) =>
      (db.$client.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    close: async () => {
      await slack.stop();
      await fake.stop();
      db.$client.close();
      tmp.cleanup();
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

export function waitUntil<T>(
  check: () => T | undefined | false,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      const value = check();
      if (value) return resolve(value);
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 10);
    };
    poll();
  });
}
