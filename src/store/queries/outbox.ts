import type { ClaimedOutboxRow, NewOutboxRow, OutboxQueries, SentMark } from '../port';
import type { OutboxRow } from '../rows';
import type { Dialect } from '../dialect';
import { Sql, sqlOf, type BoundSql, type Param, type Runner } from '../sql';
import { OUTBOX_PENDING } from './conditions';
import type { QueryContext } from './context';

const ENQUEUE_CHUNK = 100;
const PENDING_AFTER = new Sql(
  `SELECT * FROM outbox WHERE subject = ? AND ${OUTBOX_PENDING} AND id > ? ORDER BY id LIMIT ?`,
);
// A row's outcome is written only while its lease still ends where its worker's claim (or last
// hold) put it: a worker that paused past its lease must not finish, reschedule or give up a row
// another worker has claimed since and is delivering.
const HELD = `${OUTBOX_PENDING} AND next_attempt_at = ?`;
/** Rows per statement marking rows sent: four values each, well under either database's limit. */
const SENT_CHUNK = 100;

/**
 * Marks `n` rows sent in one statement, each with its own attempts, resting payload and lease;
 * answers with the ids of the rows still held. Each statement is a round trip and, on a
 * loopback PostgreSQL, a socket write that costs the thread about as much as the work around it.
 */
function sentStatement(n: number): Sql {
  const values = Array.from(
    { length: n },
    () => '(CAST(? AS BIGINT), CAST(? AS INTEGER), ?, CAST(? AS BIGINT))',
  ).join(', ');
  return sqlOf(
    `UPDATE outbox SET status = 'sent', sent_at = ?, attempts = v.column2, last_error = NULL,
            payload = v.column3
       FROM (VALUES ${values}) AS v
      WHERE outbox.id = v.column1 AND outbox.${OUTBOX_PENDING}
        AND outbox.next_attempt_at = v.column4
     RETURNING outbox.id`,
  );
}
/** Marks each row sent while its lease holds, `SENT_CHUNK` a statement; the ids it marked. */
async function markEach(
  runner: Runner,
  marks: readonly SentMark[],
  now: number,
): Promise<Set<number>> {
  const sent = new Set<number>();
  for (let i = 0; i < marks.length; i += SENT_CHUNK) {
    const chunk = marks.slice(i, i + SENT_CHUNK);
    const params: Param[] = [now];
    for (const { row, leasedUntil, restingPayload } of chunk)
      params.push(row.id, row.attempts + 1, restingPayload, leasedUntil);
    for (const r of await runner.rows(sentStatement(chunk.length), params)) sent.add(Number(r.id));
  }
  return sent;
}
const COVERED = new Sql(
  `UPDATE outbox SET status = 'sent', sent_at = ?
    WHERE subject = ? AND topic = ? AND ${OUTBOX_PENDING} AND id > ? AND id <= ?`,
);
const EXTEND_LEASE = new Sql(`UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND ${HELD}`);
const RETRY = new Sql(
  `UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ? AND ${HELD}`,
);
// Due rows behind a head that waits are not claimable; left due, every claim would walk past
// them (48 ms a claim with 100,000 of them waiting out a Slack outage, issue #14).
const HOLD_BEHIND = new Sql(
  `UPDATE outbox SET next_attempt_at = ?
    WHERE subject = ? AND ${OUTBOX_PENDING} AND id > ? AND next_attempt_at < ?`,
);
const DEAD = new Sql(
  `UPDATE outbox SET status = 'dead', attempts = ?, last_error = ?, payload = ?
    WHERE id = ? AND ${HELD}`,
);
const COUNTS = new Sql(
  `SELECT coalesce(sum(CASE WHEN ${OUTBOX_PENDING} THEN 1 ELSE 0 END), 0) AS pending,
          coalesce(sum(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS dead
     FROM outbox WHERE status <> 'sent'`,
);

const claims = new WeakMap<Dialect, Sql>();

function claimFor(dialect: Dialect): Sql {
  let claim = claims.get(dialect);
  if (!claim) {
    // The oldest pending row of each subject, where that row is due: a subject whose oldest row
    // waits (a retry later, or another worker's lease) is skipped as a whole, so rows of a
    // subject go out strictly in order. The outer conditions are checked again on the row as it
    // is when locked, so two processes never claim the same row.
    // Picked once, in a materialized CTE: as a plain IN subquery PostgreSQL may run it again
    // for every row it updates, and the LIMIT no longer limits anything. Each row comes back
    // with its subject's last pending id, read in this statement rather than in a round trip of
    // its own per delivery (the claim does not change which rows are pending).
    claim = new Sql(
      `WITH picked AS MATERIALIZED (
          SELECT o.id FROM outbox o
           WHERE o.${OUTBOX_PENDING} AND o.next_attempt_at <= ?
             AND o.id = (SELECT min(p.id) FROM outbox p WHERE p.subject = o.subject AND p.${OUTBOX_PENDING})
           ORDER BY o.next_attempt_at, o.id LIMIT ?
           ${dialect.skipLocked})
       UPDATE outbox SET next_attempt_at = ?
        WHERE id IN (SELECT id FROM picked) AND ${OUTBOX_PENDING} AND next_attempt_at <= ?
        RETURNING *,
          (SELECT max(p.id) FROM outbox p WHERE p.subject = outbox.subject AND p.${OUTBOX_PENDING})
            AS last_pending_id`,
    );
    claims.set(dialect, claim);
  }
  return claim;
}

