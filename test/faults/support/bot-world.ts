import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type Store } from '../../../src/store';
import { sqliteInspector, type SqlInspector } from '../../support/sql-inspector';
import { FakeSlack } from '../../support/fake-slack';
import { BotProcess, type BotExit } from '../../support/process';
import { tempDir } from '../../support/tmp';
import { WebhookReceiver } from '../../support/webhook-receiver';
import { assertConverged } from './converged';
import { SlackLedger } from './slack-ledger';
import { waitFor, scalar } from './system';
import {
  BOT_TOKEN,
  faultConfig,
  HOOK_SECRET,
  SIGNING_SECRET,
  SlackTraffic,
  USERGROUPS,
} from './traffic';

/** The bot as a real process (src/main.ts), its fakes in this process, and its database file. */
export interface BotWorld {
  fake: FakeSlack;
  slack: SlackLedger;
  receiver: WebhookReceiver;
  bot: BotProcess;
  /** Plain SQL on the bot's database file, on this process's own connection. */
  sql: SqlInspector;
  file: string;
  people: SlackTraffic;
  /** The bot's hallpass.yml: rewrite it between `stopBot()` and the next `startBot()`. */
  configFile: string;
  /** The bot's environment, for the command line or a start that is expected to fail. */
  env: Record<string, string>;
  /** SIGTERM to the bot program, as a supervisor stops it: resolves with how it exited. */
  stopBot(): Promise<BotExit>;
  /** A new process on the same database and the config file as it is now. */
  startBot(): Promise<void>;
  /** SIGKILL, then a new process on the same database and config. */
  killAndRestart(): Promise<void>;
  /** Waits until no notification is pending (none is being sent either). */
  outboxDrained(): Promise<void>;
  converged(): Promise<void>;
  stop(): Promise<void>;
}

export interface BotWorldOptions {
  /** The hallpass.yml to start with, given the receiver's URL; faultConfig's by default. */
  config?: (hookUrl: string) => string;
}

export async function startBotWorld(options: BotWorldOptions = {}): Promise<BotWorld> {
  const fake = await new FakeSlack().start();
  fake.usergroups = USERGROUPS;
  const slack = new SlackLedger(fake);
  const receiver = await new WebhookReceiver(HOOK_SECRET).start();
  const tmp = tempDir('hallpass-bot-');
  const config = join(tmp.dir, 'hallpass.yml');
  // The provider timeout is longer than any hold in these cases, so a kill lands before it.
  writeFileSync(
    config,
    options.config?.(receiver.url) ??
      faultConfig({ hookUrl: receiver.url, providerTimeout: '10s' }),
  );
  const file = join(tmp.dir, 'hallpass.db');
  const env = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: fake.url,
    HALLPASS_CONFIG: config,
    HALLPASS_DB: file,
    HOOK_SECRET,
    PORT: '0',
    HOST: '127.0.0.1',
  };
  const stopFakes = async () => {
    fake.clearFaults();
    receiver.clearFaults();
    await Promise.all([receiver.stop(), fake.stop()]);
    tmp.cleanup();
  };
  let bot: BotProcess;
  try {
    bot = await BotProcess.start(env);
  } catch (err) {
    await stopFakes();
    throw err;
  }
  const sql = sqliteInspector(file);
  const reader: Store = await openStore({ file }, { readonly: true });
  const world: BotWorld = {
    fake,
    slack,
    receiver,
    bot,
    sql,
    file,
    people: new SlackTraffic(bot.url, fake),
    configFile: config,
    env,
    stopBot: async () => {
      world.bot.signalProgram('SIGTERM');
      return world.bot.exited;
    },
    startBot: async () => {
      world.bot = await BotProcess.start(env);
      world.people = new SlackTraffic(world.bot.url, fake);
    },
    killAndRestart: async () => {
      const exit = await world.bot.kill();
      expect(exit.signal).toBe('SIGKILL');
      world.bot = await BotProcess.start(env);
      world.people = new SlackTraffic(world.bot.url, fake);
    },
    outboxDrained: async () => {
      await waitFor(
        async () =>
          (await scalar<number>(sql, "SELECT count(*) FROM outbox WHERE status = 'pending'")) === 0,
        'the outbox to drain',
      );
    },
    converged: () => assertConverged({ sql, store: reader, receiver, slack, now: Date.now }),
    stop: async () => {
      await BotProcess.killAll();
      await reader.close();
      await sql.close();
      await stopFakes();
    },
  };
  return world;
}
