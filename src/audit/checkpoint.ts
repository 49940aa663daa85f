import { GENESIS_HASH } from '../core/audit';
import type { ChainCheckpoint, Queries } from '../store';
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

/**
 * The stored checkpoint, trusted only when its seal verifies under `seal`'s key. A checkpoint
 * someone wrote into the database to skip rows they rewrote does not verify, and says so.
 */
export async function readCheckpoint(q: Queries, seal: CheckpointSeal): Promise<CheckpointReading> {
  const checkpoint = await q.checkpoint.get();
  if (!checkpoint) return { kind: 'none' };
  if (!seal.verifies(checkpoint))
    return { kind: 'forged', checkpoint, problem: forgedProblem(checkpoint.seq) };
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
