import type { ReceiverFault } from '../support/webhook-receiver';
import { scalar, startSystem, waitFor, type FaultSystem } from './support/system';

/**
 * The provider (a webhook receiver) fails, hangs past its timeout, or does the work and loses
 * its answer. Hallpass retries until the provider and its own records agree, and every retry
 * names the same grant id, so the receiver keeps one grant however often it is asked.
 */
describe('a provider that fails', () => {
  let system: FaultSystem;
  afterEach(() => system?.stop());

  const grantId = () => waitFor(() => scalar<string>(system.sql, 'SELECT id FROM grants'), 'grant');
  const active = (id: string) =>
    waitFor(
      () => scalar(system.sql, "SELECT 1 FROM grants WHERE id = ? AND status = 'active'", id),
      'the grant to be active',
    );
  const audited = (action: string) =>
    scalar<number>(system.sql, 'SELECT count(*) FROM audit_events WHERE action = ?', action);
  const callsFor = (action: string, id: string) =>
    system.receiver.callsOf(action).filter((c) => c.body.grantId === id);

  async function sandboxFor2s(): Promise<string> {
    const sent = await system.people.command('UREQ', 'request sandbox 2s fault drill in sandbox');
    expect(sent.status).toBe(200);
    return grantId();
  }

  function failNext(fault: ReceiverFault, times: number): void {
    for (let i = 0; i < times; i++) system.receiver.fail(fault);
  }

  it('for a while on grant: activation is retried and succeeds, the grant runs its full time', async () => {
    system = await startSystem();
    failNext({ kind: 'status', status: 503, body: 'maintenance' }, 2);
    const id = await sandboxFor2s();
    await system.converged();
    expect(callsFor('grant', id)).toHaveLength(3);
    expect(await audited('grant.activation_failed_attempt')).toBe(2);
    expect(await scalar(system.sql, 'SELECT status FROM grants')).toBe('revoked');
    const [start, end] = ['startsAt', 'expiresAt'].map((k) =>
      Date.parse(String(callsFor('grant', id)[2]!.body[k])),
    );
    expect(end! - start!).toBe(2000);
  });

  it('longer than alertAfterAttempts on grant: activation gives up, cleans up with a revoke and alerts once', async () => {
    system = await startSystem({ alertAfterAttempts: 3 });
    failNext({ kind: 'status', status: 500 }, 3);
    const id = await sandboxFor2s();
    await system.converged();
    expect(await scalar(system.sql, 'SELECT status FROM grants')).toBe('failed');
    expect(callsFor('grant', id)).toHaveLength(3);
    expect(callsFor('revoke', id)).toHaveLength(1);
    const alert = /gave up activating access .* after 3 attempts/;
    expect(system.slack.postsTo('CAPPROVALS').filter((p) => alert.test(p.text))).toHaveLength(1);
    expect(system.slack.postsTo('UADMIN').filter((p) => alert.test(p.text))).toHaveLength(1);
  });

  it('for a while on revoke: the holder loses access once it recovers, admins are alerted once', async () => {
    system = await startSystem({ alertAfterAttempts: 3 });
    const id = await sandboxFor2s();
    await active(id);
    failNext({ kind: 'status', status: 502 }, 4);
    await system.converged();
    expect(callsFor('revoke', id)).toHaveLength(5);
    expect(await audited('grant.revoke_failed_attempt')).toBe(4);
    expect(await audited('grant.revoke_alerted')).toBe(1);
    const alert = /could not revoke access .* after 3 attempts/;
    expect(system.slack.postsTo('UADMIN').filter((p) => alert.test(p.text))).toHaveLength(1);
    expect(await scalar(system.sql, 'SELECT status FROM grants')).toBe('revoked');
  });

  it('hangs past its timeout: the call is abandoned and retried, on grant and on revoke', async () => {
    system = await startSystem({ providerTimeout: '1s' });
    failNext({ kind: 'hang' }, 1);
    const id = await sandboxFor2s();
    await active(id);
    failNext({ kind: 'hang' }, 1);
    await system.converged();
    expect(callsFor('grant', id)).toHaveLength(2);
    expect(callsFor('revoke', id)).toHaveLength(2);
    const errors = (
      await system.sql.all<{ error: string }>(
        `SELECT ${system.sql.json('details', 'error')} AS error FROM audit_events
          WHERE action LIKE '%failed_attempt' ORDER BY seq`,
      )
    ).map((r) => r.error);
    expect(errors).toEqual([
      expect.stringMatching(/grant: .*timed out/),
      expect.stringMatching(/revoke: .*timed out/),
    ]);
  });

  it('does the work but its answer is lost: the retry finds it done, one grant is held, one set of credentials is shown', async () => {
    system = await startSystem();
    // Like a receiver that sets a new password on every grant call (the lost one too): only the
    // last one works.
    system.receiver.answers.grant = () => ({
      credentials: `password-${system.receiver.callsOf('grant').length}`,
    });
    failNext({ kind: 'drop' }, 1);
    const id = await sandboxFor2s();
    await active(id);
    expect(callsFor('grant', id)).toHaveLength(2);
    expect([...system.receiver.held.keys()]).toEqual([id]);
    failNext({ kind: 'drop' }, 1);
    await system.converged();
    expect(callsFor('revoke', id)).toHaveLength(2);
    expect(system.receiver.held.size).toBe(0);
    const dms = system.slack.postsTo('UREQ');
    const activeDms = dms.filter((p) => /is active until/.test(p.text));
    expect(activeDms).toHaveLength(1);
    // The credentials join the active-access DM (an edit), or follow it in a post of their own.
    const shown = [
      ...system.slack.edits.filter((e) => e.ts === activeDms[0]!.ts),
      ...dms.filter((p) => /credentials/.test(p.text)),
    ].filter((m) => m.blocks.includes('password-'));
    expect(shown).toHaveLength(1);
    expect(shown[0]!.blocks).toContain('password-2');
    expect(shown[0]!.blocks).not.toContain('password-1');
  });
});