export class SqlOutboxQueries implements OutboxQueries {
  private readonly claim: Sql;

  constructor(private readonly q: QueryContext) {
    this.claim = claimFor(q.dialect);
  }

  async enqueue(rows: readonly NewOutboxRow[], now: number): Promise<void> {
    for (let i = 0; i < rows.length; i += ENQUEUE_CHUNK) {
      const chunk = rows.slice(i, i + ENQUEUE_CHUNK);
      const values = chunk.map(() => "(?, ?, ?, ?, 'pending', 0, ?, ?)").join(', ');
      const params: Param[] = [];
      for (const r of chunk) params.push(r.key, r.subject, r.topic, r.payload, now, now);
      await this.q.runner.write(
        sqlOf(
          `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at)
           VALUES ${values} ON CONFLICT (key) DO NOTHING`,
        ),
        params,
      );
    }
  }

  async claimHeads(now: number, leaseMs: number, limit: number): Promise<ClaimedOutboxRow[]> {
    const params = [now, limit, now + leaseMs, now];
    const { beforeClaim } = this.q.dialect;
    const rows =
      beforeClaim.length === 0
        ? await this.q.runner.rows(this.claim, params)
        : (
            await this.q.runner.rowsOfEach([
              ...beforeClaim.map((text): BoundSql => [sqlOf(text), []]),
              [this.claim, params],
            ])
          ).at(-1)!;
    return rows
      .map((raw) => ({ ...this.q.t.outbox.map(raw), lastPendingId: Number(raw.last_pending_id) }))
      .sort((a, b) => a.id - b.id);
  }

  async extendLease(id: number, from: number, until: number): Promise<boolean> {
    return (await this.q.runner.run(EXTEND_LEASE, [until, id, from])) > 0;
  }

  async pendingAfter(subject: string, afterId: number, limit: number): Promise<OutboxRow[]> {
    const rows = await this.q.runner.rows(PENDING_AFTER, [subject, afterId, limit]);
    return rows.map(this.q.t.outbox.map);
  }

  async markSent(marks: readonly SentMark[], now: number): Promise<boolean[]> {
    if (marks.length === 0) return [];
    // One statement is atomic on its own. Marks that fit one and cover no later rows need no
    // transaction, whose BEGIN and COMMIT would cost PostgreSQL's pool a round trip more.
    if (marks.length <= SENT_CHUNK && marks.every((m) => m.coveredUpTo <= m.row.id)) {
      const sent = await markEach(this.q.runner, marks, now);
      return marks.map(({ row }) => sent.has(row.id));
    }
    return this.q.atomically(async (runner) => {
      const sent = await markEach(runner, marks, now);
      for (const { row, coveredUpTo } of marks) {
        // The rows a lost row's render covered are left to the worker that holds it now, whose
        // own render covers them.
        if (sent.has(row.id) && coveredUpTo > row.id)
          await runner.write(COVERED, [now, row.subject, row.topic, row.id, coveredUpTo]);
      }
      return marks.map(({ row }) => sent.has(row.id));
    });
  }

  async markRetry(
    row: OutboxRow,
    leasedUntil: number,
    attempts: number,
    nextAttemptAt: number,
    error: string,
  ): Promise<boolean> {
    return this.q.atomically(async (runner) => {
      const params = [attempts, nextAttemptAt, error, row.id, leasedUntil];
      if ((await runner.run(RETRY, params)) === 0) return false;
      await runner.run(HOLD_BEHIND, [nextAttemptAt, row.subject, row.id, nextAttemptAt]);
      return true;
    });
  }

  async markDead(
    id: number,
    leasedUntil: number,
    attempts: number,
    error: string,
    restingPayload: string,
  ): Promise<boolean> {
    const params = [attempts, error, restingPayload, id, leasedUntil];
    return (await this.q.runner.run(DEAD, params)) > 0;
  }

  async counts(): Promise<{ pending: number; dead: number }> {
    const [row] = await this.q.runner.rows(COUNTS);
    return { pending: Number(row?.pending ?? 0), dead: Number(row?.dead ?? 0) };
  }
}
