import {
  createHash,
  createPublicKey,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';

/** A compact JWS taken apart, its signature checked. */
export interface VerifiedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

function decodePart(part: string | undefined, what: string): Record<string, unknown> {
  if (!part) throw new Error(`the JWT has no ${what}`);
  const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (value === null || typeof value !== 'object')
    throw new Error(`the JWT ${what} is not an object`);
  return value as Record<string, unknown>;
}

/** The header without checking anything, to pick the key (`kid`, an embedded `jwk`). */
export function jwtHeader(token: string): Record<string, unknown> {
  return decodePart(token.split('.')[0], 'header');
}

/**
 * Checks an RS256 signature the way a token endpoint does, with node:crypto only, and the time
 * claims: `exp` in the future (unless the token kind has none, like a DPoP proof), `iat` not
 * ahead of now by more than a minute of clock skew.
 */
export function verifyRs256(
  token: string,
  key: KeyObject,
  options: { requireExp?: boolean } = {},
): VerifiedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new Error('not a compact JWS');
  const [head, body, signature] = parts as [string, string, string];
  const header = decodePart(head, 'header');
  if (header.alg !== 'RS256') throw new Error(`alg ${String(header.alg)} is not RS256`);
  const signed = Buffer.from(`${head}.${body}`);
  if (!verify('sha256', signed, key, Buffer.from(signature, 'base64url'))) {
    throw new Error('bad signature');
  }
  const payload = decodePart(body, 'payload');
  const now = Date.now() / 1000;
  if (options.requireExp !== false && !(typeof payload.exp === 'number' && payload.exp > now)) {
    throw new Error('expired or no exp');
  }
  if (typeof payload.iat === 'number' && payload.iat > now + 60) {
    throw new Error('issued in the future');
  }
  return { header, payload };
}

/** Signs claims as RS256, for tokens the code under test only passes on (a workload's OIDC token). */
export function signRs256(
  payload: Record<string, unknown>,
  privateKey: KeyObject,
  header: Record<string, unknown> = {},
): string {
  const head = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', ...header })).toString(
    'base64url',
  );
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${head}.${body}`), privateKey).toString(
    'base64url',
  );
  return `${head}.${body}.${signature}`;
}

/** RFC 7638 thumbprint of an RSA public JWK, what DPoP binds a token to (`cnf.jkt`). */
export function rsaThumbprint(jwk: Record<string, unknown>): string {
  const canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** A public key from a JWK embedded in a JWS header (DPoP proofs carry theirs). */
export function keyOfJwk(jwk: Record<string, unknown>): KeyObject {
  if (jwk.kty !== 'RSA' || 'd' in jwk) throw new Error('the embedded key is not a public RSA key');
  return createPublicKey({ key: jwk as unknown as JsonWebKey, format: 'jwk' });
}
