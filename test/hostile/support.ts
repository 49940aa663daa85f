import { Writable } from 'node:stream';
import winston from 'winston';
import { logger } from '../../src/log';
import type { SqlInspector } from '../support/sql-inspector';

export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

export interface CapturedLogs {
  readonly lines: LogLine[];
  /** The raw JSON text written, for greps. */
  text(): string;
  warnings(): LogLine[];
  /** Resolves with the first line `match` accepts, polling until it is written. */
  waitFor(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  stop(): void;
}

/**
 * Writes the project logger (redaction included) into memory at `level` while the Console
 * transport stays quiet, the way test/core/log.test.ts captures it.
 */
export function captureLogs(level = 'info'): CapturedLogs {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw.push(String(chunk));
      lines.push(JSON.parse(String(chunk)) as LogLine);
      cb();
    },
  });
  const transport = new winston.transports.Stream({ stream });
  const before = { silent: logger.silent, level: logger.level };
  const quieted = logger.transports.filter((t) => !t.silent);
  quieted.forEach((t) => (t.silent = true));
  logger.silent = false;
  logger.level = level;
  logger.add(transport);
  return {
    lines,
    text: () => raw.join(''),
    warnings: () => lines.filter((l) => l.level === 'warn'),
    waitFor: (match, what, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      return new Promise((resolve, reject) => {
        const poll = () => {
          const found = lines.find(match);
          if (found) return resolve(found);
          if (Date.now() > deadline) {
            const seen = lines.map((l) => `${l.level} ${l.message}`).join('; ');
            return reject(new Error(`no log line for ${what}; saw: ${seen}`));
          }
          setTimeout(poll, 10);
        };
        poll();
      });
    },
    stop: () => {
      logger.remove(transport);
      quieted.forEach((t) => (t.silent = false));
      logger.silent = before.silent;
      logger.level = before.level;
    },
  };
}

const TABLES = [
  'requests',
  'approvals',
  'grants',
  'audit_events',
  'outbox',
  'slack_messages',
  'digests',
];

/** Every row of every Hallpass table, to compare before and after a hostile request. */
export async function snapshot(sql: SqlInspector): Promise<Record<string, unknown[]>> {
  const tables: Record<string, unknown[]> = {};
  for (const table of TABLES) tables[table] = await sql.all(`SELECT * FROM ${table} ORDER BY 1`);
  return tables;
}

/** Records unhandled promise rejections while a test file runs: a crash in production. */
export function watchRejections(): { seen: unknown[]; stop: () => void } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onRejection);
  return { seen, stop: () => process.off('unhandledRejection', onRejection) };
}
