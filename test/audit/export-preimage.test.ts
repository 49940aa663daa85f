import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainEvent } from '../../src/core/audit';
import { runCli } from '../cli/run';
import { coreHarness, type CoreHarness } from '../support/core';
import {
  canonicalJson,
  firstBreak,
  preimage,
  recomputeHash,
  type ExportedEvent,
} from './recompute-export';

const MINUTE = 60_000;

/** Details that exercise every rule of canonical JSON in docs/audit.md. */
const AWKWARD_DETAILS = {
  b: 1,
  a: [3, { z: null, y: true }, 'x'],
  '10': 'array index',
  '9': 'array index, before 10',
  '01': 'not an array index',
  '-1': 'not an array index',
  '4294967294': 'the largest array index',
  '4294967295': 'not an array index',
  B: 'capitals before lower case',
  é: 'after every ASCII key',
  '\u{1F434}': 'a surrogate pair: before U+FB01 by UTF-16 code units, after it by code points',
  '\uFB01': 'ﬁ',
  text: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 unit separator \u001f del \u007f line separator \u2028 lone surrogate \ud800 žluťoučký 🐴',
  numbers: [0, -0, 1.5, -2e-7, 1e21, 123456789012345680000, 0.1 + 0.2, 2 ** 53 + 2],
  nested: { deeper: { '2': 'two', '1': 'one', k: [] }, empty: {} },
};

async function grantOf(h: CoreHarness, requestId: string): Promise<string> {
  return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', requestId);
}

async function activate(h: CoreHarness, grantId: string, durationMs: number): Promise<void> {
  const now = h.clock.now();
  const activated = await h.core.lifecycle.activated(grantId, {
    startsAt: now,
    expiresAt: now + durationMs,
    state: { role: 'hallpass_ureq' },
    elapsedMs: 12,
  });
  expect(activated).toBe(true);
}

/** A real chain: requests filed, approved by quorum, denied, cancelled, granted, revoked, expired. */
async function buildChain(h: CoreHarness): Promise<void> {
  const early = await h.core.createRequest({
    requester: 'UREQ',
    resourceId: 'prod-db',
    duration: '1h',
    justification: 'INC-42: "slow" queries,\nsecond line — ünïcode',
  });
  h.clock.advance(MINUTE);
  await h.core.decide({ requestId: early.id, actor: 'ULEAD', decision: 'approve' });
  const earlyGrant = await grantOf(h, early.id);
  await activate(h, earlyGrant, 60 * MINUTE);
  h.clock.advance(10 * MINUTE);
  await h.core.revokeGrant({ grantId: earlyGrant, actor: 'UREQ', reason: 'done early' });
  await h.core.lifecycle.revoked([{ grantId: earlyGrant, checked: true, elapsedMs: 7 }]);

  const quorum = await h.core.createRequest({
    requester: 'UENG',
    resourceId: 'quorum',
    duration: '30m',
    justification: 'two-person rule, INC-43',
  });
  await h.core.decide({ requestId: quorum.id, actor: 'UA1', decision: 'approve' });
  h.clock.advance(MINUTE);
  await h.core.decide({ requestId: quorum.id, actor: 'UA2', decision: 'approve' });
  const quorumGrant = await grantOf(h, quorum.id);
  await activate(h, quorumGrant, 30 * MINUTE);
  h.clock.advance(30 * MINUTE);
  await h.core.lifecycle.expire([quorumGrant]);
  await h.core.lifecycle.revoked([{ grantId: quorumGrant, checked: true, elapsedMs: 3 }]);
  expect((await h.core.grant(quorumGrant))!.status).toBe('revoked');

  const denied = await h.core.createRequest({
    requester: 'UENG',
    resourceId: 'prod-db',
    duration: '2h',
    justification: 'just curious about prod',
  });
  await h.core.decide({
    requestId: denied.id,
    actor: 'ULEAD',
    decision: 'deny',
    reason: 'no ticket',
  });
  const cancelled = await h.core.createRequest({
    requester: 'UREQ',
    resourceId: 'quorum',
    duration: '1h',
    justification: 'filed by mistake, cancelling',
  });
  await h.core.cancelRequest(cancelled.id, 'UREQ');

  h.clock.advance(1);
  await h.store.change(async (tx) =>
    tx.audit.append([
      chainEvent(await tx.audit.head(), h.clock.now(), {
        actor: 'U"odd"\nactor',
        action: 'notification.failed',
        details: AWKWARD_DETAILS,
      }),
    ]),
  );
}

