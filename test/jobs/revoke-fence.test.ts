import type { Core } from '../../src/core';
import { StaticDirectory, DirectoryUnavailable } from '../../src/core/directory';
import { coreHarness, type CoreHarness } from '../support/core';
import { filedGrant, jobsOf, type TestJobs } from '../support/job-process';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

/**
 * A revoke that timed out may still land for two timeouts: the next activation of the same
 * shared access waits for it even when the directory stumbles while the accesses are compared,
 * or the fence could not be written, and for a reconciler's repair revoke a process that died
 * had out; a person whose email is gone from the directory is compared by that answer
 * (test/jobs/fenced-calls.test.ts has the plain cases).
 */

const MIN = 60_000;
const TIMEOUT_MS = 1_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

const CONFIG = `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
sweeper:
  alertAfterAttempts: 5
  retryBase: 5s
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
    timeout: 1s
resources:
  - id: auto
    name: Auto approved
    provider: hook
    maxDuration: 1h
    maxTotalDuration: 1h
    approvalsRequired: 0
`;

/**
 * A directory whose emails the test edits (a person removes theirs from their profile) and whose
 * next lookups can be scripted to fail (Slack out for a moment).
 */
class ScriptedDirectory extends StaticDirectory {
  readonly mail: Record<string, string> = { UREQ: 'req@example.com' };
  /** Answers for the next lookups, in order: the email, or 'down'. */
  readonly script: ('ok' | 'down')[] = [];
  override async emailOf(userId: string): Promise<string | undefined> {
    if (this.script.shift() === 'down') throw new DirectoryUnavailable('Slack did not answer');
    return this.mail[userId];
  }
}

