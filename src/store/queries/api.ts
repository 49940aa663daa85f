import type { PipelineCredentialQueries, TokenQueries } from '../port';
import type { ApiTokenRow } from '../rows';
import { placeholders, Sql, sqlOf } from '../sql';
import type { QueryContext } from './context';

const TOKEN_BY_ID = new Sql('SELECT * FROM api_tokens WHERE id = ?');
const TOKENS = new Sql('SELECT * FROM api_tokens ORDER BY created_at DESC, id');
const REVOKE = new Sql(
  'UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL',
);

export class SqlTokenQueries implements TokenQueries {
  constructor(private readonly q: QueryContext) {}

  async byId(id: string): Promise<ApiTokenRow | undefined> {
    const [raw] = await this.q.runner.rows(TOKEN_BY_ID, [id]);
    return raw && this.q.t.tokens.map(raw);
  }

  async insert(row: ApiTokenRow): Promise<void> {
    await this.q.runner.run(...this.q.t.tokens.insert(row));
  }

  async list(): Promise<ApiTokenRow[]> {
    return (await this.q.runner.rows(TOKENS)).map(this.q.t.tokens.map);
  }

  async revoke(id: string, at: number, by: string): Promise<boolean> {
    return (await this.q.runner.run(REVOKE, [at, by, id])) > 0;
  }
}

const PUT = new Sql(
  `INSERT INTO pipeline_credentials (grant_id, sealed, created_at) VALUES (?, ?, ?)
   ON CONFLICT (grant_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at`,
);
const GET = new Sql('SELECT sealed FROM pipeline_credentials WHERE grant_id = ?');

export class SqlPipelineCredentialQueries implements PipelineCredentialQueries {
  constructor(private readonly q: QueryContext) {}

  async put(grantId: string, sealed: string, at: number): Promise<void> {
    await this.q.runner.run(PUT, [grantId, sealed, at]);
  }

  async get(grantId: string): Promise<string | undefined> {
    const [row] = await this.q.runner.rows(GET, [grantId]);
    return row === undefined ? undefined : String(row.sealed);
  }

  async drop(grantIds: readonly string[]): Promise<void> {
    if (grantIds.length === 0) return;
    await this.q.runner.run(
      sqlOf(
        `DELETE FROM pipeline_credentials WHERE grant_id IN (${placeholders(grantIds.length)})`,
      ),
      [...grantIds],
    );
  }
}
