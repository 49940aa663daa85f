import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { waitUntil } from '../slack/harness';
import { FakeSlack, type RecordedCall } from '../support/fake-slack';
import { SlackSender } from '../support/slack-requests';
import type { SqlInspector } from '../support/sql-inspector';
import { freshStore, STORE_KINDS, type TestStore } from '../support/stores';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'e2e-limits-signing-secret-0123456';
const HOOK_SECRET = 'e2e-limits-webhook-secret';
const BURST = 200;

const yaml = (hookUrl: string, limits: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS${limits} }
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 2s }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDBA
`;

const approverPosts = (calls: RecordedCall[]) =>
  calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'CDBA');

/**
 * Limits per person through the whole process (startHallpass) on each store: a burst of signed
 * `/jit request` commands from one person, all sent at once as a script (or a stuck key) would,
 * files exactly as many requests as the limit allows and posts exactly that many approver
 * messages; every other command gets the refusal, in words, as its ephemeral answer, and
 * nothing else happens for it, also once every notification has gone out.
 */
describe.each(STORE_KINDS)('limits per person end to end (%s)', (kind) => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let tmp: ReturnType<typeof tempDir>;
  let store: TestStore;
  let running: RunningHallpass | undefined;
  let sql: SqlInspector;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    tmp = tempDir();
    store = await freshStore(kind);
    sql = store.sql;
  });

  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await store.close();
    await receiver.stop();
    await fake.stop();
    tmp.cleanup();
  });

  async function start(limits = ''): Promise<SlackSender> {
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-e2e-limits',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: store.location.file,
      ...(store.location.databaseUrl ? { HALLPASS_DATABASE_URL: store.location.databaseUrl } : {}),
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url, limits), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    return new SlackSender(`http://127.0.0.1:${running.port}/slack/events`, SIGNING_SECRET);
  }

  /** BURST signed `/jit request` commands from UREQ at once; resolves with each one's answer. */
  async function burst(send: SlackSender): Promise<string[]> {
    const acks = await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        send.command({
          userId: 'UREQ',
          text: `request prod-db 1h checking replication lag, attempt ${i + 1}`,
          responseUrl: `${fake.url}response/${i}`,
        }),
      ),
    );
    expect(acks.map((a) => a.status)).toEqual(acks.map(() => 200));
    const replies = await fake.waitFor((calls) => {
      const byUrl = new Map(
        calls.filter((c) => c.method.startsWith('response/')).map((c) => [c.method, c]),
      );
      return byUrl.size >= BURST && byUrl;
    }, 20_000);
    const answers = Array.from({ length: BURST }, (_, i) => replies.get(`response/${i}`)!.args);
    // Each answer is the caller's alone.
    expect(answers.filter((a) => a.response_type !== 'ephemeral')).toEqual([]);
    return answers.map((a) => String(a.text));
  }

  const drained = () =>
    waitUntil(
      async () =>
        Number(await sql.value("SELECT count(*) FROM outbox WHERE status = 'pending'")) === 0,
      'the outbox to drain',
      15_000,
    );

  async function expectOnly(filed: number, replies: string[], refusal: string): Promise<void> {
    const accepted = replies.filter((r) =>
      r.includes('Your request for *Production database* (1 h) is with the approvers'),
    );
    const refused = replies.filter((r) => r.includes(refusal));
    expect(accepted).toHaveLength(filed);
    expect(refused).toHaveLength(BURST - filed);
    expect(await sql.value('SELECT count(*) FROM requests')).toBe(filed);
    expect(
      await sql.value(
        "SELECT count(*) FROM requests WHERE status = 'pending' AND requester = 'UREQ'",
      ),
    ).toBe(filed);
    expect(
      await sql.value("SELECT count(*) FROM audit_events WHERE action = 'request.created'"),
    ).toBe(filed);
    // Every request accepted is named in its reply, and each is one that exists.
    const named = accepted.map((r) => /`(req_[^`]+)`/.exec(r)?.[1]);
    const ids = (await sql.all<{ id: string }>('SELECT id FROM requests')).map((r) => r.id);
    expect(named.sort()).toEqual(ids.sort());

    await fake.waitFor((calls) => approverPosts(calls).length >= filed, 15_000);
    await drained();
    // Settled: still exactly one approver message per request, and no more on the way.
    await new Promise((r) => setTimeout(r, 500));
    await drained();
    expect(approverPosts(fake.calls)).toHaveLength(filed);
    expect(await sql.value('SELECT count(*) FROM outbox')).toBe(
      await sql.value("SELECT count(*) FROM outbox WHERE status = 'sent'"),
    );
    const received = fake.calls.filter(
      (c) => c.method === 'chat.postMessage' && c.args.channel === 'UREQ',
    );
    expect(received).toHaveLength(filed);
  }

  it(`${BURST} concurrent /jit request commands from one person file exactly maxPendingPerUser (3)`, async () => {
    const send = await start();
    const replies = await burst(send);
    await expectOnly(
      3,
      replies,
      'You already have 3 requests waiting for a decision, the most one person may have at once. Cancel one (`/jit list`) or wait for a decision, then ask again.',
    );
  });

  it(`${BURST} concurrent /jit request commands file exactly filingLimit.requests when more may wait`, async () => {
    const send = await start(', maxPendingPerUser: 1000, filingLimit: { requests: 10, per: 10m }');
    const replies = await burst(send);
    await expectOnly(
      10,
      replies,
      'You filed 10 requests in the last 10m, the most one person may file in that time. Try again in a little while.',
    );
  });
});
