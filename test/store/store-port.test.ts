import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { getTableColumns, type Table } from 'drizzle-orm';
import { parseConfig } from '../../src/config/load';
import { ManualClock } from '../../src/core/clock';
import { StaticDirectory } from '../../src/core/directory';
import { GENESIS_HASH } from '../../src/core/audit';
import { Core } from '../../src/core';
import type { OutboxRow, RequestRow, Store } from '../../src/store';
import * as pgTables from '../../src/store/schema/postgres';
import * as sqliteTables from '../../src/store/schema/sqlite';
import { BASE_CONFIG, T0 } from '../support/core';
import { freshStore, STORE_KINDS, type TestStore } from '../support/stores';
import { AT, countUp, counterGrant, grantRow, requestRow } from './rows';
import { refuse, restoreTriggers } from './triggers';

const GENESIS = { seq: 0, hash: GENESIS_HASH };

/** A core on `store`, as the bot runs one on each replica. */
function coreOn(store: Store): Core {
  return new Core({
    store,
    clock: new ManualClock(T0),
    config: parseConfig(BASE_CONFIG, {}),
    directory: new StaticDirectory({ SDBA: ['UDBA'] }),
  });
}

/**
 * Waits for every one of `work` and resolves with their results, or fails naming every error:
 * nothing is left running against the store when a test ends.
 */
