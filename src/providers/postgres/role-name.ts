import { createHash, randomInt } from 'node:crypto';

/** PostgreSQL truncates identifiers longer than this, which would make two names one. */
const MAX_IDENTIFIER = 63;
const PASSWORD_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The login role of one grant, derived from the user and grant ids alone so that a retry finds
 * the role an earlier attempt created. Slack ids (`U0ABC`) and grant ids (`gr_x7k…`) map to
 * `hallpass_u0abc_gr_x7k…` as they are; anything else, or a name too long, gets a hash of both
 * ids so that two grants never share a role.
 */
export function grantRoleName(userId: string, grantId: string): string {
  const plain = `hallpass_${userId.toLowerCase()}_${grantId.toLowerCase()}`;
  const unambiguous = /^[A-Z0-9]+$/.test(userId) && /^[a-z0-9_]+$/.test(grantId);
  if (unambiguous && plain.length <= MAX_IDENTIFIER) return plain;
  const digest = createHash('sha256').update(`${userId}\0${grantId}`).digest('hex').slice(0, 16);
  const readable = plain.replace(/[^a-z0-9_]/g, '_').slice(0, MAX_IDENTIFIER - digest.length - 1);
  return `${readable}_${digest}`;
}

/** 32 characters from 62: about 190 bits, and safe to paste into a shell or a connection string. */
export function newPassword(length = 32): string {
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}
