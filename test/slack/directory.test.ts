import { ManualClock } from '../../src/core/clock';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { DirectoryUnavailable } from '../../src/core/directory';
import { SlackDirectory } from '../../src/slack/directory';
import { FakeSlack, SlackError } from '../support/fake-slack';

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

  it('uses a recent answer while Slack cannot answer, and fails closed past the bound', async () => {
    await directory.usergroupMembers('SDBA');
    clock.advance(120_000);
    fake.fail('usergroups.users.list', { kind: 'ratelimited', retryAfter: 30 });
    expect(await directory.usergroupMembers('SDBA')).toEqual(['UDBA', 'UDBA2']);
    clock.advance(5 * 60_000);
    fake.fail('usergroups.users.list', { kind: 'status', status: 500 });
    await expect(directory.usergroupMembers('SDBA')).rejects.toThrow(DirectoryUnavailable);
    fake.fail('usergroups.users.list', { kind: 'status', status: 500 });
    await expect(directory.usergroupMembers('SOTHER')).rejects.toThrow(
      'could not look up usergroup SOTHER',
    );
  });

  it('treats a group Slack says does not exist as empty at once, whatever was cached', async () => {
    expect(await directory.usergroupMembers('SDBA')).toEqual(['UDBA', 'UDBA2']);
    delete fake.usergroups.SDBA;
    clock.advance(60_000);
    expect(await directory.usergroupMembers('SDBA')).toEqual([]);
    expect(await directory.usergroupMembers('SNONE')).toEqual([]);
  });

  it('reads whether a person still belongs: deleted, guest, gone, or active', async () => {
    fake.userFlags = {
      UGONE: { deleted: true },
      UGUEST: { is_restricted: true },
      USINGLE: { is_ultra_restricted: true },
    };
    expect(await directory.statusOf('UREQ')).toBe('active');
    expect(await directory.statusOf('UGONE')).toBe('deactivated');
    expect(await directory.statusOf('UGUEST')).toBe('guest');
    expect(await directory.statusOf('USINGLE')).toBe('guest');
    fake.on('users.info', () => {
      throw new SlackError('user_not_found');
    });
    expect(await directory.statusOf('UNEVER')).toBe('deactivated');
  });

  it('asks again for a fresh status, and refuses to guess when Slack cannot answer', async () => {
    expect(await directory.statusOf('UREQ')).toBe('active');
    fake.userFlags = { UREQ: { deleted: true } };
    expect(await directory.statusOf('UREQ')).toBe('active');
    expect(await directory.statusOf('UREQ', { fresh: true })).toBe('deactivated');
    fake.fail('users.info', { kind: 'status', status: 503 });
    await expect(directory.statusOf('UNEW')).rejects.toThrow(DirectoryUnavailable);
  });

  it('reads emails with users.info and caches them', async () => {
    expect(await directory.emailOf('UREQ')).toBe('req@example.com');
    expect(await directory.emailOf('UREQ')).toBe('req@example.com');
    expect(await directory.emailOf('UNOMAIL')).toBeUndefined();
    expect(fake.callsOf('users.info').map((c) => c.args.user)).toEqual(['UREQ', 'UNOMAIL']);
  });

  it('moves an address to its new holder once user_change names either', async () => {
    const ldap = {
      memberEmails: async () => ['ops@example.com'],
      missing: () => false,
      describe: (err: unknown) => String(err),
    };
    const client = createSlackClient({ botToken: 'xoxb-dir', apiUrl: fake.url, logger });
    const withGroups = new SlackDirectory(client, { clock, logger, ldap });
    fake.emails = { UOLD: 'ops@example.com', UNEW: 'new.hire@example.com' };
    const approvers = () => withGroups.ldapGroupMembers('cn=approvers,dc=example,dc=com');
    expect(await approvers()).toEqual(['UOLD']);

    // ops@ is handed to UNEW; the group is read again after its minute.
    fake.emails = { UOLD: 'old.owner@example.com', UNEW: 'ops@example.com' };
    withGroups.forget('UOLD', 'old.owner@example.com');
    clock.advance(2 * 60_000);
    expect(await approvers()).toEqual(['UNEW']);

    // Back again, told only by the new holder's event this time.
    fake.emails = { UOLD: 'ops@example.com', UNEW: 'new.hire@example.com' };
    withGroups.forget('UOLD', 'ops@example.com');
    clock.advance(2 * 60_000);
    expect(await approvers()).toEqual(['UOLD']);
  });

  // An approver's click looked the person up just before Slack said they left; the user_change
  // handler forgets them, and a fresh look must not take the answer to the question sent before.
  it('neither shares nor caches a lookup in flight when the person is forgotten', async () => {
    const earlier = directory.statusOf('UREQ');
    directory.forget('UREQ');
    fake.userFlags.UREQ = { deleted: true };
    const fresh = directory.statusOf('UREQ', { fresh: true });
    expect(await fresh).toBe('deactivated');
    await earlier;
    expect(await directory.statusOf('UREQ')).toBe('deactivated');
    expect(fake.callsOf('users.info')).toHaveLength(2);
  });
});
