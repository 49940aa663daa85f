import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock';
import { coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { tempDir } from '../support/tmp';
import { cliEnv, runCli } from './run';

const T0 = Date.UTC(2026, 2, 3, 10, 0, 0); // Tuesday 3 March 2026
const DAY = 86_400_000;

const CONFIG = (approvers: string, selfApproval: boolean) => `
timezone: UTC
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-db
    name: Production <db>
    provider: hook
    maxDuration: 4h
    approvers: { users: [${approvers}], usergroups: [SDBA] }
    allowSelfApproval: ${selfApproval}
    requireTicket: true
    ticketPattern: '^OPS-[0-9]+$'
    requesters: { users: [UBOB, ULEAD] }
`;

describe.each(STORE_KINDS)('hallpass policy explain (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  const dir = tempDir();
  const configFile = join(dir.dir, 'hallpass.yml');
  afterAll(() => dir.cleanup());
  beforeEach(async () => {
    writeFileSync(configFile, CONFIG('ULEAD, UBOB', true));
    h = await coreHarness(CONFIG('ULEAD, UBOB', true), {}, kind);
    h.clock.set(T0);
  });
  afterEach(() => h.close());

  const explain = (args: string[], at = T0 + 60 * DAY) =>
    runCli(
      ['policy', 'explain', ...args],
      cliEnv(h.location, { HALLPASS_CONFIG: configFile }),
      new ManualClock(at),
    );

  it('says what /jit explain says, as plain text, and exits 1 when a rule stops the person', async () => {
    const bob = await explain(['--user', 'UBOB', '--resource', 'prod-db']);
    expect(bob.code).toBe(0);
    expect(bob.stdout).toBe(
      [
        'Production <db> (`prod-db`) for UBOB, as of Sat 2 May 2026 10:00 UTC',
        'yes: May request it.',
        'Who may request: UBOB or ULEAD',
        'Duration: 5m to 4h (default 1h), at most 4h in all with extensions',
        'Ticket: required, matching `^OPS-[0-9]+$`',
        'Who decides: 1 approval from ULEAD, UBOB or members of SDBA, in #CAPPROVALS',
        '  Now that is: ULEAD, UBOB; SDBA: unknown (the CLI does not ask Slack)',
        '  You are an approver (listed by name); you may approve your own requests',
        'Auto-approval: none; every request waits for a decision',
        '',
      ].join('\n'),
    );
    const eve = await explain(['--user', 'UEVE', '--resource', 'prod-db']);
    expect(eve.code).toBe(1);
    expect(eve.stdout).toContain(
      'NO: Cannot request it (rule: `requesters`): You are not allowed to request prod-db (only UBOB or ULEAD may). Ask in #CAPPROVALS if you think you should be.',
    );
    expect(eve.stdout).toContain(
      'Whether you are an approver cannot be verified (the CLI does not ask Slack).',
    );
  });

  it('--as-of answers "could Bob have self-approved on 3 March?" from the rules recorded then', async () => {
    await h.core.createRequest({
      requester: 'UBOB',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'rotating the replica keys',
      ticket: 'OPS-1',
    });
    // Later the file changed: Bob is no approver any more and self-approval is off.
    writeFileSync(configFile, CONFIG('ULEAD', false));
    h.clock.set(T0 + 10 * DAY);
    await h.withConfig(CONFIG('ULEAD', false)).createRequest({
      requester: 'ULEAD',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'rotating the replica keys',
      ticket: 'OPS-2',
    });

    const then = await explain([
      '--user',
      'UBOB',
      '--resource',
      'prod-db',
      '--as-of',
      '2026-03-03T18:00Z',
    ]);
    expect(then.code).toBe(0);
    expect(then.stdout).toContain('for UBOB, on Tue 3 Mar 2026 18:00 UTC');
    expect(then.stdout).toMatch(
      /Rules as recorded by req_\w+ on Tue 3 Mar 2026 10:00, the last request filed on or before then\. The next request \(req_\w+, Fri 13 Mar 2026 10:00\) recorded different rules\./,
    );
    expect(then.stdout).toContain(
      'You are an approver (listed by name); you may approve your own requests',
    );
    expect(then.stdout).not.toContain('Now that is');

    const now = await explain(['--user', 'UBOB', '--resource', 'prod-db']);
    expect(now.stdout).toContain(
      'Whether you are an approver cannot be verified (the CLI does not ask Slack).',
    );
    expect(now.stdout).toContain('Who decides: 1 approval from ULEAD or members of SDBA');

    const before = await explain([
      '--user',
      'UBOB',
      '--resource',
      'prod-db',
      '--as-of',
      '2026-03-01',
    ]);
    expect(before).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'hallpass: No request for prod-db was filed on or before 2026-03-01 00:00 UTC with its rules recorded, so Hallpass holds no record of what they were then.\n',
    });
  });

  it('names a missing option as a usage error', async () => {
    const result = await explain(['--user', 'UBOB']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('policy explain: --user and --resource are required');
  });
});
