import type { MetaQueries, PeopleQueries } from '../port';
import type { PersonRow } from '../rows';
import { Sql } from '../sql';
import { GRANT_IN_FLIGHT, REQUEST_PENDING } from './conditions';
import type { QueryContext } from './context';

const GET = new Sql('SELECT * FROM people WHERE user_id = ?');
const UPSERT = new Sql(
  `INSERT INTO people (user_id, state, changed_at, checked_at) VALUES (?, ?, ?, ?)
   ON CONFLICT (user_id)
   DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at, checked_at = excluded.checked_at`,
);
/** `checked_at` of a person whose recorded state the directory must confirm again. */
const DOUBTED = 0;
const WITH_ACCESS_OR_ASKING = new Sql(
  `SELECT user_id FROM grants WHERE ${GRANT_IN_FLIGHT} AND user_id > ?
   UNION SELECT requester FROM requests WHERE ${REQUEST_PENDING} AND requester > ?
   UNION SELECT user_id FROM people WHERE checked_at = ${DOUBTED} AND user_id > ?
   ORDER BY 1 LIMIT ?`,
);
const DOUBT = new Sql(
  `UPDATE people SET checked_at = ${DOUBTED} WHERE user_id = ? AND state <> 'active'`,
);

export class SqlPeopleQueries implements PeopleQueries {
  constructor(private readonly q: QueryContext) {}

  async get(userId: string): Promise<PersonRow | undefined> {
    const [raw] = await this.q.runner.rows(GET, [userId]);
    return raw && this.q.t.people.map(raw);
  }

  async upsert(row: PersonRow): Promise<void> {
    await this.q.runner.run(UPSERT, [row.userId, row.state, row.changedAt, row.checkedAt]);
  }

  async withAccessOrAsking(limit: number, after: string): Promise<string[]> {
    const rows = await this.q.runner.rows(WITH_ACCESS_OR_ASKING, [after, after, after, limit]);
    return rows.map((r) => String(r.user_id));
  }

  async doubt(userId: string): Promise<void> {
    await this.q.runner.run(DOUBT, [userId]);
  }
}

const META_GET = new Sql('SELECT value FROM meta WHERE key = ?');
const META_SET_ONCE = new Sql(
  'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING',
);

export class SqlMetaQueries implements MetaQueries {
  constructor(private readonly q: QueryContext) {}

  async get(key: string): Promise<string | undefined> {
    const [row] = await this.q.runner.rows(META_GET, [key]);
    return row === undefined ? undefined : String(row.value);
  }

  async setOnce(key: string, value: string): Promise<string> {
    await this.q.runner.run(META_SET_ONCE, [key, value]);
    return (await this.get(key)) ?? value;
  }
}
