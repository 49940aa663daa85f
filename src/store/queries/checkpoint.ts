import type { BreakKind, CheckpointQueries, ChainCheckpoint } from '../port';
import { Sql } from '../sql';
import type { QueryContext } from './context';

const GET = new Sql(
  `SELECT seq, hash, verified_at, broken_seq, broken_problem, broken_kind, seal
     FROM audit_checkpoint WHERE name = 'head'`,
);
const PUT = new Sql(
  `INSERT INTO audit_checkpoint
     (name, seq, hash, verified_at, broken_seq, broken_problem, broken_kind, seal)
   VALUES ('head', ?, ?, ?, ?, ?, ?, ?)
   ON CONFLICT (name) DO UPDATE SET seq = excluded.seq, hash = excluded.hash,
     verified_at = excluded.verified_at, broken_seq = excluded.broken_seq,
     broken_problem = excluded.broken_problem, broken_kind = excluded.broken_kind,
     seal = excluded.seal`,
);

export class SqlCheckpointQueries implements CheckpointQueries {
  constructor(private readonly q: QueryContext) {}

  async get(): Promise<ChainCheckpoint | undefined> {
    const [row] = await this.q.runner.rows(GET);
    if (!row) return undefined;
    return {
      seq: Number(row.seq),
      hash: String(row.hash),
      verifiedAt: Number(row.verified_at),
      broken:
        row.broken_seq == null
          ? null
          : {
              seq: Number(row.broken_seq),
              problem: String(row.broken_problem ?? ''),
              ...(row.broken_kind != null && { kind: String(row.broken_kind) as BreakKind }),
            },
      seal: String(row.seal),
    };
  }

  async put(checkpoint: ChainCheckpoint): Promise<void> {
    await this.q.runner.run(PUT, [
      checkpoint.seq,
      checkpoint.hash,
      checkpoint.verifiedAt,
      checkpoint.broken?.seq ?? null,
      checkpoint.broken?.problem ?? null,
      checkpoint.broken?.kind ?? null,
      checkpoint.seal,
    ]);
  }
}
