import { appendAudit, verifyChain } from '../src/core/audit';
import { inTransaction } from '../src/store/db';
import { fmt, type Row } from './report';
import { seedAudit, tempDb } from './seed';

function rate(count: number, ms: number): number {
  return (count / ms) * 1000;
}

function timed(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function auditBench(verifyEvents: number): Promise<Row[]> {
  const rows: Row[] = [];
  const { db, cleanup } = tempDb();
  try {
    db.$client.exec(
      'CREATE TABLE floor_events (seq INTEGER PRIMARY KEY, at INTEGER, actor TEXT, action TEXT, details TEXT)',
    );
    const floorInsert = db.$client.prepare(
      'INSERT INTO floor_events (at, actor, action, details) VALUES (?, ?, ?, ?)',
    );
    const details = {
      resourceId: 'prod-db',
      durationMs: 3_600_000,
      justification: 'investigating a production incident',
    };
    const n = 20_000;

    const floorSingle = timed(() => {
      for (let i = 0; i < n; i++)
        inTransaction(db, () =>
          floorInsert.run(i, 'UBENCH', 'request.created', JSON.stringify(details)),
        );
    });
    const chainSingle = timed(() => {
      for (let i = 0; i < n; i++)
        inTransaction(db, () =>
          appendAudit(db, i, {
            actor: 'UBENCH',
            action: 'request.created',
            requestId: `req_${i}`,
            details,
          }),
        );
    });
    rows.push({
      bench: 'audit',
      figure: 'append, one event per transaction',
      value: `${fmt(rate(n, chainSingle))} events/s`,
      floor: `${fmt(rate(n, floorSingle))} rows/s (plain INSERT, no chain)`,
      ratio: `${fmt((rate(n, chainSingle) / rate(n, floorSingle)) * 100)}%`,
      target: '≥ 20,000 events/s',
      met: rate(n, chainSingle) >= 20_000,
    });

    const batch = 100;
    const floorBatch = timed(() => {
      for (let b = 0; b < n / batch; b++)
        inTransaction(db, () => {
          for (let i = 0; i < batch; i++)
            floorInsert.run(i, 'UBENCH', 'request.created', JSON.stringify(details));
        });
    });
    const chainBatch = timed(() => {
      for (let b = 0; b < n / batch; b++)
        inTransaction(db, () => {
          for (let i = 0; i < batch; i++)
            appendAudit(db, i, { actor: 'UBENCH', action: 'request.created', details });
        });
    });
    rows.push({
      bench: 'audit',
      figure: `append, ${batch} events per transaction`,
      value: `${fmt(rate(n, chainBatch))} events/s`,
      floor: `${fmt(rate(n, floorBatch))} rows/s (plain INSERT)`,
      ratio: `${fmt((rate(n, chainBatch) / rate(n, floorBatch)) * 100)}%`,
      target: '≥ 20,000 events/s',
      met: rate(n, chainBatch) >= 20_000,
    });
  } finally {
    cleanup();
  }

  const big = tempDb();
  try {
    seedAudit(big.db, verifyEvents, Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1));
    let checked = 0;
    const verifyMs = timed(() => (checked = verifyChain(big.db).checked));
    const scan = big.db.$client
      .prepare(
        'SELECT seq, at, actor, action, request_id, grant_id, details, prev_hash, hash FROM audit_events ORDER BY seq',
      )
      .raw();
    const floorMs = timed(() => {
      for (const row of scan.iterate()) void row;
    });
    rows.push({
      bench: 'audit',
      figure: `verify chain (${fmt(verifyEvents)} events)`,
      value: `${fmt(rate(checked, verifyMs))} events/s`,
      floor: `${fmt(rate(verifyEvents, floorMs))} rows/s (read only, no hashing)`,
      ratio: `${fmt((rate(checked, verifyMs) / rate(verifyEvents, floorMs)) * 100)}%`,
      target: '≥ 500,000 events/s',
      met: rate(checked, verifyMs) >= 500_000,
    });
  } finally {
    big.cleanup();
  }
  return rows;
}
