import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { ChainCheckpoint } from '../store';

export type CheckpointFields = Omit<ChainCheckpoint, 'seal'>;

/**
 * How a stored seal reads under this process's key: it verifies; it names this key but does not
 * match (the checkpoint was written by someone without the key); or it names another key (the
 * secret was rotated, or someone wrote it). Seals of v1 named no key: a mismatch is `changed`.
 */
export type SealCheck = 'verified' | 'changed' | 'other_key';

/**
 * Signs the chain checkpoint with HMAC-SHA256 under a key derived from a secret that lives only
 * in the environment (as the Sealer's is). Someone who can write the database but not read the
 * bot's environment cannot move the checkpoint past rows they rewrote: a checkpoint whose seal
 * does not verify is not trusted, and is itself reported as tampering. The seal names its key
 * (a MAC of a fixed text, which tells nothing of the key), so that a rotated secret is told
 * apart from an edit in the report.
 */
export class CheckpointSeal {
  private readonly key: Buffer;
  private readonly keyId: string;

  constructor(secret: string) {
    if (!secret) throw new Error('a secret is required to seal the audit checkpoint');
    this.key = Buffer.from(hkdfSync('sha256', secret, 'hallpass', 'hallpass checkpoint v1', 32));
    this.keyId = this.mac('hallpass checkpoint key id').slice(0, 8);
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }

  /** A break's kind is covered only when there is one, so seals made before kinds still verify. */
  private macOf(fields: CheckpointFields): string {
    const kind = fields.broken?.kind;
    return this.mac(
      JSON.stringify([
        fields.seq,
        fields.hash,
        fields.verifiedAt,
        fields.broken?.seq ?? null,
        fields.broken?.problem ?? null,
        ...(kind === undefined ? [] : [kind]),
      ]),
    );
  }

  sign(fields: CheckpointFields): string {
    return `v2.${this.keyId}.${this.macOf(fields)}`;
  }

  sealed(fields: CheckpointFields): ChainCheckpoint {
    return { ...fields, seal: this.sign(fields) };
  }

  check(checkpoint: ChainCheckpoint): SealCheck {
    const [version, keyId] = checkpoint.seal.split('.');
    const expected = version === 'v1' ? `v1.${this.macOf(checkpoint)}` : this.sign(checkpoint);
    const given = Buffer.from(checkpoint.seal);
    const wanted = Buffer.from(expected);
    if (given.length === wanted.length && timingSafeEqual(given, wanted)) return 'verified';
    return version === 'v2' && keyId !== this.keyId ? 'other_key' : 'changed';
  }
}
