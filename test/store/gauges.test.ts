import { coreHarness, T0, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

const RETRY = { retryBase: 5_000, retryMax: 600_000, alertAfterAttempts: 5, random: () => 0.5 };

// What /metrics shows of the store, read the same way from either database.
describe.each(STORE_KINDS)('the gauges /metrics reads (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(undefined, undefined, kind)));
  afterEach(() => h.close());

  const file = (requester: string) =>
    h.core.createRequest({
      requester,
      resourceId: 'auto',
      duration: '30m',
      justification: 'investigating INC-42 slow queries',
    });
  const grantOf = async (requestId: string) => (await h.store.grants.byRequest(requestId))!.id;

  it('counts grants in flight, overdue ones, retries and the outbox', async () => {
    expect(await h.store.gauges.read(T0)).toEqual({
      inFlight: { activating: 0, active: 0, revoking: 0 },
      overdue: { count: 0, oldestExpiresAt: null },
      retrying: 0,
      outbox: { pending: 0, oldestPendingAt: null, dead: 0 },
    });
    const a = await grantOf((await file('UA')).id);
    const b = await grantOf((await file('UB')).id);
    await grantOf((await file('UC')).id);
    await h.core.lifecycle.activated(a, {
      startsAt: T0,
      expiresAt: T0 + 60_000,
      state: undefined,
      elapsedMs: 5,
    });
    await h.core.lifecycle.activated(b, {
      startsAt: T0,
      expiresAt: T0 + 120_000,
      state: undefined,
      elapsedMs: 5,
    });
    h.clock.set(T0 + 130_000);
    // b's revoke began and failed once; a is still marked active past its expiry.
    await h.core.lifecycle.expire([b]);
    await h.core.lifecycle.failed(b, 'revoke', 'connection refused', RETRY);
    const gauges = await h.store.gauges.read(h.clock.now());
    expect(gauges.inFlight).toEqual({ activating: 1, active: 1, revoking: 1 });
    expect(gauges.overdue).toEqual({ count: 2, oldestExpiresAt: T0 + 60_000 });
    expect(gauges.retrying).toBe(1);
    expect(gauges.outbox.pending).toBeGreaterThan(0);
    expect(gauges.outbox.oldestPendingAt).toBe(T0);
    expect(gauges.outbox.dead).toBe(0);
  });
});
