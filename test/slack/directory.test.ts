import { ManualClock } from '../../src/core/clock';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { FakeSlack } from '../support/fake-slack';

describe('SlackDirectory', () => {
  let fake: FakeSlack;
  let clock: ManualClock;
  let directory: SlackDirectory;
  beforeEach(async () => {
    fake = await new FakeSlack().start();
    fake.usergroups = { SDBA: ['UDBA', 'UDBA2'] };
    fake.emails = { UREQ: 'req@example.com' };
    clock = new ManualClock(0);
    const client = createSlackClient({ botToken: 'xoxb-dir', apiUrl: fake.url, logger });
    directory = new SlackDirectory(client, { clock, logger });
  });
  afterEach(() => fake.stop());

  const lists = () => fake.callsOf('usergroups.users.list').length;

  it('reads user group members and keeps them for a minute', async () => {
    expect(await directory.usergroupMembers('SDBA')).toEqual(['UDBA', 'UDBA2']);
    fake.usergroups.SDBA = ['UNEW'];
    clock.advance(59_999);
    expect(await directory.usergroupMembers('SDBA')).toEqual(['UDBA', 'UDBA2']);
    expect(lists()).toBe(1);
    clock.advance(1);
    expect(await directory.usergroupMembers('SDBA')).toEqual(['UNEW']);
    expect(lists()).toBe(2);
  });

  it('shares one call between concurrent lookups of the same group', async () => {
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => directory.usergroupMembers('SDBA')),
    );
    expect(answers).toEqual(Array.from({ length: 5 }, () => ['UDBA', 'UDBA2']));
    expect(lists()).toBe(1);
  });

  it('falls back to the last answer when Slack fails, and fails without one', async () => {
    await directory.usergroupMembers('SDBA');
    clock.advance(120_000);
    fake.fail('usergroups.users.list', { kind: 'ratelimited', retryAfter: 30 });
    expect(await directory.usergroupMembers('SDBA')).toEqual(['UDBA', 'UDBA2']);
    await expect(directory.usergroupMembers('SNONE')).rejects.toThrow(/no_such_subteam/);
    fake.fail('usergroups.users.list', { kind: 'status', status: 500 });
    await expect(directory.usergroupMembers('SOTHER')).rejects.toThrow();
  });

  it('reads emails with users.info and caches them', async () => {
    expect(await directory.emailOf('UREQ')).toBe('req@example.com');
    expect(await directory.emailOf('UREQ')).toBe('req@example.com');
    expect(await directory.emailOf('UNOMAIL')).toBeUndefined();
    expect(fake.callsOf('users.info').map((c) => c.args.user)).toEqual(['UREQ', 'UNOMAIL']);
  });
});
