import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CheckpointSeal } from '../../src/audit/checkpoint-seal';
import { chainEvent, hashEvent } from '../../src/core/audit';
import { openStore } from '../../src/store';
import { tempDir } from '../support/tmp';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import type { StoreKind } from '../support/stores';
import { cliEnv, runCli } from './run';

/** The columns of audit_events as export writes them. */
interface Event {
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

/** RFC 4180, the strict way: CRLF between records, quoted fields may hold anything. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else if (ch === '\r' || ch === '\n' || ch === '"') {
      throw new Error(`bare ${JSON.stringify(ch)} outside quotes at ${i}`);
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || record.length > 0) throw new Error('last record is not CRLF-terminated');
  return records;
}

const NASTY = 'a, "quoted" value\r\nsecond line\nthird, with "more"';

/**
 * A log with awkward text in it: a request whose justification has commas, quotes and line
 * breaks, its approval, an event with an odd actor and non-ASCII details, and a request after
 * the range the tests export.
 */
async function awkwardLog(kind: StoreKind): Promise<CoreHarness> {
  const h = await coreHarness(BASE_CONFIG, undefined, kind);
  h.clock.set(Date.parse('2026-11-01T10:00:00Z'));
  const request = await h.core.createRequest({
    requester: 'UREQ',
    resourceId: 'prod-db',
    duration: '1h',
    justification: NASTY,
  });
  h.clock.set(Date.parse('2026-11-01T10:30:00Z'));
  await h.core.decide({ requestId: request.id, actor: 'ULEAD', decision: 'approve' });
  h.clock.set(Date.parse('2026-11-15T23:59:59.999Z'));
  await h.store.change(async (tx) =>
    tx.audit.append([
      chainEvent(await tx.audit.head(), h.clock.now(), {
        actor: 'U,"odd"\r\nname',
        action: 'notification.failed',
        details: { error: 'line1\nline2\r\n"x", y', ünïcode: 'žluťoučký 🐴' },
      }),
    ]),
  );
  h.clock.set(Date.parse('2026-12-01T00:00:00Z'));
  await h.core.createRequest({
    requester: 'UENG',
    resourceId: 'auto',
    duration: '30m',
    justification: 'late in the range: excluded by --until',
  });
  return h;
}

const rowsOf = (h: CoreHarness) => h.sql.all<Event>('SELECT * FROM audit_events ORDER BY seq');

/** Every CSV record `audit export` must write for `events`. */
const csvRecords = (events: Event[]) =>
  events.map((r) => [
    String(r.seq),
    new Date(r.at).toISOString(),
    r.actor,
    r.action,
    r.request_id ?? '',
    r.grant_id ?? '',
    r.details,
    r.prev_hash,
    r.hash,
  ]);

const CSV_HEADER = [
  'seq',
  'at',
  'actor',
  'action',
  'request_id',
  'grant_id',
  'details',
  'prev_hash',
  'hash',
];

/** What someone with the database owner's rights does first: lift the append-only guard. */
function allowAuditEdits(h: CoreHarness, what: 'update' | 'delete'): Promise<number> {
  return h.kind === 'sqlite'
    ? h.sql.run(`DROP TRIGGER audit_events_no_${what}`)
    : h.sql.run('DROP TRIGGER audit_events_no_update_delete ON audit_events');
}

describe('hallpass audit', () => {
  let h: CoreHarness;
  let env: NodeJS.ProcessEnv;
  const rows = () => rowsOf(h);

  beforeEach(async () => {
    h = await awkwardLog('sqlite');
    env = cliEnv(h.location);
  });
  afterEach(() => h.close());

  describe('export', () => {
    it('writes RFC 4180 CSV that parses back to exactly the events in range', async () => {
      const result = await runCli(
        ['audit', 'export', '--since', '2026-11-01', '--until', '2026-12-01', '--format', 'csv'],
        env,
      );
      expect(result).toMatchObject({ code: 0, stderr: '' });
      const [header, ...records] = parseCsv(result.stdout);
      expect(header).toEqual(CSV_HEADER);
      const expected = (await rows()).filter((r) => r.at < Date.parse('2026-12-01T00:00:00Z'));
      expect(expected).toHaveLength(5);
      expect(records).toEqual(csvRecords(expected));
      // A field with a comma, quotes and a line break, quoted with its quotes doubled.
      expect(result.stdout).toContain(',"U,""odd""\r\nname",');
    });

    it('writes JSON lines whose details re-hash to the stored chain', async () => {
      const dir = tempDir();
      try {
        const out = join(dir.dir, 'audit.jsonl');
        const result = await runCli(
          ['audit', 'export', '--format', 'jsonl', '--out', out, '--until', '2026-12-01'],
          env,
        );
        expect(result.code).toBe(0);
        expect(result.stderr).toMatch(/^wrote \d+ events to /);
        const lines = readFileSync(out, 'utf8').trimEnd().split('\n');
        const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
        const expected = (await rows()).filter((r) => r.at < Date.parse('2026-12-01T00:00:00Z'));
        expect(parsed).toEqual(
          expected.map((r) => ({
            seq: r.seq,
            at: new Date(r.at).toISOString(),
            actor: r.actor,
            action: r.action,
            request_id: r.request_id,
            grant_id: r.grant_id,
            details: JSON.parse(r.details),
            prev_hash: r.prev_hash,
            hash: r.hash,
          })),
        );
        for (const p of parsed) {
          const row = {
            seq: p.seq as number,
            at: Date.parse(p.at as string),
            actor: p.actor as string,
            action: p.action as string,
            requestId: p.request_id as string | null,
            grantId: p.grant_id as string | null,
            details: JSON.stringify(p.details),
          };
          expect(hashEvent(p.prev_hash as string, row)).toBe(p.hash);
        }
      } finally {
        dir.cleanup();
      }
    });

    it('takes --since inclusive and --until exclusive, down to the millisecond', async () => {
      const result = await runCli(
        [
          'audit',
          'export',
          '--format',
          'jsonl',
          '--since',
          '2026-11-15T23:59:59.999Z',
          '--until',
          '2026-12-01T01:00:00+01:00',
        ],
        env,
      );
      const actions = result.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { action: string }).action);
      expect(actions).toEqual(['notification.failed']);
    });

    it.each([
      [
        ['--since', '2026-13-01'],
        '--since: "2026-13-01" is not a date (use YYYY-MM-DD or ISO-8601)',
      ],
      [
        ['--until', '2026-02-30'],
        '--until: "2026-02-30" is not a date (use YYYY-MM-DD or ISO-8601)',
      ],
      [['--since', 'yesterday'], '--since: "yesterday" is not a date (use YYYY-MM-DD or ISO-8601)'],
      [
        ['--since', '2026-11-01T25:00Z'],
        '--since: "2026-11-01T25:00Z" is not a date (use YYYY-MM-DD or ISO-8601)',
      ],
      [
        ['--since', '2026-12-01', '--until', '2026-11-01'],
        '--since (2026-12-01T00:00:00.000Z) must be before --until (2026-11-01T00:00:00.000Z)',
      ],
      [
        ['--since', '2026-11-01', '--until', '2026-11-01'],
        '--since (2026-11-01T00:00:00.000Z) must be before --until (2026-11-01T00:00:00.000Z)',
      ],
      [['--format', 'xlsx'], '--format: unknown format "xlsx" (use csv or jsonl)'],
      [['--colour'], "audit export: Unknown option '--colour'"],
    ])('refuses %j with a usage error', async (args, message) => {
      const result = await runCli(['audit', 'export', ...args], env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.split('\n')[0]).toBe(`hallpass: ${message}`);
    });

    it('says where it looked when there is no database, and creates none', async () => {
      const dir = tempDir();
      try {
        const missing = join(dir.dir, 'nope.db');
        const result = await runCli(['audit', 'export'], { HALLPASS_DB: missing });
        expect(result).toEqual({
          code: 1,
          stdout: '',
          stderr: `hallpass: no database at ${missing} (set HALLPASS_DB or HALLPASS_DATABASE_URL)\n`,
        });
        const defaulted = await runCli(['audit', 'verify'], {});
        expect(defaulted.stderr).toBe(
          'hallpass: no database at ./data/hallpass.db (set HALLPASS_DB or HALLPASS_DATABASE_URL)\n',
        );
      } finally {
        dir.cleanup();
      }
    });

    it('names a file that is not a database', async () => {
      const dir = tempDir();
      try {
        const file = join(dir.dir, 'notes.db');
        writeFileSync(file, 'not sqlite at all, just some text that is long enough to matter');
        const result = await runCli(['audit', 'export'], { HALLPASS_DB: file });
        expect(result.code).toBe(1);
        expect(result.stderr).toBe(`hallpass: ${file} is not a SQLite database\n`);
      } finally {
        dir.cleanup();
      }
    });

    it('gives up with a clear message while another process holds an exclusive lock', async () => {
      const dir = tempDir();
      const file = join(dir.dir, 'locked.db');
      await (await openStore({ file })).close();
      const locker = new Database(file);
      try {
        // What a process holding the file exclusively looks like, even to WAL readers.
        locker.pragma('locking_mode = EXCLUSIVE');
        locker.exec('BEGIN EXCLUSIVE');
        locker.exec("INSERT INTO slack_messages VALUES ('s', 'p', 'C1', '1.2', 0)");
        const result = await runCli(['audit', 'export'], {
          HALLPASS_DB: file,
          HALLPASS_BUSY_TIMEOUT_MS: '50',
        });
        expect(result).toEqual({
          code: 1,
          stdout: '',
          stderr: `hallpass: the database at ${file} is locked by another process (SQLITE_BUSY); try again in a moment\n`,
        });
      } finally {
        locker.close();
        dir.cleanup();
      }
    });

    it('reports an --out path it cannot write, and leaves no file behind', async () => {
      const result = await runCli(['audit', 'export', '--out', '/nonexistent/dir/x.csv'], env);
      expect(result).toMatchObject({
        code: 1,
        stderr: 'hallpass: --out: cannot write /nonexistent/dir/x.csv (ENOENT)\n',
      });
    });
  });

