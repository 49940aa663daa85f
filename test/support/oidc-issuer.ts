import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT } from 'jose';

export interface SignOptions {
  /** Sign with a key the issuer never published. */
  foreignKey?: boolean;
  audience?: string | string[];
  issuer?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Seconds from now the token says it was issued (`iat`; 5 s ago unless said). */
  issuedIn?: number;
  /** Seconds from now the token is valid from (`nbf`; 5 s ago unless said). */
  validIn?: number;
}

/**
 * A CI's OpenID Connect issuer on loopback, as GitHub Actions and GitLab publish theirs: a
 * discovery document at /.well-known/openid-configuration naming a JWKS, the JWKS itself, and
 * RS256 ID tokens signed by the key it publishes. It counts the discovery and key fetches.
 */
export class TestIssuer {
  private server?: Server;
  private readonly key = generateKeyPairSync('rsa', { modulusLength: 2048 });
  private readonly foreign = generateKeyPairSync('rsa', { modulusLength: 2048 });
  jwksFetches = 0;
  discoveryFetches = 0;
  /** While true, the discovery document answers 503, as an issuer having an outage. */
  discoveryDown = false;

  constructor(readonly audience: string) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('TestIssuer is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    const jwk = { ...(await exportJWK(this.key.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    this.server = createServer((req, res) => {
      const json = (body: unknown) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/openid-configuration') {
        this.discoveryFetches++;
        if (this.discoveryDown) return res.writeHead(503).end();
        return json({ issuer: this.url, jwks_uri: `${this.url}/.well-known/jwks` });
      }
      if (req.url === '/.well-known/jwks') {
        this.jwksFetches++;
        return json({ keys: [jwk] });
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  /** An RS256 ID token with these claims, like a CI job gets. */
  sign(claims: Record<string, unknown>, options: SignOptions = {}): Promise<string> {
    const key: KeyObject = options.foreignKey ? this.foreign.privateKey : this.key.privateKey;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
      .setIssuer(options.issuer ?? this.url)
      .setAudience(options.audience ?? this.audience)
      .setIssuedAt(now + (options.issuedIn ?? -5))
      .setNotBefore(now + (options.validIn ?? -5))
      .setExpirationTime(now + (options.expiresIn ?? 300))
      .sign(key);
  }

  /** The same claims with `alg: none` and no signature: what a forger sends. */
  unsigned(claims: Record<string, unknown>): string {
    const now = Math.floor(Date.now() / 1000);
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    return `${part({ alg: 'none', typ: 'JWT' })}.${part({
      ...claims,
      iss: this.url,
      aud: this.audience,
      iat: now,
      exp: now + 300,
    })}.`;
  }
}

/** The claims GitHub Actions puts in an ID token, for a job of `workflow` on `ref` of `repository`. */
export function githubClaims(repository: string, ref: string, workflow: string) {
  return {
    sub: `repo:${repository}:ref:${ref}`,
    repository,
    repository_owner: repository.split('/')[0],
    ref,
    ref_type: 'branch',
    workflow,
    event_name: 'push',
    run_id: '1234567890',
    actor: 'octocat',
  };
}
