import { dirname, resolve } from 'node:path';
import { startHallpass } from './app';
import { parseEnv } from './config/env';
import { ConfigError, loadConfig } from './config/load';
import { logger, registerSecret } from './log';
import { registerConfigSecrets } from './config/secrets';

/** The process: read the environment and the config, start everything, stop cleanly on a signal. */
async function main(): Promise<void> {
  const parsed = parseEnv(process.env);
  if ('problems' in parsed) return exitWith(parsed.problems);
  const { env } = parsed;
  [
    env.SLACK_BOT_TOKEN,
    env.SLACK_SIGNING_SECRET,
    env.SLACK_APP_TOKEN,
    env.HALLPASS_SECRET_KEY,
  ].forEach(registerSecret);

  const configPath = resolve(env.HALLPASS_CONFIG);
  let config;
  try {
    config = loadConfig(configPath, process.env);
  } catch (err) {
    if (err instanceof ConfigError)
      return exitWith(err.problems.map((p) => `${env.HALLPASS_CONFIG}: ${p}`));
    throw err;
  }
  registerConfigSecrets(config);

  let running: Awaited<ReturnType<typeof startHallpass>>;
  try {
    running = await startHallpass({ env, config, configDir: dirname(configPath), logger });
  } catch (err) {
    if (err instanceof ConfigError)
      return exitWith(err.problems.map((p) => `${env.HALLPASS_CONFIG}: ${p}`));
    throw err;
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    running
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error('unclean stop', { error: String(err) });
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function exitWith(problems: string[]): void {
  for (const line of problems) process.stderr.write(`hallpass: ${line}\n`);
  process.exit(1);
}

main().catch((err: unknown) => {
  logger.error('hallpass failed to start', {
    error: err instanceof Error ? err.message : String(err),
  });
  process.exit(1);
});
