import { Writable } from 'node:stream';
import winston from 'winston';

/** The logger as src/log.ts builds it when the process starts with `LOG_LEVEL=value`. */
function loggerFor(value: string): winston.Logger {
  const saved = process.env.LOG_LEVEL;
  process.env.LOG_LEVEL = value;
  try {
    let logger: winston.Logger | undefined;
    jest.isolateModules(() => {
      ({ logger } = jest.requireActual<typeof import('../../src/log')>('../../src/log'));
    });
    return logger!;
  } finally {
    if (saved === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = saved;
  }
}

/** The messages `logger` writes for one line at each of error, warn, info and debug. */
function written(logger: winston.Logger): string[] {
  const lines: string[] = [];
  const transport = new winston.transports.Stream({
    stream: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(String((JSON.parse(String(chunk)) as { message: string }).message));
        done();
      },
    }),
  });
  logger.clear(); // only the capture: the Console transport would print to the test output
  logger.add(transport);
  logger.error('an error');
  logger.warn('a warning');
  logger.info('some news');
  logger.debug('a detail');
  logger.remove(transport);
  return lines;
}

describe('the logger, as LOG_LEVEL sets it', () => {
  it('still writes errors (at info) when LOG_LEVEL names no level, until the start refuses it', () => {
    for (const typo of ['verbose2', 'warning', ' warn'])
      expect(written(loggerFor(typo))).toEqual(['an error', 'a warning', 'some news']);
  });

  it('reads a level in capitals as that level', () => {
    expect(written(loggerFor('WARN'))).toEqual(['an error', 'a warning']);
    expect(written(loggerFor('Debug'))).toEqual(['an error', 'a warning', 'some news', 'a detail']);
  });

  it('writes nothing at silent, in any case', () => {
    expect(written(loggerFor('silent'))).toEqual([]);
    expect(written(loggerFor('SILENT'))).toEqual([]);
  });
});
