import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * A short name for one sealed value, without opening it: each seal has its own nonce, so two
 * issuances of the same text have two names. Names a notification, or marks it as shown.
 */
export function sealedName(sealed: string): string {
  return createHash('sha256').update(sealed).digest('hex').slice(0, 16);
}

/**
 * Encrypts secrets that must wait in the database for a moment (credentials queued for a DM),
 * with AES-256-GCM under a key derived from a secret that only lives in the environment.
 */
export class Sealer {
  private readonly key: Buffer;

  constructor(secret: string) {
    if (!secret) throw new Error('a sealing secret is required');
    this.key = Buffer.from(hkdfSync('sha256', secret, 'hallpass', 'hallpass seal v1', 32));
  }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      'v1',
      iv.toString('base64'),
      cipher.getAuthTag().toString('base64'),
      body.toString('base64'),
    ].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined)
      throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  }
}
