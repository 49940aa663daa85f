import type { ChainBreak } from '../chain/walk';
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

/** A break as the checkpoint records it: what broke decides whether it stands (see `BreakKind`). */
export type RecordedBreak = ChainBreak & { kind: BreakKind };

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
 * The row break the sealed `checkpoint` records, which stands until an admin resets the
 * checkpoint (`hallpass audit reset-checkpoint`) whatever later walks find. No walk can tell a
 * row put right from a backup from a tail rewritten, or deleted and written again, to look so:
 * every row after the verified head is the attacker's to write, its hashes and links included.
 */
export function standingBreak(checkpoint: ChainCheckpoint): ChainBreak | undefined {
  const { broken } = checkpoint;
  if (!broken || !isRowBreak(checkpoint)) return undefined;
  return { seq: broken.seq, problem: broken.problem };
}
