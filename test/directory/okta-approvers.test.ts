import { generateKeyPairSync } from 'node:crypto';
import { parseConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { Core, DomainError } from '../../src/core';
import { OktaGroupDirectory, oktaDirectorySettings } from '../../src/directory/okta-groups';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { SlackDirectory } from '../../src/slack/directory';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeOkta } from '../support/fake-okta';
import { FakeSlack } from '../support/fake-slack';

/**
 * Issue #11: `approvers.oktaGroups` and `requesters.oktaGroups` answered by Okta (the loopback
 * fake, through the official SDK), members matched to Slack users by email, with the Slack
 * directory's fail-closed rules: a group Okta says is gone has nobody in it at once; when Okta
 * cannot answer, a cached answer stands in only for `directory.maxStaleness`, then the click is
 * refused.
 */

const JUST = 'investigating INC-42 slow queries';
const MINUTE = 60_000;
const TOKEN = '00okta-directory-api-token-Zq81';
/** Okta caps pages at this many members here, so a group of five takes three pages. */
const PAGE = 2;

const CONFIG = (orgUrl: string, dba: string, oncall: string) => `
timezone: UTC
requests:
  approverChannel: CAPPROVALS
directory:
  groupTtl: 1m
  maxStaleness: 5m
  okta: { orgUrl: '${orgUrl}', token: '\${OKTA_TOKEN}' }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvers: { oktaGroups: ['${dba}'] }
    requesters: { users: [UREQ], oktaGroups: ['${oncall}'] }
`;

