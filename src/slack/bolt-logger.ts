import { format } from 'node:util';
import { LogLevel, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from '../log';

/** Web API debug lines that carry whole messages and answers: credentials DMs, people's emails. */
const PAYLOAD_LINE = /^(http request (?:body|result)): /;

/** The line to write: a payload line keeps its label and size, never its content. */
function withoutPayload(text: string): string {
  const payload = PAYLOAD_LINE.exec(text);
  if (!payload) return text;
  return `${payload[1]}: (${text.length - payload[0].length} characters, not logged)`;
}

/**
 * Bolt and its Web API client log through this, so their lines go through the project's logger
 * (JSON, redacted). Winston's level decides what is written; Bolt's setLevel only records the
 * level Bolt asked for.
 */
export function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: 'slack' });
  let level = LogLevel.INFO;
  let name = 'bolt';
  // Bolt writes debug lines on every request, each with its arguments to format: asking the
  // level first keeps a busy process from formatting lines winston would drop.
  const write =
    (method: 'debug' | 'info' | 'warn' | 'error') =>
    (...msg: unknown[]) => {
      if (child.isLevelEnabled(method))
        child[method](withoutPayload(format(...msg)), { source: name });
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    setLevel: (next) => (level = next),
    getLevel: () => level,
    setName: (next) => (name = next),
  };
}
