import { deliveryHarness, JUST, sentText, type DeliveryHarness } from './harness';

const MIN = 60_000;

/** A grant approved and activated, with `secret` for credentials (if any), its DMs queued. */
async function activeGrantWithCredentials(h: DeliveryHarness, secret?: string): Promise<string> {
  const req = await h.core.createRequest({
    requester: 'UREQ',
    resourceId: 'prod-db',
    duration: '2h',
    justification: JUST,
  });
  await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
  const grantId = (await h.sql.all<{ id: string }>('SELECT id FROM grants'))[0]!.id;
  await h.activate(grantId, secret);
  return grantId;
}

/**
 * Credentials are shown once in a DM. A worker that joined them to the "access is active" DM (and
 * remembered that) but died before marking the credentials row sent leaves the row pending with
 * its sealed payload; the next worker must not send the password again (docs/delivery.md: a
 * retry after a crash before the row was marked sent does not post again).
 */
describe('credentials retried after a crash past the join (sqlite)', () => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness('sqlite')));
  afterEach(() => h.stop());

  it('does not post the credentials a second time', async () => {
    const secret = 'password: hunter2-s3cr3t-value';
    await activeGrantWithCredentials(h, secret);
    const [creds] = await h.rows("topic = 'credentials'");
    const original = creds!.payload;

    await h.dispatcher.drain();
    await h.dispatcher.drain();
    const carrying = () =>
      [...h.fake.callsOf('chat.postMessage'), ...h.fake.callsOf('chat.update')].filter((c) =>
        sentText(c.args).includes(secret),
      );
    expect(carrying()).toHaveLength(1);
    expect(carrying()[0]!.method).toBe('chat.update');

    // The state a crash leaves right after Slack answered the join and slack_messages recorded
    // it, but before the outbox row was marked sent: the row pending, still sealed.
    await h.sql.run(
      "UPDATE outbox SET status = 'pending', sent_at = NULL, next_attempt_at = 0, payload = ? WHERE id = ?",
      original,
      creds!.id,
    );
    const next = await h.another();
    await next.dispatcher.drain();

    expect((await h.rows(`id = ${creds!.id}`))[0]!.status).toBe('sent');
    // No new message with the password: at most the same DM edited again.
    const posted = carrying().filter((c) => c.method === 'chat.postMessage');
    expect(posted.map((c) => c.args.channel)).toEqual([]);
  });
});

/**
 * Slack is unreachable while a grant with a password is activated and then ended, so its
 * credentials row is still waiting: once Slack is back, the password of access that has ended is
 * not shown, and the row's sealed copy is dropped with it.
 */
describe('credentials of a grant that ended before they were delivered (sqlite)', () => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness('sqlite')));
  afterEach(() => h.stop());

  const secret = 'password: hunter2-s3cr3t-value';

  async function endedGrantWithWaitingCredentials() {
    const grantId = await activeGrantWithCredentials(h, secret);
    const [creds] = await h.rows("topic = 'credentials'");
    const sealed = JSON.parse(creds!.payload).sealed as string;
    expect(sealed).toMatch(/^v1\./);
    // Slack is down: nothing goes out for a while.
    h.fake.fail('chat.postMessage', { kind: 'status', status: 503 }, 1000);
    h.fake.fail('chat.update', { kind: 'status', status: 503 }, 1000);
    await h.dispatcher.drain();
    await h.core.revokeGrant({ grantId, actor: 'UREQ', reason: 'done early' });
    await h.core.lifecycle.revoked([{ grantId, checked: true }]);
    expect((await h.core.grant(grantId))!.status).toBe('revoked');
    return { grantId, credsId: creds!.id, sealed };
  }

  it('a password for access that has ended is not sent once Slack is back', async () => {
    const { credsId } = await endedGrantWithWaitingCredentials();
    h.fake.clearFaults();
    for (let i = 0; i < 12; i++) {
      h.clock.advance(10 * 60_000);
      await h.dispatcher.drain();
    }
    const shown = [...h.fake.callsOf('chat.postMessage'), ...h.fake.callsOf('chat.update')].filter(
      (c) => sentText(c.args).includes('hunter2'),
    );
    expect(shown.map((c) => c.method)).toEqual([]);
    const [row] = await h.rows(`id = ${credsId}`);
    expect(row!.status).not.toBe('pending');
    expect(JSON.parse(row!.payload).sealed).toBeUndefined();
  });
});

/**
 * Credentials never shown for access whose end has passed, though the record still says active
 * (the sweeper has not reached it); and a crash between the two marks of a join leaves a later
 * re-grant's password a DM of its own.
 */