describe('approver and requester rules from Okta groups', () => {
  let okta: FakeOkta;
  let fake: FakeSlack;
  let h: CoreHarness;
  let config: Config;
  let core: Core;
  let dba: string;
  let oncall: string;
  const ids: Record<string, string> = {};

  beforeEach(async () => {
    okta = await new FakeOkta(TOKEN, PAGE).start();
    for (const name of ['alice', 'bob', 'carol', 'dan', 'erin', 'gina', 'hank']) {
      ids[name] = okta.addUser(`${name}@example.com`).id;
    }
    // frank is in the approver group and in Slack, but Okta has suspended him.
    ids.frank = okta.addUser('frank@example.com', 'Frank@Example.com', 'SUSPENDED').id;
    dba = okta.addGroup();
    oncall = okta.addGroup();
    // bob and hank have no Slack account: they are left out, not an error.
    for (const name of ['alice', 'bob', 'frank', 'hank', 'gina']) okta.addMember(dba, ids[name]!);
    for (const name of ['carol', 'dan']) okta.addMember(oncall, ids[name]!);

    fake = await new FakeSlack().start();
    fake.emails = {
      UALICE: 'alice@example.com',
      UCAROL: 'Carol@Example.com',
      UDAN: 'dan@example.com',
      UERIN: 'erin@example.com',
      UFRANK: 'frank@example.com',
      UGINA: 'gina@example.com',
    };
    h = await coreHarness();
    config = parseConfig(CONFIG(okta.url, dba, oncall), { OKTA_TOKEN: TOKEN });
    const client = createSlackClient({ botToken: 'xoxb-directory', apiUrl: fake.url, logger });
    const directory = new SlackDirectory(client, {
      clock: h.clock,
      logger,
      groupTtlMs: config.directory.groupTtl,
      userTtlMs: config.directory.userTtl,
      maxStaleMs: config.directory.maxStaleness,
      okta: new OktaGroupDirectory(config.directory.okta!, { timeoutMs: 5_000 }),
    });
    core = new Core({ store: h.store, clock: h.clock, config, directory });
  });
  afterEach(async () => {
    await okta.stop();
    await fake.stop();
    await h.close();
  });

  const file = (requester = 'UREQ') =>
    core.createRequest({ requester, resourceId: 'prod-db', duration: '1h', justification: JUST });
  const approve = (requestId: string, actor: string) =>
    core.decide({ requestId, actor, decision: 'approve' });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (err: unknown) => (err instanceof DomainError ? err : Promise.reject(err)),
    );

  it('lets a member of the Okta approver group decide, reading every page of the group', async () => {
    const req = await file();
    // gina is on the last page.
    const outcome = await approve(req.id, 'UGINA');
    expect(outcome.request).toMatchObject({ status: 'approved', decidedBy: 'UGINA' });

    const pages = okta.callsTo('listMembers').filter((call) => call.path.includes(dba));
    expect(pages.map((call) => [call.auth, call.query.after])).toEqual([
      ['ssws', undefined],
      ['ssws', ids.bob],
      ['ssws', ids.hank],
    ]);
    // The suspended member is not looked up at all.
    expect(fake.callsOf('users.lookupByEmail').map((c) => c.args.email)).toEqual([
      'alice@example.com',
      'bob@example.com',
      'gina@example.com',
      'hank@example.com',
    ]);
  });

  it('refuses someone outside the group, and a suspended member, and changes nothing', async () => {
    const req = await file();
    expect((await refusal(approve(req.id, 'UERIN')))?.code).toBe('not_approver');
    expect((await refusal(approve(req.id, 'UFRANK')))?.code).toBe('not_approver');
    expect((await core.request(req.id))!.status).toBe('pending');
    expect(await h.sql.value<number>('SELECT count(*) FROM approvals')).toBe(0);
  });

  it('lets members of the Okta requester group ask, and nobody else beyond the listed users', async () => {
    expect((await file('UCAROL')).status).toBe('pending');
    expect((await file('UREQ')).status).toBe('pending');
    expect((await refusal(file('UERIN')))?.code).toBe('not_allowed');
  });

  it('refuses a member removed from the group once the cached answer is past groupTtl', async () => {
    const first = await file();
    const second = await file('UCAROL');
    await approve(first.id, 'UALICE');

    okta.removeMember(dba, ids.alice!);
    h.clock.advance(MINUTE + 1);
    expect((await refusal(approve(second.id, 'UALICE')))?.code).toBe('not_approver');
    expect((await core.request(second.id))!.status).toBe('pending');
  });

  it('takes a deleted group as an answer at once: nobody is in it any more', async () => {
    const first = await file();
    const second = await file('UCAROL');
    await approve(first.id, 'UALICE');

    okta.deleteGroup(dba);
    // Within maxStaleness: a cached answer would stand in for an outage, but not for a 404.
    h.clock.advance(MINUTE + 1);
    expect((await refusal(approve(second.id, 'UALICE')))?.code).toBe('not_approver');
    expect((await core.request(second.id))!.status).toBe('pending');
  });

  it('uses the cached answer while Okta is out of reach, up to maxStaleness, then refuses', async () => {
    const first = await file();
    const second = await file('UCAROL');
    const third = await file();
    await approve(first.id, 'UALICE');
    await okta.stop();

    // Past the group's TTL but within maxStaleness: the cached members stand in.
    h.clock.advance(2 * MINUTE);
    expect((await approve(second.id, 'UALICE')).request.status).toBe('approved');

    // Past maxStaleness: no guess. The click is refused and says why.
    h.clock.advance(5 * MINUTE);
    const error = await refusal(approve(third.id, 'UALICE'));
    expect(error?.code).toBe('unavailable');
    expect(error?.message).toBe(
      "Hallpass can't verify your approver rights right now (Okta did not answer); nothing changed. Try again in a minute.",
    );
    expect((await core.request(third.id))!.status).toBe('pending');
  });

  it('counts an error answer as no answer, not as an empty group', async () => {
    const first = await file();
    const second = await file('UCAROL');
    await approve(first.id, 'UALICE');
    // A decision may read the approver rule more than once: every read meets the error.
    for (let i = 0; i < 5; i++) {
      okta.fail('listMembers', {
        kind: 'error',
        status: 500,
        errorCode: 'E0000009',
        errorSummary: 'Internal Server Error',
      });
    }
    h.clock.advance(6 * MINUTE);
    expect((await refusal(approve(second.id, 'UALICE')))?.code).toBe('unavailable');
  });

  it('waits out a 429 until X-Rate-Limit-Reset, then answers', async () => {
    const req = await file();
    okta.fail('listMembers', { kind: 'rate-limit', resetInSeconds: 0 });
    expect((await approve(req.id, 'UALICE')).request.status).toBe('approved');
    const firstPage = okta.callsTo('listMembers').filter((call) => !call.query.after);
    expect(firstPage).toHaveLength(2);
  });
});