  describe('verify', () => {
    it('counts the rows and names the head of an intact chain', async () => {
      const all = await rows();
      const last = all[all.length - 1]!;
      const result = await runCli(['audit', 'verify'], env);
      expect(result).toEqual({
        code: 0,
        stdout: `ok: ${all.length} rows checked; head is row ${last.seq}, hash ${last.hash}\n`,
        stderr: '',
      });
    });

    it('catches an edited row (the append-only triggers dropped, as an attacker with the file would)', async () => {
      await allowAuditEdits(h, 'update');
      expect(await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 2")).toBe(1);
      const result = await runCli(['audit', 'verify'], env);
      expect(result).toEqual({
        code: 1,
        stdout:
          'BROKEN at row 2: content does not match its hash (the row was edited)\n1 rows checked\n',
        stderr: '',
      });
    });

    it('catches a deleted row', async () => {
      await allowAuditEdits(h, 'delete');
      expect(await h.sql.run('DELETE FROM audit_events WHERE seq = 3')).toBe(1);
      const result = await runCli(['audit', 'verify'], env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe(
        'BROKEN at row 4: expected seq 3: rows 3..3 are missing\n2 rows checked\n',
      );
    });

    it('cannot see deleted newest rows by the chain alone, but an anchor from a digest can', async () => {
      const all = await rows();
      const last = all[all.length - 1]!;
      await allowAuditEdits(h, 'delete');
      expect(await h.sql.run('DELETE FROM audit_events WHERE seq = ?', last.seq)).toBe(1);
      expect((await runCli(['audit', 'verify'], env)).code).toBe(0);

      const anchored = await runCli(
        ['audit', 'verify', '--anchor', `${last.seq}:${last.hash}`],
        env,
      );
      expect(anchored.code).toBe(1);
      expect(anchored.stdout.split('\n')[0]).toBe(
        `BROKEN at row ${last.seq}: row ${last.seq} is gone, though the --anchor saw it (rows were deleted)`,
      );

      // A posted digest records its head in the database: verify checks those by itself.
      await h.sql.run(
        `INSERT INTO digests (period_key, period_start, period_end, channel, queued_at, posted_at,
                              chain_seq, chain_hash)
         VALUES ('2026-11-02T00:00:00.000Z', 0, 1, 'CDIGEST', 1, 1, ?, ?)`,
        last.seq,
        last.hash,
      );
      const recorded = await runCli(['audit', 'verify'], env);
      expect(recorded.code).toBe(1);
      expect(recorded.stdout).toContain('though the digest of 2026-11-02T00:00:00.000Z saw it');
    });

    it('catches history rewritten with fresh hashes only against an anchor', async () => {
      const all = await rows();
      const last = all[all.length - 1]!;
      await allowAuditEdits(h, 'update');
      const update = (actor: string, prevHash: string, hash: string, seq: number) =>
        h.sql.run(
          'UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?',
          actor,
          prevHash,
          hash,
          seq,
        );
      let prev = all[0]!.prev_hash;
      for (const row of all) {
        const actor = row.seq === 1 ? 'UMALLORY' : row.actor;
        const hash = hashEvent(prev, {
          seq: row.seq,
          at: row.at,
          actor,
          action: row.action,
          requestId: row.request_id,
          grantId: row.grant_id,
          details: row.details,
        });
        await update(actor, prev, hash, row.seq);
        prev = hash;
      }
      expect((await runCli(['audit', 'verify'], env)).code).toBe(0);
      const anchored = await runCli(
        ['audit', 'verify', '--anchor', `${last.seq}:${last.hash}`],
        env,
      );
      expect(anchored.code).toBe(1);
      expect(anchored.stdout).toContain('no longer has the hash the --anchor recorded');
    });

    it('refuses a malformed anchor', async () => {
      const result = await runCli(['audit', 'verify', '--anchor', '12:abc'], env);
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')[0]).toBe(
        'hallpass: --anchor: "12:abc" is not SEQ:HASH (a row number and its 64-hex hash, as a digest shows)',
      );
    });
  });
});

