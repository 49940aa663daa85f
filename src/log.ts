import winston from 'winston';
import { scrub } from './secrets/scrub';

/** Values that must never reach a log line, an error message or the audit (see secrets/scrub). */
export { registerSecret } from './secrets/scrub';

const SECRET_KEY_RE = /pass(word)?|secret|token|credential|authorization|private.?key/i;

const redactString = scrub;

function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redactString(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEY_RE.test(k) ? '[redacted]' : redact(v, depth + 1),
    ]),
  );
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level') continue;
    (info as Record<string, unknown>)[key] = SECRET_KEY_RE.test(key)
      ? '[redacted]'
      : redact(info[key]);
  }
  return info;
});

/** What LOG_LEVEL accepts: winston's npm levels, most severe first, and `silent` for none. */
export const LOG_LEVELS = [
  'error',
  'warn',
  'info',
  'http',
  'verbose',
  'debug',
  'silly',
  'silent',
] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The level a LOG_LEVEL value names, in any case (`WARN` is `warn`: environment variables are
 * often written in capitals), or undefined when it names none.
 */
export function parseLogLevel(value: string): LogLevel | undefined {
  const lower = value.toLowerCase();
  return LOG_LEVELS.find((level) => level === lower);
}

// A value that names no level logs at `info` until the start-up check refuses it: winston given
// an unknown level writes nothing at all, which would hide the very errors that explain the stop.
const configured = process.env.LOG_LEVEL;
const level = (configured && parseLogLevel(configured)) || 'info';

/**
 * Drops a line below the logger's level before anything else is done with it: winston runs the
 * formats on every line and leaves the level to the transports, so each debug line of Bolt's Web
 * API client was redacted and serialized only to be thrown away.
 */
const belowLevel = winston.format((info) => (logger.isLevelEnabled(info.level) ? info : false));

/** JSON lines on stdout; LOG_LEVEL sets the level (`silent` for none; tests are silent by default). */
export const logger: winston.Logger = winston.createLogger({
  level: level === 'silent' ? 'error' : level,
  silent: level === 'silent' || (process.env.JEST_WORKER_ID !== undefined && !configured),
  format: winston.format.combine(
    belowLevel(),
    redactFormat(),
    winston.format.timestamp(),
    winston.format.json(),
  ),
  transports: [new winston.transports.Console()],
});

export type Logger = winston.Logger;