describe('credentials at the edges of a grant and of a crash (sqlite)', () => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness('sqlite')));
  afterEach(() => h.stop());

  const carrying = (secret: string) =>
    [...h.fake.callsOf('chat.postMessage'), ...h.fake.callsOf('chat.update')].filter((c) =>
      sentText(c.args).includes(secret),
    );

  /**
   * docs/delivery.md: "Credentials of access that ended (or is ending) before they could be shown
   * are never shown". A grant whose end has passed has ended, even while its record still says
   * `active` because the sweeper has not moved it to `revoking` yet (the same situation 0e2494b
   * treats as ended for extensions). The handler only looks at `grant.status`.
   */
  it('does not show the password of a grant whose end passed while Slack was down, though the record still says active', async () => {
    const secret = 'password: ended-grant-s3cr3t';
    const grantId = await activeGrantWithCredentials(h, secret);
    const grant = (await h.core.grant(grantId))!;
    // Slack is down for longer than the grant lasts.
    h.fake.fail('chat.postMessage', { kind: 'status', status: 503 }, 1000);
    h.fake.fail('chat.update', { kind: 'status', status: 503 }, 1000);
    await h.dispatcher.drain();
    h.clock.set(grant.expiresAt! + 30 * MIN);
    h.fake.clearFaults();
    // The dispatcher's turn comes before the sweeper's: the record still says active.
    expect((await h.core.grant(grantId))!.status).toBe('active');
    for (let i = 0; i < 12; i++) {
      h.clock.advance(10_000);
      await h.dispatcher.drain();
    }
    expect(carrying(secret).map((c) => c.method)).toEqual([]);
  });

  /**
   * A crash between the two marks the join writes (the issuance's hash marker first, then
   * `holder-credentials`) leaves the hash marker alone: the retry returns at the hash check and
   * never writes `holder-credentials`. A re-grant's new password queued without `later` (by a
   * release before it) would then find the DM "not joined" and be silently edited into the old
   * "access is active" DM (chat.update, no notification) instead of coming as a DM of its own.
   */
  it("a re-grant's new password still gets a DM of its own after a crash between the join's two marks", async () => {
    const first = 'password: first-issue-s3cr3t';
    const grantId = await activeGrantWithCredentials(h, first);
    const [creds] = await h.rows("topic = 'credentials'");
    const original = creds!.payload;
    await h.dispatcher.drain();
    expect(carrying(first).map((c) => c.method)).toEqual(['chat.update']);

    // The state a crash leaves right after mark(issued) and before mark(WITH_CREDENTIALS): the
    // hash marker is there, `holder-credentials` is not, and the row is still pending, sealed.
    const marks = await h.sql.all<{ purpose: string }>(
      'SELECT purpose FROM slack_messages WHERE subject = ? ORDER BY purpose',
      `grant:${grantId}`,
    );
    expect(marks.map((m) => m.purpose)).toEqual(
      expect.arrayContaining(['holder', 'holder-credentials']),
    );
    await h.sql.run(
      "DELETE FROM slack_messages WHERE subject = ? AND purpose = 'holder-credentials'",
      `grant:${grantId}`,
    );
    await h.sql.run(
      "UPDATE outbox SET status = 'pending', sent_at = NULL, next_attempt_at = 0, payload = ? WHERE id = ?",
      original,
      creds!.id,
    );
    const next = await h.another();
    await next.dispatcher.drain();
    expect((await h.rows(`id = ${creds!.id}`))[0]!.status).toBe('sent');

    // The reconciler re-creates the access with a new password (as recordDrift issues it).
    h.clock.advance(5 * MIN);
    const second = 'password: regrant-n3w-s3cr3t';
    await h.enqueue(`grant.credentials:${grantId}:${h.clock.now()}`, {
      topic: 'credentials',
      userId: 'UREQ',
      grantId,
      sealed: h.sealer.seal(JSON.stringify({ text: second })),
    });
    await next.dispatcher.drain();
    // docs/delivery.md / credentials.ts: credentials issued later come as a DM of their own.
    expect(carrying(second).map((c) => c.method)).toEqual(['chat.postMessage']);
  });

  it("a re-grant's password for a grant whose activation issued none comes as a DM of its own", async () => {
    // Activated without credentials: the "access is active" DM goes out alone.
    const grantId = await activeGrantWithCredentials(h);
    await h.dispatcher.drain();
    expect(h.fake.callsOf('chat.postMessage').length).toBeGreaterThan(0);

    // Later the sweeper's re-grant after an extension answers with a new password.
    h.clock.advance(10 * 60_000);
    const grant = (await h.core.grant(grantId))!;
    const secret = 'password: rotated-0n-regrant';
    await h.core.lifecycle.synced(
      grantId,
      grant.expiresAt!,
      { key: 'x' },
      h.sealer.seal(JSON.stringify({ text: secret })),
    );
    await h.dispatcher.drain();

    const carrying = [...h.fake.callsOf('chat.postMessage'), ...h.fake.callsOf('chat.update')]
      .filter((c) => sentText(c.args).includes('rotated-0n-regrant'))
      .map((c) => c.method);
    expect(carrying).toEqual(['chat.postMessage']);
  });
});
