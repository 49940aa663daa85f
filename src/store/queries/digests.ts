import type { ChainStart, DigestQueries } from '../port';
import type { DigestRow } from '../rows';
import { Sql } from '../sql';
import type { QueryContext } from './context';

const INSERT = new Sql(
  `INSERT INTO digests (period_key, period_start, period_end, channel, queued_at)
   VALUES (?, ?, ?, ?, ?) ON CONFLICT (period_key) DO NOTHING`,
);
const POSTED = new Sql('UPDATE digests SET posted_at = ? WHERE period_key = ?');
const POSTED_WITH_HEAD = new Sql(
  'UPDATE digests SET posted_at = ?, chain_seq = ?, chain_hash = ? WHERE period_key = ?',
);
const ANCHORS = new Sql(
  `SELECT period_key, chain_seq, chain_hash, posted_at FROM digests
    WHERE chain_seq IS NOT NULL AND chain_hash IS NOT NULL ORDER BY chain_seq`,
);

export class SqlDigestQueries implements DigestQueries {
  constructor(private readonly q: QueryContext) {}

  async insertIfNew(row: Omit<DigestRow, 'postedAt' | 'chainSeq' | 'chainHash'>) {
    const changed = await this.q.runner.run(INSERT, [
      row.periodKey,
      row.periodStart,
      row.periodEnd,
      row.channel,
      row.queuedAt,
    ]);
    return changed > 0;
  }

  async markPosted(periodKey: string, postedAt: number, head: ChainStart | undefined) {
    if (head) await this.q.runner.run(POSTED_WITH_HEAD, [postedAt, head.seq, head.hash, periodKey]);
    else await this.q.runner.run(POSTED, [postedAt, periodKey]);
  }

  async anchors(): Promise<(ChainStart & { periodKey: string; postedAt: number | null })[]> {
    return (await this.q.runner.rows(ANCHORS)).map((r) => ({
      periodKey: String(r.period_key),
      seq: Number(r.chain_seq),
      hash: String(r.chain_hash),
      postedAt: r.posted_at === null || r.posted_at === undefined ? null : Number(r.posted_at),
    }));
  }
}
