import { Writable } from 'node:stream';
import winston from 'winston';
import { parseConfig } from '../../src/config/load';
import { logger, registerSecret } from '../../src/log';
import { scrub } from '../../src/secrets/scrub';
import { cliEnv, runCli } from '../cli/run';

function capture(): { lines: string[]; done: () => void } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const transport = new winston.transports.Stream({ stream });
  const wasSilent = logger.silent;
  logger.silent = false;
  logger.add(transport);
  return {
    lines,
    done: () => {
      logger.remove(transport);
      logger.silent = wasSilent;
    },
  };
}

describe('log redaction', () => {
  it('never writes registered secrets, Slack tokens, or values under secret-like keys', () => {
    registerSecret('sup3r-s1gning-secret');
    // Parsing the config registers the secrets written in it, wherever it is read (bot or CLI).
    parseConfig(
      `
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'https://h.example', secret: webhook-secret-123 }
  db: { type: postgres, url: 'postgres://admin:pg%40pass-987@db.internal:5432/prod' }
resources:
  - { id: auto, name: Auto, provider: hook, maxDuration: 1h, approvalsRequired: 0 }
`,
      {},
    );
    const out = capture();
    try {
      logger.info('calling with sup3r-s1gning-secret and webhook-secret-123 and pg@pass-987', {
        token: 'xoxb-1234-abcd',
        nested: { password: 'hunter2', note: 'Bearer xoxb-999-zzz' },
        error: new Error('auth failed for xapp-1-A111-222'),
      });
    } finally {
      out.done();
    }
    const text = out.lines.join('');
    for (const secret of [
      'sup3r-s1gning-secret',
      'webhook-secret-123',
      'pg@pass-987',
      'xoxb-1234',
      'hunter2',
      'xoxb-999',
      'xapp-1-A111',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('[redacted]');
    expect(text).toContain('calling with');
  });

  it('the CLI registers the secrets of its environment before any command runs', async () => {
    const key = 'cli-env-sealing-key-4417';
    expect(scrub(`sealed with ${key}`)).toContain(key);
    await runCli(['help'], cliEnv({ file: '' }, { HALLPASS_SECRET_KEY: key }));
    expect(scrub(`sealed with ${key}`)).toBe('sealed with [redacted]');
  });
});
