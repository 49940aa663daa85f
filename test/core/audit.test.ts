import { join } from 'node:path';
import { appendAudit, verifyChain } from '../../src/core/audit';
import { canonicalJson } from '../../src/core/canonical-json';
import { openDb, type Db } from '../../src/store/db';
import { coreHarness } from '../support/core';
import { tempDir } from '../support/tmp';

describe('audit chain', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Db;
  beforeEach(() => {
    tmp = tempDir();
    db = openDb(join(tmp.dir, 'a.db'));
  });
  afterEach(() => {
    db.$client.close();
    tmp.cleanup();
  });

  const fill = (n: number) => {
    for (let i = 0; i < n; i++)
      appendAudit(db, 1_000 + i, {
        actor: `U${i}`,
        action: 'request.created',
        requestId: `req_${i}`,
        details: { i, note: 'a,b "c"\nd' },
      });
  };

  it('links each row to the previous one and verifies intact', () => {
    fill(50);
    expect(verifyChain(db)).toEqual({ checked: 50, intact: true });
    const rows = db.$client
      .prepare('SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq')
      .all() as { seq: number; prev_hash: string; hash: string }[];
    expect(rows[0]!.prev_hash).toBe('0'.repeat(64));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.hash);
  });

  it('refuses UPDATE and DELETE through SQLite itself', () => {
    fill(3);
    expect(() =>
      db.$client.prepare("UPDATE audit_events SET actor = 'UEVIL' WHERE seq = 2").run(),
    ).toThrow('audit_events is append-only');
    expect(() => db.$client.prepare('DELETE FROM audit_events WHERE seq = 2').run()).toThrow(
      'audit_events is append-only',
    );
  });

  it('names the first row that was edited behind its back', () => {
    fill(10);
    db.$client.exec('DROP TRIGGER audit_events_no_update');
    db.$client
      .prepare(`UPDATE audit_events SET details = ? WHERE seq = 4`)
      .run(canonicalJson({ i: 3, note: 'forged' }));
    expect(verifyChain(db)).toEqual({
      checked: 3,
      intact: false,
      firstBroken: { seq: 4, problem: 'content does not match its hash (the row was edited)' },
    });
  });

  it('names a deleted row', () => {
    fill(10);
    db.$client.exec('DROP TRIGGER audit_events_no_delete');
    db.$client.prepare('DELETE FROM audit_events WHERE seq = 6').run();
    expect(verifyChain(db)).toEqual({
      checked: 5,
      intact: false,
      firstBroken: { seq: 7, problem: 'expected seq 6: rows 6..6 are missing' },
    });
  });

  it('catches a row whose hash was recomputed but whose successor still points at the old one', () => {
    fill(5);
    db.$client.exec('DROP TRIGGER audit_events_no_update');
    db.$client.prepare(`UPDATE audit_events SET hash = ? WHERE seq = 2`).run('f'.repeat(64));
    expect(verifyChain(db).firstBroken?.seq).toBe(2);
  });

  it('never stores secrets found in details', () => {
    const row = appendAudit(db, 1, {
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
    expect(JSON.parse(row.details)).toEqual({
      password: '[redacted]',
      nested: { apiToken: '[redacted]' },
      credentials: '[redacted]',
      credentialsIssued: true,
      role: 'ro',
    });
  });
});

describe('store', () => {
  it('migrates an empty file, and a second open applies nothing', () => {
    const tmp = tempDir();
    const file = join(tmp.dir, 'nested', 'dir', 'hallpass.db');
    const first = openDb(file);
    const tables = first.$client
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '__drizzle%' ORDER BY name",
      )
      .pluck()
      .all();
    expect(tables).toEqual(
      expect.arrayContaining([
        'approvals',
        'audit_events',
        'grants',
        'outbox',
        'requests',
        'slack_messages',
      ]),
    );
    const applied = first.$client
      .prepare('SELECT count(*) FROM __drizzle_migrations')
      .pluck()
      .get();
    expect(first.$client.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(first.$client.pragma('foreign_keys', { simple: true })).toBe(1);
    first.$client.close();
    const second = openDb(file);
    expect(second.$client.prepare('SELECT count(*) FROM __drizzle_migrations').pluck().get()).toBe(
      applied,
    );
    second.$client.close();
    tmp.cleanup();
  });

  it('writes exactly one audit event per state change, in the same transaction', async () => {
    const h = coreHarness();
    try {
      const req = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'quorum',
        duration: '1h',
        justification: 'rotating the signing keys',
      });
      await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
      await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
      const events = h.db.$client
        .prepare('SELECT action FROM audit_events ORDER BY seq')
        .pluck()
        .all();
      expect(events).toEqual([
        'request.created',
        'approval.recorded',
        'approval.recorded',
        'request.approved',
        'grant.created',
      ]);
      expect(verifyChain(h.db).intact).toBe(true);
    } finally {
      h.close();
    }
  });

  it('rolls back the state change when its audit event cannot be written', async () => {
    const h = coreHarness();
    try {
      h.db.$client.exec(
        "CREATE TRIGGER break_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk says no'); END",
      );
      const triggers =
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name = 'break_audit'";
      expect(h.db.$client.prepare(triggers).pluck().all()).toEqual(['break_audit']);
      // Not toThrow: better-sqlite3's native part keeps the SqliteError class of the first test
      // file that loaded it, which in later files of the same jest worker is no Error of theirs.
      await expect(
        h.core.createRequest({
          requester: 'UREQ',
          resourceId: 'prod-db',
          duration: '1h',
          justification: 'rotating the signing keys',
        }),
      ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_TRIGGER', message: 'disk says no' });
      expect(h.db.$client.prepare('SELECT count(*) FROM requests').pluck().get()).toBe(0);
      expect(h.db.$client.prepare('SELECT count(*) FROM outbox').pluck().get()).toBe(0);
    } finally {
      h.close();
    }
  });
});
