import { registerSecret } from '../log';
import type { Config } from './schema';

const SECRET_KEY_RE = /pass(word)?|secret|token|key/i;

/**
 * Tells the log redactor about every secret in the providers section: values under secret-like
 * keys and passwords inside connection URLs (`postgres://admin:…@db`).
 */
export function registerConfigSecrets(config: Config): void {
  const walk = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      if (SECRET_KEY_RE.test(key)) registerSecret(value);
      const password = /^[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:([^@\s]+)@/i.exec(value)?.[1];
      if (password) registerSecret(decodeURIComponent(password));
    } else if (Array.isArray(value)) {
      value.forEach((v) => walk(v, key));
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, k);
    }
  };
  walk(config.providers, 'providers');
}
