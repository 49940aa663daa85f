import { parseConfig } from '../../../src/config/load';
import type { GrantRow, RequestRow } from '../../../src/core';
import { blockKitProblems, viewProblems } from '../../../src/slack/ui/limits';
import { homeView } from '../../../src/slack/ui/home';
import {
  denyModal,
  durationChoices,
  extendModal,
  loadingModal,
  noticeModal,
  requestModal,
  resourceChoices,
} from '../../../src/slack/ui/modals';
import {
  errorReply,
  helpReply,
  listReply,
  resourcesReply,
  unknownSubcommandReply,
  usageReply,
} from '../../../src/slack/ui/replies';
import { BASE_CONFIG, T0 } from '../../support/core';

const config = parseConfig(BASE_CONFIG, {});
const resource = (id: string) => config.resources.find((r) => r.id === id)!;
const ctx = {
  now: T0,
  timezone: 'UTC',
  nameOf: (id: string) => config.resources.find((r) => r.id === id)?.name ?? id,
};

const pending: RequestRow = {
  id: 'req_aaaaaaaaaa',
  kind: 'access',
  grantId: null,
  requester: 'UREQ',
  resourceId: 'prod-db',
  durationMs: 7_200_000,
  justification: 'investigating <!channel> & INC-42',
  ticket: 'OPS-1',
  status: 'pending',
  approvalsRequired: 2,
  autoApproved: false,
  selfApproved: false,
  createdAt: T0 - 600_000,
  pendingUntil: T0 + 86_400_000,
  decidedAt: null,
  decidedBy: null,
  decisionReason: null,
  clientKey: null,
  maxDurationMs: 4 * 3_600_000,
  caller: null,
  startAt: null,
  policy: null,
};

const active: GrantRow = {
  id: 'gr_bbbbbbbbbb',
  requestId: 'req_cccccccccc',
  userId: 'UREQ',
  resourceId: 'auto',
  provider: 'hook',
  status: 'active',
  durationMs: 1_800_000,
  startsAt: T0 - 300_000,
  expiresAt: T0 + 1_500_000,
  providerExpiresAt: null,
  nextAttemptAt: T0 + 1_500_000,
  attempts: 0,
  lastError: null,
  alertedAt: null,
  warnedAt: null,
  providerState: null,
  endReason: null,
  endedBy: null,
  endNote: null,
  endedAt: null,
  createdAt: T0 - 300_000,
  snapshot: null,
  fenceUntil: null,
  recheckAt: null,
  rechecks: 0,
  verifiedAt: null,
  grantedEmail: null,
  endAskedAt: null,
  endRecordedAt: null,
  activityReported: false,
  activatedAt: null,
};

/**
 * Slack wants action ids unique within a block, not across a surface (a list has one Revoke
 * button per grant), so that rule is checked here per block and not taken from blockKitProblems.
 */
function problems(blocks: unknown[], surface: 'message' | 'modal' | 'home'): string[] {
  const perBlock = blocks.flatMap((block, i) => {
    const b = block as { elements?: { action_id?: string }[]; accessory?: { action_id?: string } };
    const ids = [...(b.elements ?? []), ...(b.accessory ? [b.accessory] : [])]
      .map((e) => e.action_id)
      .filter(Boolean);
    return new Set(ids).size === ids.length ? [] : [`blocks[${i}]: duplicate action_id`];
  });
  const rest = blockKitProblems(blocks, surface).filter((p) => !p.includes('duplicate action_id'));
  return [...perBlock, ...rest];
}

function checkView(view: Record<string, unknown>): void {
  const blocks = view.blocks as unknown[];
  const others = viewProblems({ ...view, blocks: [] });
  expect([...others, ...problems(blocks, view.type === 'home' ? 'home' : 'modal')]).toEqual([]);
}

