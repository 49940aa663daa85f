import type { AuditQueries, ChainStart } from '../port';
import type { AuditRow } from '../rows';
import { Sql, sqlOf, type Param } from '../sql';
import type { QueryContext } from './context';

const COLUMNS = 'seq, at, actor, action, request_id, grant_id, details, prev_hash, hash';
/** The chain's newest row: where the next event appended links to. */
export const CHAIN_HEAD = new Sql('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
const BY_SEQ = new Sql(`SELECT ${COLUMNS} FROM audit_events WHERE seq = ?`);
const LAST_BEFORE = new Sql(
  'SELECT seq, hash FROM audit_events WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1',
);
const BETWEEN_PAGE = new Sql(
  `SELECT ${COLUMNS} FROM audit_events WHERE at >= ? AND at < ? AND seq > ? ORDER BY seq LIMIT ?`,
);
const ABOUT_GRANT = new Sql(
  `SELECT ${COLUMNS} FROM audit_events
    WHERE grant_id = ? OR request_id = ?
       OR request_id IN (SELECT id FROM requests WHERE grant_id = ?)
    ORDER BY seq`,
);

const ABOUT_REQUEST = new Sql(
  `SELECT ${COLUMNS} FROM audit_events WHERE request_id = ? ORDER BY seq`,
);

/** Rows per INSERT when appending many: well under PostgreSQL's 65,535 parameters. */
const APPEND_CHUNK = 100;
const PAGE_ROWS = 5_000;

/** The audit chain's page of raw rows, (after, upTo] in seq order: what chain walks read. */
export const CHAIN_PAGE = new Sql(
  `SELECT ${COLUMNS} FROM audit_events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
);
export const CHAIN_PAGE_ROWS = PAGE_ROWS;
/** The lowest row numbered below 1, if any (an index probe): see `outsideChainReport`. */
export const CHAIN_OUTSIDE_ROW = new Sql(
  'SELECT seq FROM audit_events WHERE seq < 1 ORDER BY seq LIMIT 1',
);
export const CHAIN_HEAD_SEQ = new Sql('SELECT max(seq) AS seq FROM audit_events');
/**
 * The `n`th row after a place (OFFSET n - 1): a step of the chain walk ends there, so it covers
 * the next `n` rows whatever their numbers. A range of numbers instead would read nothing where a
 * whole step of rows was deleted, and call the chain intact.
 */
export const CHAIN_STEP_END = new Sql(
  'SELECT seq FROM audit_events WHERE seq > ? ORDER BY seq LIMIT 1 OFFSET ?',
);

export function chainStart(row: Record<string, unknown> | undefined): ChainStart | undefined {
  return row ? { seq: Number(row.seq), hash: String(row.hash) } : undefined;
}

export class SqlAuditQueries implements AuditQueries {
  constructor(private readonly q: QueryContext) {}

  async head(): Promise<ChainStart | undefined> {
    return chainStart((await this.q.runner.rows(CHAIN_HEAD))[0]);
  }

  async append(rows: readonly AuditRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += APPEND_CHUNK) {
      const chunk = rows.slice(i, i + APPEND_CHUNK);
      const values = chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
      const params: Param[] = [];
      for (const r of chunk) {
        params.push(r.seq, r.at, r.actor, r.action, r.requestId, r.grantId);
        params.push(r.details, r.prevHash, r.hash);
      }
      await this.q.runner.write(
        sqlOf(`INSERT INTO audit_events (${COLUMNS}) VALUES ${values}`),
        params,
      );
    }
  }

  async bySeq(seq: number): Promise<AuditRow | undefined> {
    const [raw] = await this.q.runner.rows(BY_SEQ, [seq]);
    return raw && this.q.t.audit.map(raw);
  }

  async lastBefore(at: number): Promise<ChainStart | undefined> {
    return chainStart((await this.q.runner.rows(LAST_BEFORE, [at]))[0]);
  }

  async *between(since: number, until: number): AsyncIterable<AuditRow[]> {
    for (let after = -1; ;) {
      const page = (await this.q.runner.rows(BETWEEN_PAGE, [since, until, after, PAGE_ROWS])).map(
        this.q.t.audit.map,
      );
      if (page.length === 0) return;
      yield page;
      if (page.length < PAGE_ROWS) return;
      after = page[page.length - 1]!.seq;
    }
  }

  async aboutGrant(grantId: string, requestId: string): Promise<AuditRow[]> {
    return (await this.q.runner.rows(ABOUT_GRANT, [grantId, requestId, grantId])).map(
      this.q.t.audit.map,
    );
  }

  async aboutRequest(requestId: string): Promise<AuditRow[]> {
    return (await this.q.runner.rows(ABOUT_REQUEST, [requestId])).map(this.q.t.audit.map);
  }
}
