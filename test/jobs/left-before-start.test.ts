import { StaticDirectory, type PersonStatus } from '../../src/core/directory';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, T0, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS } from '../support/stores';

const HOUR = 3_600_000;
const CONFIG = `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: vault
    name: Vault
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
`;

/**
 * A grant approved for a later start is granted hours after the approval checked its holder.
 * Someone deactivated meanwhile whose `user_change` never reached Hallpass would otherwise get
 * the access at the booked moment, until the directory check came round: the sweeper asks the
 * directory afresh first.
 */
describe.each(STORE_KINDS)('a grant whose holder left before its booked start (%s)', (kind) => {
  let h: CoreHarness;
  afterEach(() => h.close());

  async function booked(
    statuses: Record<string, PersonStatus>,
    directory = new StaticDirectory({}, { UREQ: 'req@example.com' }, statuses),
  ) {
    h = await coreHarness(CONFIG, undefined, kind);
    const request = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'vault',
      duration: '1h',
      justification: 'rotating the vault unseal keys',
      startAt: T0 + 3 * HOUR,
    });
    await h.core.decide({ requestId: request.id, actor: 'ULEAD', decision: 'approve' });
    const provider = new RecordingProvider();
    const sweeper = new Sweeper({
      core: h.core,
      providers: lookupOf({ hook: provider }),
      directory,
      sealer: new Sealer('test-sealing-secret'),
      logger,
      random: () => 1,
    });
    const grant = (await h.core.grantOf((await h.core.request(request.id))!))!;
    return { provider, sweeper, grant };
  }

  it('is not granted: the holder is offboarded at the start, and the grant ends', async () => {
    const statuses: Record<string, PersonStatus> = {};
    const { provider, sweeper, grant } = await booked(statuses);
    statuses.UREQ = 'deactivated'; // in Slack, with no event heard
    h.clock.set(T0 + 3 * HOUR);
    await sweeper.tick();
    await sweeper.tick();
    await sweeper.stop();

    expect(provider.callsOf('grant')).toEqual([]);
    expect((await h.core.grant(grant.id))!).toMatchObject({
      status: 'revoked',
      endReason: 'offboarded',
    });
    expect(await h.sql.value('SELECT state FROM people WHERE user_id = ?', 'UREQ')).toBe(
      'deactivated',
    );
  });

  it('is granted at its start when the holder is still there', async () => {
    const { provider, sweeper, grant } = await booked({});
    h.clock.set(T0 + 3 * HOUR);
    await sweeper.tick();
    await sweeper.stop();
    expect(provider.callsOf('grant')).toHaveLength(1);
    expect((await h.core.grant(grant.id))!.status).toBe('active');
  });

  // A mass of booked starts at one moment asks Slack about every holder, and users.info is rate
  // limited: an answer that does not come in time leaves the approval's check standing.
  it('is granted when the directory does not answer in time', async () => {
    class Silent extends StaticDirectory {
      override statusOf(): Promise<PersonStatus> {
        return new Promise(() => undefined);
      }
    }
    const { provider, sweeper, grant } = await booked(
      {},
      new Silent({}, { UREQ: 'req@example.com' }),
    );
    h.clock.set(T0 + 3 * HOUR);
    await sweeper.tick();
    await sweeper.stop();
    expect(provider.callsOf('grant')).toHaveLength(1);
    expect((await h.core.grant(grant.id))!.status).toBe('active');
  });
});
