import { canonicalJson } from '../../src/chain/canonical-json';
import { chainEvent, type AuditInput } from '../../src/core/audit';
import type { Store } from '../../src/store';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { allowAuditTampering, refuse, restoreTriggers } from '../store/triggers';

/** Appends one event the way the core does: chained to the head read in the same change. */
function append(store: Store, at: number, input: AuditInput) {
  return store.change(async (tx) => {
    const row = chainEvent(await tx.audit.head(), at, input);
    await tx.audit.append([row]);
    return row;
  });
}

describe.each(STORE_KINDS)('audit chain (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(async () => {
    await restoreTriggers();
    await h.close();
  });

  const fill = async (n: number) => {
    for (let i = 0; i < n; i++)
      await append(h.store, 1_000 + i, {
        actor: `U${i}`,
        action: 'request.created',
        requestId: `req_${i}`,
        details: { i, note: 'a,b "c"\nd' },
      });
  };

  it('links each row to the previous one and verifies intact', async () => {
    await fill(50);
    const rows = await h.sql.all<{ seq: number; prev_hash: string; hash: string }>(
      'SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq',
    );
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(rows[0]!.prev_hash).toBe('0'.repeat(64));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
    expect(await h.core.audit.verifySince()).toEqual({
      checked: 50,
      intact: true,
      head: { seq: 50, hash: rows[49]!.hash },
    });
  });

  it('refuses UPDATE and DELETE through the database itself', async () => {
    await fill(3);
    const refused = { message: 'audit_events is append-only' };
    await expect(
      h.sql.run("UPDATE audit_events SET actor = 'UEVIL' WHERE seq = 2"),
    ).rejects.toMatchObject(refused);
    await expect(h.sql.run('DELETE FROM audit_events WHERE seq = 2')).rejects.toMatchObject(
      refused,
    );
    expect(await h.sql.value('SELECT actor FROM audit_events WHERE seq = 2')).toBe('U1');
    expect(await h.sql.value('SELECT count(*) FROM audit_events')).toBe(3);
  });

  it('names the first row that was edited behind its back', async () => {
    await fill(10);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run(
      'UPDATE audit_events SET details = ? WHERE seq = 4',
      canonicalJson({ i: 3, note: 'forged' }),
    );
    expect(await h.core.audit.verifySince()).toEqual({
      checked: 3,
      intact: false,
      firstBroken: { seq: 4, problem: 'content does not match its hash (the row was edited)' },
    });
  });

  it('names a deleted row', async () => {
    await fill(10);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run('DELETE FROM audit_events WHERE seq = 6');
    expect(await h.core.audit.verifySince()).toEqual({
      checked: 5,
      intact: false,
      firstBroken: { seq: 7, problem: 'expected seq 6: rows 6..6 are missing' },
    });
  });

  it('catches a row whose hash was recomputed but whose successor still points at the old one', async () => {
    await fill(5);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run('UPDATE audit_events SET hash = ? WHERE seq = 2', 'f'.repeat(64));
    expect((await h.core.audit.verifySince()).firstBroken?.seq).toBe(2);
  });

  it('never stores secrets found in details', async () => {
    const row = await append(h.store, 1, {
      actor: 'hallpass',
      action: 'grant.activated',
      details: {
        password: 'hunter2',
        nested: { apiToken: 'abc' },
        credentials: { text: 'x' },
        credentialsIssued: true,
        role: 'ro',
      },
    });
    const scrubbed = {
      password: '[redacted]',
      nested: { apiToken: '[redacted]' },
      credentials: '[redacted]',
      credentialsIssued: true,
      role: 'ro',
    };
    expect(JSON.parse(row.details)).toEqual(scrubbed);
    const stored = await h.sql.value<string>('SELECT details FROM audit_events WHERE seq = ?', 1);
    expect(JSON.parse(stored)).toEqual(scrubbed);
  });
});

describe.each(STORE_KINDS)('state changes and their audit events (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(BASE_CONFIG, undefined, kind)));
  afterEach(async () => {
    await restoreTriggers();
    await h.close();
  });

  it('writes exactly one audit event per state change, in the same transaction', async () => {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'quorum',
      duration: '1h',
      justification: 'rotating the signing keys',
    });
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    const events = await h.sql.all<{ action: string }>(
      'SELECT action FROM audit_events ORDER BY seq',
    );
    expect(events.map((e) => e.action)).toEqual([
      'request.created',
      'approval.recorded',
      'approval.recorded',
      'request.approved',
      'grant.created',
    ]);
    expect((await h.core.audit.verifySince()).intact).toBe(true);
  });

  it('rolls back the state change when its audit event cannot be written', async () => {
    await refuse(h.sql, kind, {
      name: 'break_audit',
      table: 'audit_events',
      on: 'INSERT',
      message: 'disk says no',
    });
    // Not toThrow: better-sqlite3's native part keeps the SqliteError class of the first test
    // file that loaded it, which in later files of the same jest worker is no Error of theirs.
    await expect(
      h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: 'rotating the signing keys',
      }),
    ).rejects.toMatchObject({
      code: kind === 'sqlite' ? 'SQLITE_CONSTRAINT_TRIGGER' : 'P0001',
      message: 'disk says no',
    });
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(0);
    expect(await h.sql.value('SELECT count(*) FROM outbox')).toBe(0);
    expect(await h.sql.value('SELECT count(*) FROM audit_events')).toBe(0);
  });
});
