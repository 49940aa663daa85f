import { webApi } from '@slack/bolt';
import winston from 'winston';
import { DigestScheduler } from '../../src/jobs/digest';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { blockKitProblems } from '../../src/slack/ui/limits';
import { FakeSlack } from '../support/fake-slack';
import { STORE_KINDS } from '../support/stores';
import { fixtureWeek, type FixtureWeek } from './fixture-week';

const KEY = '2026-10-19T07:00:00.000Z';

interface DigestRow {
  posted_at: number | null;
  chain_seq: number | null;
  chain_hash: string | null;
}

/** What someone with the database owner's rights does first: lift the append-only guard. */
function allowAuditEdits(w: FixtureWeek): Promise<number> {
  return w.kind === 'sqlite'
    ? w.sql.run('DROP TRIGGER audit_events_no_update')
    : w.sql.run('DROP TRIGGER audit_events_no_update_delete ON audit_events');
}

describe.each(STORE_KINDS)('delivering the digest through the outbox (%s)', (kind) => {
  let w: FixtureWeek;
  let fake: FakeSlack;
  let dispatcher: OutboxDispatcher;
  let scheduler: DigestScheduler;

  beforeEach(async () => {
    w = await fixtureWeek(kind);
    // The week's own notifications went out long ago; only the digest is left to deliver.
    await w.sql.run("UPDATE outbox SET status = 'sent'");
    fake = await new FakeSlack().start();
    const client = new webApi.WebClient('xoxb-test', {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: webApi.LogLevel.ERROR,
    });
    dispatcher = new OutboxDispatcher({
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
    await w.close();
  });

  const posts = () => fake.callsOf('chat.postMessage').filter((c) => c.args.channel === 'CDIGEST');
  const digestRow = async (key = KEY) => {
    const row = await w.sql.get<DigestRow>(
      'SELECT posted_at, chain_seq, chain_hash FROM digests WHERE period_key = ?',
      key,
    );
    if (!row) throw new Error(`no digest recorded for ${key}`);
    return row;
  };
  const deliverAll = async () => {
    await dispatcher.drain();
    const at = await w.sql.value<number | undefined>(
      "SELECT next_attempt_at FROM outbox WHERE status = 'pending' ORDER BY 1",
    );
    if (at !== undefined) {
      w.clock.set(at);
      await dispatcher.drain();
    }
  };

  it('posts once to the digest channel after a Slack 500, and records the verified head', async () => {
    await scheduler.start(); // 26 Oct 08:05Z: queues the week that ended at 08:00Z
    fake.fail('chat.postMessage', { kind: 'status', status: 500 });
    await dispatcher.drain();
    expect(posts()).toHaveLength(1);
    expect((await digestRow()).posted_at).toBeNull();

    await deliverAll();
    await deliverAll();
    expect(posts()).toHaveLength(2);
    const sent = posts()[1]!.args;
    expect(sent.channel).toBe('CDIGEST');
    expect(String(sent.text)).toMatch(/^Hallpass weekly digest, Mon 19 Oct 2026 09:00/);
    expect(blockKitProblems(sent.blocks as unknown[])).toEqual([]);
    expect(JSON.stringify(sent.blocks)).toContain('Revocation problems: 2');

    const head = await w.sql.get<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    expect(await digestRow()).toEqual({
      posted_at: w.clock.now(),
      chain_seq: head!.seq,
      chain_hash: head!.hash,
    });
    const outbox = await w.sql.all("SELECT status FROM outbox WHERE topic = 'digest'");
    expect(outbox).toEqual([{ status: 'sent' }]);
  });

  it('says in words what the chain check covered: since the period began, then since the last digest', async () => {
    await scheduler.start();
    await deliverAll();
    expect(posts()).toHaveLength(1);
    const firstText = JSON.stringify(posts()[0]!.args.blocks);
    expect(firstText).toMatch(
      /Intact: verified \d+ rows since the period began, Mon 19 Oct \d\d:\d\d\./,
    );

    w.clock.set(Date.parse('2026-10-27T10:00:00Z'));
    await w.core.createRequest({
      requester: 'UENG',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-43 lock waits',
    });
    w.clock.set(Date.parse('2026-11-02T08:00:30Z'));
    await scheduler.stop();
    scheduler = new DigestScheduler(w.core);
    await scheduler.start();
    await deliverAll();
    expect(posts()).toHaveLength(2);
    const secondText = JSON.stringify(posts()[1]!.args.blocks);
    expect(secondText).toMatch(
      /Intact: verified \d+ rows? since the last digest, Mon 26 Oct \d\d:\d\d\./,
    );
    expect(secondText).toContain('Newest row');
    expect(secondText).not.toContain('after row');
  });

  it('verifies the next week from the head the last digest recorded, and flags a break', async () => {
    await scheduler.start();
    await deliverAll();
    const first = await digestRow();
    expect(first.chain_seq).not.toBeNull();

    // An attacker with the file edits a row written after the last digest.
    w.clock.set(Date.parse('2026-10-27T10:00:00Z'));
    await w.core.createRequest({
      requester: 'UENG',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-43 lock waits',
    });
    await allowAuditEdits(w);
    const edited = first.chain_seq! + 1;
    expect(
      await w.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = ?", edited),
    ).toBe(1);

    w.clock.set(Date.parse('2026-11-02T08:00:30Z'));
    await scheduler.stop();
    scheduler = new DigestScheduler(w.core);
    await scheduler.start();
    await deliverAll();

    expect(posts()).toHaveLength(2);
    const text = JSON.stringify(posts()[1]!.args.blocks);
    expect(text).toContain('Audit chain broken');
    expect(text).toContain(`Row ${edited}: content does not match its hash (the row was edited).`);
    expect(text).toContain(`walking after row ${first.chain_seq} (digest of ${KEY})`);
    expect(await digestRow('2026-10-26T08:00:00.000Z')).toMatchObject({ chain_seq: null });
  });
});
