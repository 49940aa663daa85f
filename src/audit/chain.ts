import { desc, isNotNull } from 'drizzle-orm';
import {
  hashEvent,
  verifyChain,
  type AuditRow,
  type ChainAnchor,
  type ChainReport,
} from '../core/audit';
import type { Db } from '../store/db';
import { digests } from '../store/schema';

/** An anchor and where it was recorded, so a report can say what it trusted. */
export interface RecordedAnchor extends ChainAnchor {
  /** `digest of <period start ISO>` or `--anchor`. */
  source: string;
}

export interface ChainCheck extends ChainReport {
  /** The anchor the walk started after, when it did not start at the genesis. */
  from?: RecordedAnchor;
  /** The newest row when the chain is intact: what the next check may start from. */
  head?: ChainAnchor;
}

type Broken = NonNullable<ChainReport['firstBroken']>;

/**
 * Whether row `anchor.seq` is still there, unedited, with the hash recorded for it. A rewrite of
 * the history up to that row, or a truncation below it, is caught here even when every
 * remaining row links up.
 */
export function checkAnchor(db: Db, anchor: RecordedAnchor): Broken | undefined {
  const row = db.$client
    .prepare(
      `SELECT seq, at, actor, action, request_id AS requestId, grant_id AS grantId, details,
              prev_hash AS prevHash, hash
         FROM audit_events WHERE seq = ?`,
    )
    .get(anchor.seq) as AuditRow | undefined;
  if (!row) {
    return {
      seq: anchor.seq,
      problem: `row ${anchor.seq} is gone, though the ${anchor.source} saw it (rows were deleted)`,
    };
  }
  if (row.hash !== anchor.hash) {
    return {
      seq: anchor.seq,
      problem: `row ${anchor.seq} no longer has the hash the ${anchor.source} recorded (the history up to it was rewritten)`,
    };
  }
  if (hashEvent(row.prevHash, row) !== row.hash) {
    return { seq: anchor.seq, problem: 'content does not match its hash (the row was edited)' };
  }
  return undefined;
}

/** The head the latest posted digest verified, if any digest recorded one. */
export function latestDigestAnchor(db: Db): RecordedAnchor | undefined {
  const row = db
    .select({ seq: digests.chainSeq, hash: digests.chainHash, key: digests.periodKey })
    .from(digests)
    .where(isNotNull(digests.chainSeq))
    .orderBy(desc(digests.chainSeq))
    .limit(1)
    .get();
  return row?.seq != null && row.hash
    ? { seq: row.seq, hash: row.hash, source: `digest of ${row.key}` }
    : undefined;
}

/**
 * Where a digest's walk starts: after the head the latest posted digest verified or, before any
 * digest recorded one, after the last row older than the period (its own hash is checked, its
 * past is not).
 */
export function digestWalkStart(db: Db, periodStart: number): RecordedAnchor | undefined {
  const recorded = latestDigestAnchor(db);
  if (recorded) return recorded;
  const before = db.$client
    .prepare('SELECT seq, hash FROM audit_events WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1')
    .get(periodStart) as ChainAnchor | undefined;
  return before && { ...before, source: 'last row before the period' };
}

/** Every head a posted digest recorded, oldest first. */
export function digestAnchors(db: Db): RecordedAnchor[] {
  return db
    .select({ seq: digests.chainSeq, hash: digests.chainHash, key: digests.periodKey })
    .from(digests)
    .where(isNotNull(digests.chainSeq))
    .orderBy(digests.chainSeq)
    .all()
    .flatMap((r) =>
      r.seq != null && r.hash ? [{ seq: r.seq, hash: r.hash, source: `digest of ${r.key}` }] : [],
    );
}

/** One read transaction, so the head reported is the last row the walk saw, whatever the bot appends meanwhile. */
function snapshot<T>(db: Db, fn: () => T): T {
  return db.$client.transaction(fn).deferred();
}

function headOf(db: Db): ChainAnchor | undefined {
  return db.$client
    .prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')
    .get() as ChainAnchor | undefined;
}

/**
 * Verifies the rows after `from` (all rows without it) once `from` itself checks out. The
 * weekly digest starts from the head the previous digest verified, so its cost follows the
 * week's events rather than the whole history.
 */
export function verifySince(
  db: Db,
  from?: RecordedAnchor,
  onProgress?: (checked: number) => void,
): ChainCheck {
  return snapshot(db, () => {
    if (from) {
      const broken = checkAnchor(db, from);
      if (broken) return { checked: 0, intact: false, firstBroken: broken, from };
    }
    const report = verifyChain(db, onProgress, from);
    const base: ChainCheck = from ? { ...report, from } : report;
    return report.intact ? { ...base, head: headOf(db) ?? from } : base;
  });
}

/**
 * The whole chain from the genesis, then every anchor given (a digest's recorded head, or one
 * copied from a posted digest): those catch deleted newest rows the chain alone cannot show.
 */
export function verifyAll(
  db: Db,
  anchors: readonly RecordedAnchor[],
  onProgress?: (checked: number) => void,
): ChainCheck {
  return snapshot(db, () => {
    const report = verifyChain(db, onProgress);
    if (!report.intact) return report;
    for (const anchor of anchors) {
      const broken = checkAnchor(db, anchor);
      if (broken) return { ...report, intact: false, firstBroken: broken };
    }
    return { ...report, head: headOf(db) };
  });
}
