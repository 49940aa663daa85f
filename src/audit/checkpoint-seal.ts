import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { ChainCheckpoint } from '../store';

export type CheckpointFields = Omit<ChainCheckpoint, 'seal'>;

/**
 * Signs the chain checkpoint with HMAC-SHA256 under a key derived from a secret that lives only
 * in the environment (as the Sealer's is). Someone who can write the database but not read the
 * bot's environment cannot move the checkpoint past rows they rewrote: a checkpoint whose seal
 * does not verify is not trusted, and is itself reported as tampering.
 */
export class CheckpointSeal {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (!secret) throw new Error('a secret is required to seal the audit checkpoint');
    this.key = Buffer.from(hkdfSync('sha256', secret, 'hallpass', 'hallpass checkpoint v1', 32));
  }

  sign(fields: CheckpointFields): string {
    const text = JSON.stringify([
      fields.seq,
      fields.hash,
      fields.verifiedAt,
      fields.broken?.seq ?? null,
      fields.broken?.problem ?? null,
    ]);
    return `v1.${createHmac('sha256', this.key).update(text).digest('base64url')}`;
  }

  sealed(fields: CheckpointFields): ChainCheckpoint {
    return { ...fields, seal: this.sign(fields) };
  }

  verifies(checkpoint: ChainCheckpoint): boolean {
    const expected = Buffer.from(this.sign(checkpoint));
    const given = Buffer.from(checkpoint.seal);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
