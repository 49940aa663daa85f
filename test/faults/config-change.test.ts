import { writeFileSync } from 'node:fs';
import { BotProcess, runHallpassCli } from '../support/process';
import { startBotWorld, type BotWorld } from './support/bot-world';
import { scalar, waitFor } from './support/system';

/**
 * hallpass.yml as an operator edits it over time: `prodDb` is prod-db's target channel (the
 * resource is gone without it); `provider` names the one webhook provider instance, which both
 * resources use. Every request is approved automatically, so each `/jit request` is a grant.
 */
function hallpassYml(hookUrl: string, options: { prodDb?: string; provider?: string }): string {
  const provider = options.provider ?? 'hook';
  const prodDb = options.prodDb
    ? `
  - id: prod-db
    name: Production database
    provider: ${provider}
    target: { channel: ${options.prodDb} }
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 0
    approverChannel: CDBA`
    : '';
  return `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
sweeper: { schedule: '* * * * * *', retryBase: 1s, retryMax: 2s }
providers:
  ${provider}: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 5s }
resources:${prodDb}
  - id: sandbox
    name: Sandbox
    provider: ${provider}
    target: { channel: CSANDBOX }
    minDuration: 1s
    maxDuration: 4h
    approvalsRequired: 0
`;
}

/**
 * The bot as a real process, its configuration rewritten between restarts while grants are live.
 * A grant keeps the terms it was granted under: changing a resource's target, or removing the
 * resource, does not change what its revoke removes; removing the provider instance that can
 * revoke it stops the start, one line per grant, until each is closed by hand.
 */
