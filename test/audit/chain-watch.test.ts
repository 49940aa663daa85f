import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { buildDigest } from '../../src/audit/digest';
import { forgedProblem, otherKeyProblem } from '../../src/audit/checkpoint';
import { CheckpointSeal } from '../../src/audit/checkpoint-seal';
import { Core } from '../../src/core';
import { chainEvent, hashEvent } from '../../src/core/audit';
import { StaticDirectory } from '../../src/core/directory';
import { ChainWatch } from '../../src/jobs/chain-watch';
import { logger } from '../../src/log';
import type { Store } from '../../src/store';
import { cliEnv, runCli } from '../cli/run';
import { allowAuditTampering, restoreTriggers } from '../store/triggers';
import { BASE_CONFIG, coreHarness, T0, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { tempDir } from '../support/tmp';

const SECRET = 'chain-watch-test-secret-key';
const EDITED = 'content does not match its hash (the row was edited)';
const PERIOD = { start: T0 - 86_400_000, end: T0 + 86_400_000 };
/** Who the CLI audits a reset as. */
const ME = `cli:${userInfo().username}`;
const STEP = 100;
const CONFIG = `${BASE_CONFIG}
audit: { verifyStep: ${STEP} }
digest: { channel: CDIGEST }
`;

interface Row {
  seq: number;
  at: number;
  actor: string;
  action: string;
  request_id: string | null;
  grant_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** Appends `count` events the way the core chains them, one transaction. */
async function append(store: Store, count: number, at: number): Promise<void> {
  await store.change(async (tx) => {
    let head = await tx.audit.head();
    const rows = [];
    for (let i = 0; i < count; i++) {
      const row = chainEvent(head, at + i, {
        actor: 'UREQ',
        action: 'request.created',
        requestId: `req_${at + i}`,
        details: { i },
      });
      rows.push(row);
      head = { seq: row.seq, hash: row.hash };
    }
    await tx.audit.append(rows);
  });
}

describe.each(STORE_KINDS)('the audit chain watch (%s)', (kind) => {
  let h: CoreHarness;
  let core: Core;
  let watch: ChainWatch;
  const seal = new CheckpointSeal(SECRET);
  const rows = () => h.sql.all<Row>('SELECT * FROM audit_events ORDER BY seq');
  const alerts = async () =>
    (
      await h.sql.all<{ payload: string }>(
        "SELECT payload FROM outbox WHERE topic = 'chain_broken' ORDER BY id",
      )
    ).map((r) => JSON.parse(r.payload) as Record<string, unknown>);
  const checkpoint = () => h.store.checkpoint.get();
  const dir = tempDir();
  const configFile = join(dir.dir, 'hallpass.yml');
  writeFileSync(configFile, CONFIG);
  afterAll(() => dir.cleanup());
  const env = () =>
    cliEnv(h.location, { HALLPASS_SECRET_KEY: SECRET, HALLPASS_CONFIG: configFile });

  /**
   * Rewrites rows from `fromSeq` on with fresh hashes, so they link up again; from `prev` when
   * given, so that they link up to a row not yet written.
   */
  async function rewriteFrom(fromSeq: number, actor: string, prev?: string): Promise<void> {
    const all = await rows();
    prev ??= all.find((r) => r.seq === fromSeq)!.prev_hash;
    for (const row of all.filter((r) => r.seq >= fromSeq)) {
      const content = {
        seq: row.seq,
        at: row.at,
        actor: row.seq === fromSeq ? actor : row.actor,
        action: row.action,
        requestId: row.request_id,
        grantId: row.grant_id,
        details: row.details,
      };
      const hash = hashEvent(prev, content);
      await h.sql.run(
        'UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?',
        content.actor,
        prev,
        hash,
        row.seq,
      );
      prev = hash;
    }
  }

  /** What `row` would hash to, after `prev`, were its actor `actor`. */
  const hashAs = (row: Row, prev: string, actor: string) =>
    hashEvent(prev, {
      seq: row.seq,
      at: row.at,
      actor,
      action: row.action,
      requestId: row.request_id,
      grantId: row.grant_id,
      details: row.details,
    });

  /** Verifies the first 250 rows, appends 50 and edits row 270, as an attacker with the file. */
  async function editRow270(): Promise<void> {
    await watch.run();
    await append(h.store, 50, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 270");
  }

  /** Every report names the break at `seq`, still alerted only once: the watch's, as it stands. */
  async function expectStanding(seq: number, problem = EDITED): Promise<void> {
    expect((await watch.run()).broken).toEqual({ seq, problem });
    const since = await runCli(['audit', 'verify', '--since-verified'], env());
    expect(since.code).toBe(1);
    expect(since.stdout.split('\n')[0]).toBe(`BROKEN at row ${seq}: ${problem}`);
    const digest = await buildDigest(h.store, h.config, PERIOD, T0, { seal });
    expect(digest.chain).toMatchObject({ intact: false, firstBroken: { seq, problem } });
    expect((await alerts()).map((a) => [a.seq, a.problem])).toEqual([[seq, problem]]);
  }

  const resets = async () =>
    (
      await h.sql.all<{ actor: string; details: string }>(
        "SELECT actor, details FROM audit_events WHERE action = 'audit.checkpoint_reset'",
      )
    ).map((e) => ({ actor: e.actor, details: JSON.parse(e.details) as unknown }));

  beforeEach(async () => {
    h = await coreHarness(CONFIG, undefined, kind);
    core = new Core({
      store: h.store,
      clock: h.clock,
      config: h.config,
      directory: new StaticDirectory(),
      checkpointSeal: seal,
    });
    watch = new ChainWatch({ core, logger });
    await append(h.store, 250, T0);
  });
  afterEach(async () => {
    await watch.stop();
    await restoreTriggers();
    await h.close();
  });

  it('verifies new rows in steps and records the sealed head', async () => {
    expect(await watch.run()).toMatchObject({ checked: 250, steps: 3, head: 250 });
    const last = (await rows()).at(-1)!;
    const recorded = await checkpoint();
    expect(recorded).toMatchObject({ seq: 250, hash: last.hash, verifiedAt: T0, broken: null });
    expect(seal.check(recorded!)).toBe('verified');

    await append(h.store, 30, T0 + 1_000);
    expect(await watch.run()).toMatchObject({ checked: 30, steps: 1, head: 280 });
    expect(await alerts()).toEqual([]);
  });

  it('alerts the admins and the digest channel once, with the row, when a new row does not match', async () => {
    await watch.run();
    await append(h.store, 50, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 270");

    const pass = await watch.run();
    expect(pass.broken).toEqual({
      seq: 270,
      problem: 'content does not match its hash (the row was edited)',
    });
    const [alert, ...more] = await alerts();
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      topic: 'chain_broken',
      channel: 'CDIGEST',
      admins: ['UADMIN'],
      seq: 270,
      verifiedHead: 250,
      row: { seq: 270, actor: 'UMALLORY', action: 'request.created' },
    });
    const events = await h.sql.all<{ action: string; details: string }>(
      "SELECT action, details FROM audit_events WHERE action = 'audit.chain_broken'",
    );
    expect(events.map((e) => JSON.parse(e.details) as unknown)).toEqual([
      {
        problem: 'content does not match its hash (the row was edited)',
        seq: 270,
        verifiedHead: 250,
      },
    ]);
    // The head does not move past the break, and the same break is not alerted again.
    expect(await checkpoint()).toMatchObject({ seq: 250, broken: { seq: 270 } });
    expect((await watch.run()).broken?.seq).toBe(270);
    expect(await alerts()).toHaveLength(1);
  });

  it('keeps a row break put right (from a backup, say) until an admin resets the checkpoint', async () => {
    await editRow270();
    expect((await watch.run()).broken).toEqual({ seq: 270, problem: EDITED });
    await h.sql.run("UPDATE audit_events SET actor = 'UREQ' WHERE seq = 270");
    await expectStanding(270);
    expect(await checkpoint()).toMatchObject({
      seq: 250,
      broken: { seq: 270, problem: EDITED, kind: 'row' },
    });

    // After investigating, an admin resets it: a full walk finds 50 rows and the alert's event.
    const reset = await runCli(['audit', 'reset-checkpoint'], env());
    expect(reset).toMatchObject({
      code: 0,
      stdout: `ok: 301 rows checked; the verified head is now row 301, with no break, reset by ${ME}\n`,
    });
    const recorded = (await checkpoint())!;
    expect(recorded).toMatchObject({ seq: 301, broken: null });
    expect(seal.check(recorded)).toBe('verified');
    expect(await resets()).toEqual([
      {
        actor: ME,
        details: {
          seq: 301,
          replaced: { seq: 250, broken: { seq: 270, problem: EDITED, kind: 'row' } },
        },
      },
    ]);
    // The watch goes on from there, over the reset's own event, and alerts nothing more.
    expect(await watch.run()).toMatchObject({ checked: 1, head: 302 });
    expect((await watch.run()).broken).toBeUndefined();
    expect(await alerts()).toHaveLength(1);
  });

  it('refuses to reset the checkpoint while a full walk finds the chain broken', async () => {
    await editRow270();
    await watch.run();
    const before = await checkpoint();
    const reset = await runCli(['audit', 'reset-checkpoint'], env());
    expect(reset).toMatchObject({
      code: 1,
      stdout: `BROKEN at row 270: ${EDITED}\n269 rows checked; the checkpoint was not reset\n`,
    });
    expect(await checkpoint()).toEqual(before);
    expect(await resets()).toEqual([]);
  });

  it('keeps a row break deleted with every row after the verified head, however many rows follow', async () => {
    await editRow270();
    expect((await watch.run()).broken?.seq).toBe(270);
    // The evidence goes: the edited row, and the alert's own event with the rest.
    await h.sql.run('DELETE FROM audit_events WHERE seq > 250');
    await expectStanding(270);
    // Rows written since take the deleted rows' numbers, past row 270: no step can tell them
    // from the rows put back.
    await append(h.store, 150, T0 + 2_000);
    await expectStanding(270);
    expect(await checkpoint()).toMatchObject({ seq: 250, broken: { seq: 270, problem: EDITED } });
  });

  it('keeps a row break once a forged row that the rewritten rows after it name is put in', async () => {
    await watch.run();
    await append(h.store, 50, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    const all = await rows();
    const row270 = all.find((r) => r.seq === 270)!;
    const forged = hashAs(row270, row270.prev_hash, 'UFORGED');
    // Row 271 names a forged row 270, the rows after it link up to it; row 270 is edited.
    await rewriteFrom(271, 'UREQ', forged);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 270");
    expect((await watch.run()).broken).toEqual({ seq: 270, problem: EDITED });
    // The forged row goes in: every row links up from the first, as after a true restore.
    await h.sql.run("UPDATE audit_events SET actor = 'UFORGED', hash = ? WHERE seq = 270", forged);
    expect((await runCli(['audit', 'verify'], env())).code).toBe(0);
    await expectStanding(270);
  });

  it('keeps a break of the newest row whose stored hash was changed, then its content to match', async () => {
    await watch.run();
    await append(h.store, 20, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    const newest = (await rows()).at(-1)!;
    expect(newest.seq).toBe(270);
    const forged = hashAs(newest, newest.prev_hash, 'UFORGED');
    await h.sql.run('UPDATE audit_events SET hash = ? WHERE seq = 270', forged);
    expect((await watch.run()).broken).toEqual({ seq: 270, problem: EDITED });
    // The content follows the hash; the alert's own event, and every row since, link up to it.
    await h.sql.run("UPDATE audit_events SET actor = 'UFORGED' WHERE seq = 270");
    await append(h.store, 30, T0 + 2_000);
    expect((await runCli(['audit', 'verify'], env())).code).toBe(0);
    await expectStanding(270);
  });

  it('keeps a row break when the history up to the verified head is rewritten after it', async () => {
    await editRow270();
    await watch.run();
    // Rewritten from row 100 with fresh hashes, row 270 put right on the way.
    await rewriteFrom(100, 'UMALLORY');
    expect((await watch.run()).broken).toEqual({ seq: 270, problem: EDITED });
    expect(await checkpoint()).toMatchObject({ seq: 250, broken: { seq: 270, kind: 'row' } });
    // The walks that check the verified head's row name the rewrite.
    const since = await runCli(['audit', 'verify', '--since-verified'], env());
    expect(since.stdout).toMatch(/^BROKEN at row 250: row 250 no longer has the hash/);
  });

  it('fails a digest that starts past a row break recorded with the verified head at row 0', async () => {
    await allowAuditTampering(h.sql, kind);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 5");
    expect((await watch.run()).broken).toEqual({ seq: 5, problem: EDITED });
    expect(await checkpoint()).toMatchObject({ seq: 0, broken: { seq: 5 } });
    // The previous digest recorded the newest row: this one starts there, past row 5.
    const newest = (await rows()).at(-1)!;
    await h.sql.run(
      `INSERT INTO digests (period_key, period_start, period_end, channel, queued_at, posted_at, chain_seq, chain_hash)
       VALUES ('2026-10-26', 0, 1, 'CDIGEST', 1, 1, ?, ?)`,
      newest.seq,
      newest.hash,
    );
    const digest = await buildDigest(h.store, h.config, PERIOD, T0, { seal });
    expect(digest.chain).toMatchObject({ intact: false, firstBroken: { seq: 5, problem: EDITED } });
  });

  it('judges a break recorded before kinds were by where it lies: past the head, a row', async () => {
    await editRow270();
    await watch.run();
    const { seq, hash, verifiedAt, broken } = (await checkpoint())!;
    const legacy = { seq: broken!.seq, problem: broken!.problem };
    await h.store.checkpoint.put(seal.sealed({ seq, hash, verifiedAt, broken: legacy }));
    await h.sql.run("UPDATE audit_events SET actor = 'UREQ' WHERE seq = 270");
    await expectStanding(270);
  });

  it('reports a row numbered below 1, which no walk reads, in every verify mode; alerts it once', async () => {
    await watch.run();
    // A forged approval, INSERTed (which the append-only triggers allow) as row 0.
    await h.sql.run(
      `INSERT INTO audit_events (seq, at, actor, action, request_id, grant_id, details, prev_hash, hash)
       VALUES (0, ?, 'UA1', 'approval.recorded', 'req_forged', NULL, '{}', ?, ?)`,
      T0,
      '0'.repeat(64),
      'f'.repeat(64),
    );
    const problem = 'row 0 is outside the chain: a chain starts at row 1';
    // Export shows it to an auditor like any other row...
    const exported = await runCli(['audit', 'export', '--format', 'jsonl'], env());
    expect(exported.stdout).toContain('"seq":0');
    // ...so every walk reports it.
    const broken = { code: 1, stdout: `BROKEN at row 0: ${problem}\n0 rows checked\n` };
    expect(await runCli(['audit', 'verify'], env())).toMatchObject(broken);
    expect(await runCli(['audit', 'verify', '--since-verified'], env())).toMatchObject(broken);
    const period = { start: T0 - 86_400_000, end: T0 + 86_400_000 };
    const digest = await buildDigest(h.store, h.config, period, T0, { seal });
    expect(digest.chain.firstBroken).toEqual({ seq: 0, problem });
    expect((await watch.run()).broken).toEqual({ seq: 0, problem });
    expect((await watch.run()).broken).toEqual({ seq: 0, problem });
    const [alert, ...more] = await alerts();
    expect(more).toEqual([]);
    expect(alert).toMatchObject({
      seq: 0,
      problem,
      verifiedHead: 250,
      row: { seq: 0, actor: 'UA1', action: 'approval.recorded', requestId: 'req_forged' },
    });
  });

  it('does not trust a checkpoint moved past rows rewritten behind it: its seal fails', async () => {
    await watch.run();
    await append(h.store, 50, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 270");
    const last = (await rows()).at(-1)!;
    // The attacker moves the head past the edit, keeping the old seal (they cannot make a new one).
    await h.sql.run('UPDATE audit_checkpoint SET seq = ?, hash = ?', last.seq, last.hash);
    const problem =
      'the verified-head checkpoint (row 300) was changed outside Hallpass: its seal does not match';

    const digest = await buildDigest(
      h.store,
      h.config,
      { start: T0 - 86_400_000, end: T0 + 86_400_000 },
      T0,
      { seal },
    );
    expect(digest.chain).toEqual({ checked: 0, intact: false, firstBroken: { seq: 300, problem } });
    const since = await runCli(['audit', 'verify', '--since-verified'], env());
    expect(since).toMatchObject({
      code: 1,
      stdout: `BROKEN at row 300: ${problem}\n0 rows checked\n`,
    });
    // A full walk ignores the checkpoint and finds the edit itself.
    const full = await runCli(['audit', 'verify'], env());
    expect(full.stdout).toBe(
      'BROKEN at row 270: content does not match its hash (the row was edited)\n269 rows checked\n',
    );

    // The watch alerts the forgery, then starts again from the first row and finds the edit.
    expect((await watch.run()).broken).toEqual({ seq: 300, problem });
    expect(await checkpoint()).toMatchObject({ seq: 0, broken: { seq: 300 } });
    expect((await watch.run()).broken?.seq).toBe(270);
    expect((await alerts()).map((a) => [a.seq, a.problem])).toEqual([
      [300, problem],
      [270, 'content does not match its hash (the row was edited)'],
    ]);
  });

  it('tells a checkpoint sealed under a rotated secret apart from an edit, and starts over', async () => {
    await watch.run();
    const recorded = (await checkpoint())!;
    const rotated = new CheckpointSeal('the-secret-before-rotation');
    await h.sql.run('UPDATE audit_checkpoint SET seal = ?', rotated.sign(recorded));
    const problem = otherKeyProblem(250);
    expect(problem).toContain('sealed under another key');

    const since = await runCli(['audit', 'verify', '--since-verified'], env());
    expect(since).toMatchObject({
      code: 1,
      stdout: `BROKEN at row 250: ${problem}\n0 rows checked\n`,
    });
    // Loud, as a forgery would be (the alert is row 251); then the watch walks every row.
    expect((await watch.run()).broken).toEqual({ seq: 250, problem });
    expect(await watch.run()).toMatchObject({ checked: 251, head: 251 });
    expect(seal.check((await checkpoint())!)).toBe('verified');
    expect((await alerts()).map((a) => [a.seq, a.problem])).toEqual([[250, problem]]);
  });

  it('catches history rewritten with fresh hashes up to the verified head', async () => {
    await watch.run();
    await allowAuditTampering(h.sql, kind);
    await rewriteFrom(100, 'UMALLORY');
    // Every row links up again, so a walk from the first row alone cannot tell.
    expect((await runCli(['audit', 'verify'], env())).code).toBe(0);
    const problem =
      'row 250 no longer has the hash the verified head of 2026-11-02T09:00:00.000Z recorded (the history up to it was rewritten)';
    expect((await watch.run()).broken).toEqual({ seq: 250, problem });
    expect(await runCli(['audit', 'verify', '--since-verified'], env())).toMatchObject({
      code: 1,
      stdout: `BROKEN at row 250: ${problem}\n0 rows checked\n`,
    });
  });

  it('notices the checkpoint going back to an older genuine one (a replay to hide a rewrite)', async () => {
    await watch.run();
    const older = (await checkpoint())!;
    await append(h.store, 50, T0 + 1_000);
    await watch.run();
    await allowAuditTampering(h.sql, kind);
    await rewriteFrom(260, 'UMALLORY');
    await h.sql.run(
      'UPDATE audit_checkpoint SET seq = ?, hash = ?, verified_at = ?, seal = ?',
      older.seq,
      older.hash,
      older.verifiedAt,
      older.seal,
    );
    expect((await watch.run()).broken).toEqual({
      seq: 250,
      problem:
        'the verified-head checkpoint moved back from row 300 to row 250 (restored from an older copy, or replayed to hide a rewrite)',
    });
    expect(await alerts()).toHaveLength(1);
  });

  it('alerts a forged checkpoint that claims its break was alerted already, and walks again', async () => {
    await watch.run();
    await append(h.store, 50, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 270");
    // No key needed: any seal, and a recorded break naming what the watch will find.
    await h.sql.run(
      "UPDATE audit_checkpoint SET seal = 'forged', broken_seq = 250, broken_problem = ?",
      forgedProblem(250),
    );
    await watch.run();
    await watch.run();
    expect((await alerts()).map((a) => a.seq)).toEqual([250, 270]);
  });

  it('notices the checkpoint deleted with the newest rows, which no anchor named yet', async () => {
    await append(h.store, 50, T0 + 1_000);
    expect(await watch.run()).toMatchObject({ head: 300 });
    await allowAuditTampering(h.sql, kind);
    await h.sql.run('DELETE FROM audit_events WHERE seq > 280');
    await h.sql.run('DELETE FROM audit_checkpoint');
    expect((await watch.run()).broken).toEqual({
      seq: 0,
      problem:
        'the verified-head checkpoint is gone, after row 300 was verified (deleted, or the database restored from an older copy)',
    });
    expect(await alerts()).toHaveLength(1);
    // It starts over from the genesis (the alert's own event is row 281), and alerts nothing
    // more while the rows it finds hold.
    const again = await watch.run();
    expect(again.broken).toBeUndefined();
    expect(again.head).toBe(281);
    expect(await alerts()).toHaveLength(1);
  });

  it('alerts a whole step of rows deleted right after the verified head', async () => {
    expect(await watch.run()).toMatchObject({ head: 250 });
    await append(h.store, 150, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run('DELETE FROM audit_events WHERE seq > 250 AND seq <= 350');
    expect((await watch.run()).broken).toEqual({
      seq: 351,
      problem: 'expected seq 251: rows 251..350 are missing',
    });
  });

  it('lets the digest and --since-verified walk only the rows after the verified head', async () => {
    await watch.run();
    await append(h.store, 40, T0 + 1_000);
    const period = { start: T0 - 86_400_000, end: T0 + 86_400_000 };
    const digest = await buildDigest(h.store, h.config, period, T0, { seal });
    expect(digest.chain).toMatchObject({ checked: 40, intact: true, from: { seq: 250 } });
    expect(digest.chain.head?.seq).toBe(290);
    // Without the seal's key the checkpoint is not trusted: the digest walks its period.
    const unsealed = await buildDigest(h.store, h.config, period, T0);
    expect(unsealed.chain).toMatchObject({ checked: 290, intact: true });

    const since = await runCli(['audit', 'verify', '--since-verified'], env());
    const head = (await rows()).at(-1)!;
    expect(since).toEqual({
      code: 0,
      stdout: `ok: 40 rows checked after row 250 (verified 2026-11-02T09:00:00.000Z); head is row 290, hash ${head.hash}\n`,
      stderr: '',
    });
    const without = await runCli(['audit', 'verify', '--since-verified'], cliEnv(h.location));
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('--since-verified: set HALLPASS_SECRET_KEY');
  });

  it('starts the digest at the sealed head, not at an unsealed digest anchor written past it', async () => {
    await watch.run();
    await append(h.store, 50, T0 + 1_000);
    await allowAuditTampering(h.sql, kind);
    await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 270");
    const newest = (await rows()).at(-1)!;
    await h.sql.run(
      `INSERT INTO digests (period_key, period_start, period_end, channel, queued_at, posted_at, chain_seq, chain_hash)
       VALUES ('2026-10-26', 0, 1, 'CDIGEST', 1, 1, ?, ?)`,
      newest.seq,
      newest.hash,
    );
    const period = { start: T0 - 86_400_000, end: T0 + 86_400_000 };
    const digest = await buildDigest(h.store, h.config, period, T0, { seal });
    expect(digest.chain.firstBroken).toEqual({
      seq: 270,
      problem: 'content does not match its hash (the row was edited)',
    });
  });
});

describe('the checkpoint seal', () => {
  const fields = { seq: 250, hash: 'a'.repeat(64), verifiedAt: 1_764_576_000_000, broken: null };
  // Written by the seal of the previous release (v1, which named no key) under SECRET.
  const v1 = 'v1.uKX1gDc62WR2qHrELpsuJSNU1IBYQGr05eRVochQkwc';

  it('still verifies a checkpoint sealed by the previous release, and not an edited one', () => {
    const seal = new CheckpointSeal(SECRET);
    expect(seal.check({ ...fields, seal: v1 })).toBe('verified');
    expect(seal.check({ ...fields, seq: 251, seal: v1 })).toBe('changed');
    expect(new CheckpointSeal('another-secret').check({ ...fields, seal: v1 })).toBe('changed');
  });

  it('covers the kind of a break, and still verifies a break sealed before kinds were recorded', () => {
    const seal = new CheckpointSeal(SECRET);
    const broken = { seq: 270, problem: 'content does not match its hash (the row was edited)' };
    // Written by the seal of the previous release, which recorded no kind.
    const before = 'v2.hW-DCRQG.Acm6xFnHL75reQeSw26ThKQedsTVGygMKBKQQdjprSE';
    expect(seal.check({ ...fields, broken, seal: before })).toBe('verified');
    const sealed = seal.sealed({ ...fields, broken: { ...broken, kind: 'row' } });
    expect(seal.check(sealed)).toBe('verified');
    expect(seal.check({ ...sealed, broken: { ...broken, kind: 'checkpoint' } })).toBe('changed');
    expect(seal.check({ ...sealed, broken })).toBe('changed');
  });

  it('names its key, so that an edit under the same key reads as one', () => {
    const seal = new CheckpointSeal(SECRET);
    const sealed = seal.sealed(fields);
    expect(seal.check(sealed)).toBe('verified');
    expect(seal.check({ ...sealed, seq: 251 })).toBe('changed');
    expect(new CheckpointSeal('another-secret').check(sealed)).toBe('other_key');
  });
});