async function settled<T>(work: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(work);
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
  expect(errors).toEqual([]);
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

const file = (core: Core, requester: string, resourceId = 'auto') =>
  core.createRequest({
    requester,
    resourceId,
    duration: '30m',
    justification: 'investigating INC-42 slow queries',
  });

describe.each(STORE_KINDS)('the store port (%s)', (kind) => {
  let t: TestStore;
  let other: Store;
  beforeEach(async () => {
    t = await freshStore(kind);
    other = await t.another();
  });
  afterEach(async () => {
    await restoreTriggers();
    await t.close();
  });

  const count = (table: string) => t.sql.value<number>(`SELECT count(*) FROM ${table}`);
  const counts = async () => ({
    requests: await count('requests'),
    grants: await count('grants'),
    audit: await count('audit_events'),
    outbox: await count('outbox'),
  });
  const none = { requests: 0, grants: 0, audit: 0, outbox: 0 };

  describe('change', () => {
    it('commits everything it wrote at once and resolves with what the work returned', async () => {
      const result = await t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_1'));
        await tx.audit.append([
          {
            seq: 1,
            at: AT,
            actor: 'UREQ',
            action: 'request.created',
            requestId: 'req_1',
            grantId: null,
            details: '{}',
            prevHash: GENESIS_HASH,
            hash: 'a'.repeat(64),
          },
        ]);
        await tx.outbox.enqueue([{ key: 'k1', subject: 's', topic: 't', payload: '{}' }], AT);
        return 42;
      });
      expect(result).toBe(42);
      expect(await counts()).toEqual({ requests: 1, grants: 0, audit: 1, outbox: 1 });
      expect(await other.requests.byId('req_1')).toEqual(requestRow('req_1'));
    });

    it('is not seen by reads outside it, on this store or another, before it commits', async () => {
      const seen = await t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_1'));
        return {
          inside: await tx.requests.byId('req_1'),
          store: await t.store.requests.byId('req_1'),
          other: await other.requests.byId('req_1'),
        };
      });
      expect(seen).toEqual({ inside: requestRow('req_1'), store: undefined, other: undefined });
      expect(await t.store.requests.byId('req_1')).toEqual(requestRow('req_1'));
    });

    it('rolls back everything it wrote and rethrows when the work throws, and works again after', async () => {
      const failing = t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_lost'));
        await tx.grants.insert(grantRow('gr_lost', 'req_lost'));
        await tx.outbox.enqueue([{ key: 'lost', subject: 's', topic: 't', payload: '{}' }], AT);
        throw new Error('the rule said no');
      });
      await expect(failing).rejects.toThrow('the rule said no');
      expect(await counts()).toEqual(none);
      await t.store.change((tx) => tx.requests.insert(requestRow('req_kept')));
      expect(await t.sql.all('SELECT id FROM requests')).toEqual([{ id: 'req_kept' }]);
    });

    it('rolls back a core change whole when its audit rows cannot be written', async () => {
      const core = coreOn(t.store);
      await refuse(t.sql, kind, {
        name: 'refuse_audit',
        table: 'audit_events',
        on: 'INSERT',
        message: 'disk says no',
      });
      await expect(file(core, 'UREQ')).rejects.toMatchObject({ message: 'disk says no' });
      expect(await counts()).toEqual(none);
    });

    it('rolls back a core change whole, audit rows included, when its outbox rows cannot be written', async () => {
      const core = coreOn(t.store);
      const heard: number[] = [];
      core.onCommit(() => heard.push(1));
      const drop = await refuse(t.sql, kind, {
        name: 'refuse_outbox',
        table: 'outbox',
        on: 'INSERT',
        message: 'queue is full',
      });
      await expect(file(core, 'UREQ')).rejects.toMatchObject({ message: 'queue is full' });
      expect(await counts()).toEqual(none);
      expect(heard).toEqual([]);
      await drop();
      const row = await file(core, 'UREQ');
      expect(row.status).toBe('approved');
      expect(await counts()).toEqual({ requests: 1, grants: 1, audit: 3, outbox: 3 });
      expect(heard).toEqual([1]);
      expect(await t.store.verifyChain(GENESIS)).toMatchObject({ checked: 3, intact: true });
    });

    it('rolls back when the database refuses a write (a foreign key) half way through', async () => {
      const failing = t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_1'));
        await tx.grants.insert(grantRow('gr_orphan', 'req_missing'));
      });
      await expect(failing).rejects.toMatchObject({
        message: expect.stringMatching(/foreign key/i),
      });
      expect(await counts()).toEqual(none);
    });

    it('never interleaves with a change of another store on the same database', async () => {
      const grantId = await counterGrant(t.store);
      const ROUNDS = 8;
      const EACH = 3;
      const wrote: (number | undefined)[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const changes = Array.from({ length: EACH }, () => [
          countUp(t.store, grantId),
          countUp(other, grantId),
        ]).flat();
        wrote.push(...(await settled(changes)));
      }
      const total = ROUNDS * EACH * 2;
      // Each change saw a count no other change saw: none read before another one wrote.
      expect([...wrote].sort((a, b) => a! - b!)).toEqual(
        Array.from({ length: total }, (_, i) => i + 1),
      );
      expect((await t.store.grants.byId(grantId))!.attempts).toBe(total);
      expect(await t.store.verifyChain(GENESIS)).toMatchObject({
        checked: total,
        intact: true,
        head: { seq: total },
      });
    });
  });

  describe('the audit chain', () => {
    it('stays one unbroken chain when the cores of two stores append at the same time', async () => {
      const cores = [coreOn(t.store), coreOn(other)];
      const N = 10;
      const filed = [];
      for (let i = 0; i < N; i++)
        filed.push(...(await settled(cores.map((core, c) => file(core, `U${c}_${i}`)))));
      const report = await t.store.verifyChain(GENESIS);
      const head = await t.sql.get<{ seq: number; hash: string }>(
        'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
      );
      expect(report).toEqual({ checked: 6 * N, intact: true, head });
      expect(await other.verifyChain(GENESIS)).toEqual(report);
      // Each change's three events are consecutive: no other change wrote between them.
      for (const request of filed) {
        const seqs = await t.sql.all<{ seq: number; action: string }>(
          'SELECT seq, action FROM audit_events WHERE request_id = ? ORDER BY seq',
          request.id,
        );
        expect(seqs.map((s) => s.action)).toEqual([
          'request.created',
          'request.approved',
          'grant.created',
        ]);
        expect(seqs.map((s) => s.seq - seqs[0]!.seq)).toEqual([0, 1, 2]);
      }
    });

    it('verifies from an anchor, and names a start whose hash does not match', async () => {
      const grantId = await counterGrant(t.store);
      for (let i = 0; i < 5; i++) await countUp(t.store, grantId);
      const third = (await t.store.audit.bySeq(3))!;
      const fifth = (await t.store.audit.bySeq(5))!;
      expect(await t.store.verifyChain({ seq: 3, hash: third.hash })).toEqual({
        checked: 2,
        intact: true,
        head: { seq: 5, hash: fifth.hash },
      });
      expect(await t.store.verifyChain({ seq: 5, hash: fifth.hash })).toEqual({
        checked: 0,
        intact: true,
        head: { seq: 5, hash: fifth.hash },
      });
      expect(await t.store.verifyChain({ seq: 3, hash: 'b'.repeat(64) })).toEqual({
        checked: 0,
        intact: false,
        firstBroken: { seq: 4, problem: 'prev_hash does not match the previous row' },
      });
    });
  });

  describe('writes outside a change', () => {
    it('wait for a change of another store in progress, rather than fail', async () => {
      const grantId = await counterGrant(t.store);
      await t.store.outbox.enqueue(
        [{ key: 'k1', subject: 'user:U1', topic: 'requester_dm', payload: '{}' }],
        AT,
      );
      // The dispatcher claims, and the Slack layer remembers messages, outside any change.
      const writes = await settled<unknown>([
        countUp(t.store, grantId),
        other.outbox.claimHeads(AT, 60_000, 10),
        countUp(t.store, grantId),
        other.messages.remember({
          subject: 'request:req_counter',
          purpose: 'approver',
          channel: 'CAPPROVALS',
          ts: '1.2',
          updatedAt: AT,
        }),
        other.requests.update('req_counter', { decisionReason: 'noted' }),
      ]);
      expect(writes[0]).toBe(1);
      expect(writes[1]).toEqual([expect.objectContaining({ key: 'k1' })]);
      expect(writes[2]).toBe(2);
      expect(writes[4]).toBe(true);
      expect(await t.store.messages.find('request:req_counter', 'approver')).toMatchObject({
        ts: '1.2',
      });
    });
  });

  describe('who opened Home', () => {
    it('keeps the first time each person opened it', async () => {
      expect(await t.store.messages.openedHome('U1')).toBe(false);
      await t.store.messages.homeOpened('U1', AT);
      await t.store.messages.homeOpened('U1', AT + 5_000);
      await other.messages.homeOpened('U2', AT + 1);
      expect(await t.store.messages.openedHome('U1')).toBe(true);
      expect(await t.store.messages.openedHome('U2')).toBe(true);
      expect(await t.store.messages.openedHome('U3')).toBe(false);
      expect(await t.sql.all('SELECT * FROM home_viewers ORDER BY user_id')).toEqual([
        { user_id: 'U1', first_opened_at: AT },
        { user_id: 'U2', first_opened_at: AT + 1 },
      ]);
    });

    it('tells which of many people opened it, past one statement’s worth of them', async () => {
      await t.store.messages.homeOpened('U1', AT);
      await t.store.messages.homeOpened('U0999', AT);
      const asked = [
        'U1',
        'U2',
        ...Array.from({ length: 1_000 }, (_, i) => `U${String(i).padStart(4, '0')}`),
      ];
      expect((await t.store.messages.openedHomes(asked)).sort()).toEqual(['U0999', 'U1']);
      expect(await t.store.messages.openedHomes([])).toEqual([]);
    });
  });

  describe('messages.findEach', () => {
    it('reads the message under each subject and purpose asked for, and no others', async () => {
      const posted = (subject: string, purpose: string, ts: string) => ({
        subject,
        purpose,
        channel: 'CAPPROVE',
        ts,
        updatedAt: AT,
      });
      await t.store.messages.remember(posted('request:1', 'approvers', '1.1'));
      await t.store.messages.remember(posted('request:1', 'requester', '1.2'));
      await t.store.messages.remember(posted('request:2', 'escalation', '2.1'));
      await t.store.messages.remember(posted('grant:3', 'holder', '3.1'));
      const found = await t.store.messages.findEach([
        { subject: 'request:1', purpose: 'approvers' },
        { subject: 'request:1', purpose: 'escalation' },
        { subject: 'grant:3', purpose: 'holder' },
        { subject: 'grant:3', purpose: 'approvers' },
      ]);
      const byTs = (a: { ts: string }, b: { ts: string }) => a.ts.localeCompare(b.ts);
      expect(found.sort(byTs)).toEqual([
        posted('request:1', 'approvers', '1.1'),
        posted('grant:3', 'holder', '3.1'),
      ]);
      expect(await t.store.messages.findEach([])).toEqual([]);
    });
  });

  describe('change opening at the chain', () => {
    it('hands the work the newest audit row, read under the serialisation, or none yet', async () => {
      const event = (seq: number, prevHash: string) => ({
        seq,
        at: AT,
        actor: 'UREQ',
        action: 'request.created',
        requestId: null,
        grantId: null,
        details: '{}',
        prevHash,
        hash: String(seq).repeat(64),
      });
      expect(await t.store.change(async (_tx, chain) => chain())).toBeUndefined();
      await t.store.change((tx) =>
        tx.audit.append([event(1, GENESIS_HASH), event(2, '1'.repeat(64))]),
      );
      expect(await other.change(async (_tx, chain) => chain())).toEqual({
        seq: 2,
        hash: '2'.repeat(64),
      });
    });
  });

  describe('requests.beforeFiling', () => {
    it("reads a person's counts of one kind, their directory state and whether a client key was used", async () => {
      const DAY = 86_400_000;
      await t.store.change(async (tx) => {
        await tx.requests.insert(
          requestRow('req_old', { status: 'approved', createdAt: AT - 2 * DAY }),
        );
        await tx.requests.insert(requestRow('req_waiting', { createdAt: AT - 2 * DAY }));
        await tx.requests.insert(requestRow('req_new', { status: 'denied', clientKey: 'key-1' }));
        await tx.requests.insert(requestRow('req_ext', { kind: 'extension' }));
        await tx.requests.insert(requestRow('req_theirs', { requester: 'UOTHER' }));
        await tx.people.upsert({ userId: 'UREQ', state: 'guest', changedAt: AT, checkedAt: AT });
      });
      const facts = (q: {
        requester?: string;
        kind?: 'access' | 'extension';
        clientKey?: string;
      }) =>
        t.store.change((tx) =>
          tx.requests.beforeFiling({
            requester: q.requester ?? 'UREQ',
            kind: q.kind ?? 'access',
            since: AT - DAY,
            clientKey: q.clientKey ?? null,
          }),
        );
      expect(await facts({ clientKey: 'key-1' })).toEqual({
        filed: 1,
        pending: 1,
        personState: 'guest',
        clientKeyUsed: true,
      });
      expect(await facts({ kind: 'extension', clientKey: 'key-2' })).toEqual({
        filed: 1,
        pending: 1,
        personState: 'guest',
        clientKeyUsed: false,
      });
      expect(await facts({ requester: 'UNEW' })).toEqual({
        filed: 0,
        pending: 0,
        personState: undefined,
        clientKeyUsed: false,
      });
    });
  });

  describe('requests.beforeDecision', () => {
    const decided = (approver: string, createdAt: number) => ({
      requestId: 'req_1',
      approver,
      decision: 'approve' as const,
      reason: null,
      createdAt,
    });
    const person = (userId: string, state: 'active' | 'deactivated' | 'guest') => ({
      userId,
      state,
      changedAt: AT,
      checkedAt: AT,
    });
    beforeEach(() =>
      t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_1', { requester: 'UREQ' }));
        await tx.approvals.insert(decided('UB', AT + 2));
        await tx.approvals.insert(decided('UA', AT + 1));
        for (const [userId, state] of [
          ['UREQ', 'guest'],
          ['UA', 'deactivated'],
          ['UB', 'active'],
          ['UACT', 'active'],
          ['UOTHER', 'deactivated'],
        ] as const)
          await tx.people.upsert(person(userId, state));
      }),
    );

    it('reads the request, its decisions in the order they came, and the state of each person the decision concerns', async () => {
      const facts = await t.store.change((tx) => tx.requests.beforeDecision('req_1', 'UACT'));
      expect(facts?.request).toEqual(requestRow('req_1', { requester: 'UREQ' }));
      expect(facts?.approvals.map((a) => a.approver)).toEqual(['UB', 'UA']);
      expect(facts?.people).toEqual(
        new Map([
          ['UACT', 'active'],
          ['UREQ', 'guest'],
          ['UA', 'deactivated'],
          ['UB', 'active'],
        ]),
      );
      const unknown = await t.store.change((tx) => tx.requests.beforeDecision('req_1', 'UNEW'));
      expect(unknown?.people.has('UNEW')).toBe(false);
      expect(facts?.escalated).toBe(false);
    });

    it('says whether the request was escalated, outside a change as well', async () => {
      await t.store.change((tx) => tx.followUps.insertIfNew('req_1', 'remind', AT));
      expect((await t.store.requests.beforeDecision('req_1', 'UACT'))?.escalated).toBe(false);
      await t.store.change((tx) => tx.followUps.insertIfNew('req_1', 'escalate', AT));
      expect((await t.store.requests.beforeDecision('req_1', 'UACT'))?.escalated).toBe(true);
    });

    it('finds nothing for a request that does not exist', async () => {
      expect(
        await t.store.change((tx) => tx.requests.beforeDecision('req_missing', 'UACT')),
      ).toBeUndefined();
    });

    it("sees what the change wrote before it, as set's patch and a new decision", async () => {
      await t.store.change(async (tx) => {
        await tx.requests.set('req_1', { approvalsRequired: 3 });
        await tx.approvals.insert(decided('UACT', AT + 3));
        const facts = await tx.requests.beforeDecision('req_1', 'UACT');
        expect(facts?.request.approvalsRequired).toBe(3);
        expect(facts?.approvals.map((a) => a.approver)).toEqual(['UB', 'UA', 'UACT']);
      });
    });
  });

  describe('requests.set and grants.set', () => {
    beforeEach(() =>
      t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_1'));
        await tx.grants.insert(grantRow('gr_1', 'req_1'));
      }),
    );

    it('apply the patch whatever the status, seen by the next read of the change', async () => {
      await t.store.change(async (tx) => {
        await tx.requests.set('req_1', { status: 'approved', decidedBy: 'ULEAD' });
        await tx.grants.set('gr_1', { status: 'active', startsAt: AT, expiresAt: AT + 60_000 });
        expect(await tx.requests.byId('req_1')).toMatchObject({ status: 'approved' });
        expect(await tx.grants.byId('gr_1')).toMatchObject({ status: 'active', startsAt: AT });
      });
      expect(await t.store.requests.byId('req_1')).toMatchObject({ decidedBy: 'ULEAD' });
      expect(await t.store.grants.byId('gr_1')).toMatchObject({ expiresAt: AT + 60_000 });
    });

    it('fail the change when the database refuses the patch, keeping nothing of it', async () => {
      await refuse(t.sql, kind, {
        name: 'refuse_grant_end',
        table: 'grants',
        on: 'UPDATE',
        when: "NEW.status = 'revoked'",
        message: 'no room left on the device',
      });
      const failing = t.store.change(async (tx) => {
        await tx.requests.set('req_1', { status: 'approved' });
        await tx.grants.set('gr_1', { status: 'revoked' });
      });
      await expect(failing).rejects.toMatchObject({
        message: expect.stringContaining('no room left on the device'),
      });
      expect(await t.store.requests.byId('req_1')).toEqual(requestRow('req_1'));
      expect(await t.store.grants.byId('gr_1')).toEqual(grantRow('gr_1', 'req_1'));
    });
  });

  describe('requests.update with a status condition', () => {
    beforeEach(() => t.store.change((tx) => tx.requests.insert(requestRow('req_1'))));

    it('applies only while the request has that status', async () => {
      const approve = { status: 'approved' as const, decidedBy: 'ULEAD', decidedAt: AT + 1 };
      expect(await t.store.requests.update('req_1', approve, 'pending')).toBe(true);
      expect(await t.store.requests.update('req_1', { status: 'denied' }, 'pending')).toBe(false);
      expect(
        await t.store.change((tx) =>
          tx.requests.update('req_1', { status: 'cancelled' }, 'pending'),
        ),
      ).toBe(false);
      expect(await t.store.requests.byId('req_1')).toEqual(requestRow('req_1', approve));
      expect(await t.store.requests.update('req_missing', approve, 'pending')).toBe(false);
    });

    it('applies without a condition whatever the status', async () => {
      await t.store.requests.update('req_1', { status: 'expired' });
      expect(await t.store.requests.update('req_1', { decisionReason: 'late' })).toBe(true);
      expect(await t.store.requests.byId('req_1')).toMatchObject({
        status: 'expired',
        decisionReason: 'late',
      });
    });

    it('lets exactly one of two stores racing on the same request win', async () => {
      for (let i = 0; i < 10; i++) {
        const id = `req_race_${i}`;
        await t.store.change((tx) => tx.requests.insert(requestRow(id)));
        const [mine, theirs] = await Promise.all([
          t.store.requests.update(id, { status: 'approved', decidedBy: 'UA' }, 'pending'),
          other.requests.update(id, { status: 'denied', decidedBy: 'UB' }, 'pending'),
        ]);
        expect([mine, theirs].filter(Boolean)).toHaveLength(1);
        expect(await t.store.requests.byId(id)).toMatchObject(
          mine ? { status: 'approved', decidedBy: 'UA' } : { status: 'denied', decidedBy: 'UB' },
        );
      }
    });
  });

  it("grants.liveAlongside: the people's live grants on the same providers, each person's found by key", async () => {
    const now = AT + 1_000;
    const people = ['UA', 'UB', 'UC'];
    await t.store.change(async (tx) => {
      for (const [i, userId] of [...people, 'UOTHER'].entries())
        await tx.requests.insert(requestRow(`req_${i}`, { requester: userId, status: 'approved' }));
      const live = { status: 'active' as const, expiresAt: now + 60_000 };
      const grants = [
        grantRow('gr_ending_a', 'req_0', { userId: 'UA', status: 'active', expiresAt: now - 1 }),
        grantRow('gr_live_a', 'req_0', { userId: 'UA', ...live }),
        grantRow('gr_activating_b', 'req_1', { userId: 'UB' }),
        grantRow('gr_other_provider_b', 'req_1', { userId: 'UB', provider: 'iam', ...live }),
        grantRow('gr_revoked_c', 'req_2', {
          userId: 'UC',
          status: 'revoked',
          expiresAt: now + 60_000,
        }),
        grantRow('gr_other_person', 'req_3', { userId: 'UOTHER', ...live }),
      ];
      for (const grant of grants) await tx.grants.insert(grant);
    });
    const ending = people.map((userId, i) =>
      grantRow(`gr_ending_${i}`, `req_${i}`, { userId, status: 'active', expiresAt: now - 1 }),
    );
    const live = await t.store.grants.liveAlongside(ending, now);
    expect(live.map((g) => g.id).sort()).toEqual(['gr_activating_b', 'gr_live_a']);
    expect(live.find((g) => g.id === 'gr_live_a')).toEqual(
      grantRow('gr_live_a', 'req_0', { userId: 'UA', status: 'active', expiresAt: now + 60_000 }),
    );
  });

  describe('requests.standing and grants.ofRequest', () => {
    const approval = (requestId: string, approver: string, createdAt: number) => ({
      requestId,
      approver,
      decision: 'approve' as const,
      reason: null,
      createdAt,
    });
    beforeEach(() =>
      t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_1', { status: 'approved' }));
        await tx.approvals.insert(approval('req_1', 'UB', AT + 2));
        await tx.approvals.insert(approval('req_1', 'UA', AT + 1));
        await tx.grants.insert(grantRow('gr_1', 'req_1'));
        await tx.requests.insert(requestRow('req_ext', { kind: 'extension', grantId: 'gr_1' }));
        await tx.requests.insert(requestRow('req_alone'));
        await tx.requests.insert(requestRow('req_ext_lost', { kind: 'extension', grantId: null }));
      }),
    );

    it('read a request with the grant it made and its approvals in the order they came', async () => {
      const standing = await t.store.requests.standing('req_1');
      expect(standing?.request).toEqual(requestRow('req_1', { status: 'approved' }));
      expect(standing?.grant).toEqual(grantRow('gr_1', 'req_1'));
      expect(standing?.approvals.map((a) => a.approver)).toEqual(['UB', 'UA']);
      expect(await t.store.grants.ofRequest('req_1')).toEqual(standing?.grant);
    });

    it('give an extension the grant it extends, and no grant where there is none', async () => {
      expect((await t.store.requests.standing('req_ext'))?.grant?.id).toBe('gr_1');
      expect((await t.store.grants.ofRequest('req_ext'))?.id).toBe('gr_1');
      for (const id of ['req_alone', 'req_ext_lost']) {
        expect(await t.store.requests.standing(id)).toMatchObject({
          grant: undefined,
          approvals: [],
        });
        expect(await t.store.grants.ofRequest(id)).toBeUndefined();
      }
    });

    it('find nothing for a request that does not exist', async () => {
      expect(await t.store.requests.standing('req_missing')).toBeUndefined();
      expect(await t.store.grants.ofRequest('req_missing')).toBeUndefined();
    });

    it('see what a change wrote before it commits, inside it', async () => {
      await t.store.change(async (tx) => {
        await tx.approvals.insert(approval('req_alone', 'UC', AT + 3));
        const standing = await tx.requests.standing('req_alone');
        expect(standing?.approvals.map((a) => a.approver)).toEqual(['UC']);
      });
    });
  });

  describe('grants.liveTargets and liveOn', () => {
    it('count the grants not over yet per provider, resource and terms, and list one target’s', async () => {
      await t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_live'));
        const grants = [
          grantRow('gr_a0', 'req_live', { status: 'active', snapshot: '{"provider":"hook"}' }),
          grantRow('gr_a1', 'req_live', { status: 'active' }),
          grantRow('gr_a2', 'req_live', { status: 'revoking' }),
          grantRow('gr_a3', 'req_live', { status: 'revoked' }),
          grantRow('gr_b1', 'req_live', { resourceId: 'auto' }),
          grantRow('gr_c1', 'req_live', { provider: 'old-hook', status: 'active' }),
        ];
        for (const grant of grants) await tx.grants.insert(grant);
      });
      const terms = '{"provider":"hook"}';
      expect(await t.store.grants.liveTargets()).toEqual([
        { provider: 'hook', resourceId: 'auto', snapshot: null, count: 1 },
        { provider: 'hook', resourceId: 'prod-db', snapshot: null, count: 2 },
        { provider: 'hook', resourceId: 'prod-db', snapshot: terms, count: 1 },
        { provider: 'old-hook', resourceId: 'prod-db', snapshot: null, count: 1 },
      ]);
      const live = await t.store.grants.liveOn('hook', 'prod-db');
      expect(live.map((g) => [g.id, g.status])).toEqual([
        ['gr_a0', 'active'],
        ['gr_a1', 'active'],
        ['gr_a2', 'revoking'],
      ]);
    });
  });

  describe('grants.nextMoments', () => {
    it('is empty with nothing to do, then gives the soonest moment of each kind of work', async () => {
      expect(await t.store.grants.nextMoments()).toEqual({
        grantWork: null,
        unwarnedExpiry: null,
        pendingUntil: null,
      });
      await t.store.change(async (tx) => {
        await tx.requests.insert(requestRow('req_a', { pendingUntil: AT + 500 }));
        await tx.requests.insert(requestRow('req_b', { pendingUntil: AT + 300 }));
        await tx.requests.insert(requestRow('req_done', { status: 'denied', pendingUntil: AT }));
        const active = { status: 'active' as const, nextAttemptAt: AT + 900 };
        await tx.grants.insert(grantRow('gr_a', 'req_a', { ...active, expiresAt: AT + 900 }));
        await tx.grants.insert(
          grantRow('gr_b', 'req_b', { ...active, expiresAt: AT + 700, warnedAt: AT }),
        );
        await tx.grants.insert(grantRow('gr_c', 'req_b', { nextAttemptAt: AT + 800 }));
        await tx.grants.insert(
          grantRow('gr_done', 'req_a', { status: 'revoked', nextAttemptAt: AT }),
        );
      });
      expect(await t.store.grants.nextMoments()).toEqual({
        grantWork: AT + 800,
        unwarnedExpiry: AT + 900,
        pendingUntil: AT + 300,
      });
    });
  });

  describe('outbox.claimHeads', () => {
    const SUBJECTS = Array.from({ length: 12 }, (_, i) => `subject:${i}`);
    const PER_SUBJECT = 4;

    /** Rows of every subject, queued round by round so their ids interleave. */
    async function queue(store: Store): Promise<Map<string, number[]>> {
      const rows = [];
      for (let r = 0; r < PER_SUBJECT; r++)
        for (const subject of SUBJECTS)
          rows.push({
            key: `${subject}#${r}`,
            subject,
            topic: 'requester_dm',
            payload: `{"r":${r}}`,
          });
      await store.outbox.enqueue(rows, AT);
      const ids = new Map<string, number[]>();
      for (const row of await t.sql.all<{ id: number; subject: string }>(
        'SELECT id, subject FROM outbox ORDER BY id',
      ))
        ids.set(row.subject, [...(ids.get(row.subject) ?? []), row.id]);
      return ids;
    }

    it('never hands the same row to two stores claiming at once, and keeps each subject in order', async () => {
      const ids = await queue(t.store);
      const stores = [t.store, other];
      const delivered = new Map<string, number[]>();
      for (let round = 0; round < PER_SUBJECT; round++) {
        const claimed = await Promise.all(stores.map((s) => s.outbox.claimHeads(AT, 60_000, 100)));
        const all = claimed.flat().map((row) => row.id);
        // Exactly the oldest pending row of every subject, each to one store only.
        expect([...all].sort((a, b) => a - b)).toEqual(
          SUBJECTS.map((s) => ids.get(s)![round]!).sort((a, b) => a - b),
        );
        // While those are leased, nothing of their subjects can be claimed by anyone.
        const meanwhile = await Promise.all(
          stores.map((s) => s.outbox.claimHeads(AT, 60_000, 100)),
        );
        expect(meanwhile).toEqual([[], []]);
        for (const [i, rows] of claimed.entries()) {
          for (const row of rows) {
            delivered.set(row.subject, [...(delivered.get(row.subject) ?? []), row.id]);
            await stores[i]!.outbox.markSent(
              [
                {
                  row,
                  leasedUntil: row.nextAttemptAt,
                  restingPayload: row.payload,
                  coveredUpTo: row.id,
                },
              ],
              AT,
            );
          }
        }
      }
      expect(delivered).toEqual(ids);
      expect(await t.store.outbox.claimHeads(AT, 60_000, 100)).toEqual([]);
      expect(await t.store.outbox.counts()).toEqual({ pending: 0, dead: 0 });
    });

    it('answers each head with the last id its subject has pending, which a render of it covers', async () => {
      const ids = await queue(t.store);
      const heads = await t.store.outbox.claimHeads(AT, 60_000, 100);
      expect(new Map(heads.map((row) => [row.subject, row.lastPendingId]))).toEqual(
        new Map(SUBJECTS.map((s) => [s, ids.get(s)!.at(-1)])),
      );
      const head = heads.find((row) => row.subject === SUBJECTS[0])!;
      const marks = [
        {
          row: head,
          leasedUntil: head.nextAttemptAt,
          restingPayload: head.payload,
          coveredUpTo: head.lastPendingId,
        },
      ];
      expect(await t.store.outbox.markSent(marks, AT)).toEqual([true]);
      // The subject's rows behind its head went with it; every other subject still has four.
      expect(await t.store.outbox.counts()).toEqual({
        pending: (SUBJECTS.length - 1) * PER_SUBJECT,
        dead: 0,
      });
    });

    it('hands a leased row out again once its lease ran out, and its successor only after it is done', async () => {
      await t.store.outbox.enqueue(
        [
          { key: 'a', subject: 'user:U1', topic: 'requester_dm', payload: '{"n":1}' },
          { key: 'b', subject: 'user:U1', topic: 'requester_dm', payload: '{"n":2}' },
        ],
        AT,
      );
      const [first] = await t.store.outbox.claimHeads(AT, 1_000, 10);
      expect(first).toMatchObject({ key: 'a', status: 'pending', nextAttemptAt: AT + 1_000 });
      expect(await other.outbox.claimHeads(AT + 999, 1_000, 10)).toEqual([]);
      const again = await other.outbox.claimHeads(AT + 1_000, 1_000, 10);
      expect(again.map((r: OutboxRow) => r.key)).toEqual(['a']);
      const [a] = again;
      await other.outbox.markSent(
        [{ row: a!, leasedUntil: a!.nextAttemptAt, restingPayload: '{}', coveredUpTo: a!.id }],
        AT + 1_000,
      );
      const next = await t.store.outbox.claimHeads(AT + 1_000, 1_000, 10);
      expect(next.map((r: OutboxRow) => r.key)).toEqual(['b']);
    });
  });

  describe('outbox.markRetry', () => {
    it('holds the rows behind a head that waits until its next try, and keeps the order', async () => {
      const row = (key: string, subject = 'user:U1') => ({
        key,
        subject,
        topic: 'requester_dm',
        payload: `{"k":"${key}"}`,
      });
      await t.store.outbox.enqueue([row('a'), row('b'), row('x', 'user:U2'), row('c')], AT);
      const heads = await t.store.outbox.claimHeads(AT, 60_000, 10);
      const a = heads.find((r) => r.key === 'a')!;
      await t.store.outbox.markRetry(a, a.nextAttemptAt, 1, AT + 30_000, 'slack is down');
      const due = await t.sql.all<{ key: string; next_attempt_at: number }>(
        'SELECT key, next_attempt_at FROM outbox ORDER BY id',
      );
      // b and c cannot go before a: they wait for its try, not in the range a claim walks.
      expect(due.map((r) => [r.key, Number(r.next_attempt_at)])).toEqual([
        ['a', AT + 30_000],
        ['b', AT + 30_000],
        ['x', AT + 60_000],
        ['c', AT + 30_000],
      ]);
      // A row queued while a waits is still behind it.
      await t.store.outbox.enqueue([row('d')], AT + 1_000);
      expect(await t.store.outbox.claimHeads(AT + 29_999, 60_000, 10)).toEqual([]);
      const next = await t.store.outbox.claimHeads(AT + 30_000, 60_000, 10);
      expect(next.map((r: OutboxRow) => r.key)).toEqual(['a']);
      // A retry of a row no longer pending (another worker finished it) holds nothing back.
      const [n] = next;
      await t.store.outbox.markSent(
        [{ row: n!, leasedUntil: n!.nextAttemptAt, restingPayload: '{}', coveredUpTo: n!.id }],
        AT + 30_000,
      );
      const late = await t.store.outbox.markRetry(
        n!,
        n!.nextAttemptAt,
        2,
        AT + 90_000,
        'late failure report',
      );
      expect(late).toBe(false);
      const after = await t.store.outbox.claimHeads(AT + 30_000, 60_000, 10);
      expect(after.map((r: OutboxRow) => r.key)).toEqual(['b']);
    });
  });

  /**
   * Two replicas, one row. A claimed it, then paused past its lease (a GC pause, a frozen VM);
   * B claimed it again and is delivering it. Whatever A then records about its try must not touch
   * the row: a retry would end B's lease and let a third claim send it again beside B.
   */
  describe('outbox outcomes of a worker whose lease ran out', () => {
    const LEASE = 45_000;
    const dm = (n: number) => ({
      key: `dm:${n}`,
      subject: `user:U${n}`,
      topic: 'requester_dm',
      payload: `{"n":${n}}`,
    });

    /** The row as A claimed it at AT, and as B claimed it once A's lease had run out. */
    async function takenOver(n: number): Promise<{ byA: OutboxRow; byB: OutboxRow }> {
      await t.store.outbox.enqueue([dm(n)], AT);
      const [byA] = await t.store.outbox.claimHeads(AT, LEASE, 8);
      const [byB] = await other.outbox.claimHeads(AT + LEASE + 1_000, LEASE, 8);
      expect(byB?.id).toBe(byA!.id);
      return { byA: byA!, byB: byB! };
    }

    it('a late retry neither reschedules the row nor lets a third worker claim it', async () => {
      const { byA, byB } = await takenOver(1);
      const retried = await t.store.outbox.markRetry(
        byA,
        byA.nextAttemptAt,
        1,
        AT + 48_000,
        'chat.postMessage did not answer',
      );
      expect(retried).toBe(false);
      // B's lease still runs (until AT + 91 s): nobody else may claim the row.
      const third = await t.another();
      expect(await third.outbox.claimHeads(AT + 50_000, LEASE, 8)).toEqual([]);
      const [row] = await t.sql.all<{ attempts: number; next_attempt_at: number }>(
        'SELECT attempts, next_attempt_at FROM outbox',
      );
      expect(row && [Number(row.attempts), Number(row.next_attempt_at)]).toEqual([
        0,
        byB.nextAttemptAt,
      ]);
    });

    it('a late worker can neither give the row up nor mark it sent; the one holding it can', async () => {
      const { byA, byB } = await takenOver(2);
      expect(await t.store.outbox.markDead(byA.id, byA.nextAttemptAt, 10, 'gave up', '{}')).toBe(
        false,
      );
      const mark = (row: OutboxRow) => ({
        row,
        leasedUntil: row.nextAttemptAt,
        restingPayload: '{}',
        coveredUpTo: row.id,
      });
      expect(await t.store.outbox.markSent([mark(byA)], AT + 50_000)).toEqual([false]);
      expect(await t.store.outbox.counts()).toEqual({ pending: 1, dead: 0 });
      expect(await other.outbox.markSent([mark(byB)], AT + 51_000)).toEqual([true]);
      expect(await t.store.outbox.counts()).toEqual({ pending: 0, dead: 0 });
    });

    it('a late sent mark covers none of the rows after it, whether it names its claim or its last hold', async () => {
      await t.store.outbox.enqueue([dm(3), { ...dm(3), key: 'dm:3b' }], AT);
      const [byA] = await t.store.outbox.claimHeads(AT, LEASE, 8);
      const until = AT + 20_000 + LEASE;
      expect(await t.store.outbox.extendLease(byA!.id, byA!.nextAttemptAt, until)).toBe(true);
      const [byB] = await other.outbox.claimHeads(until, LEASE, 8);
      const covering = { restingPayload: '{}', coveredUpTo: byA!.id + 1 };
      // A's own claim is not its lease any more, and B's claim has replaced the one A held.
      for (const leasedUntil of [byA!.nextAttemptAt, until])
        expect(
          await t.store.outbox.markSent([{ row: byA!, leasedUntil, ...covering }], until),
        ).toEqual([false]);
      expect(await t.store.outbox.counts()).toEqual({ pending: 2, dead: 0 });
      const held = { row: byB!, leasedUntil: byB!.nextAttemptAt, ...covering };
      expect(await other.outbox.markSent([held], until)).toEqual([true]);
      expect(await t.store.outbox.counts()).toEqual({ pending: 0, dead: 0 });
    });

    it('a worker that held its row longer records its outcome with the lease it holds now', async () => {
      await t.store.outbox.enqueue([dm(4)], AT);
      const [row] = await t.store.outbox.claimHeads(AT, LEASE, 8);
      const until = AT + 20_000 + LEASE;
      expect(await t.store.outbox.extendLease(row!.id, row!.nextAttemptAt, until)).toBe(true);
      expect(await t.store.outbox.markRetry(row!, row!.nextAttemptAt, 1, until, 'x')).toBe(false);
      expect(await t.store.outbox.markRetry(row!, until, 1, AT + 30_000, 'slack is down')).toBe(
        true,
      );
      const [again] = await other.outbox.claimHeads(AT + 30_000, LEASE, 8);
      expect(again).toMatchObject({ key: 'dm:4', attempts: 1, lastError: 'slack is down' });
    });
  });

  describe('outbox.pendingAfter', () => {
    it("lists the first pending rows of the subject after a row, in order, and no other subject's", async () => {
      const row = (key: string, subject = 'user:U1') => ({
        key,
        subject,
        topic: 'requester_dm',
        payload: `{"k":"${key}"}`,
      });
      await t.store.outbox.enqueue(
        [row('a'), row('b'), row('x', 'user:U2'), row('c'), row('d'), row('e')],
        AT,
      );
      const [a] = await t.store.outbox.claimHeads(AT, 60_000, 1);
      const keys = async (limit: number) =>
        (await t.store.outbox.pendingAfter('user:U1', a!.id, limit)).map((r) => r.key);
      expect(await keys(10)).toEqual(['b', 'c', 'd', 'e']);
      expect(await keys(2)).toEqual(['b', 'c']);
      const [b] = await t.store.outbox.pendingAfter('user:U1', a!.id, 1);
      await t.store.outbox.markSent(
        [
          {
            row: b!,
            leasedUntil: b!.nextAttemptAt,
            restingPayload: b!.payload,
            coveredUpTo: b!.id,
          },
        ],
        AT,
      );
      expect(await keys(10)).toEqual(['c', 'd', 'e']);
    });
  });

  describe('reports.decided', () => {
    it('counts the period’s decisions by outcome, and takes nearest-rank percentiles, the value at rank ceil(p/100 · n), of the human ones', async () => {
      const week = { start: AT, end: AT + 86_400_000 };
      const none = { approved: 0, denied: 0, cancelled: 0, expired: 0 };
      expect(await t.store.reports.decided(week)).toEqual({ outcomes: none, times: null });
      const decided = (id: string, minutes: number, over: Partial<RequestRow> = {}) =>
        requestRow(id, { status: 'approved', decidedAt: AT + minutes * 60_000, ...over });
      await t.store.change(async (tx) => {
        // Filed at AT, decided 1 to 10 minutes later, in shuffled order; the odd ones denied.
        for (const m of [7, 2, 10, 4, 1, 9, 3, 6, 8, 5])
          await tx.requests.insert(decided(`req_${m}`, m, m % 2 ? { status: 'denied' } : {}));
        // Outcomes, but no person's decision.
        await tx.requests.insert(decided('req_auto', 30, { autoApproved: true }));
        await tx.requests.insert(decided('req_cancelled', 30, { status: 'cancelled' }));
        await tx.requests.insert(decided('req_expired', 40, { status: 'expired' }));
        // Not decided in the period.
        await tx.requests.insert(decided('req_after', 24 * 60 + 1));
        await tx.requests.insert(requestRow('req_pending'));
      });
      expect(await t.store.reports.decided(week)).toEqual({
        outcomes: { approved: 6, denied: 5, cancelled: 1, expired: 1 },
        times: { decisions: 10, medianMs: 5 * 60_000, p90Ms: 9 * 60_000 },
      });
      const first = { start: AT, end: AT + 60_001 };
      expect(await t.store.reports.decided(first)).toEqual({
        outcomes: { ...none, denied: 1 },
        times: { decisions: 1, medianMs: 60_000, p90Ms: 60_000 },
      });
    });
  });

  describe('reports.revoked', () => {
    it('counts the period’s revokes by reason and lists the latest reported ones, with their total', async () => {
      const activity = (n: number) => ({ summary: `${n}× SELECT`, details: { n } });
      type Reason = 'expired' | 'revoked_by_user' | 'revoked_by_admin';
      // Each grant as the core leaves it once its revoke is recorded, with the revoke's event.
      const ends: [seq: number, reason: Reason, activity?: object | null][] = [
        [1, 'expired', activity(1)],
        [2, 'expired'],
        [3, 'revoked_by_user', activity(3)],
        [4, 'expired', activity(4)],
        [5, 'revoked_by_admin', null],
        [6, 'expired', activity(6)],
        // Outside the period: neither counted nor listed.
        [60, 'expired', activity(60)],
      ];
      await t.store.change(async (tx) => {
        for (const [seq, reason, reported] of ends) {
          const at = AT + seq * 1000;
          await tx.requests.insert(requestRow(`req_g${seq}`));
          await tx.grants.insert(
            grantRow(`g${seq}`, `req_g${seq}`, {
              userId: `U${seq}`,
              status: 'revoked',
              endReason: reason,
              endedAt: at,
              endRecordedAt: at,
              activityReported: reported !== undefined && reported !== null,
            }),
          );
        }
        // A grant still live has no recorded end.
        await tx.requests.insert(requestRow('req_live'));
        await tx.grants.insert(grantRow('live', 'req_live', { status: 'active' }));
        await tx.audit.append(
          ends.map(([seq, reason, reported]) => ({
            seq,
            at: AT + seq * 1000,
            actor: 'hallpass',
            action: 'grant.revoked',
            requestId: `req_g${seq}`,
            grantId: `g${seq}`,
            details: JSON.stringify({
              reason,
              ...(reported === undefined ? {} : { activity: reported }),
            }),
            prevHash: GENESIS_HASH,
            hash: String(seq).padStart(64, '0'),
          })),
        );
      });
      const period = { start: AT, end: AT + 30_000 };
      const { endsByReason, activity: reported } = await t.store.reports.revoked(period, 2);
      expect(Object.fromEntries(endsByReason)).toEqual({
        expired: 4,
        revoked_by_user: 1,
        revoked_by_admin: 1,
      });
      expect(reported.total).toBe(4);
      expect(reported.items.map((i) => [i.grantId, i.userId, i.at])).toEqual([
        ['g6', 'U6', AT + 6000],
        ['g4', 'U4', AT + 4000],
      ]);
      expect(JSON.parse(reported.items[0]!.details)).toMatchObject({ activity: activity(6) });
      const none = await t.store.reports.revoked({ start: AT + 100_000, end: AT + 200_000 }, 2);
      expect(none.endsByReason.size).toBe(0);
      expect(none.activity).toEqual({ total: 0, items: [] });
    });
  });

  describe('digests.insertIfNew', () => {
    it('records a period once when two stores queue it at the same moment', async () => {
      for (let i = 0; i < 5; i++) {
        const row = {
          periodKey: `2026-11-0${i + 1}T00:00:00.000Z`,
          periodStart: AT + i,
          periodEnd: AT + i + 1,
          channel: 'CAPPROVALS',
          queuedAt: AT,
        };
        const inserted = await Promise.all([
          t.store.digests.insertIfNew(row),
          other.digests.insertIfNew(row),
        ]);
        expect(inserted.filter(Boolean)).toHaveLength(1);
      }
      expect(await count('digests')).toBe(5);
    });
  });
});

