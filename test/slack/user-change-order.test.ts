import { DomainError } from '../../src/core';
import { OffboardingCheck } from '../../src/jobs/offboarding';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { userChangeEvent } from '../support/slack-requests';
import { BOT_TOKEN, slackHarness, waitUntil, type SlackHarness } from './harness';

/**
 * Slack retries an event delivery it could not confirm (1 min, 5 min later), so an earlier
 * `user_change` (a profile edit, deleted: false) can arrive after the later one that deactivated
 * the person. So news of leaving is acted on at once, and news of being back only once the
 * directory agrees: recorded as active again, the stale event would let a departed approver
 * decide while Slack cannot answer users.info, when the recorded state is all that stops them.
 */

describe('user_change events delivered out of order', () => {
  let h: SlackHarness;
  beforeEach(async () => (h = await slackHarness()));
  afterEach(() => h.close());

  it('a late retry of an older user_change does not undo a deactivation', async () => {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-42 slow queries',
    });
    const state = () =>
      h.sql.value<string | undefined>('SELECT state FROM people WHERE user_id = ?', 'ULEAD');

    // 10:00:00 ULEAD edits their profile: Slack's first delivery of that event is lost.
    const edited = userChangeEvent('ULEAD', {}, { at: 1_700_000_100, eventId: 'Ev0EDIT' });
    // 10:00:30 ULEAD is deactivated: delivered at once.
    h.fake.userFlags.ULEAD = { deleted: true };
    expect(
      (
        await h.send.event(
          userChangeEvent('ULEAD', { deleted: true }, { at: 1_700_000_130, eventId: 'Ev0GONE' }),
        )
      ).status,
    ).toBe(200);
    await waitUntil(async () => (await state()) === 'deactivated', 'ULEAD recorded as gone');

    // 10:01:00 Slack retries the profile edit.
    expect(
      (
        await h.send.event(edited, {
          headers: { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' },
        })
      ).status,
    ).toBe(200);
    await new Promise((r) => setTimeout(r, 300));

    // Slack is down for users.info now; nothing cached of ULEAD can stand in.
    h.clock.advance(2 * 3_600_000);
    h.fake.fail('users.info', { kind: 'error', error: 'internal_error' }, 50);

    const outcome = await h.core
      .decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' })
      .catch((e: unknown) => e);
    // A departed approver decides nothing, and the record still says they left.
    expect(outcome).toBeInstanceOf(DomainError);
    expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(0);
    expect(await state()).toBe('deactivated');
  });

  // The event is acknowledged either way, so Slack does not send it again: the offboarding check
  // asks the directory about the doubted person on its next run.
  it('a return the directory could not confirm then is recorded by the next directory check', async () => {
    const state = () =>
      h.sql.value<string | undefined>('SELECT state FROM people WHERE user_id = ?', 'UREQ');
    h.fake.userFlags.UREQ = { deleted: true };
    expect(
      (
        await h.send.event(
          userChangeEvent('UREQ', { deleted: true }, { at: 1_700_000_100, eventId: 'Ev1GONE' }),
        )
      ).status,
    ).toBe(200);
    await waitUntil(async () => (await state()) === 'deactivated', 'UREQ recorded as gone');

    // A week later an admin reactivates UREQ, while users.info fails once.
    h.clock.advance(7 * 86_400_000);
    h.fake.userFlags.UREQ = { deleted: false };
    h.fake.fail('users.info', { kind: 'error', error: 'internal_error' }, 1);
    expect(
      (await h.send.event(userChangeEvent('UREQ', {}, { at: 1_700_600_000, eventId: 'Ev1BACK' })))
        .status,
    ).toBe(200);
    await waitUntil(
      async () =>
        (await h.sql.value('SELECT checked_at FROM people WHERE user_id = ?', 'UREQ')) === 0,
      'UREQ doubted',
    );
    expect(await state()).toBe('deactivated');

    const directory = new SlackDirectory(
      createSlackClient({ botToken: BOT_TOKEN, apiUrl: h.fake.url, logger }),
      { clock: h.clock, logger },
    );
    await new OffboardingCheck({ core: h.core, directory, logger }).run();
    expect(await state()).toBe('active');
    const filed = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-42 slow queries',
    });
    expect(filed.status).toBe('pending');
  });
});
