import type { MessageQueries, MessageRef } from '../port';
import type { PostedMessage } from '../rows';
import { placeholders, Sql, sqlOf } from '../sql';
import type { QueryContext } from './context';

const FIND = new Sql('SELECT * FROM slack_messages WHERE subject = ? AND purpose = ?');
const REMEMBER = new Sql(
  `INSERT INTO slack_messages (subject, purpose, channel, ts, updated_at) VALUES (?, ?, ?, ?, ?)
   ON CONFLICT (subject, purpose)
   DO UPDATE SET channel = excluded.channel, ts = excluded.ts, updated_at = excluded.updated_at`,
);

const HOME_OPENED = new Sql(
  'INSERT INTO home_viewers (user_id, first_opened_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING',
);
const OPENED_HOME = new Sql('SELECT 1 AS opened FROM home_viewers WHERE user_id = ?');
/** People asked about in one statement, well under either database's limit on parameters. */
const OPENED_CHUNK = 500;

export class SqlMessageQueries implements MessageQueries {
  constructor(private readonly q: QueryContext) {}

  async find(subject: string, purpose: string): Promise<PostedMessage | undefined> {
    const [raw] = await this.q.runner.rows(FIND, [subject, purpose]);
    return raw && this.q.t.messages.map(raw);
  }

  async findEach(refs: readonly MessageRef[]): Promise<PostedMessage[]> {
    if (refs.length === 0) return [];
    const each = refs.map(() => '(subject = ? AND purpose = ?)').join(' OR ');
    const rows = await this.q.runner.rows(
      sqlOf(`SELECT * FROM slack_messages WHERE ${each}`),
      refs.flatMap((ref) => [ref.subject, ref.purpose]),
    );
    return rows.map(this.q.t.messages.map);
  }

  async remember(m: PostedMessage): Promise<void> {
    await this.q.runner.run(REMEMBER, [m.subject, m.purpose, m.channel, m.ts, m.updatedAt]);
  }

  async homeOpened(userId: string, at: number): Promise<void> {
    await this.q.runner.run(HOME_OPENED, [userId, at]);
  }

  async openedHome(userId: string): Promise<boolean> {
    return (await this.q.runner.rows(OPENED_HOME, [userId])).length > 0;
  }

  async openedHomes(userIds: readonly string[]): Promise<string[]> {
    const opened: string[] = [];
    for (let i = 0; i < userIds.length; i += OPENED_CHUNK) {
      const chunk = userIds.slice(i, i + OPENED_CHUNK);
      const rows = await this.q.runner.rows(
        sqlOf(`SELECT user_id FROM home_viewers WHERE user_id IN (${placeholders(chunk.length)})`),
        chunk,
      );
      opened.push(...rows.map((row) => String(row.user_id)));
    }
    return opened;
  }
}
