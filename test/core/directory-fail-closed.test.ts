import type { Core } from '../../src/core';
import { DomainError } from '../../src/core';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { STORE_KINDS } from '../support/stores';

/**
 * Issue #9, item 6 at the decision: approver rights that come through a Slack user group are
 * read from Slack (cached), and the rule fails closed. A group Slack says does not exist is an
 * answer (nobody is in it); when Slack cannot answer, a cached answer stands in only while it is
 * younger than `directory.maxStaleness`; past that the click is refused and nothing changes.
 */

const JUST = 'investigating INC-42 slow queries';
const MINUTE = 60_000;

const CONFIG = `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
directory: { groupTtl: 1m, maxStaleness: 5m }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvalsRequired: 2
    approvers: { users: [ULEAD], usergroups: [SDBA] }
`;

const UNAVAILABLE =
  "Hallpass can't verify your approver rights right now (Slack did not answer); nothing changed. Try again in a minute.";

describe.each(STORE_KINDS)(
  'approver rights from Slack user groups, failing closed (%s)',
  (kind) => {
    let h: CoreHarness;
    let fake: FakeSlack;
    /** The core as the bot runs it: its directory is Slack's (FakeSlack on loopback). */
    let core: Core;
    beforeEach(async () => {
      h = await coreHarness(CONFIG, {}, kind);
      fake = await new FakeSlack().start();
      fake.usergroups = { SDBA: ['UDBA1', 'UDBA2', 'UDBA3'] };
      const client = createSlackClient({ botToken: 'xoxb-directory', apiUrl: fake.url, logger });
      const directory = new SlackDirectory(client, {
        clock: h.clock,
        logger,
        groupTtlMs: h.config.directory.groupTtl,
        userTtlMs: h.config.directory.userTtl,
        maxStaleMs: h.config.directory.maxStaleness,
      });
      core = h.withConfig(CONFIG, directory);
    });
    afterEach(async () => {
      await fake.stop();
      await h.close();
    });

    const file = () =>
      core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      });
    const approve = (requestId: string, actor: string) =>
      core.decide({ requestId, actor, decision: 'approve' });
    const lists = () => fake.callsOf('usergroups.users.list').length;

    /** What a refused click must leave as it was. */
    async function counts() {
      const count = (table: string) => h.sql.value<number>(`SELECT count(*) FROM ${table}`);
      return {
        approvals: await count('approvals'),
        audit: await count('audit_events'),
        outbox: await count('outbox'),
        grants: await count('grants'),
        requests: await h.sql.all('SELECT * FROM requests ORDER BY id'),
      };
    }

    async function refusal(promise: Promise<unknown>): Promise<DomainError> {
      const err = await promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DomainError);
      return err as DomainError;
    }

    it('refuses an approver through a group when Slack fails and the cached answer is too old', async () => {
      const req = await file();
      await approve(req.id, 'UDBA1'); // reads SDBA from Slack: cached now
      expect(lists()).toBe(1);
      h.clock.advance(5 * MINUTE + 1);
      fake.fail('usergroups.users.list', { kind: 'status', status: 500 }, 10);
      const before = await counts();

      const err = await refusal(approve(req.id, 'UDBA2'));
      expect(err.code).toBe('unavailable');
      expect(err.message).toBe(UNAVAILABLE);
      expect(lists()).toBeGreaterThan(1); // Slack was asked, and failed
      expect(await counts()).toEqual(before);

      // A deny through the group is refused the same way: nobody decides on a guess.
      const deny = await refusal(
        core.decide({ requestId: req.id, actor: 'UDBA3', decision: 'deny' }),
      );
      expect(deny.code).toBe('unavailable');
      expect(await counts()).toEqual(before);

      // Once Slack answers again, the same click counts.
      fake.clearFaults();
      const outcome = await approve(req.id, 'UDBA2');
      expect(outcome.request.status).toBe('approved');
    });

    it('refuses past the bound even with no earlier approval, and lets a listed user through', async () => {
      const first = await file();
      const second = await file();
      await approve(first.id, 'UDBA1');
      h.clock.advance(5 * MINUTE + 1);
      fake.fail('usergroups.users.list', { kind: 'status', status: 500 }, 10);
      const before = await counts();
      expect((await refusal(approve(second.id, 'UDBA2'))).code).toBe('unavailable');
      expect(await counts()).toEqual(before);
      // ULEAD is named in the policy itself: no lookup, no refusal.
      const outcome = await approve(second.id, 'ULEAD');
      expect(outcome.kind).toBe('recorded');
      expect(outcome.request.status).toBe('pending');
    });

    it('uses the cached answer while it is within the bound', async () => {
      const req = await file();
      await approve(req.id, 'UDBA1');
      h.clock.advance(5 * MINUTE); // past the 1m TTL, not past the 5m bound
      fake.fail('usergroups.users.list', { kind: 'status', status: 500 }, 10);

      const outcome = await approve(req.id, 'UDBA2');
      expect(lists()).toBeGreaterThan(1); // Slack was asked, and failed
      expect(outcome.request.status).toBe('approved');
      expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(1);
    });

    it('refuses an approver through a group Slack says does not exist, at once', async () => {
      const req = await file();
      await approve(req.id, 'UDBA1');
      h.clock.advance(MINUTE); // the cached members are due for a fresh look
      delete fake.usergroups.SDBA; // usergroups.users.list answers no_such_subteam
      const before = await counts();

      const err = await refusal(approve(req.id, 'UDBA2'));
      expect(err.code).toBe('not_approver');
      expect(err.message).toBe(
        'You are not an approver for Production database (prod-db), so your click changed nothing.',
      );
      expect(await counts()).toEqual(before);
    });

    it('discounts an approval whose approver left the group before the quorum completed', async () => {
      const req = await file();
      await approve(req.id, 'UDBA1');
      fake.usergroups.SDBA = ['UDBA2', 'UDBA3'];
      h.clock.advance(MINUTE);

      const second = await approve(req.id, 'UDBA2');
      expect(second.request.status).toBe('pending');
      expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(0);
      const recorded = await h.sql.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'approval.recorded' ORDER BY seq",
      );
      expect(JSON.parse(recorded[1]!.details)).toEqual({
        approvals: 1,
        required: 2,
        discounted: ['UDBA1'],
        selfApproval: false,
      });

      const third = await approve(req.id, 'UDBA3');
      expect(third.request).toMatchObject({ status: 'approved', decidedBy: 'UDBA3' });
      expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(1);
    });

    it('discounts an approver whose group Slack says no longer exists', async () => {
      const req = await file();
      await approve(req.id, 'UDBA1');
      delete fake.usergroups.SDBA;
      h.clock.advance(MINUTE);

      const second = await approve(req.id, 'ULEAD');
      expect(second.request.status).toBe('pending');
      expect(await h.sql.value('SELECT count(*) FROM grants')).toBe(0);
    });
  },
);
