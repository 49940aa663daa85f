import {
  checkAnchor,
  digestAnchors,
  verifyAll,
  type ChainCheck,
  type RecordedAnchor,
} from '../audit/chain';
import {
  GENESIS_ANCHOR,
  readCheckpoint,
  standingBreak,
  type CheckpointReading,
  type RecordedBreak,
} from '../audit/checkpoint';
import type { CheckpointFields, CheckpointSeal } from '../audit/checkpoint-seal';
import type { ChainAnchor as ChainStart, ChainBreak } from '../chain/walk';
import type { AuditRow } from '../store/rows';
import { change, type CoreContext } from './context';

/** One step of the chain watch: how far it got and what it found. */
export interface ChainStep {
  /** Rows verified by this step. */
  checked: number;
  /** The verified head after the step. */
  head: ChainStart;
  /** Whether the step reached the newest row (no more steps needed for now). */
  caughtUp: boolean;
  /** The break found, alerted now or before. */
  broken?: ChainBreak;
  /** Whether this step queued the alert (a break already alerted is not alerted again). */
  alerted: boolean;
}

/** A row, as an alert shows it: what it claims, not its details (which may be forged text). */
export interface BrokenRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  requestId: string | null;
  grantId: string | null;
  prevHash: string;
  hash: string;
}

const rowOf = (row: AuditRow): BrokenRow => ({
  seq: row.seq,
  at: row.at,
  actor: row.actor,
  action: row.action,
  requestId: row.requestId,
  grantId: row.grantId,
  prevHash: row.prevHash,
  hash: row.hash,
});

const movedBack = (from: number, to: number) =>
  `the verified-head checkpoint moved back from row ${from} to row ${to} (restored from an older copy, or replayed to hide a rewrite)`;

const gone = (from: number) =>
  `the verified-head checkpoint is gone, after row ${from} was verified (deleted, or the database restored from an older copy)`;

/**
 * What is wrong with the checkpoint itself, before any row after it is walked: forged, moved back
 * below `notBelow`, gone after it, or its row rewritten or gone; or the row break it records,
 * which stands until the checkpoint is reset (see `standingBreak`).
 */
async function checkpointBreak(
  store: CoreContext['store'],
  reading: CheckpointReading,
  notBelow: number,
): Promise<RecordedBreak | undefined> {
  const kind = 'checkpoint';
  if (reading.kind === 'forged')
    return { seq: reading.checkpoint.seq, problem: reading.problem, kind };
  if (reading.kind === 'none')
    return notBelow > 0 ? { seq: 0, problem: gone(notBelow), kind } : undefined;
  const { checkpoint, anchor } = reading;
  // Before the standing break: an older sealed checkpoint replayed may record an old break of
  // its own, which would read as already alerted and hide the replay.
  if (checkpoint.seq < notBelow)
    return { seq: checkpoint.seq, problem: movedBack(notBelow, checkpoint.seq), kind };
  // Before the anchor: a checkpoint break found now would take the row break's place in the
  // checkpoint, and clear once that row was put back.
  const standing = standingBreak(checkpoint);
  if (standing) return { ...standing, kind: 'row' };
  const broken = checkpoint.seq > 0 ? await checkAnchor(store, anchor) : undefined;
  return broken && { ...broken, kind };
}

/**
 * Verifies up to `maxRows` audit rows after the sealed checkpoint and moves the checkpoint to
 * the last of them. A break (a row that does not match, a checkpoint row rewritten or gone, a
 * checkpoint whose seal fails, that went back below `notBelow` or is gone after it) is recorded
 * in the checkpoint, audited and alerted to the admins and the digest channel with the row, once
 * per break; the checkpoint does not move past it. A row break recorded is reported by every
 * step, without a walk, until the checkpoint is reset. A forged checkpoint is replaced by one at
 * the genesis, so the walk starts over and finds whatever the forgery was meant to hide.
 */
