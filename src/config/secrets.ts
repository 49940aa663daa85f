import { registerSecret } from '../secrets/scrub';
import type { Config } from './schema';

const SECRET_KEY_RE = /pass(word)?|secret|token|key/i;

/** The environment's secrets, which the bot and the CLI read. */
const ENV_SECRETS = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'HALLPASS_SECRET_KEY',
  'HALLPASS_TOKEN',
] as const;

/** Tells the redactor about the environment's secrets, for the bot and the CLI alike. */
export function registerEnvSecrets(
  env: Partial<Record<(typeof ENV_SECRETS)[number], string | undefined>>,
): void {
  for (const name of ENV_SECRETS) registerSecret(env[name]);
}

/** A URL's percent-escapes decoded; a bare `%` is no escape, and the text is then as written. */
function decodedOrAsWritten(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Tells the redactor about every secret in the providers section: values under secret-like
 * keys and passwords inside connection URLs (`postgres://admin:…@db`).
 */
export function registerConfigSecrets(config: Config): void {
  const walk = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      if (SECRET_KEY_RE.test(key)) registerSecret(value);
      const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(value)?.[1];
      if (password) [password, decodedOrAsWritten(password)].forEach(registerSecret);
    } else if (Array.isArray(value)) {
      value.forEach((v) => walk(v, key));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(config.providers, 'providers');
}
