import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * How far the audit chain is known to be intact: one row (`name` = 'head'), advanced by the
 * leader's chain watch as it verifies new rows, so the digest and `audit verify
 * --since-verified` walk only what came after. `seal` is an HMAC over the other columns under a
 * key that lives only in the environment: a row edited in the database alone does not verify.
 * `broken_*` is the break last alerted, so the same break is not alerted twice; `broken_kind`
 * says what broke (`BreakKind`; null in checkpoints sealed before it was recorded).
 */
export const auditCheckpoint = sqliteTable('audit_checkpoint', {
  name: text('name').primaryKey(),
  seq: integer('seq').notNull(),
  hash: text('hash').notNull(),
  verifiedAt: integer('verified_at').notNull(),
  brokenSeq: integer('broken_seq'),
  brokenProblem: text('broken_problem'),
  brokenKind: text('broken_kind'),
  seal: text('seal').notNull(),
});
