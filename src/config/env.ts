import { z } from 'zod';
import { safeForSecrets } from '../http/safe-transport';
import { LOG_LEVELS, parseLogLevel } from '../log';

const LEVEL_LIST = `${LOG_LEVELS.slice(0, -1).join(', ')} or ${LOG_LEVELS.at(-1)}`;

/**
 * A secret pasted from Slack is printable ASCII without spaces. Anything else is a placeholder
 * copied from the docs (`xoxb-…`) or a paste gone wrong, which would otherwise fail much later
 * as an HTTP header error.
 */
const PASTED = /^[\x21-\x7e]+$/;
const notPasted = (name: string, what: string) =>
  `${name} is not a real value (it holds "…", a space or another character Slack never puts in one): paste the ${what}`;

/** The process environment Hallpass reads, validated once at start-up. */
export const envSchema = z.object({
  SLACK_BOT_TOKEN: z
    .string({ error: 'SLACK_BOT_TOKEN is not set (the Bot User OAuth Token, xoxb-…)' })
    .regex(/^xoxb-/, 'SLACK_BOT_TOKEN must be a bot token (xoxb-…)')
    .regex(PASTED, notPasted('SLACK_BOT_TOKEN', 'Bot User OAuth Token from OAuth & Permissions')),
  SLACK_SIGNING_SECRET: z
    .string()
    .regex(
      PASTED,
      notPasted('SLACK_SIGNING_SECRET', 'Signing Secret from Basic Information → App Credentials'),
    )
    .optional(),
  SLACK_APP_TOKEN: z
    .string()
    .regex(/^xapp-/, 'SLACK_APP_TOKEN must be an app-level token (xapp-…)')
    .regex(
      PASTED,
      notPasted('SLACK_APP_TOKEN', 'app-level token from Basic Information → App-Level Tokens'),
    )
    .optional(),
  SLACK_API_URL: z
    .url('SLACK_API_URL must be a URL like https://slack.com/api/')
    // The bot token goes with every call.
    .refine(
      (text) => !URL.canParse(text) || safeForSecrets(new URL(text)),
      'SLACK_API_URL must be https (plain http only to a loopback address)',
    )
    .optional(),
  HALLPASS_CONFIG: z.string().default('./hallpass.yml'),
  HALLPASS_DB: z.string().default('./data/hallpass.db'),
  HALLPASS_DATABASE_URL: z
    .string()
    .refine(
      (text) => URL.canParse(text) && /^postgres(ql)?:$/.test(new URL(text).protocol),
      'HALLPASS_DATABASE_URL must be a postgres:// or postgresql:// connection URL',
    )
    .optional(),
  HALLPASS_DATABASE_POOL: z.coerce
    .number({ error: 'HALLPASS_DATABASE_POOL must be a whole number of connections, like 10' })
    .int('HALLPASS_DATABASE_POOL must be a whole number of connections, like 10')
    .min(2, 'HALLPASS_DATABASE_POOL must be at least 2: one connection for changes, one for reads')
    .max(1000, 'HALLPASS_DATABASE_POOL must be at most 1000 connections')
    .optional(),
  HALLPASS_DATABASE_QUEUE: z.coerce
    .number({ error: 'HALLPASS_DATABASE_QUEUE must be a whole number of changes, like 1000' })
    .int('HALLPASS_DATABASE_QUEUE must be a whole number of changes, like 1000')
    .min(1, 'HALLPASS_DATABASE_QUEUE must be at least 1')
    .max(1_000_000, 'HALLPASS_DATABASE_QUEUE must be at most 1000000 changes')
    .optional(),
  HALLPASS_SECRET_KEY: z
    .string()
    .min(16, 'HALLPASS_SECRET_KEY must be at least 16 characters')
    .optional(),
  // Not z.coerce: Number(' ') is 0, and a blank PORT would bind a random port.
  PORT: z
    .string()
    .regex(/^\d+$/, 'PORT must be a port number (0 to 65535)')
    .transform(Number)
    .pipe(z.number().max(65535, 'PORT must be a port number (0 to 65535)'))
    .default(3000),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z
    .string()
    .transform((value, ctx) => {
      const level = parseLogLevel(value);
      if (level) return level;
      ctx.issues.push({
        code: 'custom',
        input: value,
        message: `LOG_LEVEL must be one of ${LEVEL_LIST} (in any case), not ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    })
    .optional(),
});

export type Env = z.infer<typeof envSchema>;

/** Parses the environment or returns one line per problem, each naming the variable. */
export function parseEnv(source: NodeJS.ProcessEnv): { env: Env } | { problems: string[] } {
  const cleaned = Object.fromEntries(
    Object.entries(source).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(cleaned);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) =>
        i.message.includes(String(i.path[0])) ? i.message : `${String(i.path[0])}: ${i.message}`,
      );
  if (!cleaned.SLACK_APP_TOKEN && !cleaned.SLACK_SIGNING_SECRET) {
    problems.push(
      'SLACK_SIGNING_SECRET is not set (Basic Information → Signing Secret; or set SLACK_APP_TOKEN for Socket Mode)',
    );
  }
  if (parsed.success && problems.length === 0) return { env: parsed.data };
  return { problems };
}

/** The key that seals secrets at rest: its own variable if set, else derived from a Slack secret. */
export function sealingSecret(
  env: Pick<Env, 'HALLPASS_SECRET_KEY' | 'SLACK_SIGNING_SECRET' | 'SLACK_APP_TOKEN'>,
): string {
  return env.HALLPASS_SECRET_KEY ?? env.SLACK_SIGNING_SECRET ?? env.SLACK_APP_TOKEN ?? '';
}
