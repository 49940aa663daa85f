import { OidcVerifier } from '../../src/api/oidc';
import { ApiProblem } from '../../src/api/problem';
import { TestIssuer } from '../support/oidc-issuer';

const AUDIENCE = 'hallpass-test';

/**
 * A token bearing a trusted `iss` is all a caller needs to make Hallpass fetch the issuer's
 * discovery document: while the issuer is down, the failure is remembered for a few seconds
 * rather than fetched again for every caller.
 */
describe('OIDC discovery while the issuer is down', () => {
  let issuer: TestIssuer;
  let verifier: OidcVerifier;
  beforeEach(async () => {
    issuer = await new TestIssuer(AUDIENCE).start();
    verifier = new OidcVerifier([
      {
        name: 'ci',
        issuer: issuer.url,
        audience: AUDIENCE,
        clockSkew: 60_000,
        identityClaim: 'sub',
      },
    ]);
  });
  afterEach(() => issuer.stop());

  const refusal = async (token: string) =>
    verifier.verify(token).then(
      () => undefined,
      (err: unknown) => err,
    );

  it('answers 503 to every caller with one fetch, and tries again once the while has passed', async () => {
    issuer.discoveryDown = true;
    const token = await issuer.sign({ sub: 'repo:acme/app:ref:refs/heads/main' });
    for (let i = 0; i < 5; i++) {
      const err = await refusal(token);
      expect(err).toBeInstanceOf(ApiProblem);
      expect(err).toMatchObject({ status: 503 });
    }
    expect(issuer.discoveryFetches).toBe(1);

    issuer.discoveryDown = false;
    const later = Date.now() + 6_000;
    jest.spyOn(Date, 'now').mockImplementation(() => later);
    try {
      await expect(verifier.verify(token)).resolves.toMatchObject({ via: 'oidc', issuer: 'ci' });
    } finally {
      jest.restoreAllMocks();
    }
    expect(issuer.discoveryFetches).toBe(2);
  });
});
