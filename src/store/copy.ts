import { GENESIS_HASH } from '../chain/walk';
import type { ChainResult, Store } from './port';
import type { TableSql } from './table-sql';
import { sqlOf, type Param, type Runner } from './sql';

/** What a copy can reach of a store: its runner, its tables' statements, and transactions. */
export interface BulkAccess {
  runner: Runner;
  tables: Record<CopiedTable, TableSql<object>>;
  /** Runs `work` as one transaction on one connection. */
  atomically<T>(work: (runner: Runner) => Promise<T>): Promise<T>;
  /** After rows were inserted with their ids: ids handed out later continue after them. */
  afterImport(runner: Runner): Promise<void>;
}

/** The tables in an order that satisfies every foreign key, with the key each is paged by. */
export const COPIED_TABLES = [
  ['requests', ['id']],
  ['approvals', ['id']],
  ['grants', ['id']],
  ['audit_events', ['seq']],
  ['outbox', ['id']],
  ['slack_messages', ['subject', 'purpose']],
  ['home_viewers', ['user_id']],
  ['digests', ['period_key']],
  ['people', ['user_id']],
  ['meta', ['key']],
  ['api_tokens', ['id']],
  ['pipeline_credentials', ['grant_id']],
  ['break_glass_uses', ['request_id']],
  ['follow_ups', ['request_id', 'step']],
] as const;

export type CopiedTable = (typeof COPIED_TABLES)[number][0];

const PAGE = 1_000;

export interface CopyReport {
  rows: Record<CopiedTable, number>;
  source: ChainResult;
  target: ChainResult;
}

/** `WHERE (a, b) > (?, ?)` spelled out, since SQLite and PostgreSQL both take this form. */
function after(keys: readonly string[]): string {
  const clauses = keys.map((key, i) => {
    const equal = keys.slice(0, i).map((k) => `${k} = ?`);
    return [...equal, `${key} > ?`].join(' AND ');
  });
  return clauses.map((c) => `(${c})`).join(' OR ');
}

function afterParams(keys: readonly string[], last: Record<string, unknown>): Param[] {
  return keys.flatMap((_, i) => keys.slice(0, i + 1).map((k) => last[k] as Param));
}

async function count(runner: Runner, table: string): Promise<number> {
  const [row] = await runner.rows(sqlOf(`SELECT count(*) AS n FROM ${table}`));
  return Number(row?.n ?? 0);
}

/**
 * Copies every row of `from` into `to`, which must be empty: the same requests, grants, outbox
 * rows and the audit chain row by row (same seq, same hashes). Then walks the chain on both
 * sides; the copy is good only if both are intact and end on the same row with the same hash.
 */
export async function copyRows(
  from: { store: Store; bulk: BulkAccess },
  to: { store: Store; bulk: BulkAccess },
  onProgress?: (table: string, rows: number) => void,
): Promise<CopyReport> {
  for (const [table] of COPIED_TABLES) {
    const existing = await count(to.bulk.runner, table);
    if (existing > 0) {
      throw new Error(`the target database is not empty: ${table} has ${existing} rows`);
    }
  }
  const rows = {} as Record<CopiedTable, number>;
  for (const [table, keys] of COPIED_TABLES) {
    const source = from.bulk.tables[table];
    const target = to.bulk.tables[table];
    const order = keys.join(', ');
    let copied = 0;
    let last: Record<string, unknown> | undefined;
    for (;;) {
      const page = await from.bulk.runner.rows(
        last
          ? sqlOf(`SELECT * FROM ${table} WHERE ${after(keys)} ORDER BY ${order} LIMIT ?`)
          : sqlOf(`SELECT * FROM ${table} ORDER BY ${order} LIMIT ?`),
        last ? [...afterParams(keys, last), PAGE] : [PAGE],
      );
      if (page.length === 0) break;
      await to.bulk.atomically(async (runner) => {
        for (const raw of page) await runner.run(...target.insert(source.map(raw)));
      });
      copied += page.length;
      onProgress?.(table, copied);
      last = page[page.length - 1];
      if (page.length < PAGE) break;
    }
    rows[table] = copied;
  }
  await to.bulk.atomically((runner) => to.bulk.afterImport(runner));
  const genesis = { seq: 0, hash: GENESIS_HASH };
  const [sourceChain, targetChain] = [
    await from.store.verifyChain(genesis),
    await to.store.verifyChain(genesis),
  ];
  for (const [table] of COPIED_TABLES) {
    const [a, b] = [await count(from.bulk.runner, table), await count(to.bulk.runner, table)];
    if (a !== b) throw new Error(`${table}: ${a} rows in the source, ${b} in the copy`);
  }
  if (!sourceChain.intact) {
    throw new Error(
      `the source's audit chain is broken at row ${sourceChain.firstBroken?.seq}: ${sourceChain.firstBroken?.problem}`,
    );
  }
  if (
    !targetChain.intact ||
    targetChain.checked !== sourceChain.checked ||
    targetChain.head?.seq !== sourceChain.head?.seq ||
    targetChain.head?.hash !== sourceChain.head?.hash
  ) {
    throw new Error(
      `the copy's audit chain does not match the source's (source: ${sourceChain.checked} rows to ${sourceChain.head?.hash}; copy: ${targetChain.checked} rows${targetChain.firstBroken ? `, broken at row ${targetChain.firstBroken.seq}` : ` to ${targetChain.head?.hash}`})`,
    );
  }
  return { rows, source: sourceChain, target: targetChain };
}
