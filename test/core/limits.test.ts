import { DomainError } from '../../src/core';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

/**
 * Issue #9, item 9: how much one person may ask (`requests.maxPendingPerUser`,
 * `requests.filingLimit`), counted inside the change, so nothing slips past together and a
 * refusal writes nothing.
 */

const JUST = 'investigating INC-42 slow queries';

const PENDING_REFUSAL =
  'You already have 3 requests waiting for a decision, the most one person may have at once. Cancel one (`/jit list`) or wait for a decision, then ask again.';

/** BASE_CONFIG with an explicit `requests:` block (the limits under test). */
function withLimits(limits: string): string {
  return BASE_CONFIG.replace(
    '  approverChannel: CAPPROVALS\n',
    `  approverChannel: CAPPROVALS\n${limits}`,
  );
}

/** Everything a request can write: a refused one must leave each of these as it was. */
async function footprint(h: CoreHarness) {
  const all = (table: string, order: string) =>
    h.sql.all(`SELECT * FROM ${table} ORDER BY ${order}`);
  return {
    requests: await all('requests', 'id'),
    approvals: await all('approvals', 'id'),
    grants: await all('grants', 'id'),
    audit: await all('audit_events', 'seq'),
    outbox: await all('outbox', 'id'),
  };
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
}

describe.each(STORE_KINDS)('limits per person (%s)', (kind) => {
  let h: CoreHarness;
  afterEach(() => h.close());

  const file = (resourceId = 'prod-db', requester = 'UREQ', core = h.core) =>
    core.createRequest({ requester, resourceId, duration: '1h', justification: JUST });

  describe('with the default limits', () => {
    beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));

    it('refuses the fourth pending request with the exact message and writes nothing', async () => {
      expect(h.config.requests.maxPendingPerUser).toBe(3);
      await file('prod-db');
      await file('quorum');
      await file('self-ok');
      expect(await h.sql.value('SELECT count(*) FROM requests WHERE status = ?', 'pending')).toBe(
        3,
      );
      const before = await footprint(h);

      const err = await refusal(file('prod-db'));
      expect(err.code).toBe('rate_limited');
      expect(err.message).toBe(PENDING_REFUSAL);
      expect(await footprint(h)).toEqual(before);

      // Someone else is not held back by UREQ's requests.
      await expect(file('prod-db', 'UENG')).resolves.toMatchObject({ status: 'pending' });
    });

    it('lets them file again once they cancel one, and a decided one stops counting', async () => {
      const first = await file('prod-db');
      await file('quorum');
      const third = await file('self-ok');
      await expect(file('prod-db')).rejects.toThrow(PENDING_REFUSAL);

      await h.core.cancelRequest(first.id, 'UREQ');
      const fourth = await file('prod-db');
      expect(fourth.status).toBe('pending');
      await expect(file('prod-db')).rejects.toThrow(PENDING_REFUSAL);

      // An approval ends the wait: the request no longer counts as pending.
      await h.core.decide({ requestId: third.id, actor: 'UREQ', decision: 'approve' });
      await expect(file('prod-db')).resolves.toMatchObject({ status: 'pending' });
    });

    it('never lets 50 concurrent requests of one person make more than maxPendingPerUser', async () => {
      const others = await Promise.all([h.another(), h.another()]);
      const cores = [h.core, ...others];
      const settled = await Promise.allSettled(
        Array.from({ length: 50 }, (_, i) => file('prod-db', 'UREQ', cores[i % cores.length])),
      );
      const made = settled.filter((s) => s.status === 'fulfilled');
      const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
      expect(made).toHaveLength(3);
      expect(refused).toHaveLength(47);
      for (const reason of refused) {
        expect(reason).toBeInstanceOf(DomainError);
        expect((reason as DomainError).code).toBe('rate_limited');
      }
      expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(3);
      expect(
        await h.sql.value('SELECT count(*) FROM audit_events WHERE action = ?', 'request.created'),
      ).toBe(3);
      expect(await h.sql.value('SELECT count(*) FROM outbox')).toBe(6);
    });
  });

  describe('with a filing limit of 4 per 10 minutes and 10 pending', () => {
    beforeEach(
      async () =>
        (h = await coreHarness(
          withLimits('  maxPendingPerUser: 10\n  filingLimit: { requests: 4, per: 10m }\n'),
          undefined,
          kind,
        )),
    );

    it('counts every request filed in the window, whatever became of it, until the window passes', async () => {
      const T = h.clock.now();
      // Auto-approved and cancelled requests count as filed all the same.
      await file('auto');
      const cancelled = await file('prod-db');
      await h.core.cancelRequest(cancelled.id, 'UREQ');
      h.clock.advance(60_000);
      await file('auto');
      await file('quorum');
      const before = await footprint(h);

      h.clock.set(T + 10 * 60_000 - 1);
      const err = await refusal(file('prod-db'));
      expect(err.code).toBe('rate_limited');
      expect(err.message).toBe(
        'You filed 4 requests in the last 10m, the most one person may file in that time. Try again in a little while.',
      );
      expect(await footprint(h)).toEqual(before);

      // Past the window the first two no longer count; the two filed a minute later still do.
      h.clock.set(T + 10 * 60_000 + 1);
      await file('prod-db');
      await file('prod-db');
      await expect(file('prod-db')).rejects.toThrow('You filed 4 requests in the last 10m');
      h.clock.set(T + 11 * 60_000 + 1);
      await expect(file('prod-db')).resolves.toMatchObject({ status: 'pending' });
    });
  });

  describe('extension requests', () => {
    beforeEach(
      async () =>
        (h = await coreHarness(
          withLimits('  filingLimit: { requests: 4, per: 10m }\n'),
          undefined,
          kind,
        )),
    );

    /** An active grant on prod-db (filed: 1). */
    async function activeGrant() {
      const original = await file('prod-db');
      await h.core.decide({ requestId: original.id, actor: 'ULEAD', decision: 'approve' });
      const grant = (await h.store.grants.byRequest(original.id))!;
      const now = h.clock.now();
      await h.core.lifecycle.activated(grant.id, {
        startsAt: now,
        expiresAt: now + 3_600_000,
        state: undefined,
        elapsedMs: 1,
      });
      return grant;
    }

    it('are not counted as pending or filed', async () => {
      const grant = await activeGrant();
      // Three pending access requests (filed: 4, pending: 3): both limits reached.
      await file('prod-db');
      await file('quorum');
      await file('self-ok');

      const extension = await h.core.requestExtension({
        grantId: grant.id,
        actor: 'UREQ',
        duration: '30m',
        justification: JUST,
      });
      expect(extension).toMatchObject({ kind: 'extension', status: 'pending' });

      // Were the extension counted, these would say 4 and 5.
      await expect(file('prod-db')).rejects.toThrow(PENDING_REFUSAL);
      const pending = await h.sql.all<{ id: string }>(
        "SELECT id FROM requests WHERE status = 'pending' AND kind = 'access' ORDER BY id",
      );
      await h.core.cancelRequest(pending[0]!.id, 'UREQ');
      await expect(file('prod-db')).rejects.toThrow(
        'You filed 4 requests in the last 10m, the most one person may file in that time.',
      );
    });

    it('are limited among themselves: asking and cancelling again and again is refused', async () => {
      const grant = await activeGrant();
      const extend = () =>
        h.core.requestExtension({
          grantId: grant.id,
          actor: 'UREQ',
          duration: '30m',
          justification: JUST,
        });
      for (let i = 0; i < 4; i++) await h.core.cancelRequest((await extend()).id, 'UREQ');
      const before = await footprint(h);
      const err = await refusal(extend());
      expect(err).toMatchObject({ code: 'rate_limited' });
      expect(err.message).toBe(
        'You filed 4 requests in the last 10m, the most one person may file in that time. Try again in a little while.',
      );
      expect(await footprint(h)).toEqual(before);
      // Access asked for meanwhile is not held up by them.
      await expect(file('quorum')).resolves.toMatchObject({ status: 'pending' });
    });
  });
});
