import type { MessageQueries } from '../port';
import type { PostedMessage } from '../rows';
import { Sql } from '../sql';
import type { QueryContext } from './context';

const FIND = new Sql('SELECT * FROM slack_messages WHERE subject = ? AND purpose = ?');
const REMEMBER = new Sql(
  `INSERT INTO slack_messages (subject, purpose, channel, ts, updated_at) VALUES (?, ?, ?, ?, ?)
   ON CONFLICT (subject, purpose)
   DO UPDATE SET channel = excluded.channel, ts = excluded.ts, updated_at = excluded.updated_at`,
);

export class SqlMessageQueries implements MessageQueries {
  constructor(private readonly q: QueryContext) {}

  async find(subject: string, purpose: string): Promise<PostedMessage | undefined> {
    const [raw] = await this.q.runner.rows(FIND, [subject, purpose]);
    return raw && this.q.t.messages.map(raw);
  }

  async remember(m: PostedMessage): Promise<void> {
    await this.q.runner.run(REMEMBER, [m.subject, m.purpose, m.channel, m.ts, m.updatedAt]);
  }
}
