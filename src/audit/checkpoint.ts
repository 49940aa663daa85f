import type { ChainAnchor, ChainBreak } from '../chain/walk';
import { GENESIS_HASH, hashEvent } from '../core/audit';
import type { BreakKind, ChainCheckpoint, Queries } from '../store';
import type { RecordedAnchor } from './chain';
import type { CheckpointSeal } from './checkpoint-seal';

/** What the stored checkpoint is worth: nothing recorded yet, a sealed head, or a forgery. */
export type CheckpointReading =
  | { kind: 'none' }
  | { kind: 'trusted'; checkpoint: ChainCheckpoint; anchor: RecordedAnchor }
  | { kind: 'forged'; checkpoint: ChainCheckpoint; problem: string };

export const GENESIS_ANCHOR = { seq: 0, hash: GENESIS_HASH };

export const forgedProblem = (seq: number) =>
  `the verified-head checkpoint (row ${seq}) was changed outside Hallpass: its seal does not match`;

/** Loud as a forgery, since it may be one; the likelier cause on a known rotation is named. */
export const otherKeyProblem = (seq: number) =>
  `the verified-head checkpoint (row ${seq}) is sealed under another key: the secret it is sealed with (HALLPASS_SECRET_KEY, else SLACK_SIGNING_SECRET or SLACK_APP_TOKEN) changed, or it was written outside Hallpass; a plain audit verify checks every row`;

/**
 * The stored checkpoint, trusted only when its seal verifies under `seal`'s key. A checkpoint
 * someone wrote into the database to skip rows they rewrote does not verify, and says so.
 */
export async function readCheckpoint(q: Queries, seal: CheckpointSeal): Promise<CheckpointReading> {
  const checkpoint = await q.checkpoint.get();
  if (!checkpoint) return { kind: 'none' };
  const check = seal.check(checkpoint);
  if (check !== 'verified') {
    const problem = check === 'other_key' ? otherKeyProblem : forgedProblem;
    return { kind: 'forged', checkpoint, problem: problem(checkpoint.seq) };
  }
  const verifiedAt = new Date(checkpoint.verifiedAt).toISOString();
  return {
    kind: 'trusted',
    checkpoint,
    anchor: {
      seq: checkpoint.seq,
      hash: checkpoint.hash,
      source: `verified head of ${verifiedAt}`,
    },
  };
}

/** A break as the checkpoint records it: what broke decides how it clears (see `BreakKind`). */
export type RecordedBreak = ChainBreak & { kind: BreakKind; expectedHash?: string };

/** Names both rows: the verified head the deletion went back to, and the break it erased. */
export const erasedProblem = (verified: number, seq: number, problem: string) =>
  `rows after row ${verified} were deleted after row ${seq} was found broken (${problem})`;

/**
 * Whether `checkpoint` records a break of a row. One sealed before kinds were recorded is judged
 * by where its break lies: a walk's break lies after the checkpoint's row, and every problem of
 * the checkpoint itself names that row, except a forgery, whose replacement at row 0 records the
 * row the forgery claimed; so only past row 0.
 */
function isRowBreak({ seq, broken }: ChainCheckpoint): boolean {
  if (broken?.kind !== undefined) return broken.kind === 'row';
  return seq > 0 && broken !== null && broken.seq > seq;
}

/** Names both rows, as `erasedProblem` does: the rows now there after the head are not the ones. */
export const replacedProblem = (verified: number, seq: number, problem: string) =>
  `row ${seq} was replaced, not put right: rows after row ${verified} were rewritten after it was found broken (${problem})`;

/**
 * The hash row `seq`, found broken, must have once put right: the hash the chain expects there.
 * That is the `prev_hash` of the row after it when that row's own hash covers it (a row rewritten
 * with a made-up link does not count), else the broken row's stored hash. A true restore from a
 * backup brings back the original row, whose hash the next row committed to, whichever way the row
 * broke: an edit of its content alone leaves its stored hash as it was, but an edit that also
 * changed the stored hash (or its `prev_hash`) does not, and only the next row still holds the
 * original; a missing row or a rewritten row before it leaves this row as it was. The stored hash
 * is the fallback for the newest row, which nothing links to yet. A row below 1 is outside the
 * chain and is put right by deleting it: it has none.
 */
export async function expectedHash(q: Queries, seq: number): Promise<string | undefined> {
  if (seq < 1) return undefined;
  const next = await q.audit.bySeq(seq + 1);
  if (next && hashEvent(next.prevHash, next) === next.hash) return next.prevHash;
  return (await q.audit.bySeq(seq))?.hash;
}

/**
 * Whether row `broken.seq`, passed by a walk that found it intact, is the row put right: it has the
 * hash recorded when it was found broken. A walk alone cannot tell: rows after the verified head
 * deleted and written again (by the bot itself, say) chain validly from the head, the broken row's
 * number among them. A break recorded before the hash was has nothing to compare: it clears.
 */
async function putRight(
  q: Queries,
  broken: { seq: number; expectedHash?: string },
): Promise<boolean> {
  if (broken.expectedHash === undefined) return true;
  return (await q.audit.bySeq(broken.seq))?.hash === broken.expectedHash;
}

/**
 * The break the sealed `checkpoint` recorded that a walk from it, finding every row up to `head`
 * intact, has not cleared; `caughtUp` when `head` is the newest row. A row break clears once a walk
 * verifies past its row put right (from a backup, say). Passed with another hash, the row was
 * replaced with every row after the verified head; a chain that now ends before the row had it
 * deleted with the rows after it. Either way the evidence went, and that is a break of its own,
 * which once recorded does not clear: rows appended since take the deleted rows' numbers but cannot
 * stand in for them. A walk that stopped short of the row, not at the newest, cannot tell yet.
 */
export async function breakStanding(
  q: Queries,
  checkpoint: ChainCheckpoint,
  head: ChainAnchor,
  caughtUp = true,
): Promise<RecordedBreak | undefined> {
  const { broken } = checkpoint;
  if (broken?.kind === 'erased') return { ...broken, kind: 'erased' };
  if (!broken || !isRowBreak(checkpoint)) return undefined;
  const passed = head.seq >= broken.seq;
  if (passed ? await putRight(q, broken) : !caughtUp) return undefined;
  const problemOf = passed ? replacedProblem : erasedProblem;
  const problem = problemOf(checkpoint.seq, broken.seq, broken.problem);
  return { seq: broken.seq, problem, kind: 'erased' };
}
