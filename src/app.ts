import type { Env } from './config/env';
import { sealingSecret } from './config/env';
import type { Config } from './config/schema';
import { Core } from './core';
import { systemClock, type Clock } from './core/clock';
import { DigestScheduler } from './jobs/digest';
import { Sweeper } from './jobs/sweeper';
import type { Logger } from './log';
import { loadProviders } from './providers/registry';
import { Sealer } from './secrets/seal';
import { createSlackApp, createSlackClient } from './slack/app';
import { OutboxDispatcher } from './slack/delivery/dispatcher';
import { digestSubcommand } from './slack/listeners/commands/digest';
import { SlackDirectory } from './slack/directory';
import { checkpointInBackground } from './store/checkpointer';
import { openDb } from './store/db';

export interface HallpassOptions {
  env: Env;
  config: Config;
  /** The folder of hallpass.yml: module adapters and other relative paths resolve from it. */
  configDir: string;
  logger: Logger;
  clock?: Clock;
}

export interface RunningHallpass {
  /** The port the HTTP receiver listens on (useful when PORT=0). */
  port: number | undefined;
  core: Core;
  sweeper: Sweeper;
  dispatcher: OutboxDispatcher;
  /** Stops taking requests, lets in-flight ones finish, stops the jobs and closes the database. */
  stop(): Promise<void>;
}

/**
 * Builds the process: store, core, providers, the Slack app and the jobs around them. The core
 * never sees Slack; the Slack layer and the jobs call it.
 */
export async function startHallpass(options: HallpassOptions): Promise<RunningHallpass> {
  const { env, config, logger } = options;
  const clock = options.clock ?? systemClock;
  let healthy = false;
  const db = openDb(env.HALLPASS_DB);
  /** Undo steps, newest first: on a failed start, and (in the same order) on stop. */
  const stack: (() => Promise<void> | void)[] = [() => void db.$client.close()];
  const checkpoints = checkpointInBackground(db, env.HALLPASS_DB, { logger });
  stack.push(() => checkpoints.stop());
  const unwind = async () => {
    while (stack.length > 0) await stack.pop()!();
  };
  try {
    const client = createSlackClient({
      botToken: env.SLACK_BOT_TOKEN,
      apiUrl: env.SLACK_API_URL,
      logger,
    });
    const directory = new SlackDirectory(client, { clock, logger });
    const core = new Core({ db, clock, config, directory });
    const providers = await loadProviders(config, { slack: client, configDir: options.configDir });
    stack.push(() => providers.closeAll());
    const sealer = new Sealer(sealingSecret(env));

    const dispatcher = new OutboxDispatcher({
      db,
      clock,
      client,
      sealer,
      core,
      logger,
      guarantees: { guaranteesFor: (resourceId) => providers.forResource(resourceId)?.guarantees },
    });
    const sweeper = new Sweeper({ core, providers, directory, sealer, logger });
    const slack = createSlackApp({
      core,
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      appToken: env.SLACK_APP_TOKEN,
      apiUrl: env.SLACK_API_URL,
      logger,
      isHealthy: () => healthy,
      extraSubcommands: [digestSubcommand],
    });

    core.onCommit(() => dispatcher.kick());
    dispatcher.start();
    stack.push(() => dispatcher.stop());
    await sweeper.start();
    stack.push(() => sweeper.stop());
    const digests = new DigestScheduler(core, logger);
    digests.start();
    stack.push(() => digests.stop());
    // Requests stop first on the way down, so in-flight ones finish while the jobs still run.
    await slack.start(env.PORT, env.HOST);
    stack.push(() => slack.stop());
    healthy = true;
    logger.info('hallpass started', {
      port: slack.port,
      mode: env.SLACK_APP_TOKEN ? 'socket' : 'http',
      resources: config.resources.length,
    });

    return {
      port: slack.port,
      core,
      sweeper,
      dispatcher,
      stop: async () => {
        healthy = false;
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
