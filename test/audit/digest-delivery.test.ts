import { webApi } from '@slack/bolt';
import winston from 'winston';
import { DigestScheduler } from '../../src/jobs/digest';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { blockKitProblems } from '../../src/slack/ui/limits';
import { FakeSlack } from '../support/fake-slack';
import { fixtureWeek, type FixtureWeek } from './fixture-week';

const KEY = '2026-10-19T07:00:00.000Z';

interface DigestRow {
  posted_at: number | null;
  chain_seq: number | null;
  chain_hash: string | null;
}

describe('delivering the digest through the outbox', () => {
  let w: FixtureWeek;
  let fake: FakeSlack;
  let dispatcher: OutboxDispatcher;
  let scheduler: DigestScheduler;

  beforeEach(async () => {
    w = await fixtureWeek();
    // The week's own notifications went out long ago; only the digest is left to deliver.
    w.db.$client.exec("UPDATE outbox SET status = 'sent'");
    fake = await new FakeSlack().start();
    const client = new webApi.WebClient('xoxb-test', {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: webApi.LogLevel.ERROR,
    });
    dispatcher = new OutboxDispatcher({
      db: w.db,
      clock: w.clock,
      client,
      sealer: new Sealer('test-sealing-secret'),
      core: w.core,
      logger: winston.createLogger({ silent: true }),
      options: { callTimeoutMs: 2000, random: () => 0.5 },
    });
    scheduler = new DigestScheduler(w.core);
  });
  afterEach(async () => {
    await scheduler.stop();
    await dispatcher.stop();
    await fake.stop();
    w.close();
  });

  const posts = () => fake.callsOf('chat.postMessage').filter((c) => c.args.channel === 'CDIGEST');
  const digestRow = (key = KEY) =>
    w.db.$client
      .prepare('SELECT posted_at, chain_seq, chain_hash FROM digests WHERE period_key = ?')
      .get(key) as DigestRow;
  const deliverAll = async () => {
    await dispatcher.drain();
    const row = w.db.$client
      .prepare("SELECT next_attempt_at AS at FROM outbox WHERE status = 'pending' ORDER BY 1")
      .get() as { at: number } | undefined;
    if (row) {
      w.clock.set(row.at);
      await dispatcher.drain();
    }
  };

  it('posts once to the digest channel after a Slack 500, and records the verified head', async () => {
    scheduler.start(); // 26 Oct 08:05Z: queues the week that ended at 08:00Z
    fake.fail('chat.postMessage', { kind: 'status', status: 500 });
    await dispatcher.drain();
    expect(posts()).toHaveLength(1);
    expect(digestRow().posted_at).toBeNull();

    await deliverAll();
    await deliverAll();
    expect(posts()).toHaveLength(2);
    const sent = posts()[1]!.args;
    expect(sent.channel).toBe('CDIGEST');
    expect(String(sent.text)).toMatch(/^Hallpass weekly digest, Mon 19 Oct 2026 09:00/);
    expect(blockKitProblems(sent.blocks as unknown[])).toEqual([]);
    expect(JSON.stringify(sent.blocks)).toContain('Revocation problems: 2');

    const head = w.db.$client
      .prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; hash: string };
    expect(digestRow()).toEqual({
      posted_at: w.clock.now(),
      chain_seq: head.seq,
      chain_hash: head.hash,
    });
    const outbox = w.db.$client.prepare("SELECT status FROM outbox WHERE topic = 'digest'").all();
    expect(outbox).toEqual([{ status: 'sent' }]);
  });

  it('verifies the next week from the head the last digest recorded, and flags a break', async () => {
    scheduler.start();
    await deliverAll();
    const first = digestRow();

    // An attacker with the file edits a row written after the last digest.
    w.clock.set(Date.parse('2026-10-27T10:00:00Z'));
    await w.core.createRequest({
      requester: 'UENG',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-43 lock waits',
    });
    w.db.$client.exec('DROP TRIGGER audit_events_no_update');
    const edited = first.chain_seq! + 1;
    w.db.$client.prepare("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = ?").run(edited);

    w.clock.set(Date.parse('2026-11-02T08:00:30Z'));
    await scheduler.stop();
    scheduler = new DigestScheduler(w.core);
    scheduler.start();
    await deliverAll();

    expect(posts()).toHaveLength(2);
    const text = JSON.stringify(posts()[1]!.args.blocks);
    expect(text).toContain('Audit chain broken');
    expect(text).toContain(`Row ${edited}: content does not match its hash (the row was edited).`);
    expect(text).toContain(`walking after row ${first.chain_seq} (digest of ${KEY})`);
    expect(digestRow('2026-10-26T08:00:00.000Z')).toMatchObject({ chain_seq: null });
  });
});
