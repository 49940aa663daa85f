import type {
  DecisionFacts,
  FilingFacts,
  Patch,
  RecordedPolicies,
  RecordedPolicy,
  RequestQueries,
  RequestStanding,
} from '../port';
import { PERSON_STATES } from '../schema/enums';
import type { FollowUpStep, RequestRow } from '../rows';
import { placeholders, Sql, sqlOf } from '../sql';
import { APPROVALS_OF } from './approvals';
import { REQUEST_PENDING } from './conditions';
import { SENT_AT } from './follow-ups';
import { GRANT_OF_REQUEST } from './grants';
import type { QueryContext } from './context';
import { readEach } from './read-each';

const BY_ID = new Sql('SELECT * FROM requests WHERE id = ?');
const BY_CLIENT_KEY = new Sql('SELECT * FROM requests WHERE client_key = ?');
const PENDING_OF = new Sql(
  `SELECT * FROM requests WHERE requester = ? AND ${REQUEST_PENDING} ORDER BY created_at DESC`,
);
const NEWEST_PENDING_OF = new Sql(
  `SELECT * FROM requests WHERE requester = ? AND ${REQUEST_PENDING}
    ORDER BY created_at DESC LIMIT ?`,
);
const PENDING_COUNT_OF = new Sql(
  `SELECT count(*) AS n FROM requests WHERE requester = ? AND ${REQUEST_PENDING}`,
);
/**
 * One statement, since a filing reads it on the one change connection a PostgreSQL replica has,
 * where every round trip holds up the changes queued behind it.
 */
const BEFORE_FILING = new Sql(
  `SELECT coalesce(sum(CASE WHEN created_at >= ? THEN 1 ELSE 0 END), 0) AS filed,
          coalesce(sum(CASE WHEN ${REQUEST_PENDING} THEN 1 ELSE 0 END), 0) AS pending,
          (SELECT state FROM people WHERE user_id = ?) AS person_state,
          CASE WHEN EXISTS (SELECT 1 FROM requests WHERE client_key = ?) THEN 1 ELSE 0 END AS key_used
     FROM requests
    WHERE requester = ? AND kind = ? AND (created_at >= ? OR ${REQUEST_PENDING})`,
);
/** The people a decision concerns: see DecisionFacts. */
const PEOPLE_OF_DECISION = new Sql(
  `SELECT user_id, state FROM people
    WHERE user_id = ?
       OR user_id IN (SELECT requester FROM requests WHERE id = ?)
       OR user_id IN (SELECT approver FROM approvals WHERE request_id = ?)`,
);
const PENDING_EXTENSION = new Sql(
  `SELECT * FROM requests WHERE grant_id = ? AND ${REQUEST_PENDING} LIMIT 1`,
);
const STALE = new Sql(
  `SELECT id FROM requests WHERE ${REQUEST_PENDING} AND pending_until <= ? ORDER BY pending_until LIMIT ?`,
);

const POLICY_BEFORE = new Sql(
  `SELECT id, created_at, policy FROM requests
    WHERE resource_id = ? AND created_at <= ? AND policy IS NOT NULL
    ORDER BY created_at DESC LIMIT 1`,
);
const POLICY_AFTER = new Sql(
  `SELECT id, created_at, policy FROM requests
    WHERE resource_id = ? AND created_at > ? AND policy IS NOT NULL
    ORDER BY created_at LIMIT 1`,
);

function recorded(row: Record<string, unknown> | undefined): RecordedPolicy | undefined {
  return row
    ? { requestId: String(row.id), at: Number(row.created_at), policy: String(row.policy) }
    : undefined;
}

export class SqlRequestQueries implements RequestQueries {
  constructor(private readonly q: QueryContext) {}

  private async one(sql: Sql, params: (string | number)[]): Promise<RequestRow | undefined> {
    const [raw] = await this.q.runner.rows(sql, params);
    return raw && this.q.t.requests.map(raw);
  }

  byId(id: string) {
    return this.one(BY_ID, [id]);
  }

  byClientKey(clientKey: string) {
    return this.one(BY_CLIENT_KEY, [clientKey]);
  }

  async standing(id: string): Promise<RequestStanding | undefined> {
    const [requests = [], grants = [], approvals = []] = await readEach(this.q, [
      [BY_ID, [id]],
      [GRANT_OF_REQUEST, [id, id]],
      [APPROVALS_OF, [id]],
    ]);
    const [request] = requests;
    if (!request) return undefined;
    const [grant] = grants;
    return {
      request: this.q.t.requests.map(request),
      grant: grant && this.q.t.grants.map(grant),
      approvals: approvals.map(this.q.t.approvals.map).sort((a, b) => a.id - b.id),
    };
  }