describe('hallpass audit reset-checkpoint', () => {
  const SECRET = 'audit-reset-test-secret-key';
  const me = `cli:${userInfo().username}`;
  const dir = tempDir();
  const config = join(dir.dir, 'hallpass.yml');
  writeFileSync(config, BASE_CONFIG);
  let h: CoreHarness;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    h = await awkwardLog('sqlite');
    env = cliEnv(h.location, { HALLPASS_SECRET_KEY: SECRET, HALLPASS_CONFIG: config });
  });
  afterEach(() => h.close());
  afterAll(() => dir.cleanup());

  it('records a sealed verified head at the newest row with no break, audited as who did it', async () => {
    const before = await rowsOf(h);
    const result = await runCli(['audit', 'reset-checkpoint'], env);
    const head = before.length;
    expect(result).toMatchObject({
      code: 0,
      stdout: `ok: ${head} rows checked; the verified head is now row ${head}, with no break, reset by ${me}\n`,
    });
    const recorded = (await h.store.checkpoint.get())!;
    expect(recorded).toMatchObject({ seq: head, hash: before.at(-1)!.hash, broken: null });
    expect(new CheckpointSeal(SECRET).check(recorded)).toBe('verified');
    const event = (await rowsOf(h)).at(-1)!;
    expect(event).toMatchObject({ seq: head + 1, actor: me, action: 'audit.checkpoint_reset' });
    expect(JSON.parse(event.details)).toEqual({ seq: head, replaced: null });
  });

  it('changes nothing while an anchor it is given is gone (newest rows deleted)', async () => {
    const last = (await rowsOf(h)).at(-1)!;
    await allowAuditEdits(h, 'delete');
    await h.sql.run('DELETE FROM audit_events WHERE seq = ?', last.seq);
    const result = await runCli(
      ['audit', 'reset-checkpoint', '--anchor', `${last.seq}:${last.hash}`],
      env,
    );
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(
      `BROKEN at row ${last.seq}: row ${last.seq} is gone, though the --anchor saw it (rows were deleted)\n${last.seq - 1} rows checked; the checkpoint was not reset\n`,
    );
    expect(await h.store.checkpoint.get()).toBeUndefined();
    expect((await rowsOf(h)).map((r) => r.action)).not.toContain('audit.checkpoint_reset');
  });

  it('needs the key the bot seals its verified head with', async () => {
    const result = await runCli(['audit', 'reset-checkpoint'], cliEnv(h.location));
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(
      'hallpass: audit reset-checkpoint: set HALLPASS_SECRET_KEY (or SLACK_SIGNING_SECRET / SLACK_APP_TOKEN) as the bot has it: the verified head is trusted only when its seal checks out',
    );
    expect(await h.store.checkpoint.get()).toBeUndefined();
  });
});

