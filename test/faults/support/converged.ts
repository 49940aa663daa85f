import { GENESIS_HASH } from '../../../src/chain/walk';
import { TAKE_AHEAD_MS } from '../../../src/core';
import type { Store } from '../../../src/store';
import type { SqlInspector } from '../../support/sql-inspector';
import type { WebhookReceiver } from '../../support/webhook-receiver';
import type { SlackLedger } from './slack-ledger';

export interface ConvergenceCheck {
  /** Plain SQL on the bot's database, on a connection of its own. */
  sql: SqlInspector;
  /** A store on the same database, for walking the audit chain. */
  store: Store;
  receiver: WebhookReceiver;
  slack: SlackLedger;
  /** The bot's clock. */
  now: () => number;
  /** Settled may leave grants active (not past expiry); by default it waits for every grant to end. */
  grantsMayRemain?: boolean;
  timeoutMs?: number;
  /** Called on every poll while waiting, e.g. to move an injected clock past backoffs. */
  nudge?: () => void;
}

type Row = Record<string, unknown>;

/** Time for the checks after settling to read the grants before a settled grant could be booked. */
const BOOKING_MARGIN_MS = 1_000;

/**
 * Why the system is not settled yet, or undefined when it is. One statement, so one snapshot: read
 * one count at a time, a grant booked for expiry (`active` to `revoking`) between two reads
 * would be missed by both. A grant that will be booked within TAKE_AHEAD_MS (and a margin for the
 * reads that follow) is not settled either: its record moves while its access stays.
 */
async function unsettled(
  sql: SqlInspector,
  now: number,
  grantsMayRemain: boolean,
): Promise<string | undefined> {
  const row = await sql.get<Record<string, unknown>>(
    `SELECT
       (SELECT count(*) FROM grants WHERE status IN ('activating', 'revoking')) AS in_flight,
       (SELECT count(*) FROM grants WHERE status = 'active' AND expires_at <= ?) AS ending,
       (SELECT count(*) FROM grants WHERE status = 'active') AS running,
       (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending`,
    now + TAKE_AHEAD_MS + BOOKING_MARGIN_MS,
  );
  const count = (column: string) => Number(row?.[column]);
  const [inFlight, ending, running, pending] = [
    count('in_flight'),
    count('ending'),
    count('running'),
    count('pending'),
  ];
  if (inFlight > 0) return `${inFlight} grant(s) still activating or revoking`;
  if (ending > 0) return `${ending} grant(s) active at or near their expiry`;
  if (running > 0 && !grantsMayRemain) return `${running} grant(s) still running`;
  if (pending > 0) return `${pending} notification(s) still pending`;
  return undefined;
}

/**
 * Waits until the system has settled (no grant in flight, overdue or, unless allowed, running;
 * no notification pending), then checks what every fault case must end with:
 * - no grant is active past its expiry, and the provider holds exactly the grants Hallpass
 *   holds active, none past its expiry;
 * - the audit chain is intact, and every grant and request has the events of its state, once;
 * - every notification was delivered (sent, none given up), and Slack accepted each post
 *   exactly once: one accepted post per post Hallpass remembers, no two alike, and edits only
 *   of messages it posted.
 */