describe('modals', () => {
  const base = { minJustification: 10, timezone: 'UTC', metadata: { fromHome: false } };

  it.each([
    ['nothing chosen', requestModal({ ...base, resources: config.resources })],
    [
      'prod-db chosen',
      requestModal({
        ...base,
        resources: config.resources,
        selected: { resource: resource('prod-db'), approverChannel: 'CDBA' },
      }),
    ],
    [
      'a ticketed resource with a notice',
      requestModal({
        ...base,
        resources: config.resources,
        selected: { resource: resource('ticketed'), approverChannel: 'CAPPROVALS' },
        notice: 'You cannot request x; choose another resource.',
      }),
    ],
    ['nothing requestable', requestModal({ ...base, resources: [] })],
    [
      'deny',
      denyModal(
        { requestId: pending.id, fromHome: true },
        { request: pending, resourceName: 'Production database', reader: 'ULEAD' },
      ),
    ],
    [
      'extend',
      extendModal({
        grant: active,
        resource: resource('auto'),
        metadata: { grantId: active.id, fromHome: false },
      }),
    ],
    ['loading', loadingModal('hallpass.extend_modal', 'Extend access')],
    ['notice', noticeModal('hallpass.deny_modal', 'Deny request', 'Already decided.')],
  ])('%s', (_, view) => {
    checkView(view as unknown as Record<string, unknown>);
    expect(view).toMatchSnapshot();
  });

  it('groups resources by provider when there are several', () => {
    const two = [resource('prod-db'), { ...resource('auto'), provider: 'pg' }];
    expect(resourceChoices(two)).toEqual({
      option_groups: [
        {
          label: { type: 'plain_text', text: 'hook' },
          options: [expect.objectContaining({ value: 'prod-db' })],
        },
        {
          label: { type: 'plain_text', text: 'pg' },
          options: [expect.objectContaining({ value: 'auto' })],
        },
      ],
    });
  });

  it('offers durations within the bounds, including them and the default', () => {
    const odd = {
      ...resource('prod-db'),
      minDuration: 7 * 60_000,
      maxDuration: 100 * 60_000,
      defaultDuration: 50 * 60_000,
    };
    expect(durationChoices(odd).map((ms) => ms / 60_000)).toEqual([
      7, 10, 15, 30, 45, 50, 60, 90, 100,
    ]);
  });

  it('keeps long names and many resources within Slack’s limits', () => {
    const long = Array.from({ length: 100 }, (_, i) => ({
      ...resource('prod-db'),
      id: `r-${i}`,
      name: 'N'.repeat(75),
      provider: `provider-${i % 3}-${'p'.repeat(80)}`,
      description: 'd'.repeat(1000),
    }));
    const view = requestModal({
      ...base,
      resources: long,
      selected: { resource: long[0]!, approverChannel: 'C1' },
    });
    checkView(view as unknown as Record<string, unknown>);
  });
});

describe('Home', () => {
  it('for a requester', () => {
    const view = homeView({
      ...ctx,
      overview: { pending: [pending], pendingTotal: 1, grants: [active], grantsTotal: 1 },
      awaiting: [],
    });
    checkView(view as unknown as Record<string, unknown>);
    expect(view).toMatchSnapshot();
  });

  it('for an approver, with a notice', () => {
    const view = homeView({
      ...ctx,
      overview: { pending: [], pendingTotal: 0, grants: [], grantsTotal: 0 },
      awaiting: [{ request: pending, approvals: 1 }],
      notice: 'You approved `req_zzzzzzzzzz`.',
    });
    checkView(view as unknown as Record<string, unknown>);
    expect(view).toMatchSnapshot();
  });

  it('stays within 100 blocks however much there is', () => {
    const many = <T extends { id: string }>(row: T, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        ...row,
        id: `${row.id.slice(0, -2)}${String(i).padStart(2, '0')}`,
      }));
    const view = homeView({
      ...ctx,
      overview: {
        pending: many(pending, 10),
        pendingTotal: 40,
        grants: many(active, 10),
        grantsTotal: 40,
      },
      awaiting: many(pending, 40).map((request) => ({ request, approvals: 0 })),
    });
    checkView(view as unknown as Record<string, unknown>);
  });
});

describe('replies', () => {
  it.each([
    ['help', helpReply([{ usage: '/jit list', summary: 'shows things.' }])],
    ['usage', usageReply('Say which grant.', '/jit revoke <grant-id>')],
    ['unknown', unknownSubcommandReply('lsit', 'list')],
    ['error', errorReply('Unknown resource "prod-dbb". Did you mean prod-db?')],
    [
      'list',
      listReply(
        {
          pending: [pending],
          pendingTotal: 1,
          grants: [active, { ...active, id: 'gr_dddddddddd', status: 'activating' }],
          grantsTotal: 2,
        },
        ctx,
      ),
    ],
    [
      'empty list with a notice',
      listReply(
        { pending: [], pendingTotal: 0, grants: [], grantsTotal: 0 },
        ctx,
        'Cancelled `req_aaaaaaaaaa`.',
      ),
    ],
    [
      'resources',
      resourcesReply(
        config.resources.map((r) => ({
          resource: r,
          approverChannel: r.approverChannel ?? 'CAPPROVALS',
        })),
      ),
    ],
  ])('%s', (_, reply) => {
    expect(problems(reply.blocks ?? [], 'message')).toEqual([]);
    expect(reply).toMatchSnapshot();
  });

  it('counts the grants it does not show', () => {
    const shown = Array.from({ length: 10 }, (_, i) => ({ ...active, id: `gr_ccccccccc${i}` }));
    const reply = listReply({ pending: [], pendingTotal: 0, grants: shown, grantsTotal: 25 }, ctx);
    expect(reply.text).toContain('25 grants');
    expect(JSON.stringify(reply.blocks)).toContain('…and 15 more.');
    expect(problems(reply.blocks ?? [], 'message')).toEqual([]);
  });

  it('escapes what people typed', () => {
    const reply = listReply(
      { pending: [pending], pendingTotal: 1, grants: [], grantsTotal: 0 },
      ctx,
    );
    const home = homeView({
      ...ctx,
      overview: { pending: [], pendingTotal: 0, grants: [], grantsTotal: 0 },
      awaiting: [{ request: pending, approvals: 0 }],
    });
    expect(JSON.stringify(home)).toContain('investigating &lt;!channel&gt; &amp; INC-42');
    expect(JSON.stringify(reply)).not.toContain('<!channel>');
  });
});