describe('the next activation of a shared access and a revoke that may still land (sqlite)', () => {
  let h: CoreHarness;
  let provider: RecordingProvider;
  let directory: ScriptedDirectory;
  const processes: TestJobs[] = [];

  /** One Hallpass process on `core` (the harness's unless given): its sweeper and reconciler. */
  function start(core: Core = h.core): TestJobs {
    const p = jobsOf(core, lookupOf({ hook: provider }, TIMEOUT_MS), directory);
    processes.push(p);
    return p;
  }

  beforeEach(async () => {
    h = await coreHarness(CONFIG, undefined, 'sqlite');
    provider = new RecordingProvider();
    directory = new ScriptedDirectory();
  });
  afterEach(async () => {
    provider.onCall = undefined;
    jest.restoreAllMocks();
    for (const p of processes.splice(0)) {
      await p.sweeper.stop();
      await p.reconciler.stop();
    }
    await sleep(2_100);
    await h.close();
  });

  const requested = () => filedGrant(h);
  const grant = async (id: string) => (await h.core.grant(id))!;

  // The person's email is the same throughout: a directory lookup failing at the wrong moment
  // must not make the hold think the new grant names another account, or the new grant is
  // activated while the old grant's timed-out revoke is still out, the revoke lands, and the
  // record says "active" (the requester is told so) while the target has nothing.
  it('holds the next activation even when the directory does not answer the same-account question', async () => {
    // Email compared by address, as for a provider that is not shared per Slack user.
    Object.defineProperty(provider, 'sharedPer', { value: undefined });
    const { sweeper } = start();
    const first = await requested();
    await sweeper.tick();
    expect((await grant(first)).status).toBe('active');

    let landed!: Promise<unknown>;
    provider.onCall = async (call) => {
      if (call.action !== 'revoke' || call.grantId !== first) return;
      provider.onCall = undefined;
      landed = sleep(1_300); // the target applies it after Hallpass gave up at 1 s
      await landed;
    };
    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    await sweeper.tick();
    expect((await grant(first)).fenceUntil).not.toBeNull();

    const second = await requested();
    // The activation's own lookup answers; the one made to compare accounts does not.
    directory.script.push('ok', 'down');
    await sweeper.tick();
    await landed;
    await sleep(50);
    h.clock.advance(MIN);
    await sweeper.tick();

    const s = await grant(second);
    if (s.status === 'active') expect(provider.present.size).toBe(1);
    else expect(s.status).toBe('activating');
  });

  // A database hiccup when the timed-out revoke's failure is recorded leaves no fence: the
  // same process still counts the call as out for the fence's two timeouts, so the next grant is
  // not activated before a revoke applied by the target within them.
  it('holds the next activation for the whole fence when the fence could not be written', async () => {
    const { sweeper } = start();
    const first = await requested();
    await sweeper.tick();
    expect((await grant(first)).status).toBe('active');

    // The adapter hangs up at the abort (the call settles at once), but the target applies the
    // revoke 1.5 timeouts later: within the two timeouts the fence allows.
    let landed!: Promise<unknown>;
    provider.onCall = async (call) => {
      if (call.action !== 'revoke' || call.grantId !== first) return;
      provider.onCall = undefined;
      const key = [...provider.present][0]!;
      landed = sleep(TIMEOUT_MS + 1_500).then(() => provider.present.delete(key));
      await new Promise((_, reject) =>
        setTimeout(() => reject(new Error('aborted')), TIMEOUT_MS + 5),
      );
    };
    const failed = jest.spyOn(h.core.lifecycle, 'failed');
    failed.mockRejectedValueOnce(new Error('SQLITE_BUSY: database is locked'));
    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    await sweeper.tick();
    expect(failed).toHaveBeenCalled();
    expect((await grant(first)).fenceUntil).toBeNull();
    failed.mockRestore();

    const second = await requested();
    await sweeper.tick();
    await landed;
    await sleep(50);

    const s = await grant(second);
    if (s.status === 'active') expect(provider.present.size).toBe(1);
    else expect(s.status).toBe('activating');
  });

  // A grant activated before its email was recorded is compared by a lookup: one the directory
  // does not answer says nothing, and the revoke is neither made (it would take the access the
  // live grant holds) nor skipped (the live grant may be another account's); it is tried again.
  it('neither makes nor skips a revoke while the directory cannot say whether a live grant is the same account', async () => {
    Object.defineProperty(provider, 'sharedPer', { value: undefined });
    const { sweeper } = start();
    const first = await requested();
    const second = await requested();
    await sweeper.tick();
    expect((await grant(first)).status).toBe('active');
    expect((await grant(second)).status).toBe('active');
    await h.sql.run('UPDATE grants SET granted_email = NULL WHERE id = ?', second);

    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    directory.script.push('down', 'down');
    await sweeper.tick();
    const waiting = await grant(first);
    expect(waiting.status).toBe('revoking');
    expect(waiting.lastError).toContain('cannot tell whether grants');
    expect(provider.callsOf('revoke')).toEqual([]);

    h.clock.advance(MIN);
    await sweeper.tick();
    expect((await grant(first)).status).toBe('revoked');
    expect(provider.callsOf('revoke')).toEqual([]);
    expect(provider.present.size).toBe(1);
  });

  // The old leader's reconciler was repairing drift on the person's ended grant (a revoke of
  // access found re-added) when the old leader died with that revoke out. Unfenced, the person's
  // next grant would be activated at once and the repair revoke land after it, taking the access
  // away while the grant is recorded (and announced) `active`.
  it('holds the next activation after a takeover for a reconciler repair revoke the old leader had out', async () => {
    const oldCore = await h.another();
    const old = start(oldCore);
    const first = await requested();
    await old.sweeper.tick();
    expect((await grant(first)).status).toBe('active');
    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    await old.sweeper.tick();
    expect((await grant(first)).status).toBe('revoked');
    expect(provider.present.size).toBe(0);

    // Someone re-adds the access by hand; the recheck after the end finds it and repairs.
    provider.present.add('UREQ/auto');
    h.clock.advance(3 * MIN);
    const letGo = provider.holdNext('revoke', first);
    jest.spyOn(oldCore.lifecycle, 'drift').mockRejectedValue(new Error('connection terminated'));
    const oldRun = old.reconciler.run().catch(() => undefined);
    await until(() => provider.callsOf('revoke').length === 2);

    // The old leader is gone; a new one takes over and the person's next grant comes in.
    const next = start().sweeper;
    const second = await requested();
    await next.tick();
    letGo();
    await oldRun;
    await sleep(50);

    const s = await grant(second);
    if (s.status === 'active') expect(provider.present.has('UREQ/auto')).toBe(true);
    else expect(s.status).toBe('activating');
  });

  // The person's first grant named their email, then the email was removed from their Slack
  // profile (the directory answers "no email"; it is not down), and their second grant was
  // activated without one. The directory's answer tells the two accounts apart: the first
  // grant's revoke is made, not retried for ever as if the directory had not answered.
  it('ends a grant whose holder no longer has an email in the directory at all', async () => {
    Object.defineProperty(provider, 'sharedPer', { value: undefined });
    const sweeper = start().sweeper;
    const first = await requested();
    await sweeper.tick();
    expect(await grant(first)).toMatchObject({ status: 'active', grantedEmail: 'req@example.com' });

    delete directory.mail.UREQ;
    const second = await requested();
    await sweeper.tick();
    expect(await grant(second)).toMatchObject({ status: 'active', grantedEmail: null });

    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    for (let i = 0; i < 6; i++) {
      await sweeper.tick();
      h.clock.advance(MIN);
    }
    const g = await grant(first);
    expect({ status: g.status, lastError: g.lastError }).toEqual({
      lastError: null,
      status: expect.stringMatching(/^(revoked|failed)$/),
    });
  });
});
