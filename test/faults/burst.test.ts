import { forEachLimited } from '../../src/limit';
import { scalar, startSystem, waitFor, type FaultSystem } from './support/system';

const HOUR = 3_600_000;
const EXPIRING = 1000;
const REQUESTS = 1000;
/** Slack requests in flight at once, as Slack would deliver a busy minute. */
const IN_FLIGHT = 16;

/**
 * A busy minute: 1,000 grants reach their expiry at once while 1,000 people ask for access
 * (half auto-approved, half for an approver) and 1,000 clicks arrive (an approval for each gated
 * request, a second click on a quarter of them, and "revoke now" on a quarter of the others).
 * Nothing is measured here; everything must converge.
 */
describe('a burst', () => {
  let system: FaultSystem;
  afterEach(() => system?.stop());

  const count = (sql: string, ...params: unknown[]) => scalar<number>(system.sql, sql, ...params);
  const user = (prefix: string, i: number) => `${prefix}${String(i).padStart(4, '0')}`;
  const idFor = (sql: string, param: string, what: string) =>
    waitFor(() => scalar<string | undefined>(system.sql, sql, param), what, 60_000);

  async function oneRequester(i: number): Promise<void> {
    const gated = i % 2 === 0;
    const person = user('UB', i);
    const resource = gated ? 'prod-db' : 'sandbox';
    const sent = await system.people.command(
      person,
      `request ${resource} 30m burst request number ${i}`,
    );
    expect(sent.status).toBe(200);
    const requestId = await idFor(
      'SELECT id FROM requests WHERE client_key = ?',
      `command:${sent.triggerId}`,
      `request ${i}`,
    );
    if (gated) {
      expect((await system.people.approve('ULEAD', requestId)).status).toBe(200);
      if (i % 4 === 0) expect((await system.people.approve('ULEAD', requestId)).status).toBe(200);
      return;
    }
    if (i % 4 !== 1) return;
    const grantId = await idFor(
      'SELECT id FROM grants WHERE request_id = ?',
      requestId,
      `grant ${i}`,
    );
    expect((await system.people.revoke(person, grantId)).status).toBe(200);
  }

  it('1,000 requests and 1,000 clicks while 1,000 grants expire: everything converges', async () => {
    system = await startSystem({ providerTimeout: '5s' });
    const { core } = system.hallpass;
    for (let i = 0; i < EXPIRING; i++) {
      await core.createRequest({
        requester: user('US', i),
        resourceId: 'sandbox',
        duration: '1h',
        justification: 'standing access that expires in the burst',
      });
    }
    await system.converged({ grantsMayRemain: true, timeoutMs: 120_000 });
    expect(await count("SELECT count(*) FROM grants WHERE status = 'active'")).toBe(EXPIRING);

    system.clock.advance(HOUR);
    await forEachLimited(
      Array.from({ length: REQUESTS }, (_, i) => i),
      IN_FLIGHT,
      oneRequester,
    );
    await system.converged({ grantsMayRemain: true, timeoutMs: 120_000 });
    expect(
      await count("SELECT count(*) FROM grants WHERE user_id LIKE 'US%' AND status = 'revoked'"),
    ).toBe(EXPIRING);
    expect(await count("SELECT count(*) FROM requests WHERE requester LIKE 'UB%'")).toBe(REQUESTS);
    expect(await count('SELECT count(*) FROM approvals')).toBe(REQUESTS / 2);
    expect(await count("SELECT count(*) FROM grants WHERE end_reason = 'revoked_by_user'")).toBe(
      REQUESTS / 4,
    );

    // Then the burst's own grants run out, and the system is quiet again.
    system.clock.advance(HOUR);
    await system.converged({ timeoutMs: 120_000 });
    expect(await count("SELECT count(*) FROM grants WHERE status = 'revoked'")).toBe(
      EXPIRING + REQUESTS,
    );
  }, 280_000);
});
