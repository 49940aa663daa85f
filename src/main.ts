import { dirname, resolve } from 'node:path';
import { startHallpass } from './app';
import { parseEnv } from './config/env';
import { ConfigError, ConfigUnreadable, loadConfig } from './config/load';
import { logger } from './log';
import { registerEnvSecrets } from './config/secrets';
import { SlackStartError } from './slack/start-errors';

/** The process: read the environment and the config, start everything, stop cleanly on a signal. */
async function main(): Promise<void> {
  const parsed = parseEnv(process.env);
  if ('problems' in parsed) return exitWith(parsed.problems);
  const { env } = parsed;
  registerEnvSecrets(env);

  const configPath = resolve(env.HALLPASS_CONFIG);
  let config;
  try {
    config = loadConfig(configPath, process.env);
  } catch (err) {
    if (err instanceof ConfigError) return exitWith(configProblems(err, configPath));
    throw err;
  }

  let running: Awaited<ReturnType<typeof startHallpass>>;
  try {
    running = await startHallpass({ env, config, configDir: dirname(configPath), logger });
  } catch (err) {
    if (err instanceof ConfigError) return exitWith(configProblems(err, configPath));
    if (err instanceof SlackStartError) return exitWith([err.message]);
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

// Next to dist/ and src/ alike: the repository root.
const EXAMPLE_CONFIG = resolve(__dirname, '..', 'hallpass.example.yml');

/** One line per problem, each naming the file once; a missing file also says how to begin. */
function configProblems(err: ConfigError, file: string): string[] {
  if (!(err instanceof ConfigUnreadable)) return err.problems.map((p) => `${file}: ${p}`);
  if (err.code !== 'ENOENT') return err.problems;
  return [
    ...err.problems,
    `to begin, run \`npx hallpass init --file ${file}\` or copy ${EXAMPLE_CONFIG} there and edit it; or set HALLPASS_CONFIG to your configuration file`,
  ];
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
