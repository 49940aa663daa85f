import { Core } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { openStore } from '../../src/store';
import { COPIED_TABLES } from '../../src/store/copy';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { postgresInspector, type SqlInspector } from '../support/sql-inspector';
import { freshPostgresDatabase } from '../support/stores';
import { cliEnv, runCli } from './run';

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;

/**
 * A deployment made by the real core on SQLite: a grant that ran and was revoked, one still
 * active, a denied request, one still pending, an offboarded person and the outbox rows and
 * audit events all of that wrote.
 */
async function deployment(): Promise<CoreHarness> {
  const h = await coreHarness(BASE_CONFIG);
  const { core, clock } = h;
  const granted = async (requester: string) => {
    const req = await core.createRequest({
      requester,
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    await core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grant = (await core.grantOf((await core.request(req.id))!))!;
    const now = clock.now();
    await core.lifecycle.activated(grant.id, {
      startsAt: now,
      expiresAt: now + 60 * MIN,
      state: { role: `r_${grant.id}` },
      elapsedMs: 3,
    });
    return grant.id;
  };
  const ended = await granted('UREQ');
  clock.advance(61 * MIN);
  await core.lifecycle.expire([ended]);
  await core.lifecycle.revoked([{ grantId: ended, elapsedMs: 4, checked: true }]);
  await granted('UENG');
  const denied = await core.createRequest({
    requester: 'UREQ',
    resourceId: 'prod-db',
    duration: '30m',
    justification: JUST,
  });
  await core.decide({ requestId: denied.id, actor: 'ULEAD', decision: 'deny', reason: 'not now' });
  await core.createRequest({
    requester: 'UREQ',
    resourceId: 'prod-db',
    duration: '2h',
    justification: JUST,
  });
  await core.recordPersonStatus('UGONE', 'deactivated', 'slack_event');
  return h;
}

/** Every row of a table in key order, with the columns both dialects store alike. */
const rowsOf = (sql: SqlInspector, table: string, keys: readonly string[]) =>
  sql.all<Record<string, unknown>>(`SELECT * FROM ${table} ORDER BY ${keys.join(', ')}`);

describe('hallpass db copy', () => {
  let h: CoreHarness;
  let target: Awaited<ReturnType<typeof freshPostgresDatabase>>;
  let pg: SqlInspector;

  beforeAll(async () => {
    h = await deployment();
    target = await freshPostgresDatabase();
    pg = await postgresInspector(target.url);
  });
  afterAll(async () => {
    await pg?.close();
    await target?.release();
    await h?.close();
  });

  it('copies every table and the chain row by row into HALLPASS_DATABASE_URL, and says it verified both sides', async () => {
    const copied = await runCli(
      ['db', 'copy'],
      cliEnv({ file: h.location.file, databaseUrl: target.url }),
    );
    expect(copied.stderr).toBe('');
    expect(copied.code).toBe(0);

    const audit = await rowsOf(h.sql, 'audit_events', ['seq']);
    expect(audit.length).toBeGreaterThan(10);
    const chain = (rows: Record<string, unknown>[]) =>
      rows.map((r) => [r.seq, r.action, r.prev_hash, r.hash]);
    expect(chain(await rowsOf(pg, 'audit_events', ['seq']))).toEqual(chain(audit));

    for (const [table, keys] of COPIED_TABLES) {
      const [from, to] = [await rowsOf(h.sql, table, keys), await rowsOf(pg, table, keys)];
      expect({ table, rows: to.length }).toEqual({ table, rows: from.length });
    }
    const grants = (sql: SqlInspector) =>
      sql.all('SELECT id, status, expires_at, snapshot, provider_state FROM grants ORDER BY id');
    expect(await grants(pg)).toEqual(await grants(h.sql));

    const head = audit.at(-1)!;
    expect(copied.stdout).toContain(`audit chain verified on both sides: ${audit.length} rows`);
    expect(copied.stdout).toContain(`head row ${String(head.seq)} hash ${String(head.hash)}`);
  });

  it('leaves a PostgreSQL deployment that verifies, lists the same grants and goes on with the chain', async () => {
    const onPg = cliEnv({ file: '', databaseUrl: target.url });
    const verified = await runCli(['audit', 'verify'], onPg);
    expect(verified.code).toBe(0);
    const listed = async (env: NodeJS.ProcessEnv) =>
      (await runCli(['grants', 'list', '--active'], env)).stdout;
    expect(await listed(onPg)).toBe(await listed(cliEnv(h.location)));

    const store = await openStore({ file: '', databaseUrl: target.url });
    try {
      const core = new Core({
        store,
        clock: h.clock,
        config: h.config,
        directory: new StaticDirectory({ SDBA: ['UDBA'], SENG: ['UENG'] }),
      });
      const before = await pg.value<number>('SELECT max(seq) FROM audit_events');
      await core.createRequest({
        requester: 'UENG',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      });
      expect(
        await pg.value<number>('SELECT min(seq) FROM audit_events WHERE seq > ?', before),
      ).toBe(before + 1);
    } finally {
      await store.close();
    }
    expect((await runCli(['audit', 'verify'], onPg)).code).toBe(0);
  });

  it('refuses a database that is not empty and changes nothing in it', async () => {
    const before = await pg.value<number>('SELECT count(*) FROM audit_events');
    const again = await runCli(
      ['db', 'copy'],
      cliEnv({ file: h.location.file, databaseUrl: target.url }),
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/the target database is not empty: requests has \d+ rows/);
    expect(await pg.value<number>('SELECT count(*) FROM audit_events')).toBe(before);
  });

  it('refuses a target that is not a postgres:// URL, or none, as a usage error', async () => {
    const wrong = await runCli(['db', 'copy', '--to', 'mysql://x/y'], cliEnv(h.location));
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--to must be a postgres:// URL of an empty database');
    const wrongEnv = await runCli(
      ['db', 'copy'],
      cliEnv({ file: h.location.file, databaseUrl: 'mysql://x/y' }),
    );
    expect(wrongEnv.code).toBe(1);
    expect(wrongEnv.stderr).toContain('HALLPASS_DATABASE_URL');
    const none = await runCli(['db', 'copy'], cliEnv({ file: h.location.file }));
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('set HALLPASS_DATABASE_URL to a postgres:// URL');
  });

  it('refuses a password on the command line, where ps and the shell history show it', async () => {
    const empty = await freshPostgresDatabase();
    try {
      const withPassword = new URL(empty.url);
      withPassword.password = 's3cret-on-argv';
      // The PostgreSQL client also takes it as a query parameter.
      const inQuery = new URL(empty.url);
      inQuery.password = '';
      inQuery.searchParams.set('password', 's3cret-on-argv');
      for (const url of [withPassword, inQuery]) {
        const refused = await runCli(['db', 'copy', '--to', url.href], cliEnv(h.location));
        expect(refused.code).toBe(2);
        expect(refused.stderr).toContain('--to must not carry a password');
        expect(refused.stderr).not.toContain('s3cret-on-argv');
      }
      const target = await postgresInspector(empty.url);
      try {
        expect(await target.value<number>('SELECT count(*) FROM audit_events')).toBe(0);
      } finally {
        await target.close();
      }
    } finally {
      await empty.release();
    }
  });
});
