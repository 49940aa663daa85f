import { startBotWorld, type BotWorld } from './support/bot-world';
import { scalar, waitFor } from './support/system';
import { faultConfig } from './support/traffic';

/**
 * The bot as a real process, killed with SIGKILL at the worst moments: no shutdown code runs,
 * transactions in progress are lost. A new process on the same database and config must finish
 * what the dead one started: access granted is taken away on time, every message goes out once.
 * The webhook receiver holds the provider call (or freezes the bot the instant it has answered),
 * so the kill lands mid-call for sure.
 */
describe('the bot killed with SIGKILL', () => {
  let world: BotWorld;
  // Group members are trusted for a second only, so a click after that asks Slack again (the
  // requester's App Home looked the approver groups up when the request was filed).
  beforeEach(
    async () =>
      (world = await startBotWorld({
        config: (hookUrl) => faultConfig({ hookUrl, providerTimeout: '10s', groupTtl: '1s' }),
      })),
  );
  afterEach(() => world?.stop());

  const count = (sql: string, ...params: unknown[]) => scalar<number>(world.sql, sql, ...params);
  const grantCalls = (action: string) => world.receiver.callsOf(action).map((c) => c.body.grantId);

  /**
   * Messages already queued are let out before each kill: a post Slack accepted in the instant
   * before the kill, not yet written down, would go out again after it (docs/delivery.md).
   */
  const outboxDrained = () => world.outboxDrained();
  const killAndRestart = () => world.killAndRestart();
  const converged = () => world.converged();

  /** The click is acked before it is acted on: wait for its grant before waiting for quiet. */
  async function approveAgain(approver: string, requestId: string): Promise<void> {
    expect((await world.people.approve(approver, requestId)).status).toBe(200);
    await waitFor(async () => (await count('SELECT count(*) FROM grants')) === 1, 'the grant');
  }

  /**
   * A sandbox grant for `duration`. Its messages (received, active, ending soon: warnBefore is
   * longer than the grant) all go out at activation, so the outbox is quiet until it ends.
   */
  async function sandboxFor(duration = '2s'): Promise<string> {
    const sent = await world.people.command(
      'UREQ',
      `request sandbox ${duration} fault drill in sandbox`,
    );
    expect(sent.status).toBe(200);
    return waitFor(() => scalar<string>(world.sql, 'SELECT id FROM grants'), 'the grant');
  }

  async function gatedRequest(options: { replyHangs?: boolean } = {}): Promise<string> {
    const sent = await world.people.command(
      'UREQ',
      'request prod-db 2s investigating INC-9 slow queries',
      options,
    );
    expect(sent.status).toBe(200);
    return waitFor(() => scalar<string>(world.sql, 'SELECT id FROM requests'), 'the request');
  }

  describe('during activation', () => {
    it('while the provider has not answered: the new process grants again and ends it on time', async () => {
      world.receiver.fail({ kind: 'hang' });
      const grantId = await sandboxFor();
      await waitFor(() => grantCalls('grant').length === 1, 'the grant call');
      await outboxDrained();
      await killAndRestart();

      await converged();
      expect(grantCalls('grant')).toEqual([grantId, grantId]);
      expect(grantCalls('revoke')).toEqual([grantId]);
      expect(await count("SELECT count(*) FROM grants WHERE status = 'revoked'")).toBe(1);
    });

    it('after the provider granted, before the bot read its answer: granted again, held once, ended on time', async () => {
      // The first try fails, so the try the kill lands in starts once the outbox is quiet.
      world.receiver.fail({ kind: 'status', status: 503 });
      const grantId = await sandboxFor();
      await waitFor(() => grantCalls('grant').length === 1, 'the first grant call');
      await outboxDrained();
      world.receiver.answers.grant = () => (world.bot.freeze(), {});
      await waitFor(() => grantCalls('grant').length === 2, 'the second grant call');
      expect([...world.receiver.held.keys()]).toEqual([grantId]);
      delete world.receiver.answers.grant;
      await killAndRestart();

      await converged();
      expect(grantCalls('grant')).toEqual([grantId, grantId, grantId]);
      expect(await count("SELECT count(*) FROM grants WHERE status = 'revoked'")).toBe(1);
    });
  });

  describe('during revocation', () => {
    it('while the provider has not answered: the new process revokes again', async () => {
      const grantId = await sandboxFor();
      await waitFor(() => world.receiver.held.has(grantId), 'the grant to be held');
      await outboxDrained();
      world.receiver.fail({ kind: 'hang' });
      await waitFor(() => grantCalls('revoke').length === 1, 'the revoke call');
      await outboxDrained();
      await killAndRestart();

      await converged();
      expect(grantCalls('revoke')).toEqual([grantId, grantId]);
    });

    it('after the provider revoked, before the bot read its answer: the retry finds it gone', async () => {
      // Long enough to set the hook after the activation's messages are out.
      const grantId = await sandboxFor('4s');
      await waitFor(() => world.receiver.held.has(grantId), 'the grant to be held');
      await outboxDrained();
      world.receiver.answers.revoke = () => (world.bot.freeze(), {});
      await waitFor(() => grantCalls('revoke').length === 1, 'the revoke call');
      expect(world.receiver.held.size).toBe(0);
      delete world.receiver.answers.revoke;
      expect(await count("SELECT count(*) FROM grants WHERE status = 'revoking'")).toBe(1);
      await killAndRestart();

      await converged();
      expect(grantCalls('revoke')).toEqual([grantId, grantId]);
      expect(
        await count(
          "SELECT count(*) FROM audit_events WHERE action = 'grant.revoked' AND grant_id = ?",
          grantId,
        ),
      ).toBe(1);
    });
  });

  describe('around a Slack request', () => {
    it('between the click reaching the bot and its ack: nothing is recorded, the approver clicks again', async () => {
      const requestId = await gatedRequest();
      await waitFor(() => world.slack.postsTo('CDBA')[0], 'the approver message');
      await outboxDrained();
      world.bot.freeze();
      const click = world.people.approve('ULEAD', requestId);
      await expect(
        Promise.race([click, new Promise((r) => setTimeout(r, 300, 'no answer'))]),
      ).resolves.toBe('no answer');
      await killAndRestart();
      await expect(click).rejects.toThrow();

      expect(await count('SELECT count(*) FROM approvals')).toBe(0);
      expect(await count("SELECT count(*) FROM requests WHERE status = 'pending'")).toBe(1);
      await approveAgain('ULEAD', requestId);
      await converged();
      expect(await count('SELECT count(*) FROM approvals')).toBe(1);
      expect(grantCalls('grant')).toHaveLength(1);
    });

    it('after the ack, while the approver is being checked: nothing is recorded, the approver clicks again', async () => {
      const requestId = await gatedRequest();
      await waitFor(() => world.slack.postsTo('CDBA')[0], 'the approver message');
      await outboxDrained();
      // Past groupTtl since the lookups made when the request was filed.
      await new Promise((r) => setTimeout(r, 1100));
      world.fake.fail('usergroups.users.list', { kind: 'hang' });
      const lookups = (calls: readonly { method: string }[]) =>
        calls.filter((c) => c.method === 'usergroups.users.list').length;
      const before = lookups(world.fake.calls);
      const click = await world.people.approve('UONCALL', requestId);
      expect(click.status).toBe(200);
      await world.fake.waitFor((calls) => lookups(calls) > before);
      await killAndRestart();

      expect(await count('SELECT count(*) FROM approvals')).toBe(0);
      await approveAgain('UONCALL', requestId);
      await converged();
      expect(
        (await world.sql.all('SELECT approver FROM approvals')).map((r) => r.approver),
      ).toEqual(['UONCALL']);
    });

    it('after the request was filed, before the person was answered: it is filed once and goes on', async () => {
      const requestId = await gatedRequest({ replyHangs: true });
      await waitFor(() => world.slack.postsTo('CDBA')[0], 'the approver message');
      await outboxDrained();
      await killAndRestart();

      await approveAgain('ULEAD', requestId);
      await converged();
      expect(await count('SELECT count(*) FROM requests')).toBe(1);
      expect(world.slack.postsTo('CDBA')).toHaveLength(1);
    });
  });
});
