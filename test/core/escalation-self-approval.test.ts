import { DomainError } from '../../src/core';
import { coreHarness, type CoreHarness } from '../support/core';

const HOUR = 3_600_000;

/**
 * Once escalated, the members of `escalateTo` may decide a request too, never their own:
 * `allowSelfApproval` lets an approver of the resource approve their own request, and someone who
 * decides only as the escalation target is not one.
 */
const CONFIG = `
timezone: UTC
requests:
  pendingTimeout: 8h
  approverChannel: CAPPROVALS
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
resources:
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvers: { usergroups: [SDBA] }
    allowSelfApproval: true
    escalateAfter: 2h
    escalateTo: { usergroups: [SLEADS], channel: CESC }
`;

describe('an escalation target deciding its own request', () => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(CONFIG, { SDBA: ['UDBA'], SLEADS: ['ULEAD'] })));
  afterEach(() => h.close());

  it('cannot approve it, even where approvers may self-approve', async () => {
    // ULEAD is no approver of prod-db; only the escalation target names them.
    const row = await h.core.createRequest({
      requester: 'ULEAD',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'investigating INC-42 in production',
    });
    h.clock.advance(2 * HOUR);
    expect((await h.core.sendDueFollowUps()).escalated).toBe(1);

    let refused: unknown;
    try {
      await h.core.decide({ requestId: row.id, actor: 'ULEAD', decision: 'approve' });
    } catch (err) {
      refused = err;
    }
    const after = await h.core.request(row.id);
    expect(after?.status).toBe('pending');
    expect(await h.core.grantOf(after!)).toBeUndefined();
    expect(refused).toBeInstanceOf(DomainError);
    expect((refused as DomainError).code).toBe('self_approval');
  });
});
