import { GENESIS_HASH, hashEvent, type ChainAnchor, type ChainReport } from '../core/audit';
import type { ChainCheckpoint, Queries, Store } from '../store';
import { readCheckpoint, standingBreak } from './checkpoint';
import type { CheckpointSeal } from './checkpoint-seal';

/** An anchor and where it was recorded, so a report can say what it trusted. */
export interface RecordedAnchor extends ChainAnchor {
  /** `digest of <period start ISO>` or `--anchor`. */
  source: string;
  /** For a digest's anchor, when that digest was posted. */
  postedAt?: number;
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
export async function checkAnchor(q: Queries, anchor: RecordedAnchor): Promise<Broken | undefined> {
  const row = await q.audit.bySeq(anchor.seq);
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

/** Every head a posted digest recorded, oldest first. */
export async function digestAnchors(q: Queries): Promise<RecordedAnchor[]> {
  return (await q.digests.anchors()).map((a) => ({
    seq: a.seq,
    hash: a.hash,
    source: `digest of ${a.periodKey}`,
    ...(a.postedAt !== null ? { postedAt: a.postedAt } : {}),
  }));
}

/**
 * Where a digest's walk starts, and the anchors before it that are checked too; with the sealed
 * checkpoint, whose recorded break the walk's report must include (`withRecordedBreak`).
 */
export type WalkStart =
  | { from?: RecordedAnchor; also: RecordedAnchor[]; checkpoint?: ChainCheckpoint }
  | { forged: Broken };

/**
 * Where a digest's walk starts: after the chain watch's verified head when its seal verifies
 * under `seal` (the digest then walks only rows newer than that, and checks the latest digest's
 * head as well, even one newer than it); else after the head the latest posted digest verified
 * or, before any digest recorded one, after the last row older than the period (its own hash is
 * checked, its past is not). A checkpoint whose seal fails is reported as what it is: tampering.
 */
export async function digestWalkStart(
  q: Queries,
  periodStart: number,
  seal?: CheckpointSeal,
): Promise<WalkStart> {
  const recorded = (await digestAnchors(q)).at(-1);
  const reading = seal && (await readCheckpoint(q, seal));
  if (reading?.kind === 'forged')
    return { forged: { seq: reading.checkpoint.seq, problem: reading.problem } };
  const sealed = reading?.kind === 'trusted' ? reading : undefined;
  const checkpoint = sealed && { checkpoint: sealed.checkpoint };
  // Sealed, it wins over the latest digest's head, which anyone who can write the database
  // could record past rows nobody verified; that head is checked as well.
  if (sealed && sealed.anchor.seq > 0)
    return { from: sealed.anchor, also: recorded ? [recorded] : [], ...checkpoint };
  if (recorded) return { from: recorded, also: [], ...checkpoint };
  const before = await q.audit.lastBefore(periodStart);
  const from = before && { ...before, source: 'last row before the period' };
  return { from, also: [], ...checkpoint };
}

/**
 * Verifies the rows after `from` (all rows without it) once `from` itself, and every anchor in
 * `also`, checks out. The weekly digest starts from the chain watch's verified head or the head
 * the previous digest verified, so its cost follows what is new rather than the whole history.
 */
export async function verifySince(
  store: Store,
  from?: RecordedAnchor,
  onProgress?: (checked: number) => void,
  also: readonly RecordedAnchor[] = [],
): Promise<ChainCheck> {
  for (const anchor of from ? [...also, from] : also) {
    const broken = await checkAnchor(store, anchor);
    if (broken) return { checked: 0, intact: false, firstBroken: broken, ...(from && { from }) };
  }
  const start = from ?? { seq: 0, hash: GENESIS_HASH };
  const result = await store.verifyChain(start, onProgress);
  const report: ChainCheck = { checked: result.checked, intact: result.intact };
  if (result.firstBroken) report.firstBroken = result.firstBroken;
  if (from) report.from = from;
  if (result.intact && result.head && result.head.seq > 0) report.head = result.head;
  return report;
}

/**
 * `report` of a walk, failed with the row break the sealed `checkpoint` records when the walk
 * found none of its own: that break stands until the checkpoint is reset (see `standingBreak`).
 */
export function withRecordedBreak(report: ChainCheck, checkpoint?: ChainCheckpoint): ChainCheck {
  const standing = report.intact && checkpoint ? standingBreak(checkpoint) : undefined;
  if (!standing) return report;
  return {
    checked: report.checked,
    intact: false,
    firstBroken: standing,
    ...(report.from && { from: report.from }),
  };
}

/**
 * The whole chain from the genesis, then every anchor given (a digest's recorded head, or one
 * copied from a posted digest): those catch deleted newest rows the chain alone cannot show.
 */
export async function verifyAll(
  store: Store,
  anchors: readonly RecordedAnchor[],
  onProgress?: (checked: number) => void,
): Promise<ChainCheck> {
  const report = await verifySince(store, undefined, onProgress);
  if (!report.intact) return report;
  for (const anchor of anchors) {
    const broken = await checkAnchor(store, anchor);
    if (broken) return { checked: report.checked, intact: false, firstBroken: broken };
  }
  return report;
}
