import type { Fault } from '../support/fake-slack';
import { scalar, startSystem, waitFor, type FaultSystem } from './support/system';

const MINUTE = 60_000;
const OUTAGE = 5 * MINUTE;
const FOREVER = 1_000_000;

/**
 * Slack's Web API fails for five minutes while people keep using Hallpass. Minutes pass on the
 * injected clock (the dispatcher's backoff, leases and Retry-After waits use it), so the case
 * takes seconds. Requests, approvals, activations and expiries go on meanwhile; their messages
 * wait in the outbox and are delivered once Slack is back, each exactly once.
 */
describe('a Slack Web API outage', () => {
  let system: FaultSystem;
  afterEach(() => system?.stop());

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const count = (sql: string) => scalar<number>(system.sql, sql);

  /** A gated request approved by a click and an auto-approved one, both 2 s long, run to the end. */
  async function useHallpass(): Promise<void> {
    const gated = await system.people.command('UREQ', 'request prod-db 2s investigating INC-7 now');
    const auto = await system.people.command('UOTHER', 'request sandbox 2s checking the sandbox');
    expect([gated.status, auto.status]).toEqual([200, 200]);
    const requestId = await waitFor(
      () => scalar<string>(system.sql, "SELECT id FROM requests WHERE resource_id = 'prod-db'"),
      'the gated request',
    );
    const click = await system.people.approve('ULEAD', requestId);
    expect(click.status).toBe(200);
    // The requester is answered through response_url, which is not the Web API.
    expect(await gated.reply()).toContain(requestId);
    await waitFor(
      async () => (await count("SELECT count(*) FROM grants WHERE status = 'revoked'")) === 2,
      'both grants to end',
    );
  }

  async function letTimePass(ms: number, step = 30_000): Promise<void> {
    for (let passed = 0; passed < ms; passed += step) {
      system.clock.advance(step);
      await sleep(300);
    }
  }

  function failSlack(fault: Fault, times: number): void {
    for (const method of ['chat.postMessage', 'chat.update'])
      system.fake.fail(method, fault, times);
  }

  it.each<[string, Fault]>([
    ['answers HTTP 500', { kind: 'status', status: 500 }],
    ['rate-limits every call (429, Retry-After 60 s)', { kind: 'ratelimited', retryAfter: 60 }],
  ])(
    '%s for five minutes: everything queued is delivered after, nothing twice',
    async (_, fault) => {
      system = await startSystem();
      failSlack(fault, FOREVER);
      await useHallpass();
      await letTimePass(OUTAGE);

      expect(system.slack.posts).toEqual([]);
      expect(await count("SELECT count(*) FROM outbox WHERE status = 'dead'")).toBe(0);
      expect(await count("SELECT count(*) FROM outbox WHERE status = 'pending'")).toBeGreaterThan(
        5,
      );
      expect(system.fake.callsOf('chat.postMessage').length).toBeGreaterThan(5);

      system.fake.clearFaults();
      await system.converged({ nudge: () => system.clock.advance(5_000) });
      // The requester's card, the active access and its end, at least.
      expect(system.slack.postsTo('UREQ').length).toBeGreaterThanOrEqual(3);
      expect(system.slack.postsTo('UOTHER').length).toBeGreaterThanOrEqual(3);
      expect(system.slack.postsTo('CDBA')).toHaveLength(1);
    },
  );

  it('does not answer at all: calls time out, are retried after the outage, and none is sent twice', async () => {
    system = await startSystem();
    failSlack({ kind: 'hang' }, FOREVER);
    await useHallpass();
    // Slack's client and the dispatcher give up on a call after 10 s of real time.
    const timedOut = await waitFor(
      () =>
        scalar<string | undefined>(
          system.sql,
          'SELECT last_error FROM outbox WHERE last_error IS NOT NULL',
        ),
      'a call to time out',
    );
    expect(timedOut).toMatch(/did not answer within 10000 ms|timeout/i);
    await letTimePass(OUTAGE);
    expect(system.slack.posts).toEqual([]);
    expect(await count("SELECT count(*) FROM outbox WHERE status = 'dead'")).toBe(0);

    // The calls still hanging when Slack comes back are cut, fail, and are retried too.
    system.fake.clearFaults();
    await system.converged({ nudge: () => system.clock.advance(5_000) });
    // The requester's card, the active access and its end, at least.
    expect(system.slack.postsTo('UREQ').length).toBeGreaterThanOrEqual(3);
    expect(system.slack.postsTo('CDBA')).toHaveLength(1);
  });
});
