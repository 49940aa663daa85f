import { parseEnv, sealingSecret } from '../../src/config/env';

describe('environment', () => {
  it('names every missing secret at once', () => {
    expect(parseEnv({})).toEqual({
      problems: [
        'SLACK_BOT_TOKEN is not set (the Bot User OAuth Token, xoxb-…)',
        'SLACK_SIGNING_SECRET is not set (Basic Information → Signing Secret; or set SLACK_APP_TOKEN for Socket Mode)',
      ],
    });
  });

  it('refuses a user token, a bad port and a bad API URL', () => {
    const result = parseEnv({
      SLACK_BOT_TOKEN: 'xoxp-123',
      SLACK_SIGNING_SECRET: 's',
      PORT: 'http',
      SLACK_API_URL: 'not a url',
    });
    expect('problems' in result && result.problems).toEqual([
      'SLACK_BOT_TOKEN must be a bot token (xoxb-…)',
      'SLACK_API_URL must be a URL like https://slack.com/api/',
      'PORT must be a port number (0 to 65535)',
    ]);
  });

  it('fills defaults, and Socket Mode needs no signing secret', () => {
    const result = parseEnv({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', PORT: '' });
    expect(result).toEqual({
      env: {
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        HALLPASS_CONFIG: './hallpass.yml',
        HALLPASS_DB: './data/hallpass.db',
        PORT: 3000,
        HOST: '0.0.0.0',
      },
    });
  });

  it('takes a PostgreSQL URL in HALLPASS_DATABASE_URL, and nothing else there', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'signing' };
    for (const url of [
      'postgres://hallpass:pw@db.internal:5432/hallpass',
      'postgresql://hallpass@db.internal/hallpass?sslmode=require',
    ]) {
      const result = parseEnv({ ...base, HALLPASS_DATABASE_URL: url });
      expect('env' in result && result.env.HALLPASS_DATABASE_URL).toBe(url);
    }
    expect(parseEnv({ ...base, HALLPASS_DATABASE_URL: '' })).toEqual({
      env: expect.not.objectContaining({ HALLPASS_DATABASE_URL: expect.anything() }),
    });
    for (const bad of ['mysql://root@db/hallpass', 'db.internal:5432', './data/hallpass.db']) {
      expect(parseEnv({ ...base, HALLPASS_DATABASE_URL: bad })).toEqual({
        problems: ['HALLPASS_DATABASE_URL must be a postgres:// or postgresql:// connection URL'],
      });
    }
  });

  it('takes the PostgreSQL pool size from HALLPASS_DATABASE_POOL, at least 2 connections', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'signing' };
    expect(parseEnv({ ...base, HALLPASS_DATABASE_POOL: '20' })).toEqual({
      env: expect.objectContaining({ HALLPASS_DATABASE_POOL: 20 }),
    });
    expect(parseEnv(base)).toEqual({
      env: expect.not.objectContaining({ HALLPASS_DATABASE_POOL: expect.anything() }),
    });
    expect(parseEnv({ ...base, HALLPASS_DATABASE_POOL: '1' })).toEqual({
      problems: [
        'HALLPASS_DATABASE_POOL must be at least 2: one connection for changes, one for reads',
      ],
    });
    for (const bad of ['ten', '2.5'])
      expect(parseEnv({ ...base, HALLPASS_DATABASE_POOL: bad })).toEqual({
        problems: ['HALLPASS_DATABASE_POOL must be a whole number of connections, like 10'],
      });
  });

  it('takes the bound on waiting changes from HALLPASS_DATABASE_QUEUE, a whole number from 1', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'signing' };
    expect(parseEnv({ ...base, HALLPASS_DATABASE_QUEUE: '5000' })).toEqual({
      env: expect.objectContaining({ HALLPASS_DATABASE_QUEUE: 5000 }),
    });
    expect(parseEnv({ ...base, HALLPASS_DATABASE_QUEUE: '0' })).toEqual({
      problems: ['HALLPASS_DATABASE_QUEUE must be at least 1'],
    });
    expect(parseEnv({ ...base, HALLPASS_DATABASE_QUEUE: 'lots' })).toEqual({
      problems: ['HALLPASS_DATABASE_QUEUE must be a whole number of changes, like 1000'],
    });
  });

  it('refuses a LOG_LEVEL that names no level, with the levels it accepts', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    for (const typo of ['verbose2', 'warning', ' warn'])
      expect(parseEnv({ ...base, LOG_LEVEL: typo })).toEqual({
        problems: [
          `LOG_LEVEL must be one of error, warn, info, http, verbose, debug, silly or silent (in any case), not ${JSON.stringify(typo)}`,
        ],
      });
  });

  it('reads LOG_LEVEL in any case', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
    const read = (value: string) => {
      const result = parseEnv({ ...base, LOG_LEVEL: value });
      return 'env' in result ? result.env.LOG_LEVEL : result.problems;
    };
    expect([read('WARN'), read('Debug'), read('silent'), read('SILENT')]).toEqual([
      'warn',
      'debug',
      'silent',
      'silent',
    ]);
  });

  it('seals with HALLPASS_SECRET_KEY when set, else with the signing secret', () => {
    const base = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'signing' };
    const own = parseEnv({ ...base, HALLPASS_SECRET_KEY: 'a-long-enough-secret' });
    const derived = parseEnv(base);
    expect('env' in own && sealingSecret(own.env)).toBe('a-long-enough-secret');
    expect('env' in derived && sealingSecret(derived.env)).toBe('signing');
  });
});