export async function verifyChainStep(
  ctx: CoreContext,
  seal: CheckpointSeal,
  maxRows: number,
  notBelow = 0,
): Promise<ChainStep> {
  const { store } = ctx;
  const reading = await readCheckpoint(store, seal);
  // Only a sealed checkpoint says which break was alerted: a forged one could claim its own was.
  const recorded = reading.kind === 'trusted' ? reading.checkpoint.broken : null;
  const from: ChainStart = reading.kind === 'trusted' ? reading.anchor : GENESIS_ANCHOR;
  let broken = await checkpointBreak(store, reading, notBelow);
  let checked = 0;
  let head = from;
  let caughtUp = true;
  if (!broken) {
    const result = await store.verifyChain(from, undefined, { maxRows });
    checked = result.checked;
    if (result.intact && result.head) {
      head = result.head;
      caughtUp = head.seq < from.seq + maxRows;
    } else if (result.firstBroken) broken = { ...result.firstBroken, kind: 'row' };
  }
  if (!broken) {
    if (reading.kind === 'none' || head.seq !== from.seq || recorded) {
      await store.checkpoint.put(
        seal.sealed({ ...head, verifiedAt: ctx.clock.now(), broken: null }),
      );
    }
    return { checked, head, caughtUp, alerted: false };
  }
  const found = { seq: broken.seq, problem: broken.problem };
  const known = recorded?.seq === found.seq && recorded.problem === found.problem;
  if (known) return { checked, head, caughtUp: true, broken: found, alerted: false };
  // A forged checkpoint is not kept: the next step walks from the genesis.
  const keep = reading.kind === 'forged' ? GENESIS_ANCHOR : from;
  await alertBreak(ctx, seal.sealed({ ...keep, verifiedAt: ctx.clock.now(), broken }), found);
  return { checked, head: keep, caughtUp: true, broken: found, alerted: true };
}

/** A reset: the full walk it was made after, and the head it recorded when that was intact. */
export interface CheckpointReset {
  report: ChainCheck;
  /** The new verified head; none when the walk found a break and nothing was written. */
  head?: ChainStart;
}

/** What a reset checks besides the whole chain, and where it reports its progress. */
export interface ResetOptions {
  /** Heads copied from posted digests (`--anchor`), checked with those the digests recorded. */
  anchors?: readonly RecordedAnchor[];
  onProgress?: (checked: number) => void;
}

/**
 * Replaces the checkpoint, and the row break it may hold, with a sealed one at the newest row and
 * no break, once a full walk from the genesis and every digest anchor and `anchors` given find
 * the chain intact: how an admin who has investigated a standing break lets the watch go on.
 * Audited as `actor`, with the checkpoint it replaced.
 */
export async function resetCheckpoint(
  ctx: CoreContext,
  seal: CheckpointSeal,
  actor: string,
  options: ResetOptions = {},
): Promise<CheckpointReset> {
  const { store } = ctx;
  const anchors = [...(await digestAnchors(store)), ...(options.anchors ?? [])];
  const report = await verifyAll(store, anchors, options.onProgress);
  if (!report.intact) return { report };
  const head = report.head ?? GENESIS_ANCHOR;
  await change(ctx, async (c) => {
    const before = await c.tx.checkpoint.get();
    await c.tx.checkpoint.put(seal.sealed({ ...head, verifiedAt: c.now, broken: null }));
    c.audit({
      actor,
      action: 'audit.checkpoint_reset',
      details: {
        seq: head.seq,
        replaced: before ? { seq: before.seq, broken: before.broken } : null,
      },
    });
  });
  return { report, head };
}

/** Records the break in the checkpoint, audits it and alerts the admins and the digest channel. */
async function alertBreak(
  ctx: CoreContext,
  checkpoint: CheckpointFields & { seal: string },
  broken: ChainBreak,
): Promise<void> {
  const row = await ctx.store.audit.bySeq(broken.seq);
  const { config } = ctx;
  await change(ctx, async (c) => {
    await c.tx.checkpoint.put(checkpoint);
    c.audit({
      actor: 'hallpass',
      action: 'audit.chain_broken',
      details: { seq: broken.seq, problem: broken.problem, verifiedHead: checkpoint.seq },
    });
    c.notify(`chain_broken:${broken.seq}:${c.now}`, {
      topic: 'chain_broken',
      channel: config.digest?.channel ?? config.requests.approverChannel,
      admins: config.admins,
      seq: broken.seq,
      problem: broken.problem,
      verifiedHead: checkpoint.seq,
      ...(row ? { row: rowOf(row) } : {}),
    });
  });
}
