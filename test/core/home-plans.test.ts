import { BASE_CONFIG, coreHarness, T0, type CoreHarness } from '../support/core';
import { plan, recordStatements } from '../support/plans';
import { STORE_KINDS, type StoreKind } from '../support/stores';

const DECIDED = 400;
const OWN_ENDED = 100;

/**
 * A year behind ULEAD: requests of prod-db decided long ago, and grants of their own that ended;
 * then what is live now: two requests waiting for them and one grant of theirs.
 */
async function seedHistory(h: CoreHarness): Promise<void> {
  const request = `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status, approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', ?, 'prod-db', 3600000, 'seeded history', ?, 1, false, ?, ?, ?, ?)`;
  const grant = `INSERT INTO grants (id, request_id, user_id, resource_id, provider, status, duration_ms, starts_at, expires_at, provider_expires_at, next_attempt_at, attempts, created_at, ended_at)
     VALUES (?, ?, 'ULEAD', 'prod-db', 'hook', ?, 3600000, ?, ?, ?, ?, 0, ?, ?)`;
  const yearAgo = T0 - 365 * 86_400_000;
  for (let i = 0; i < DECIDED; i++) {
    const at = yearAgo + i * 60_000;
    const own = i < OWN_ENDED;
    await h.sql.run(
      request,
      `req_h${i}`,
      own ? 'ULEAD' : `UH${i % 40}`,
      'approved',
      at,
      at + 1,
      at,
      'UA1',
    );
    if (own)
      await h.sql.run(
        grant,
        `gr_h${i}`,
        `req_h${i}`,
        'revoked',
        at,
        at + 1,
        at + 1,
        null,
        at,
        at + 1,
      );
  }
  for (const [i, who] of ['UP1', 'UP2'].entries())
    await h.sql.run(
      request,
      `req_p${i}`,
      who,
      'pending',
      T0 - 1000 + i,
      T0 + 86_400_000,
      null,
      null,
    );
  await h.sql.run(request, 'req_live', 'ULEAD', 'approved', T0 - 1000, T0, T0 - 1000, 'UA1');
  await h.sql.run(grant, 'gr_live', 'req_live', 'active', T0, T0 + 1, T0 + 1, T0 + 1, T0, null);
  await h.sql.run('ANALYZE');
}

/**
 * The reads of a Home must find what is pending and live without walking what was decided and
 * ended: a deployment a year old has far more of that, and every change of a person's redraws
 * their Home. Each read must go through an index that holds only the rows it is after: one whose
 * condition names the status those rows have.
 */
const LIVE_READS: { what: string; sql: RegExp; table: string; status: string }[] = [
  {
    what: 'the requests waiting for the approver',
    sql: /status = 'pending' AND r\.resource_id IN/,
    table: 'requests',
    status: 'pending',
  },
  {
    what: "the person's live grants ending soonest",
    sql: /SELECT \* FROM grants WHERE user_id = \? AND status in/,
    table: 'grants',
    status: 'revoking',
  },
  {
    what: "the count of the person's live grants",
    sql: /SELECT count\(\*\) AS n FROM grants WHERE user_id = \? AND status in/,
    table: 'grants',
    status: 'revoking',
  },
];

/** The indexes of `table` that hold only rows whose status is `status`, by name. */
async function partialIndexes(h: CoreHarness, kind: StoreKind, table: string, status: string) {
  const rows =
    kind === 'sqlite'
      ? await h.sql.all<{ name: string; sql: string }>(
          "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
          table,
        )
      : await h.sql.all<{ name: string; sql: string }>(
          'SELECT indexname AS name, indexdef AS sql FROM pg_indexes WHERE tablename = $1',
          table,
        );
  return rows
    .filter(
      (r) => / WHERE /i.test(r.sql ?? '') && r.sql.split(/ WHERE /i)[1]!.includes(`'${status}'`),
    )
    .map((r) => r.name);
}

describe.each(STORE_KINDS)('App Home reads (%s)', (kind: StoreKind) => {
  it('find the pending requests and live grants without walking the decided and ended ones', async () => {
    const h = await coreHarness(BASE_CONFIG, undefined, kind);
    const statements = recordStatements();
    try {
      await seedHistory(h);
      // PostgreSQL scans tables this small whatever their indexes; forbidding scans shows which
      // index it would read a large one through.
      if (kind === 'postgres') await h.sql.run('SET enable_seqscan = off');
      statements.seen.clear();
      const [awaiting, overview] = await Promise.all([
        h.core.awaitingDecisionBy('ULEAD'),
        h.core.overviewOf('ULEAD'),
      ]);
      statements.stop();
      expect(awaiting.map((a) => a.request.id)).toEqual(['req_p0', 'req_p1']);
      expect(overview.grants.map((g) => g.id)).toEqual(['gr_live']);
      expect(overview.grantsTotal).toBe(1);

      for (const read of LIVE_READS) {
        const found = [...statements.seen].find(([sql]) => read.sql.test(sql));
        expect({ read: read.what, found: found !== undefined }).toEqual({
          read: read.what,
          found: true,
        });
        const steps = await plan(h, kind, found![0], found![1]);
        const only = await partialIndexes(h, kind, read.table, read.status);
        const through = only.filter((name) => steps.some((step) => step.includes(name)));
        expect({ read: read.what, steps, through: through.length > 0 }).toEqual({
          read: read.what,
          steps,
          through: true,
        });
      }
    } finally {
      statements.stop();
      await h.close();
    }
  });
});