describe('recomputing the audit chain from a JSONL export, as docs/audit.md says', () => {
  let h: CoreHarness;
  let jsonl: string;
  let events: ExportedEvent[];
  let stored: { seq: number; details: string; hash: string }[];

  beforeAll(async () => {
    h = await coreHarness();
    await buildChain(h);
    const result = await runCli(['audit', 'export', '--format', 'jsonl'], {
      HALLPASS_DB: h.location.file,
    });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    jsonl = result.stdout;
    events = jsonl
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as ExportedEvent);
    stored = await h.sql.all<(typeof stored)[number]>(
      'SELECT seq, details, hash FROM audit_events ORDER BY seq',
    );
  });
  afterAll(() => h.close());

  it('recomputes every hash and link of a real chain', () => {
    expect(stored.length).toBeGreaterThanOrEqual(20);
    expect(events.map((e) => e.seq)).toEqual(stored.map((r) => r.seq));
    expect(new Set(events.map((e) => e.action))).toEqual(
      new Set([
        'request.created',
        'approval.recorded',
        'request.approved',
        'request.denied',
        'request.cancelled',
        'grant.created',
        'grant.activated',
        'grant.revoke_requested',
        'grant.revoked',
        'notification.failed',
      ]),
    );
    expect(events.map(recomputeHash)).toEqual(stored.map((r) => r.hash));
    expect(firstBreak(jsonl)).toBeUndefined();
  });

  it('rebuilds the stored details text byte for byte, awkward keys and values included', () => {
    expect(events.map((e) => canonicalJson(e.details))).toEqual(stored.map((r) => r.details));
    const awkward = events.at(-1)!;
    expect(canonicalJson(awkward.details)).toBe(stored.at(-1)!.details);
    const text = stored.at(-1)!.details;
    expect(text).toMatch(/^\{"9":"array index, before 10","10":"array index","4294967294":/);
    expect(text).toContain('"nested":{"deeper":{"1":"one","2":"two","k":[]},"empty":{}}');
    expect(text).toContain(
      '"numbers":[0,0,1.5,-2e-7,1e+21,123456789012345680000,0.30000000000000004,9007199254740994]',
    );
    expect(text.indexOf('"\u{1F434}":')).toBeLessThan(text.indexOf('"\uFB01":'));
  });

  it('hashes exactly the documented preimage of a row', () => {
    const first = events[0]!;
    const text = preimage(first);
    expect(text.split('\n')).toEqual([
      '0'.repeat(64),
      JSON.stringify([
        1,
        Date.parse(first.at),
        'UREQ',
        'request.created',
        first.request_id,
        null,
        stored[0]!.details,
      ]),
    ]);
    expect(createHash('sha256').update(text, 'utf8').digest('hex')).toBe(first.hash);
  });

  it('needs the documented key order: a plain sort by code points writes another text', () => {
    const awkward = events.at(-1)!;
    const byCodePoints = (value: unknown): string => {
      if (value === null || typeof value !== 'object') return JSON.stringify(value);
      if (Array.isArray(value)) return `[${value.map(byCodePoints).join(',')}]`;
      const object = value as Record<string, unknown>;
      const keys = Object.keys(object).sort((a, b) => {
        const [x, y] = [[...a].map((c) => c.codePointAt(0)!), [...b].map((c) => c.codePointAt(0)!)];
        for (let i = 0; i < Math.min(x.length, y.length); i++)
          if (x[i] !== y[i]) return x[i]! - y[i]!;
        return x.length - y.length;
      });
      return `{${keys.map((k) => `${JSON.stringify(k)}:${byCodePoints(object[k])}`).join(',')}}`;
    };
    expect(byCodePoints(awkward.details)).not.toBe(stored.at(-1)!.details);
  });

  it('catches an edited, a re-timed or a deleted line', () => {
    const lines = jsonl.trimEnd().split('\n');
    const edit = (seq: number, change: (e: ExportedEvent) => void): string =>
      lines
        .map((line) => {
          const event = JSON.parse(line) as ExportedEvent;
          if (event.seq !== seq) return line;
          change(event);
          return JSON.stringify(event);
        })
        .join('\n');
    const justification = (e: ExportedEvent) => e.details as { justification: string };

    expect(firstBreak(edit(1, (e) => (justification(e).justification += ' (edited)')))).toEqual({
      seq: 1,
      problem: 'hash',
    });
    expect(
      firstBreak(edit(5, (e) => (e.at = new Date(Date.parse(e.at) + 1).toISOString()))),
    ).toEqual({ seq: 5, problem: 'hash' });
    expect(firstBreak(edit(7, (e) => (e.actor = 'UADMIN')))).toEqual({ seq: 7, problem: 'hash' });
    expect(firstBreak(lines.filter((_, i) => i !== 9).join('\n'))).toEqual({
      seq: 11,
      problem: 'seq',
    });
    // Deleted and renumbered, with the hashes left as they were: the link gives it away.
    const renumbered = lines
      .filter((_, i) => i !== 9)
      .map((line, i) => JSON.stringify({ ...(JSON.parse(line) as ExportedEvent), seq: i + 1 }));
    expect(firstBreak(renumbered.join('\n'))).toEqual({ seq: 10, problem: 'prev_hash' });
  });

  it('agrees with the worked example in docs/audit.md', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'audit.md'), 'utf8');
    const example = doc.slice(doc.indexOf('A worked example'));
    const [, line] = /```jsonl\n(.*)\n```/.exec(example)!;
    const [, hashed] = /```text\n([^`]*)\n```/.exec(example)!;
    const [, hash] = /whose SHA-256 is `([0-9a-f]{64})`/.exec(example)!;
    const event = JSON.parse(line!) as ExportedEvent;
    expect(preimage(event)).toBe(hashed);
    expect([recomputeHash(event), event.hash]).toEqual([hash, hash]);
  });

  it('is recomputed from node:crypto and the documented rules only', () => {
    const source = readFileSync(join(__dirname, 'recompute-export.ts'), 'utf8');
    expect([...source.matchAll(/from '([^']+)'/g)].map((m) => m[1])).toEqual(['node:crypto']);
  });
});
