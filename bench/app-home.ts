import { parseConfig } from '../src/config/load';
import { Core } from '../src/core';
import { ManualClock } from '../src/core/clock';
import { StaticDirectory } from '../src/core/directory';
import { listContext } from '../src/slack/listeners/deps';
import { homeView } from '../src/slack/ui/home';
import { median, timedAsync } from './measure';
import { fmt, type Row } from './report';
import { inTransaction, tempDb, type TempDb } from './seed';

const NOW = Date.UTC(2026, 10, 2, 12);
const APPROVER = 'ULEAD';
const CONFIG = parseConfig(
  `
requests: { approverChannel: CBENCH }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/', secret: bench-secret-value } }
resources:
  - { id: bench, name: Bench, provider: hook, maxDuration: 4h, approvers: { users: [${APPROVER}] } }
`,
  {},
);

/**
 * `history` requests decided over the last year and, newest, `pending` requests from as many
 * people waiting for the approver: what an approver's Home reads when it opens.
 */
function seedRequests(db: TempDb, history: number, pending: number): void {
  const insert = db.raw.prepare(
    `INSERT INTO requests (id, kind, requester, resource_id, duration_ms, justification, status, approvals_required, auto_approved, created_at, pending_until, decided_at, decided_by)
     VALUES (?, 'access', ?, 'bench', 3600000, 'benchmark seed request', ?, 1, 0, ?, ?, ?, ?)`,
  );
  inTransaction(db.raw, () => {
    for (let i = 0; i < history; i++) {
      const at = NOW - 365 * 86_400_000 + i * 1000;
      insert.run(
        `req_h${i}`,
        `UH${i % 500}`,
        'approved',
        at,
        at + 86_400_000,
        at + 60_000,
        APPROVER,
      );
    }
    for (let i = 0; i < pending; i++) {
      const at = NOW - pending * 1000 + i * 1000;
      insert.run(`req_p${i}`, `UP${i}`, 'pending', at, NOW + 86_400_000, null, null);
    }
  });
}

/** What drawing the approver's Home costs before it is sent: the reads and the view. */
async function drawHome(core: Core): Promise<number> {
  return timedAsync(async () => {
    const [awaiting, overview] = await Promise.all([
      core.awaitingDecisionBy(APPROVER),
      core.overviewOf(APPROVER),
    ]);
    homeView({ ...listContext(core), overview, awaiting });
  });
}

/**
 * App Home for an approver with 10, 100 and 1,000 pending requests (and a year of decided ones
 * behind them), drawn in turn 50 times; medians. The floor of each is the smallest size: how the
 * cost grows with the pending requests.
 */
export async function appHomeBench(options: {
  pending: readonly number[];
  history: number;
  draws: number;
}): Promise<Row[]> {
  const dbs = options.pending.map((pending) => {
    const db = tempDb();
    seedRequests(db, options.history, pending);
    const core = new Core({
      store: db.store,
      clock: new ManualClock(NOW),
      config: CONFIG,
      directory: new StaticDirectory(),
    });
    return { pending, db, core, times: [] as number[] };
  });
  try {
    for (let draw = 0; draw < options.draws; draw++) {
      for (const d of dbs) d.times.push(await drawHome(d.core));
    }
    const smallest = dbs[0]!;
    const base = median(smallest.times);
    return dbs.map((d) => {
      const value = median(d.times);
      return {
        bench: 'app-home',
        figure: `App Home of an approver with ${fmt(d.pending)} pending requests and ${fmt(options.history)} decided ones (reads and view; median of ${options.draws} draws, sizes in turn)`,
        value: `${fmt(value, 2)} ms`,
        floor: `${fmt(base, 2)} ms (the same with ${fmt(smallest.pending)} pending)`,
        ratio: `${fmt(value / base, 1)}× for ${fmt(d.pending / smallest.pending)}× the pending`,
        target: '—',
        met: null,
      };
    });
  } finally {
    for (const d of dbs) await d.db.cleanup();
  }
}