describe('OktaGroupDirectory', () => {
  let okta: FakeOkta;
  beforeEach(async () => {
    okta = await new FakeOkta(TOKEN, PAGE).start();
  });
  afterEach(() => okta.stop());

  it('signs in as a service app with only okta.groups.read by default', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const clientId = okta.addServiceApp({
      publicKey,
      scopes: ['okta.groups.read'],
      requireDpop: false,
    });
    const group = okta.addGroup();
    okta.addMember(group, okta.addUser('Alice@Example.com').id);
    const settings = oktaDirectorySettings.parse({
      orgUrl: okta.url,
      oauth: { clientId, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }) },
    });
    const directory = new OktaGroupDirectory(settings, { timeoutMs: 5_000 });
    expect(await directory.memberEmails(group)).toEqual(['alice@example.com']);
    expect(okta.callsTo('listMembers').map((call) => call.auth)).toEqual(['bearer']);
  });

  it('says what failed without the API token, even when the answer echoes it', async () => {
    const group = okta.addGroup();
    okta.fail('listMembers', {
      kind: 'error',
      status: 403,
      errorCode: 'E0000006',
      errorSummary: (authorization) => `not allowed for ${authorization}`,
    });
    const directory = new OktaGroupDirectory(
      oktaDirectorySettings.parse({ orgUrl: okta.url, token: TOKEN }),
    );
    const error = (await directory.memberEmails(group).catch((err: unknown) => err)) as Error;
    expect(directory.missing(error)).toBe(false);
    expect(error.message).toMatch(`okta group lookup (group ${group}) failed: 403 E0000006`);
    expect(error.message).not.toContain(TOKEN);
  });

  it('fails with "timed out" when Okta does not answer in time', async () => {
    const group = okta.addGroup();
    okta.fail('listMembers', { kind: 'hang' });
    const directory = new OktaGroupDirectory(
      oktaDirectorySettings.parse({ orgUrl: okta.url, token: TOKEN }),
      { timeoutMs: 200 },
    );
    await expect(directory.memberEmails(group)).rejects.toThrow(
      `okta group lookup (group ${group}) timed out`,
    );
  });
});

describe('oktaGroups in hallpass.yml', () => {
  const yaml = CONFIG('https://acme.okta.com', '00g1ab2cd3EF4gh5i6j7', '00g9zy8xw7VU6ts5r4q3');
  const env = { OKTA_TOKEN: TOKEN };

  it('needs directory.okta, and says so at the rule that uses it', () => {
    const without = yaml.replace(/\n {2}okta: .*\n/, '\n');
    expect(() => parseConfig(without, env)).toThrow(
      /resources\[0\]\.approvers\.oktaGroups: needs directory\.okta[\s\S]*resources\[0\]\.requesters\.oktaGroups: needs directory\.okta/,
    );
  });

  it('takes group ids, not names', () => {
    expect(() => parseConfig(yaml.replace('00g1ab2cd3EF4gh5i6j7', 'DBAs'), env)).toThrow(
      'resources[0].approvers.oktaGroups[0]: must be an Okta group id like 00g1ab2cd3EF4gh5i6j7',
    );
  });

  it('refuses an API token written in the file, without quoting it', () => {
    let message = '';
    try {
      parseConfig(yaml.replace('${OKTA_TOKEN}', TOKEN), env);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(
      'directory.okta.token: must be read from the environment, like ${OKTA_API_TOKEN}, not written in the file',
    );
    expect(message).not.toContain(TOKEN);
  });
});
