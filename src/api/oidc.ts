import type { JWTVerifyGetKey } from 'jose';
import type { OidcIssuer } from '../config/api';
import { oidcIdentity, type PipelineCaller } from '../core';
import { jose } from './jose';
import { ApiProblem } from './problem';

/** Asymmetric algorithms only: an HMAC would need a shared secret, and `none` is no signature. */
const ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
];
/** How long a fetch of an issuer's discovery document or keys may take. */
const FETCH_TIMEOUT_MS = 5_000;
/**
 * How long a failed discovery is remembered: a token bearing a trusted `iss` needs no other
 * credential, so while the issuer is down, each caller must not make Hallpass fetch again.
 */
const DISCOVERY_RETRY_MS = 5_000;

const unauthorized = (detail: string) => new ApiProblem(401, 'invalid_token', detail);

/** A token whose `iat` or `nbf` (seconds) lies further ahead than the clock skew allows. */
const fromTheFuture = (says: string, seconds: number) =>
  unauthorized(
    `The ID token ${says} ${new Date(seconds * 1000).toISOString()}, later than now; check the clocks of the CI and Hallpass (api.oidc clockSkew allows some difference).`,
  );

/** A claim's value as policy matches it: strings as they are, numbers and booleans as text. */
function claimText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * Verifies OpenID Connect ID tokens from CI systems (GitHub Actions, GitLab) against each
 * configured issuer's published keys: signature, issuer, audience, expiry (with the issuer's
 * allowed clock skew). The verified claims name the pipeline and are what policy matches.
 */
export class OidcVerifier {
  private readonly byIssuer: Map<string, OidcIssuer>;
  private readonly keys = new Map<string, { keys: Promise<JWTVerifyGetKey>; failedAt?: number }>();

  constructor(issuers: readonly OidcIssuer[]) {
    this.byIssuer = new Map(issuers.map((i) => [i.issuer, i]));
  }

