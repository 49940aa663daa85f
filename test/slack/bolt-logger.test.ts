import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import winston from 'winston';
import { boltLogger } from '../../src/slack/bolt-logger';

/** A winston logger at `level` whose JSON lines land in `lines`. */
function capturing(level: string): { logger: winston.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      cb();
    },
  });
  const logger = winston.createLogger({
    level,
    format: winston.format.json(),
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, lines };
}

/** An argument that counts how often it is formatted. */
function counted(): { arg: object; times: () => number } {
  let formatted = 0;
  const arg = {
    [inspect.custom]: () => {
      formatted += 1;
      return 'counted';
    },
  };
  return { arg, times: () => formatted };
}

describe('boltLogger', () => {
  it('neither formats nor writes a line below the level', () => {
    const { logger, lines } = capturing('info');
    const bolt = boltLogger(logger);
    const { arg, times } = counted();

    bolt.debug('http request headers:', arg);

    expect(times()).toBe(0);
    expect(lines).toEqual([]);
  });

  it('writes a line at or above the level, formatted, with the name Bolt gave it', () => {
    const { logger, lines } = capturing('debug');
    const bolt = boltLogger(logger);
    bolt.setName('web-api:WebClient:0');
    const { arg, times } = counted();

    bolt.debug('apiCall(%s) start', 'chat.postMessage', arg);
    bolt.warn('rate limited');

    expect(times()).toBe(1);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'debug',
        message: 'apiCall(chat.postMessage) start counted',
        component: 'slack',
        source: 'web-api:WebClient:0',
      }),
      expect.objectContaining({ level: 'warn', message: 'rate limited' }),
    ]);
  });

  it('keeps the label and size of a request or result body, never its content', () => {
    const { logger, lines } = capturing('debug');
    const bolt = boltLogger(logger);
    const body = '{"channel":"D123","text":"your password is hunter2"}';

    bolt.debug(`http request body: ${body}`);
    bolt.debug(`http request result: ${body}`);

    expect(lines.map((l) => l.message)).toEqual([
      `http request body: (${body.length} characters, not logged)`,
      `http request result: (${body.length} characters, not logged)`,
    ]);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('follows the level the logger has when the line is written', () => {
    const { logger, lines } = capturing('info');
    const bolt = boltLogger(logger);

    bolt.debug('before');
    logger.level = 'debug';
    bolt.debug('after');

    expect(lines.map((l) => l.message)).toEqual(['after']);
  });
});