export async function assertConverged(check: ConvergenceCheck): Promise<void> {
  const { sql, receiver, slack } = check;
  const deadline = Date.now() + (check.timeoutMs ?? 30_000);
  const settled = () => unsettled(sql, check.now(), check.grantsMayRemain ?? false);
  let why = await settled();
  while (why) {
    if (Date.now() > deadline) throw new Error(`the system did not converge: ${why}`);
    check.nudge?.();
    await new Promise((r) => setTimeout(r, 50));
    why = await settled();
  }
  const now = check.now();
  const all = (text: string) => sql.all<Row>(text);

  const active = await all("SELECT id, expires_at FROM grants WHERE status = 'active'");
  expect(active.filter((g) => (g.expires_at as number) <= now)).toEqual([]);
  expect([...receiver.held.keys()].sort()).toEqual(active.map((g) => g.id).sort());
  const heldPastExpiry = [...receiver.held].filter(([, until]) => Date.parse(until) <= now);
  expect(heldPastExpiry).toEqual([]);

  expect(await check.store.verifyChain({ seq: 0, hash: GENESIS_HASH })).toMatchObject({
    intact: true,
  });
  const events = (action: string) =>
    `(SELECT count(*) FROM audit_events a WHERE a.action = '${action}' AND a.grant_id = g.id)`;
  const grantsAudit = await all(
    `SELECT g.id, g.status, ${events('grant.created')} AS created,
            ${events('grant.activated')} AS activated, ${events('grant.revoked')} AS revoked
     FROM grants g`,
  );
  const grantsMisaudited = grantsAudit.filter((g) => {
    const ended = g.status === 'revoked' || g.status === 'failed';
    const activated = Number(g.activated);
    return (
      g.created !== 1 ||
      g.revoked !== (ended ? 1 : 0) ||
      activated > 1 ||
      (g.status === 'active' && activated !== 1)
    );
  });
  expect(grantsMisaudited).toEqual([]);
  const requestsAudit = await all(
    `SELECT r.id, r.status,
       (SELECT count(*) FROM audit_events a WHERE a.action = 'request.created' AND a.request_id = r.id) AS created,
       (SELECT count(*) FROM audit_events a WHERE a.action = 'request.approved' AND a.request_id = r.id) AS approved,
       (SELECT count(*) FROM grants g WHERE g.request_id = r.id) AS grants
     FROM requests r WHERE r.kind = 'access'`,
  );
  const requestsMisaudited = requestsAudit.filter((r) => {
    const approved = r.status === 'approved' ? 1 : 0;
    return r.created !== 1 || r.approved !== approved || r.grants !== approved;
  });
  expect(requestsMisaudited).toEqual([]);

  const outbox = await all('SELECT status, count(*) AS n FROM outbox GROUP BY status');
  const byStatus = Object.fromEntries(outbox.map((o) => [o.status, o.n]));
  expect({ pending: byStatus.pending ?? 0, dead: byStatus.dead ?? 0 }).toEqual({
    pending: 0,
    dead: 0,
  });
  // Where each sent notification left its mark: the approver message and the requester's card
  // are remembered per request, the active-access DM (which credentials join) per grant, every
  // other post per outbox row.
  const field = (key: string) => sql.json('o.payload', key);
  const undelivered = await all(
    `SELECT o.key, o.topic FROM outbox o WHERE o.status = 'sent' AND NOT EXISTS (
       SELECT 1 FROM slack_messages m WHERE m.subject = 'outbox:' || o.key
         OR (o.topic IN ('approver_message', 'requester_dm')
             AND m.subject = 'request:' || ${field('requestId')})
         OR (o.topic IN ('requester_dm', 'credentials')
             AND m.subject = 'grant:' || ${field('grantId')}))`,
  );
  expect(undelivered).toEqual([]);

  const remembered = await all('SELECT DISTINCT channel, ts FROM slack_messages ORDER BY ts');
  const accepted = slack.posts.map((p) => ({ channel: p.channel, ts: p.ts }));
  expect(accepted.sort((a, b) => (a.ts < b.ts ? -1 : 1))).toEqual(remembered);
  const seen = new Set<string>();
  const repeated = slack.posts.filter((post) => {
    const content = `${post.channel}\n${post.text}\n${post.blocks}`;
    if (seen.has(content)) return true;
    seen.add(content);
    return false;
  });
  expect(repeated).toEqual([]);
  const posted = new Set(slack.posts.map((p) => `${p.channel}/${p.ts}`));
  expect(slack.edits.filter((e) => !posted.has(`${e.channel}/${e.ts}`))).toEqual([]);
}