  async verify(token: string): Promise<PipelineCaller> {
    const { decodeJwt, decodeProtectedHeader, jwtVerify, errors } = jose();
    let iss: unknown;
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      throw unauthorized('The bearer token is neither a Hallpass API token nor a JWT.');
    }
    if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) {
      throw unauthorized(
        `The ID token is signed with ${JSON.stringify(alg)}; Hallpass accepts only ${ALGORITHMS.join(', ')}.`,
      );
    }
    const issuer = typeof iss === 'string' ? this.byIssuer.get(iss) : undefined;
    if (!issuer) {
      throw unauthorized(
        `The ID token's issuer ${JSON.stringify(iss)} is not one Hallpass trusts (api.oidc in hallpass.yml).`,
      );
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await this.keysOf(issuer), {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: ALGORITHMS,
        clockTolerance: Math.round(issuer.clockSkew / 1000),
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof ApiProblem) throw err;
      throw this.explain(err, issuer, errors);
    }
    // jose accepts an `aud` list that names Hallpass among others; each service it names may
    // send it on, so a token for others too would let any of them act as the pipeline here.
    const { aud } = payload;
    if (Array.isArray(aud) && (aud.length !== 1 || aud[0] !== issuer.audience))
      throw unauthorized(
        `The ID token is also for ${aud.filter((a) => a !== issuer.audience).length} other audience(s); Hallpass accepts a token for "${issuer.audience}" alone (ask your CI for a token with only that audience).`,
      );
    // jose checks `iat` only against a maximum age; a token from the future is as wrong as one
    // not valid yet (`nbf`), and is held to the same skew.
    if (typeof payload.iat === 'number' && payload.iat * 1000 > Date.now() + issuer.clockSkew)
      throw fromTheFuture('was issued at', payload.iat);
    const claims: Record<string, string> = {};
    for (const [name, value] of Object.entries(payload)) {
      const text = claimText(value);
      if (text !== undefined) claims[name] = text;
    }
    const value = claims[issuer.identityClaim];
    if (!value) {
      throw unauthorized(
        `The ID token has no "${issuer.identityClaim}" claim to name the pipeline by (api.oidc.${issuer.name}.identityClaim).`,
      );
    }
    return { via: 'oidc', id: oidcIdentity(issuer.name, value), issuer: issuer.name, claims };
  }

  /**
   * The issuer's keys: from `jwksUrl`, or where its discovery document says (found once). jose
   * caches them up to 10 minutes and refetches at most every 30 s for an unknown key id.
   */
  private keysOf(issuer: OidcIssuer): Promise<JWTVerifyGetKey> {
    const known = this.keys.get(issuer.name);
    if (known && (known.failedAt === undefined || Date.now() - known.failedAt < DISCOVERY_RETRY_MS))
      return known.keys;
    const keys = this.jwksUrl(issuer).then((url) =>
      jose().createRemoteJWKSet(url, { timeoutDuration: FETCH_TIMEOUT_MS }),
    );
    const entry: { keys: Promise<JWTVerifyGetKey>; failedAt?: number } = { keys };
    // A failed discovery answers every token for a while, then is tried again.
    keys.catch(() => (entry.failedAt = Date.now()));
    this.keys.set(issuer.name, entry);
    return keys;
  }

  private async jwksUrl(issuer: OidcIssuer): Promise<URL> {
    if (issuer.jwksUrl) return new URL(issuer.jwksUrl);
    const where = `${issuer.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let document: unknown;
    try {
      const res = await fetch(where, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      if (!res.ok) throw new Error(`answered ${res.status}`);
      document = await res.json();
    } catch (err) {
      throw new ApiProblem(
        503,
        'unavailable',
        `Hallpass cannot read ${issuer.name}'s OpenID configuration at ${where} (${(err as Error).message}); try again shortly.`,
      );
    }
    const jwksUri = (document as { jwks_uri?: unknown } | null)?.jwks_uri;
    if (typeof jwksUri !== 'string' || !URL.canParse(jwksUri)) {
      throw new ApiProblem(
        503,
        'unavailable',
        `${issuer.name}'s OpenID configuration at ${where} names no jwks_uri; set api.oidc.${issuer.name}.jwksUrl.`,
      );
    }
    return new URL(jwksUri);
  }

  /** One sentence per way an ID token fails, naming what to fix. */
  private explain(err: unknown, issuer: OidcIssuer, errors: ReturnType<typeof jose>['errors']) {
    if (err instanceof errors.JWTExpired)
      return unauthorized('The ID token has expired; request a fresh one from your CI.');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'aud')
        return unauthorized(
          `The ID token is for another audience; Hallpass accepts "${issuer.audience}" (ask your CI for a token with that audience).`,
        );
      if (err.claim === 'iss')
        return unauthorized(`The ID token was not issued by ${issuer.issuer}.`);
      if (err.claim === 'nbf' && typeof err.payload.nbf === 'number')
        return fromTheFuture('is not valid before', err.payload.nbf);
      return unauthorized(`The ID token's "${err.claim}" claim is not acceptable: ${err.reason}.`);
    }
    if (
      err instanceof errors.JWSSignatureVerificationFailed ||
      err instanceof errors.JWKSNoMatchingKey
    )
      return unauthorized(
        `The ID token's signature does not verify with ${issuer.name}'s published keys.`,
      );
    if (err instanceof errors.JOSEAlgNotAllowed)
      return unauthorized(
        `The ID token's algorithm is not accepted; use one of ${ALGORITHMS.join(', ')}.`,
      );
    if (
      err instanceof errors.JWKSTimeout ||
      err instanceof TypeError ||
      (err instanceof errors.JOSEError && /JSON Web Key Set/.test(err.message))
    )
      return new ApiProblem(
        503,
        'unavailable',
        `Hallpass cannot fetch ${issuer.name}'s signing keys now; try again shortly.`,
      );
    return unauthorized('The ID token is not valid.');
  }
}