describe('hallpass.yml changed while grants are live', () => {
  let world: BotWorld;
  afterEach(() => world?.stop());

  const rewrite = (options: Parameters<typeof hallpassYml>[1]) =>
    writeFileSync(world.configFile, hallpassYml(world.receiver.url, options));

  async function restartWith(options: Parameters<typeof hallpassYml>[1]): Promise<void> {
    expect(await world.stopBot()).toEqual({ code: 0, signal: null });
    rewrite(options);
    await world.startBot();
  }

  async function grantFor(userId: string, resourceId: string): Promise<string> {
    const sent = await world.people.command(
      userId,
      `request ${resourceId} 1h config change drill for ${userId}`,
    );
    expect(sent.status).toBe(200);
    return waitFor(
      () =>
        scalar<string | undefined>(
          world.sql,
          "SELECT id FROM grants WHERE user_id = ? AND resource_id = ? AND status = 'active'",
          userId,
          resourceId,
        ),
      `${userId}'s grant on ${resourceId}`,
    );
  }

  /** The holder clicks "revoke now"; resolves once the grant is recorded as revoked. */
  async function revokeNow(userId: string, grantId: string): Promise<void> {
    expect((await world.people.revoke(userId, grantId)).status).toBe(200);
    await waitFor(
      () => scalar(world.sql, "SELECT 1 FROM grants WHERE id = ? AND status = 'revoked'", grantId),
      `grant ${grantId} to be revoked`,
    );
  }

  /** The targets the receiver was sent for `action` on this grant. */
  const targets = (action: string, grantId: string) =>
    world.receiver
      .callsOf(action)
      .filter((c) => c.body.grantId === grantId)
      .map((c) => (c.body.resource as { target: unknown }).target);

  it('revokes with the recorded target, warns on a removed resource, refuses to start without the provider', async () => {
    world = await startBotWorld({ config: (url) => hallpassYml(url, { prodDb: 'C1' }) });
    const a = await grantFor('UA', 'prod-db');
    const b = await grantFor('UB', 'prod-db');
    const c = await grantFor('UC', 'sandbox');
    expect(targets('grant', a)).toEqual([{ channel: 'C1' }]);
    expect(targets('grant', b)).toEqual([{ channel: 'C1' }]);

    // prod-db now points at C2: grants made before still end where they were made.
    await restartWith({ prodDb: 'C2' });
    const e = await grantFor('UE', 'prod-db');
    expect(targets('grant', e)).toEqual([{ channel: 'C2' }]);
    await revokeNow('UA', a);
    expect(targets('revoke', a)).toEqual([{ channel: 'C1' }]);

    // prod-db is gone, its provider stays: a warning naming the grants, which still end as granted.
    await restartWith({});
    const warning = world.bot.logs.find(
      (line) =>
        line.level === 'warn' &&
        String(line.message).startsWith('resource prod-db is no longer configured'),
    );
    expect(warning?.message).toContain('but 2 grants are not over (');
    expect(warning?.message).toContain(b);
    expect(warning?.message).toContain(e);
    expect(warning?.message).toContain('will still be revoked through provider "hook" as granted');
    const d = await grantFor('UD', 'sandbox');
    await revokeNow('UB', b);
    await revokeNow('UE', e);
    expect(targets('revoke', b)).toEqual([{ channel: 'C1' }]);
    expect(targets('revoke', e)).toEqual([{ channel: 'C2' }]);
    expect(await scalar(world.sql, 'SELECT end_reason FROM grants WHERE id = ?', b)).toBe(
      'revoked_by_user',
    );

    // The provider that granted c and d is gone: the start stops, one line per grant, before
    // anything is posted or called.
    expect(await world.stopBot()).toEqual({ code: 0, signal: null });
    rewrite({ provider: 'hook2' });
    const before = { slack: world.fake.calls.length, receiver: world.receiver.calls.length };
    const failing = BotProcess.spawn(world.env);
    const exit = await Promise.race([
      failing.exited,
      failing
        .waitForLog((line) => line.message === 'hallpass started', 20_000)
        .then(() => 'started'),
    ]);
    expect(exit).toEqual({ code: 1, signal: null });
    const refusal = (id: string, who: string) =>
      `hallpass: ${world.configFile}: grant ${id} (${who} on sandbox, active) was granted through provider "hook", which is no longer configured: keep providers.hook until it ends, or close it by hand with \`hallpass grants close ${id} --reason "…"\` and remove the access yourself`;
    const lines = failing.stderr.split('\n').filter((line) => line.startsWith('hallpass: '));
    expect(lines.sort()).toEqual([refusal(c, 'UC'), refusal(d, 'UD')].sort());
    expect({ slack: world.fake.calls.length, receiver: world.receiver.calls.length }).toEqual(
      before,
    );

    // Closed by hand, the next start works; the grants say plainly they were not revoked.
    for (const id of [c, d]) {
      const closed = await runHallpassCli(
        ['grants', 'close', id, '--reason', 'hook retired; sandbox access removed by hand'],
        world.env,
      );
      expect(closed.stderr).toBe('');
      expect(closed.code).toBe(0);
      expect(closed.stdout).toContain(`${id} (`);
      expect(closed.stdout).toContain('is now stranded: Hallpass did not revoke it.');
    }
    await world.startBot();
    expect(
      await world.sql.all("SELECT id, status, end_reason FROM grants WHERE status = 'stranded'"),
    ).toEqual(
      expect.arrayContaining([
        { id: c, status: 'stranded', end_reason: 'provider_removed' },
        { id: d, status: 'stranded', end_reason: 'provider_removed' },
      ]),
    );
    expect(
      await scalar(
        world.sql,
        "SELECT count(*) FROM audit_events WHERE action = 'grant.closed_by_hand'",
      ),
    ).toBe(2);
    expect(targets('revoke', c)).toEqual([]);
    expect(targets('revoke', d)).toEqual([]);
    await world.outboxDrained();
    for (const id of [c, d]) {
      const alert = `Grant ${id} was closed by hand; its access may still exist and must be removed outside Hallpass.`;
      expect(world.slack.postsTo('UADMIN').filter((p) => p.text.includes(alert))).toHaveLength(1);
      expect(world.slack.postsTo('CAPPROVALS').filter((p) => p.text.includes(alert))).toHaveLength(
        1,
      );
    }

    // The operator removes that access by hand, as told: then everything agrees.
    world.receiver.held.delete(c);
    world.receiver.held.delete(d);
    await world.converged();
  });
});
