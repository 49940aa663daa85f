import { createApi } from './api';
import type { Env } from './config/env';
import { sealingSecret } from './config/env';
import { ConfigError } from './config/load';
import type { Config } from './config/schema';
import { Core, withPipelines } from './core';
import { systemClock, type Clock } from './core/clock';
import { CheckpointSeal } from './audit/checkpoint-seal';
import { ChainWatch } from './jobs/chain-watch';
import { DigestScheduler } from './jobs/digest';
import { FollowUpJob } from './jobs/follow-ups';
import { LeaderJobs } from './jobs/leader-jobs';
import { DatabaseWatch } from './jobs/database-watch';
import { OffboardingCheck } from './jobs/offboarding';
import { ProviderCalls } from './jobs/provider-calls';
import { AccessTurns } from './jobs/access-turns';
import { Reconciler } from './jobs/reconciler';
import { Sweeper } from './jobs/sweeper';
import type { Logger } from './log';
import { HallpassMetrics, measuredProviders } from './metrics';
import { OnCallRoster } from './oncall/roster';
import { loadProviders } from './providers/registry';
import { Sealer } from './secrets/seal';
import { createSlackApp, createSlackClient } from './slack/app';
import { OutboxDispatcher } from './slack/delivery/dispatcher';
import { digestSubcommand } from './slack/listeners/commands/digest';
import { LdapGroupDirectory } from './directory/ldap-groups';
import { OktaGroupDirectory } from './directory/okta-groups';
import { SlackDirectory } from './slack/directory';
import { openStore } from './store';

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
  metrics: HallpassMetrics;
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
  const store = await openStore(
    {
      databaseUrl: env.HALLPASS_DATABASE_URL,
      databasePool: env.HALLPASS_DATABASE_POOL,
      databaseQueue: env.HALLPASS_DATABASE_QUEUE,
      file: env.HALLPASS_DB,
    },
    { logger, backgroundCheckpoints: true },
  );
  /** Undo steps, newest first: on a failed start, and (in the same order) on stop. */
  const stack: (() => Promise<void> | void)[] = [() => store.close()];
  const unwind = async () => {
    while (stack.length > 0) await stack.pop()!();
  };
  try {
    const metrics = new HallpassMetrics({
      gauges: (now) => store.gauges.read(now),
      requestOf: (id) => store.requests.byId(id),
      // Scrapes begin once Slack listens, after the leader below exists.
      leading: (): boolean => leader.leading,
      changeQueue: () => store.changeQueue(),
      now: () => clock.now(),
      logger,
    });
    const client = createSlackClient({
      botToken: env.SLACK_BOT_TOKEN,
      apiUrl: env.SLACK_API_URL,
      logger,
      observe: metrics.slackFailed,
    });
    const slackDirectory = new SlackDirectory(client, {
      clock,
      logger,
      groupTtlMs: config.directory.groupTtl,
      userTtlMs: config.directory.userTtl,
      maxStaleMs: config.directory.maxStaleness,
      ldap:
        config.directory.ldap &&
        new LdapGroupDirectory(config.directory.ldap, { configDir: options.configDir }),
      okta: config.directory.okta && new OktaGroupDirectory(config.directory.okta),
    });
    // Pipelines are no Slack users: the jobs must not look them up (nor offboard them).
    const directory = withPipelines(slackDirectory);
    const oncall = new OnCallRoster(config.oncall, {
      users: slackDirectory,
      configDir: options.configDir,
      clock,
      logger,
    });
    const providers = measuredProviders(
      await loadProviders(config, { slack: client, configDir: options.configDir }),
      metrics.instruments,
    );
    stack.push(() => providers.closeAll());
    const places = providers.places;
    const core = new Core({
      store,
      clock,
      config,
      directory,
      oncall,
      resolveTarget: (resource) => providers.forResource(resource.id)?.target ?? resource.target,
      providerPlaces: places,
      checkpointSeal: new CheckpointSeal(sealingSecret(env)),
    });
    const live = await core.checkLiveGrants(places);
    if (live.unrevocable.length > 0) throw new ConfigError(live.unrevocable);
    for (const line of live.orphaned) logger.warn(line);
    const sealer = new Sealer(sealingSecret(env));

    const dispatcher = new OutboxDispatcher({
      clock,
      client,
      sealer,
      core,
      logger,
      guarantees: { guaranteesFor: (resourceId) => providers.forResource(resourceId)?.guarantees },
      zones: slackDirectory,
    });
    // Grants with a provider call in progress here: the sweeper and the reconciler never both
    // call a provider for the same grant at once.
    const busy = new Set<string>();
    const calls = new ProviderCalls();
    const turns = new AccessTurns(providers);
    const jobDeps = { core, providers, directory, sealer, logger, busy, calls, turns };
    const sweeper = new Sweeper({ ...jobDeps, onPass: () => metrics.jobRan('sweeper', 'ok') });
    const reconciler = new Reconciler({
      ...jobDeps,
      onRun: (outcome) => metrics.jobRan('reconcile', outcome),
    });
    const offboarding = new OffboardingCheck({ core, directory, logger });
    const chainWatch = new ChainWatch({ core, logger });
    const followUps = new FollowUpJob({ core, logger });
    const leader = new LeaderJobs(
      store.leadership({ now: () => clock.now() }),
      [sweeper, reconciler, offboarding, chainWatch, followUps],
      logger,
    );
    const database = new DatabaseWatch(store, logger);
    const api = createApi({ core, sealer, logger });
    const slack = createSlackApp({
      core,
      botToken: env.SLACK_BOT_TOKEN,
      signingSecret: env.SLACK_SIGNING_SECRET,
      appToken: env.SLACK_APP_TOKEN,
      apiUrl: env.SLACK_API_URL,
      logger,
      observe: metrics.slackFailed,
      metrics: () => metrics.exposition(),
      health: async () => ({
        ready: healthy,
        database: await database.check(),
        leader: leader.leading,
      }),
      // Down a moment ago? Ask again before turning Slack away: it may be back.
      accepting: async () => database.up || (await database.check()),
      extraSubcommands: [digestSubcommand],
      forgetUser: (userId, email) => slackDirectory.forget(userId, email),
      zones: slackDirectory,
      extraHttp: api,
    });

    // Slack first: a start that fails there (a rejected token, a port in use) must not have
    // posted anything or called any provider. On the way down, requests stop first, so those in
    // flight finish while the jobs still run.
    await slack.start(env.PORT, env.HOST);
    let stopSlack: (() => Promise<void>) | undefined = () => {
      // Waits in progress answer now, so they do not hold the server open.
      api.close();
      return slack.stop();
    };
    stack.push(async () => {
      await stopSlack?.();
      stopSlack = undefined;
    });
    core.onCommit(() => dispatcher.kick());
    core.onCommit(metrics.committed);
    dispatcher.start();
    stack.push(() => dispatcher.stop());
    database.start();
    stack.push(() => database.stop());
    await leader.start();
    stack.push(() => leader.stop());
    const digests = new DigestScheduler(core, logger, (outcome) =>
      metrics.jobRan('digest', outcome),
    );
    await digests.start();
    stack.push(() => digests.stop());
    stack.push(async () => {
      await stopSlack?.();
      stopSlack = undefined;
    });
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
      metrics,
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
