import type { ChainAnchor, ChainBreak } from '../chain/walk';
import { GENESIS_HASH } from '../core/audit';
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
export type RecordedBreak = ChainBreak & { kind: BreakKind };

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

/**
 * The break the sealed `checkpoint` recorded that a walk from it, finding every row up to the
 * newest (`head`) intact, has not cleared. A row break clears once a walk verifies past its row
 * (put right from a backup, say); a chain that now ends before that row had it deleted with the
 * rows after it, the evidence with them, and that is a break of its own. Once recorded that one
 * does not clear: rows appended since take the deleted rows' numbers but cannot stand in for them.
 */
export function breakStanding(
  checkpoint: ChainCheckpoint,
  head: ChainAnchor,
): RecordedBreak | undefined {
  const { broken } = checkpoint;
  if (broken?.kind === 'erased') return { ...broken, kind: 'erased' };
  if (!broken || !isRowBreak(checkpoint) || head.seq >= broken.seq) return undefined;
  const problem = erasedProblem(checkpoint.seq, broken.seq, broken.problem);
  return { seq: broken.seq, problem, kind: 'erased' };
}
