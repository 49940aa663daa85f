import { randomBytes } from 'node:crypto';
import type { Provider, ProviderCallContext } from '../../src/providers/types';

/** What the contract needs to know about one adapter under test. */
export interface ContractSubject<Target> {
  provider: Provider<Target>;
  target: Target;
  /** How many copies of this grant's access the target system holds right now. */
  held(ctx: ProviderCallContext<Target>): Promise<number>;
  /**
   * The expiry the target system holds for this grant's access, read from the system itself, or
   * null where it keeps none (a Slack channel): a re-grant after an extension must move it.
   */
  expiryHeld(ctx: ProviderCallContext<Target>): Promise<Date | null>;
  /** A provider of the same kind whose calls hang until their signal aborts. */
  stalled(): Promise<{ provider: Provider<Target>; release(): Promise<void> }>;
  stop(): Promise<void>;
}

const HOUR = 3_600_000;

/** A fresh grant of `target` for a Slack-like user, on a live signal. */
export function callContext<Target>(
  target: Target,
  overrides: Partial<ProviderCallContext<Target>> = {},
): ProviderCallContext<Target> {
  const suffix = randomBytes(5).toString('hex');
  const startsAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  return {
    grantId: `gr_${suffix}`,
    requestId: `req_${suffix}`,
    user: { slackId: `U${suffix.toUpperCase()}`, email: `u${suffix}@example.com` },
    resource: { id: 'contract', name: 'Contract resource', target },
    startsAt,
    expiresAt: new Date(startsAt.getTime() + HOUR),
    signal: new AbortController().signal,
    ...overrides,
  };
}

/**
 * The promises every provider makes to the sweeper (src/providers/types.ts), checked against the
 * real target system: idempotent grant and revoke, a check that agrees, JSON-safe state, and a
 * clean failure when the call's signal aborts.
 */
export function providerContract<Target>(
  name: string,
  setup: () => Promise<ContractSubject<Target>>,
): void {
  describe(`${name} provider contract`, () => {
    let subject: ContractSubject<Target>;
    const ctx = (overrides: Partial<ProviderCallContext<Target>> = {}) =>
      callContext(subject.target, overrides);

    beforeAll(async () => {
      subject = await setup();
    });
    afterAll(async () => {
      await subject?.stop();
    });

    it('grant twice (an answer lost, then retried) gives the access once and check sees it', async () => {
      const call = ctx();
      const first = await subject.provider.grant(call);
      const second = await subject.provider.grant(call);
      expect(await subject.held(call)).toBe(1);
      expect(await subject.provider.check!(call)).toBe(true);
      for (const result of [first, second]) {
        if (result.state !== undefined) {
          expect(JSON.parse(JSON.stringify(result.state))).toEqual(result.state);
        }
        if (result.credentials) expect(result.credentials.text).toEqual(expect.any(String));
      }
    });

    it('a re-grant with the state of the first grant and a later expiry keeps one copy', async () => {
      const call = ctx();
      const first = await subject.provider.grant(call);
      const extended = {
        ...call,
        state: first.state,
        expiresAt: new Date(call.expiresAt.getTime() + HOUR),
      };
      const before = await subject.expiryHeld(call);
      await subject.provider.grant(extended);
      expect(await subject.held(extended)).toBe(1);
      expect(await subject.provider.check!(extended)).toBe(true);
      const after = await subject.expiryHeld(extended);
      if (before === null) {
        expect(after).toBeNull();
      } else {
        expect(before.getTime()).toBe(call.expiresAt.getTime());
        expect(after?.getTime()).toBe(extended.expiresAt.getTime());
      }
    });

    it('revoke twice succeeds and check then says the access is gone', async () => {
      const call = ctx();
      const { state } = await subject.provider.grant(call);
      const revoke = { ...call, state };
      await subject.provider.revoke(revoke);
      await subject.provider.revoke(revoke);
      expect(await subject.held(revoke)).toBe(0);
      expect(await subject.provider.check!(revoke)).toBe(false);
    });

    it('revoking what was never granted succeeds', async () => {
      const call = ctx();
      await subject.provider.revoke(call);
      expect(await subject.provider.check!(call)).toBe(false);
    });

    it('a grant whose signal was already aborted fails without doing anything', async () => {
      const call = ctx({ signal: AbortSignal.abort(new DOMException('late', 'TimeoutError')) });
      await expect(subject.provider.grant(call)).rejects.toThrow(/timed out/);
      expect(await subject.held(call)).toBe(0);
    });

    it('a call that runs past its timeout fails cleanly with an Error', async () => {
      const { provider, release } = await subject.stalled();
      try {
        for (const action of ['grant', 'revoke', 'check'] as const) {
          const call = ctx({ signal: AbortSignal.timeout(150) });
          const error = await provider[action]!(call).then(
            () => undefined,
            (err: unknown) => err,
          );
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(/timed out/);
        }
      } finally {
        await release();
      }
      const call = ctx();
      await subject.provider.grant(call);
      expect(await subject.provider.check!(call)).toBe(true);
    });
  });
}
