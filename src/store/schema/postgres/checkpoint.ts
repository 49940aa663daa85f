import { bigint, pgTable, text } from 'drizzle-orm/pg-core';

const ms = (name: string) => bigint(name, { mode: 'number' });

/** The PostgreSQL twin of the SQLite `audit_checkpoint` table (see its comment there). */
export const auditCheckpoint = pgTable('audit_checkpoint', {
  name: text('name').primaryKey(),
  seq: ms('seq').notNull(),
  hash: text('hash').notNull(),
  verifiedAt: ms('verified_at').notNull(),
  brokenSeq: ms('broken_seq'),
  brokenProblem: text('broken_problem'),
  brokenKind: text('broken_kind'),
  seal: text('seal').notNull(),
});