describe('another SQLite process on the same file', () => {
  let t: TestStore;
  beforeEach(async () => (t = await freshStore('sqlite')));
  afterEach(() => t.close());

  it('never interleaves its changes with this process’s', async () => {
    const grantId = await counterGrant(t.store);
    // Enough counts that the two overlap however the write lock happens to fall between them.
    const TARGET = 3_000;
    const child = spawn(
      join(__dirname, '..', '..', 'node_modules', '.bin', 'tsx'),
      [join(__dirname, 'count-up-process.ts'), t.location.file, grantId, String(TARGET)],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const said = async (line: string) => {
      const deadline = Date.now() + 20_000;
      while (!stdout.split('\n').includes(line)) {
        if (Date.now() > deadline) throw new Error(`the child never said ${line}: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    try {
      await said('ready');
      child.stdin.write('go\n');
      await said('started');
      // The child waits after its first count until ours is written: both processes write,
      // whichever the machine runs faster, and then they race for the rest.
      const mine: number[] = [];
      const first = await countUp(t.store, grantId, TARGET);
      if (first !== undefined) mine.push(first);
      child.stdin.end('on\n');
      for (;;) {
        const wrote = await countUp(t.store, grantId, TARGET);
        if (wrote === undefined) break;
        mine.push(wrote);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await exited).toBe(0);
      const theirs = JSON.parse(stdout.trim().split('\n').at(-1)!) as number[];
      // Both wrote while the other did: the test only proves something if they overlapped.
      expect(theirs[0]).toBe(1);
      expect(mine[0]).toBe(2);
      expect([...mine, ...theirs].sort((a, b) => a - b)).toEqual(
        Array.from({ length: TARGET }, (_, i) => i + 1),
      );
      expect(await t.store.verifyChain(GENESIS)).toMatchObject({ checked: TARGET, intact: true });
    } finally {
      child.kill('SIGKILL');
    }
  });
});

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type TableName = keyof typeof sqliteTables;
type SqliteRow<K extends TableName> = (typeof sqliteTables)[K]['$inferSelect'];
type PgRow<K extends TableName> = (typeof pgTables)[K]['$inferSelect'];

/**
 * Compile-time: every table infers the same row type on both databases, so the rows the port
 * returns (typed from the SQLite tables in src/store/rows.ts) are true of PostgreSQL too. A
 * table that differs makes its entry `false`, and `true` no longer type-checks.
 */
const SAME_ROWS: { [K in TableName]: Equal<SqliteRow<K>, PgRow<K>> } = {
  requests: true,
  approvals: true,
  grants: true,
  auditEvents: true,
  outbox: true,
  slackMessages: true,
  homeViewers: true,
  digests: true,
  people: true,
  meta: true,
  auditCheckpoint: true,
  apiTokens: true,
  pipelineCredentials: true,
  breakGlassUses: true,
  followUps: true,
};

describe('the two schemas', () => {
  it('infer the same row type for every table', () => {
    expect(Object.keys(SAME_ROWS).sort()).toEqual(Object.keys(sqliteTables).sort());
    expect(Object.keys(pgTables).sort()).toEqual(Object.keys(sqliteTables).sort());
  });

  it('name the same columns, with the same value types, nullability and keys', () => {
    const shape = (table: Table) =>
      Object.entries(getTableColumns(table)).map(([key, c]) => ({
        key,
        name: c.name,
        dataType: c.dataType,
        notNull: c.notNull,
        primary: c.primary,
      }));
    for (const name of Object.keys(sqliteTables) as TableName[]) {
      expect({ name, columns: shape(pgTables[name]) }).toEqual({
        name,
        columns: shape(sqliteTables[name]),
      });
    }
  });
});