describe('hallpass audit on PostgreSQL (HALLPASS_DATABASE_URL)', () => {
  let h: CoreHarness;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    h = await awkwardLog('postgres');
    env = cliEnv(h.location);
  });
  afterEach(() => h.close());

  it('exports the events in range as the same RFC 4180 CSV', async () => {
    expect(env.HALLPASS_DATABASE_URL).toMatch(/^postgresql:\/\//);
    const result = await runCli(
      ['audit', 'export', '--since', '2026-11-01', '--until', '2026-12-01', '--format', 'csv'],
      env,
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const [header, ...records] = parseCsv(result.stdout);
    expect(header).toEqual(CSV_HEADER);
    const expected = (await rowsOf(h)).filter((r) => r.at < Date.parse('2026-12-01T00:00:00Z'));
    expect(expected).toHaveLength(5);
    expect(records).toEqual(csvRecords(expected));
    expect(result.stdout).toContain(',"U,""odd""\r\nname",');
  });

  it('verifies the chain, and catches a row edited with the triggers dropped', async () => {
    const all = await rowsOf(h);
    const last = all[all.length - 1]!;
    const intact = await runCli(['audit', 'verify'], env);
    expect(intact).toMatchObject({
      code: 0,
      stdout: `ok: ${all.length} rows checked; head is row ${last.seq}, hash ${last.hash}\n`,
    });
    await allowAuditEdits(h, 'update');
    expect(await h.sql.run("UPDATE audit_events SET actor = 'UMALLORY' WHERE seq = 2")).toBe(1);
    const broken = await runCli(['audit', 'verify'], env);
    expect(broken).toMatchObject({
      code: 1,
      stdout:
        'BROKEN at row 2: content does not match its hash (the row was edited)\n1 rows checked\n',
    });
    // Progress is for runs of 100,000 rows and more.
    expect([intact.stderr, broken.stderr]).toEqual(['', '']);
  });
});

describe('hallpass audit with a bad HALLPASS_DATABASE_URL', () => {
  it('refuses a URL that is not PostgreSQL', async () => {
    const result = await runCli(['audit', 'verify'], {
      HALLPASS_DATABASE_URL: 'mysql://root:hunter22@127.0.0.1/hallpass',
    });
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'hallpass: HALLPASS_DATABASE_URL must be a postgres:// or postgresql:// connection URL\n',
    });
  });

  it('says it cannot reach the server, without echoing the password', async () => {
    const result = await runCli(['audit', 'export'], {
      HALLPASS_DATABASE_URL: 'postgresql://hallpass:hunter22@127.0.0.1:1/hallpass',
    });
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'hallpass: cannot reach the database at HALLPASS_DATABASE_URL (ECONNREFUSED)\n',
    });
  });
});
