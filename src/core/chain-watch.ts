import { checkAnchor } from '../audit/chain';
import {
  breakStanding,
  GENESIS_ANCHOR,
  readCheckpoint,
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
 * below `notBelow`, gone after it, or its row rewritten or gone; or the erased break it records,
 * which rows appended since cannot clear.
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
  if (checkpoint.broken?.kind === 'erased') return breakStanding(checkpoint, anchor);
  if (checkpoint.seq < notBelow)
    return { seq: checkpoint.seq, problem: movedBack(notBelow, checkpoint.seq), kind };
  const broken = checkpoint.seq > 0 ? await checkAnchor(store, anchor) : undefined;
  return broken && { ...broken, kind };
}

/**
 * Verifies up to `maxRows` audit rows after the sealed checkpoint and moves the checkpoint to
 * the last of them. A break (a row that does not match, a checkpoint row rewritten or gone, a
 * checkpoint whose seal fails, that went back below `notBelow` or is gone after it, a recorded
 * row break deleted with the rows after it) is recorded in the checkpoint, audited and alerted to
 * the admins and the digest channel with the row, once per break; the checkpoint does not move
 * past it. A forged checkpoint is replaced by one at the genesis, so the walk starts over and
 * finds whatever the forgery was meant to hide.
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
  // Only a walk that reached the newest row knows the chain now ends before a recorded break.
  if (!broken && caughtUp && reading.kind === 'trusted')
    broken = breakStanding(reading.checkpoint, head);
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
