import { chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { oncallSchema } from '../../src/config/rules';
import { ManualClock } from '../../src/core/clock';
import { OnCallUnavailable } from '../../src/core/oncall';
import { OnCallRoster } from '../../src/oncall/roster';
import { createSlackClient } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { logger } from '../../src/log';
import { FakePagerDuty } from '../support/fake-pagerduty';
import { FakeSlack } from '../support/fake-slack';
import { tempDir } from '../support/tmp';

const TOKEN = 'u+pagerduty-token-value-1234';
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

describe('on-call sources', () => {
  let slack: FakeSlack;
  let pd: FakePagerDuty;
  let clock: ManualClock;
  let tmp: ReturnType<typeof tempDir>;
  let directory: SlackDirectory;

  beforeAll(async () => {
    slack = await new FakeSlack().start();
    slack.emails = { UALICE: 'alice@example.com', UBOB: 'bob@example.com' };
    pd = await new FakePagerDuty(TOKEN).start();
  });
  afterAll(async () => {
    await pd.stop();
    await slack.stop();
  });
  beforeEach(() => {
    clock = new ManualClock(T0);
    tmp = tempDir();
    pd.requests.length = 0;
    slack.calls.length = 0;
    directory = new SlackDirectory(
      createSlackClient({ botToken: 'xoxb-test', apiUrl: slack.url, logger }),
      { clock },
    );
  });
  afterEach(() => tmp.cleanup());

  const roster = (sources: unknown) =>
    new OnCallRoster(oncallSchema.parse(sources), {
      users: directory,
      configDir: tmp.dir,
      clock,
      logger,
    });

  const person = (n: number) => ({
    id: `P${n}`,
    email: `person${n}@example.com`,
    name: `Person ${n}`,
  });

  describe('PagerDuty', () => {
    const schedule = (token = TOKEN, extra: object = {}) =>
      roster({
        payments: { type: 'pagerduty', schedule: 'PSCHED1', token, apiUrl: pd.url, ...extra },
      });

    it('pages through GET /oncalls of a schedule and maps the emails to Slack users', async () => {
      pd.oncalls = [
        {
          schedule: 'PSCHED1',
          escalationPolicy: 'PEP1',
          level: 1,
          user: { id: 'PA', email: 'Alice@example.com', name: 'Alice' },
        },
        // Many entries of people without Slack accounts push Bob onto the second page.
        ...Array.from({ length: 120 }, (_, i) => ({
          schedule: 'PSCHED1',
          escalationPolicy: 'PEP1',
          level: 1,
          user: person(i),
        })),
        {
          schedule: 'PSCHED1',
          escalationPolicy: 'PEP1',
          level: 2,
          user: { id: 'PB', email: 'bob@example.com', name: 'Bob' },
        },
        {
          schedule: 'POTHER',
          escalationPolicy: 'PEP1',
          level: 1,
          user: { id: 'PX', email: 'x@example.com', name: 'X' },
        },
      ];
      slack.emails.UX = 'x@example.com';
      expect(await schedule().onCallNow('payments')).toEqual(['UALICE', 'UBOB']);
      expect(
        pd.requests.map((q) => [
          q.getAll('schedule_ids[]'),
          q.get('include[]'),
          q.get('offset'),
          q.get('limit'),
        ]),
      ).toEqual([
        [['PSCHED1'], 'users', '0', '100'],
        [['PSCHED1'], 'users', '100', '100'],
      ]);
      expect(slack.callsOf('users.lookupByEmail').map((c) => c.args.email)).toContain(
        'alice@example.com',
      );
    });

    it('counts an escalation policy up to its configured level', async () => {
      pd.oncalls = [
        {
          escalationPolicy: 'PEP9',
          level: 1,
          user: { id: 'PA', email: 'alice@example.com', name: 'Alice' },
        },
        {
          escalationPolicy: 'PEP9',
          level: 2,
          user: { id: 'PB', email: 'bob@example.com', name: 'Bob' },
        },
      ];
      const first = roster({
        sre: { type: 'pagerduty', escalationPolicy: 'PEP9', token: TOKEN, apiUrl: pd.url },
      });
      expect(await first.onCallNow('sre')).toEqual(['UALICE']);
      expect(pd.requests[0]!.getAll('escalation_policy_ids[]')).toEqual(['PEP9']);
      const two = roster({
        sre: {
          type: 'pagerduty',
          escalationPolicy: 'PEP9',
          escalationLevel: 2,
          token: TOKEN,
          apiUrl: pd.url,
        },
      });
      expect(await two.onCallNow('sre')).toEqual(['UALICE', 'UBOB']);
    });

    it('a refused token fails closed, naming what to check and never the token', async () => {
      pd.oncalls = [
        {
          schedule: 'PSCHED1',
          escalationPolicy: 'PEP1',
          level: 1,
          user: { id: 'PA', email: 'alice@example.com', name: 'Alice' },
        },
      ];
      const err = await schedule('wrong-token-value-999')
        .onCallNow('payments')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OnCallUnavailable);
      expect((err as Error).message).toBe(
        'could not ask on-call source payments (PagerDuty refused the token (401): check the token of this on-call source)',
      );
      expect((err as Error).message).not.toContain('wrong-token-value-999');
    });

    it('caches for its ttl, stands in with a recent answer while rate-limited, and fails closed past maxStaleness', async () => {
      pd.oncalls = [
        {
          schedule: 'PSCHED1',
          escalationPolicy: 'PEP1',
          level: 1,
          user: { id: 'PA', email: 'alice@example.com', name: 'Alice' },
        },
      ];
      const source = schedule(TOKEN, { ttl: '1m', maxStaleness: '5m' });
      expect(await source.onCallNow('payments')).toEqual(['UALICE']);
      clock.advance(30_000);
      expect(await source.onCallNow('payments')).toEqual(['UALICE']);
      expect(pd.requests).toHaveLength(1);

      pd.fail({ status: 429, reset: 30 }, 2);
      clock.advance(2 * 60_000);
      expect(await source.onCallNow('payments')).toEqual(['UALICE']);
      clock.advance(4 * 60_000);
      const err = await source.onCallNow('payments').catch((e: unknown) => e);
      expect((err as Error).message).toBe(
        'could not ask on-call source payments (PagerDuty rate-limited the lookup (429, resets in 30s))',
      );
      expect(await source.onCallNow('payments')).toEqual(['UALICE']);
    });

    it('a PagerDuty that does not answer times out', async () => {
      pd.fail({ hang: true });
      const err = await schedule(TOKEN, { timeout: '1s' })
        .onCallNow('payments')
        .catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/PagerDuty timed out/);
    });

    it('a Slack that cannot map the emails fails the lookup closed', async () => {
      pd.oncalls = [
        {
          schedule: 'PSCHED1',
          escalationPolicy: 'PEP1',
          level: 1,
          user: { id: 'PA', email: 'alice@example.com', name: 'Alice' },
        },
      ];
      slack.fail('users.lookupByEmail', { kind: 'status', status: 500 });
      await expect(schedule().onCallNow('payments')).rejects.toBeInstanceOf(OnCallUnavailable);
    });
  });

  describe('command', () => {
    const script = (body: string) => {
      const path = join(tmp.dir, 'oncall.sh');
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o755);
      return roster({ infra: { type: 'command', command: './oncall.sh', timeout: '2s' } });
    };

    it('takes the Slack ids and emails it prints, and gets its source name', async () => {
      const source = script(
        'printf \'{"users": ["UCAROL", "bob@example.com", "nobody@example.com", "%s"]}\' "$HALLPASS_ONCALL_SOURCE"',
      );
      // The source name is not a Slack id or a known email, so it is dropped like nobody@.
      expect(await source.onCallNow('infra')).toEqual(['UCAROL', 'UBOB']);
    });

    it.each([
      ['echo not json', 'on-call command ./oncall.sh did not answer JSON'],
      ['echo \'{"people": []}\'', 'on-call command ./oncall.sh answered JSON of the wrong shape'],
      ['echo oops >&2; exit 3', 'on-call command ./oncall.sh exited with code 3: oops'],
      ['sleep 5', 'on-call command ./oncall.sh timed out'],
    ])('fails closed when the command does %p', async (body, message) => {
      const err = await script(body)
        .onCallNow('infra')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OnCallUnavailable);
      expect((err as Error).message).toContain(message);
    });
  });

  describe('webhook', () => {
    let server: Server;
    let answer: { status: number; body: string };
    let seen: (string | undefined)[];
    beforeAll(async () => {
      server = createServer((req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
    beforeEach(() => (seen = []));
    const hook = () =>
      roster({
        sre: {
          type: 'webhook',
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/oncall/sre`,
          secret: 'webhook-bearer-secret',
        },
      });

    it('GETs the url with the secret as a bearer token', async () => {
      answer = { status: 200, body: JSON.stringify({ users: ['alice@example.com', 'UDAVE'] }) };
      expect(await hook().onCallNow('sre')).toEqual(['UALICE', 'UDAVE']);
      expect(seen).toEqual(['Bearer webhook-bearer-secret']);
    });

    it('fails closed on an error status, without echoing the body', async () => {
      answer = { status: 503, body: 'token=leaked-in-body' };
      const err = await hook()
        .onCallNow('sre')
        .catch((e: unknown) => e);
      expect((err as Error).message).toBe(
        'could not ask on-call source sre (on-call webhook answered HTTP 503)',
      );
    });
  });

  it('the configuration refuses a source without exactly one of schedule or escalationPolicy, and plain http off loopback', () => {
    const parsed = oncallSchema.safeParse({
      a: { type: 'pagerduty', token: 't' },
      b: { type: 'webhook', url: 'http://oncall.example.com/x' },
      c: { type: 'opsgenie' },
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'a.schedule: give exactly one of schedule or escalationPolicy',
      'b.url: must be https (plain http only to a loopback address)',
      'c.type: type must be pagerduty, command or webhook',
    ]);
  });
});
