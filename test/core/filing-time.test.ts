import type { OnCall } from '../../src/core/oncall';
import { coreHarness, type CoreHarness } from '../support/core';

/**
 * Filing asks the on-call source (and the directory) before it records the request, and those
 * answers take time (an on-call source's `timeout` is 10 s by default; changes may queue). What
 * depends on the moment is judged again when the request is recorded: an auto-approval window
 * that closed meanwhile approves nothing, and a later start that passed meanwhile is refused.
 */

const JUST = 'checking the payment retries';
const TZ = 'Europe/Berlin';
/** A wall-clock moment in Berlin in November 2026 (CET, UTC+1), with seconds. */
const cet = (day: number, h: number, m = 0, s = 0) => Date.UTC(2026, 10, day, h - 1, m, s);

const CONFIG = `
timezone: ${TZ}
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS, pendingTimeout: 24h }
oncall:
  payments: { type: webhook, url: 'http://127.0.0.1:9/oncall' }
windows:
  evenings: { days: [1, 2, 3, 4, 5], start: '18:00', end: '23:00' }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: payments-db
    name: Payments database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    autoApprove:
      - oncall: [payments]
        maxDuration: 1h
  - id: evening-db
    name: Evening database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    autoApprove:
      - oncall: [payments]
        window: evenings
`;

/** An on-call source whose answer takes `delayMs` of the (manual) clock to come back. */
class SlowOnCall implements OnCall {
  constructor(
    private readonly advance: (ms: number) => void,
    readonly delayMs: number,
  ) {}
  async onCallNow(): Promise<readonly string[]> {
    await new Promise((r) => setTimeout(r, 5));
    this.advance(this.delayMs);
    return ['UONC'];
  }
}

describe('filing judges the moment again when it records the request', () => {
  let h: CoreHarness;
  beforeEach(async () => {
    const box: { advance?: (ms: number) => void } = {};
    h = await coreHarness(CONFIG, {}, 'sqlite', new SlowOnCall((ms) => box.advance!(ms), 2_000));
    box.advance = (ms) => h.clock.advance(ms);
  });
  afterEach(() => h.close());

  it('auto-approves by a window only if the access starts inside it when recorded', async () => {
    // Monday 22:59:59 in Berlin: inside evenings, but the on-call answer takes 2s.
    h.clock.set(cet(2, 22, 59, 59));
    const req = await h.core.createRequest({
      requester: 'UONC',
      resourceId: 'evening-db',
      duration: '30m',
      justification: JUST,
    });
    // Recorded at 23:00:01, when the access would start outside evenings: approvers decide.
    expect(req).toMatchObject({ status: 'pending', autoApproved: false });
    expect(await h.core.grantOf(req)).toBeUndefined();
  });

  it('refuses a later start that passed while it waited, and files nothing', async () => {
    // 13:59:59, asking for 14:00: one second ahead when the request was read.
    h.clock.set(cet(2, 13, 59, 59));
    await expect(
      h.core.createRequest({
        requester: 'UONC',
        resourceId: 'payments-db',
        duration: '30m',
        justification: JUST,
        startAt: '14:00',
      }),
    ).rejects.toMatchObject({ code: 'bad_start' });
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(0);
  });
});

const WINDOWED = `
timezone: ${TZ}
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS, pendingTimeout: 24h }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: office
    name: Office tools
    provider: hook
    maxDuration: 2h
    approvers: { users: [ULEAD] }
    requestWindow: businessHours
`;

/**
 * `requestWindow`: only access that starts inside it may be requested. A request without a start
 * starts when it is approved, so an approval after the window closed would start it outside.
 */
describe('a request window and an approval that comes after it closed', () => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(WINDOWED, {}, 'sqlite');
  });
  afterEach(() => h.close());

  it('denies the request, saying why, and grants nothing', async () => {
    // Friday 6 Nov 17:50 in Berlin: inside business hours, so the request is accepted.
    h.clock.set(cet(6, 17, 50));
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'office',
      duration: '1h',
      justification: 'rotating the office printer keys',
    });
    expect(req).toMatchObject({ status: 'pending', startAt: null });
    h.clock.set(cet(6, 23, 30));
    const outcome = await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason: expect.stringContaining('approved after it closed'),
    });
    expect(await h.core.grantOf(req)).toBeUndefined();
  });
});