  async beforeDecision(id: string, actor: string): Promise<DecisionFacts | undefined> {
    const [requests = [], approvals = [], people = [], escalations = []] = await readEach(this.q, [
      [BY_ID, [id]],
      [APPROVALS_OF, [id]],
      [PEOPLE_OF_DECISION, [actor, id, id]],
      [SENT_AT, [id, 'escalate' satisfies FollowUpStep]],
    ]);
    const [request] = requests;
    if (!request) return undefined;
    const states = people.flatMap((raw) => {
      const state = PERSON_STATES.find((s) => s === raw.state);
      return state ? [[String(raw.user_id), state] as const] : [];
    });
    return {
      request: this.q.t.requests.map(request),
      approvals: approvals.map(this.q.t.approvals.map).sort((a, b) => a.id - b.id),
      people: new Map(states),
      escalated: escalations.length > 0,
    };
  }

  async insert(row: RequestRow): Promise<void> {
    await this.q.runner.write(...this.q.t.requests.insert(row));
  }

  async set(id: string, patch: Patch<RequestRow>): Promise<void> {
    const statement = this.q.t.requests.update('id', id, patch);
    if (statement) await this.q.runner.write(...statement);
  }

  async update(
    id: string,
    patch: Patch<RequestRow>,
    onlyIf?: RequestRow['status'],
  ): Promise<boolean> {
    const statement = this.q.t.requests.update('id', id, patch, onlyIf);
    return statement ? (await this.q.runner.run(...statement)) > 0 : false;
  }

  async pendingOf(requester: string): Promise<RequestRow[]> {
    return (await this.q.runner.rows(PENDING_OF, [requester])).map(this.q.t.requests.map);
  }

  async newestPendingOf(requester: string, limit: number): Promise<RequestRow[]> {
    return (await this.q.runner.rows(NEWEST_PENDING_OF, [requester, limit])).map(
      this.q.t.requests.map,
    );
  }

  async pendingCountOf(requester: string): Promise<number> {
    const [row] = await this.q.runner.rows(PENDING_COUNT_OF, [requester]);
    return Number(row?.n ?? 0);
  }

  async beforeFiling(q: {
    requester: string;
    kind: RequestRow['kind'];
    since: number;
    clientKey: string | null;
  }): Promise<FilingFacts> {
    const { requester, kind, since, clientKey } = q;
    const [row] = await this.q.runner.rows(BEFORE_FILING, [
      since,
      requester,
      clientKey,
      requester,
      kind,
      since,
    ]);
    return {
      filed: Number(row?.filed ?? 0),
      pending: Number(row?.pending ?? 0),
      personState: PERSON_STATES.find((state) => state === row?.person_state),
      clientKeyUsed: Number(row?.key_used ?? 0) === 1,
    };
  }

  pendingExtensionOf(grantId: string) {
    return this.one(PENDING_EXTENSION, [grantId]);
  }

  async stale(now: number, limit: number): Promise<string[]> {
    return (await this.q.runner.rows(STALE, [now, limit])).map((r) => String(r.id));
  }

  async recordedPolicy(resourceId: string, at: number): Promise<RecordedPolicies> {
    const [before] = await this.q.runner.rows(POLICY_BEFORE, [resourceId, at]);
    const [after] = await this.q.runner.rows(POLICY_AFTER, [resourceId, at]);
    return { before: recorded(before), after: recorded(after) };
  }

  async awaitingDecision(q: {
    userId: string;
    resourceIds: readonly string[];
    selfApproval: readonly string[];
    limit: number;
  }): Promise<RequestRow[]> {
    if (q.resourceIds.length === 0) return [];
    const own =
      q.selfApproval.length > 0
        ? `(r.requester <> ? OR r.resource_id IN (${placeholders(q.selfApproval.length)}))`
        : 'r.requester <> ?';
    const sql = sqlOf(
      `SELECT r.* FROM requests r
        WHERE r.status = 'pending' AND r.resource_id IN (${placeholders(q.resourceIds.length)})
          AND ${own}
          AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.request_id = r.id AND a.approver = ?)
        ORDER BY r.created_at LIMIT ?`,
    );
    const rows = await this.q.runner.rows(sql, [
      ...q.resourceIds,
      q.userId,
      ...q.selfApproval,
      q.userId,
      q.limit,
    ]);
    return rows.map(this.q.t.requests.map);
  }
}
